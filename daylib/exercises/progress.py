"""The learner's progress: which checks passed and which quiz questions were answered right.

One JSON file, ``<cache dir>/exercises/progress.json`` (the cache dir is read from
:data:`daylib.config.CACHE_DIR` at each call), written atomically
(:func:`daylib.training.atomic.write_json`). A damaged file reads as empty and says so once;
the next passed check writes a good one over it. A missing file is simply a fresh start.

Keys are the exercises' keys (``"lesson04.q2"``) and the quiz questions' (``"lesson04.quiz.3"``,
counted from 1).

Example:
    >>> from daylib.exercises.progress import progress, record
    >>> record("lesson04.q2")
    >>> table = progress(["04"])      # shows a table in a notebook
    >>> table.rows[0]["checks"]
    ['q2']
"""
from __future__ import annotations

import html
import importlib
import pkgutil
import re
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from daylib import config
from daylib.training.atomic import read_json, write_json

__all__ = ["progress_path", "record", "passed", "progress", "reset_progress", "Progress", "lesson_numbers"]

_WARNED: set[str] = set()
_LESSON = re.compile(r"^lesson(\d\d)$")


def progress_path() -> Path:
    """Where the progress file lives now: ``config.CACHE_DIR / "exercises" / "progress.json"``.

    Example:
        >>> progress_path().name
        'progress.json'
    """
    return Path(config.CACHE_DIR) / "exercises" / "progress.json"


def _load() -> dict[str, float]:
    path = progress_path()
    if not path.exists():
        return {}
    content = read_json(path)
    keys = content.get("passed") if isinstance(content, dict) else None
    if not isinstance(keys, dict) or not all(isinstance(key, str) for key in keys):
        if str(path) not in _WARNED:
            _WARNED.add(str(path))
            warnings.warn(f"The progress file {path} is damaged; it reads as empty (no progress recorded). "
                          f"The next passed check writes a new one.", stacklevel=3)
        return {}
    return {key: float(when) if isinstance(when, (int, float)) else 0.0 for key, when in keys.items()}


def _save(keys: dict[str, float]) -> None:
    path = progress_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"version": 1, "passed": dict(sorted(keys.items()))})
    _WARNED.discard(str(path))  # a later damage says so again


def record(key: str) -> None:
    """Record that the check or quiz question ``key`` was passed (idempotent).

    Example:
        >>> record("lesson04.q2")
        >>> "lesson04.q2" in passed()
        True
    """
    keys = _load()
    if key not in keys:
        keys[key] = time.time()
        _save(keys)


def passed() -> set[str]:
    """The keys of every check and quiz question passed so far.

    Example:
        >>> passed() >= {"lesson04.q2"}
        True
    """
    return set(_load())


def _number(lesson: Union[str, int]) -> str:
    text = str(lesson).strip().removeprefix("lesson")
    if not text.isdigit():
        raise ValueError(f"a lesson is a number such as 4, '04' or 'lesson04', not {lesson!r}")
    return f"{int(text):02d}"


def reset_progress(lessons: Optional[Iterable[Union[str, int]]] = None) -> None:
    """Forget the progress of the given lessons (default: all of it).

    Example:
        >>> reset_progress(["04"])
        >>> reset_progress()
    """
    if lessons is None:
        progress_path().unlink(missing_ok=True)
        return
    prefixes = tuple(f"lesson{_number(lesson)}." for lesson in lessons)
    keys = _load()
    kept = {key: when for key, when in keys.items() if not key.startswith(prefixes)}
    if kept != keys:
        _save(kept)


def lesson_numbers() -> list[str]:
    """The lessons that have exercises or a quiz: ``["00", "01", ...]``.

    Example:
        >>> "04" in lesson_numbers()      # doctest: +SKIP
        True
    """
    import daylib.exercises as package
    from importlib.resources import files

    found = {match.group(1) for info in pkgutil.iter_modules(package.__path__)
             if (match := _LESSON.match(info.name))}
    quizzes = files("daylib.exercises") / "quizzes"
    if quizzes.is_dir():
        found |= {match.group(1) for item in quizzes.iterdir()
                  if item.name.endswith(".json") and (match := _LESSON.match(item.name[:-5]))}
    return sorted(found)


def _lesson_row(number: str, done: set[str]) -> dict[str, Any]:
    from daylib.exercises.quiz import load_quiz

    row: dict[str, Any] = {"lesson": number, "title": "", "checks_passed": 0, "checks_total": 0, "checks": [],
                           "open": [], "quiz_right": 0, "quiz_total": 0, "quiz": [], "problems": []}
    try:
        module = importlib.import_module(f"daylib.exercises.lesson{number}")
    except ModuleNotFoundError as err:
        if err.name != f"daylib.exercises.lesson{number}":
            row["problems"].append(f"lesson{number}: {err}")
        module = None
    except Exception as err:  # a broken lesson module must not hide the others' progress
        row["problems"].append(f"lesson{number}: {type(err).__name__}: {err}")
        module = None
    if module is not None:
        row["title"] = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
        for exercise in getattr(module, "EXERCISES", []):
            name = exercise.key.rsplit(".", 1)[-1]
            if exercise.checkable:
                row["checks_total"] += 1
                if exercise.key in done:
                    row["checks"].append(name)
            else:
                row["open"].append(name)
        row["checks_passed"] = len(row["checks"])
    try:
        quiz = load_quiz(number)
    except FileNotFoundError:
        quiz = None
    except ValueError as err:
        row["problems"].append(str(err))
        quiz = None
    if quiz is not None:
        row["title"] = quiz.title or row["title"]
        row["quiz_total"] = len(quiz.questions)
        row["quiz"] = [question.number for question in quiz.questions if question.key in done]
        row["quiz_right"] = len(row["quiz"])
    return row


class Progress:
    """A table of progress per lesson; ``rows`` holds one plain dict per lesson.

    Each row: ``lesson`` ("04"), ``title``, ``checks_passed``, ``checks_total``, ``checks`` (the
    passed ones, e.g. ``["q1", "q3"]``), ``open`` (exercises with a worked answer only),
    ``quiz_right``, ``quiz_total``, ``quiz`` (the question numbers answered right) and
    ``problems`` (a lesson module or quiz file that could not be read).

    Example:
        >>> print(progress(["04"]))     # doctest: +SKIP
        lesson 04  checks 1/5 (q2)  quiz 0/6
    """

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __str__(self) -> str:
        lines = []
        for row in self.rows:
            checks = f" ({', '.join(row['checks'])})" if row["checks"] else ""
            quiz = f" ({', '.join(map(str, row['quiz']))})" if row["quiz"] else ""
            lines.append(f"lesson {row['lesson']}  checks {row['checks_passed']}/{row['checks_total']}{checks}"
                         f"  quiz {row['quiz_right']}/{row['quiz_total']}{quiz}")
            lines += [f"  problem: {problem}" for problem in row["problems"]]
        return "\n".join(lines) or "No lessons with exercises found."

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        cells = []
        for row in self.rows:
            checks = ", ".join(row["checks"]) or "-"
            quiz = ", ".join(map(str, row["quiz"])) or "-"
            problems = "".join(f'<br><span style="color: #b71c1c;">{html.escape(problem)}</span>'
                               for problem in row["problems"])
            cells.append(
                f"<tr><td>{row['lesson']}</td><td style='text-align: left;'>{html.escape(row['title'])}{problems}</td>"
                f"<td>{row['checks_passed']} / {row['checks_total']}</td><td>{html.escape(checks)}</td>"
                f"<td>{row['quiz_right']} / {row['quiz_total']}</td><td>{html.escape(quiz)}</td></tr>")
        head = ("<tr><th>Lesson</th><th>Title</th><th>Checks passed</th><th>Which</th>"
                "<th>Quiz right</th><th>Which</th></tr>")
        return f'<table class="daylib-progress">{head}{"".join(cells)}</table>'


def progress(lessons: Optional[Iterable[Union[str, int]]] = None) -> Progress:
    """Progress per lesson (default: every lesson with exercises or a quiz), as a table.

    Example:
        >>> progress()            # in a notebook: the table  # doctest: +SKIP
        >>> progress([4]).rows[0]["quiz_total"]   # doctest: +SKIP
        6
    """
    numbers = lesson_numbers() if lessons is None else [_number(lesson) for lesson in lessons]
    done = passed()
    return Progress([_lesson_row(number, done) for number in numbers])
