"""Exercises and self-check quizzes for the lessons: ``ex.q2.check(...)``, ``hint()``, ``solution()``, ``quiz("04")``.

Each lesson has a module ``daylib.exercises.lessonNN`` (its :class:`Exercise` objects ``q1``, ``q2``,
... and ``EXERCISES``) and a quiz file ``daylib/exercises/quizzes/lessonNN.json``. The learner's
progress (passed checks, quiz questions answered right) is kept in one file in the cache dir;
:func:`progress` shows it, :func:`reset_progress` forgets it.

Note: ``daylib.exercises.progress`` and ``daylib.exercises.quiz`` here are the *functions*; their
modules are reached with ``from daylib.exercises.progress import record`` and the like.

Example:
    >>> from daylib.exercises import lesson, progress, quiz
    >>> ex = lesson(4)              # the same as: from daylib.exercises import lesson04 as ex
    >>> ex.q1.hint()                # doctest: +SKIP
    >>> quiz("04")                  # the lesson's self-check widget  # doctest: +SKIP
    >>> progress()                  # a table per lesson  # doctest: +SKIP
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Union

from daylib.exercises.core import Answer, CheckResult, Exercise, Hint, Solution, correct, unanswered, wrong
from daylib.exercises.progress import passed, progress, record, reset_progress
from daylib.exercises.quiz import grade, load_quiz, quiz

__all__ = ["quiz", "progress", "reset_progress", "load_quiz", "grade", "Exercise", "CheckResult", "lesson",
           "correct", "wrong", "unanswered", "Hint", "Solution", "Answer", "passed", "record"]


def lesson(n: Union[int, str]) -> ModuleType:
    """The exercises module of lesson ``n`` (``4``, ``"04"`` or ``"lesson04"``).

    Example:
        >>> lesson(4).__name__      # doctest: +SKIP
        'daylib.exercises.lesson04'
    """
    text = str(n).strip().removeprefix("lesson")
    if not text.isdigit():
        raise ValueError(f"a lesson is a number such as 4, '04' or 'lesson04', not {n!r}")
    return importlib.import_module(f"daylib.exercises.lesson{int(text):02d}")
