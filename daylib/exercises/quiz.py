"""The self-check quiz at the end of each lesson: its data, its grading and its widget.

The questions live in ``daylib/exercises/quizzes/lessonNN.json``::

    {"lesson": "04", "title": "Grad-CAM",
     "questions": [
       {"kind": "choice", "question": "...", "options": ["...", "..."], "answer": 1, "explanation": "..."},
       {"kind": "number", "question": "...", "answer": 32, "tolerance": 0, "explanation": "..."}]}

:func:`load_quiz` checks the file at the door (a clear ``ValueError`` naming the file and the
question), :func:`grade` marks one response, :func:`quiz` shows the questions as a widget and
records each right answer in the progress file (key ``"lesson04.quiz.3"``, counted from 1).

Example:
    >>> from daylib.exercises import quiz
    >>> quiz("04")          # in a notebook: the questions, a Check button for each
"""
from __future__ import annotations

import html
import json
import math
import numbers
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Union

import ipywidgets as widgets

from daylib.exercises.core import CheckResult, correct, markdown_html, wrong
from daylib.exercises.progress import passed, record

__all__ = ["Question", "Quiz", "load_quiz", "grade", "quiz", "QuizWidget"]

KINDS = ("choice", "number")


@dataclass(frozen=True)
class Question:
    """One quiz question. ``answer`` is the 0-based option index (choice) or the number (number).

    Example:
        >>> q = Question("lesson04.quiz.1", 1, "number", "224 / 7?", (), 32, 0.0, "224 / 7 = 32.")
        >>> grade(q, 32).passed
        True
    """

    key: str
    number: int
    kind: str
    question: str
    options: tuple[str, ...]
    answer: Union[int, float]
    tolerance: float
    explanation: str


@dataclass(frozen=True)
class Quiz:
    """A lesson's quiz: ``lesson`` ("04"), ``title``, ``questions`` and the file it came from."""

    lesson: str
    title: str
    questions: tuple[Question, ...]
    source: str


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _question(entry: Any, number: int, lesson: str, source: str) -> Question:
    def fail(problem: str) -> ValueError:
        text = entry.get("question") if isinstance(entry, dict) else None
        about = f" ({text[:60]!r})" if isinstance(text, str) else ""
        return ValueError(f"{source}: question {number}{about}: {problem}")

    if not isinstance(entry, dict):
        raise fail(f"each question must be a JSON object, not {type(entry).__name__}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r}; use one of {', '.join(map(repr, KINDS))}")
    required = ("question", "answer", "explanation") + (("options",) if kind == "choice" else ())
    missing = [name for name in required if name not in entry]
    if missing:
        raise fail(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    for name in ("question", "explanation"):
        if not isinstance(entry[name], str) or not entry[name].strip():
            raise fail(f"{name!r} must be a non-empty string")
    answer, options, tolerance = entry["answer"], (), 0.0
    if kind == "choice":
        options = entry["options"]
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
            raise fail("'options' must be a list of at least two strings")
        options = tuple(options)
        if not isinstance(answer, int) or isinstance(answer, bool):
            raise fail(f"'answer' must be the 0-based index of the right option, not {answer!r}")
        if not 0 <= answer < len(options):
            raise fail(f"answer index {answer} is out of range for {len(options)} options (0-{len(options) - 1})")
    else:
        if not _is_number(answer):
            raise fail(f"'answer' must be a finite number, not {answer!r}")
        tolerance = entry.get("tolerance", 0)
        if not _is_number(tolerance) or tolerance < 0:
            raise fail(f"'tolerance' must be a number >= 0, not {tolerance!r}")
    return Question(f"lesson{lesson}.quiz.{number}", number, kind, entry["question"], options, answer,
                    float(tolerance), entry["explanation"])


def _parse(content: Any, source: str) -> Quiz:
    if not isinstance(content, dict):
        raise ValueError(f"{source}: a quiz is a JSON object with 'lesson', 'title' and 'questions'")
    lesson = str(content.get("lesson", "")).strip()
    if not lesson.isdigit():
        raise ValueError(f"{source}: 'lesson' must be the lesson's number such as \"04\", "
                         f"not {content.get('lesson')!r}")
    lesson = f"{int(lesson):02d}"
    questions = content.get("questions")
    if not isinstance(questions, list) or not questions:
        raise ValueError(f"{source}: 'questions' must be a non-empty list")
    title = content.get("title", "")
    if not isinstance(title, str):
        raise ValueError(f"{source}: 'title' must be a string")
    parsed = tuple(_question(entry, number, lesson, source) for number, entry in enumerate(questions, start=1))
    return Quiz(lesson, title, parsed, source)


def load_quiz(lesson: Union[str, int, Path]) -> Quiz:
    """The quiz of a lesson (``"04"``, ``4``, ``"lesson04"``) or of a JSON file (a ``Path`` or a ``.json`` path).

    Raises ``FileNotFoundError`` when there is no quiz, ``ValueError`` naming the file and the
    question when an entry is malformed (a missing field, an answer index out of range, an unknown kind).

    Example:
        >>> load_quiz("04").questions[0].kind      # doctest: +SKIP
        'choice'
    """
    if isinstance(lesson, Path) or (isinstance(lesson, str) and lesson.endswith(".json")):
        path = Path(lesson)
        if not path.is_file():
            raise FileNotFoundError(f"no quiz file {path}")
        text, source, expected = path.read_text(encoding="utf-8"), str(path), None
    else:
        expected = str(lesson).strip().removeprefix("lesson")
        if not expected.isdigit():
            raise ValueError(f"a lesson is a number such as 4, '04' or 'lesson04', or a .json path, not {lesson!r}")
        expected = f"{int(expected):02d}"
        resource = files("daylib.exercises") / "quizzes" / f"lesson{expected}.json"
        source = f"daylib/exercises/quizzes/lesson{expected}.json"
        if not resource.is_file():
            raise FileNotFoundError(f"lesson {expected} has no quiz ({source} is missing)")
        text = resource.read_text(encoding="utf-8")
    try:
        content = json.loads(text)
    except ValueError as err:
        raise ValueError(f"{source}: not valid JSON: {err}") from None
    result = _parse(content, source)
    if expected is not None and result.lesson != expected:
        raise ValueError(f"{source}: says it is lesson {result.lesson!r}, expected {expected!r}")
    return result


def grade(question: Question, response: Any) -> CheckResult:
    """Mark one response: an option index for "choice", a number (within ``tolerance``) for "number".

    Right and wrong answers both come with the explanation; ``None`` or an empty text is
    "not answered yet". No progress is recorded here (the widget does that).

    Example:
        >>> q = Question("lesson04.quiz.1", 1, "choice", "Which?", ("a", "b"), 1, 0.0, "b, because ...")
        >>> str(grade(q, 1))
        'Correct: b, because ...'
    """
    if response is None or (isinstance(response, str) and not response.strip()):
        prompt = "pick an option" if question.kind == "choice" else "type a number"
        return CheckResult(False, f"{prompt}, then press Check", "unanswered", question.key)
    if question.kind == "choice":
        if isinstance(response, str) and response in question.options:
            response = question.options.index(response)
        if not isinstance(response, numbers.Integral) or not 0 <= int(response) < len(question.options):
            result = wrong(f"{response!r} is not one of the options 0-{len(question.options) - 1}")
        elif int(response) == question.answer:
            result = correct(question.explanation)
        else:
            result = wrong(f"not option {int(response) + 1}. {question.explanation}")
    else:
        try:
            value = float(str(response).strip()) if isinstance(response, str) else float(response)
        except (TypeError, ValueError):
            return CheckResult(False, f"{response!r} is not a number", "wrong", question.key)
        if not math.isfinite(value):
            result = wrong(f"{value} is not a finite number")
        elif abs(value - question.answer) <= question.tolerance + 1e-9 * max(1.0, abs(question.answer)):
            result = correct(question.explanation)
        else:
            side = "too high" if value > question.answer else "too low"
            result = wrong(f"{value:g} is {side}. {question.explanation}")
    return CheckResult(result.passed, result.message, result.status, question.key)


class QuizWidget(widgets.VBox):
    """The quiz widget: a VBox with ``quiz`` (the :class:`Quiz`) and ``items``, per question
    ``(question, input, button, feedback)``; the input is a RadioButtons (choice) or a Text (number).

    Example:
        >>> box = QuizWidget(load_quiz("04"))       # doctest: +SKIP
        >>> question, options, button, feedback = box.items[0]
        >>> options.value = question.answer; button.click()
    """

    def __init__(self, data: Quiz) -> None:
        self.quiz = data
        self.items: list[tuple[Question, Any, widgets.Button, widgets.HTML]] = []
        done = passed()
        self._right = {q.key for q in data.questions if q.key in done}
        self.score = widgets.HTML().add_class("daylib-quiz-score")
        heading = html.escape(data.title or f"lesson {data.lesson}")
        boxes: list[widgets.Widget] = [widgets.HTML(f"<h4>Self-check: {heading}</h4>")]
        for question in data.questions:
            prompt = widgets.HTML(markdown_html(f"**{question.number}.** {question.question}"))
            if question.kind == "choice":
                answer = widgets.RadioButtons(options=[(text, i) for i, text in enumerate(question.options)],
                                              value=None, layout=widgets.Layout(width="auto"))
                answer.add_class("daylib-quiz-choice")
            else:  # a Text, not a FloatText: a FloatText cannot be empty, so an untouched 0 would count as an answer
                answer = widgets.Text(placeholder="type a number", layout=widgets.Layout(width="12em"))
                answer.add_class("daylib-quiz-number")
            button = widgets.Button(description="Check").add_class("daylib-quiz-check")
            before = ('<span style="color: #616161;">You answered this one right before.</span>'
                      if question.key in done else "")
            feedback = widgets.HTML(before).add_class("daylib-quiz-feedback")
            button.on_click(lambda _, q=question, a=answer, f=feedback: self._check(q, a, f))
            boxes.append(widgets.VBox([prompt, answer, button, feedback])
                         .add_class("daylib-quiz-question"))
            self.items.append((question, answer, button, feedback))
        self._show_score()
        super().__init__(boxes + [self.score])
        self.add_class("daylib-quiz")

    def _check(self, question: Question, answer: Any, feedback: widgets.HTML) -> CheckResult:
        result = grade(question, answer.value)
        feedback.value = result._repr_html_()
        if result.passed:
            self._right.add(question.key)
            record(question.key)
            self._show_score()
        return result

    def _show_score(self) -> None:
        self.score.value = f"{len(self._right)} of {len(self.quiz.questions)} answered right so far."


def quiz(lesson: Union[str, int, Path]) -> QuizWidget:
    """The quiz of a lesson as a widget: per question the options (or a number box), Check and feedback.

    Each right answer is recorded in the progress file (key ``"lesson04.quiz.3"``).

    Example:
        >>> from daylib.exercises import quiz
        >>> quiz("04")      # doctest: +SKIP
    """
    return QuizWidget(load_quiz(lesson))
