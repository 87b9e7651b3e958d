"""The machinery of the lessons' exercises: results, checks, hints, solutions and worked answers.

Each lesson module (``daylib.exercises.lessonNN``) defines its exercises as :class:`Exercise`
objects. In the notebook a learner fills in a value and runs ``ex.q2.check(value, ...)``; the
check function compares it with a reference computed on the spot from the same inputs and
returns a :class:`CheckResult` (:func:`correct`, :func:`wrong` or :func:`unanswered`), which
shows as one coloured line. ``ex.q2.hint()``, ``ex.q2.solution()`` and ``ex.q2.answer(...)``
return small display objects; the solution and the worked answer come folded in a closed
``<details>``, so nothing is spoiled by running the cell.

Example:
    >>> from daylib.exercises.core import Exercise, correct, wrong
    >>> def _check(value):
    ...     return correct("7 x 7 cells") if value == 49 else wrong(f"{value} is not 7 * 7")
    >>> q1 = Exercise("lesson04.q1", "Cells of the map", check=_check,
    ...               hint="The map is 7 x 7.", solution="cells = 7 * 7")
    >>> bool(q1.check(49)), q1.check(None).status
    (True, 'unanswered')
"""
from __future__ import annotations

import dataclasses
import html
import textwrap
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Union

__all__ = ["CheckResult", "correct", "wrong", "unanswered", "Exercise", "Hint", "Solution", "Answer",
           "markdown_html"]

_STYLE = {  # status: (label, text colour, background, border)
    "correct": ("Correct", "#1b5e20", "#e8f5e9", "#2e7d32"),
    "wrong": ("Not yet", "#b71c1c", "#ffebee", "#c62828"),
    "unanswered": ("Not answered yet", "#424242", "#f5f5f5", "#9e9e9e"),
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: passed or not, and a message that says why.

    ``status`` is ``"correct"``, ``"wrong"`` or ``"unanswered"`` (the placeholder ``None`` is still
    there). ``bool(result)`` is ``result.passed``. In a notebook it shows as one coloured line.

    Example:
        >>> result = CheckResult(False, "0.41 is 0.08 below the reference 0.49", "wrong")
        >>> str(result), bool(result)
        ('Not yet: 0.41 is 0.08 below the reference 0.49', False)
    """

    passed: bool
    message: str
    status: str
    exercise: str = ""

    def __post_init__(self) -> None:
        if self.status not in _STYLE:
            raise ValueError(f"status must be one of {sorted(_STYLE)}, not {self.status!r}")

    def __bool__(self) -> bool:
        return bool(self.passed)

    @property
    def label(self) -> str:
        """``"Correct"``, ``"Not yet"`` or ``"Not answered yet"``."""
        return _STYLE[self.status][0]

    def __str__(self) -> str:
        return f"{self.label}: {self.message}" if self.message else self.label

    def _repr_html_(self) -> str:
        label, colour, background, border = _STYLE[self.status]
        message = html.escape(self.message).replace("\n", "<br>")
        text = f"<b>{label}</b>: {message}" if self.message else f"<b>{label}</b>"
        key = f' data-exercise="{html.escape(self.exercise)}"' if self.exercise else ""
        return (f'<div class="daylib-check daylib-check-{self.status}"{key} style="color: {colour}; '
                f'background: {background}; border-left: 4px solid {border}; padding: 4px 8px; margin: 2px 0;">'
                f"{text}</div>")


def correct(message: str = "") -> CheckResult:
    """A passed check.

    Example:
        >>> str(correct("the peak is in the face box"))
        'Correct: the peak is in the face box'
    """
    return CheckResult(True, message, "correct")


def wrong(message: Union[str, Sequence[str]], advice: str = "") -> CheckResult:
    """A failed check; ``message`` says what is off, by how much, and hints at why.

    ``message`` may be a list of problems, one per wrong part of the answer: they are joined
    with "; " into one sentence. ``advice`` (what to try) follows it.

    Example:
        >>> wrong("32 cells, expected 49 (7 x 7)").status
        'wrong'
        >>> wrong(["early_energy is off by 0.2", "early_maps hold last-layer maps"], "Use EARLIER_LAYER.").message
        'early_energy is off by 0.2; early_maps hold last-layer maps. Use EARLIER_LAYER.'
    """
    text = message if isinstance(message, str) else "; ".join(message) + "."
    return CheckResult(False, f"{text} {advice}" if advice else text, "wrong")


def unanswered(message: str) -> CheckResult:
    """The placeholder is still there: not a failure of the learner.

    Example:
        >>> str(unanswered("replace None with your number"))
        'Not answered yet: replace None with your number'
    """
    return CheckResult(False, message, "unanswered")


def markdown_html(text: str) -> str:
    """Markdown ``text`` as HTML, with any raw HTML in it escaped.

    Uses the ``markdown`` package when it is installed, else ``mistune`` (which comes with
    JupyterLab's nbconvert), else escapes the text and keeps its line breaks.

    Example:
        >>> "<b>" not in markdown_html("a <b> tag")
        True
    """
    try:
        import markdown  # type: ignore[import-not-found]

        return markdown.markdown(html.escape(text, quote=False), extensions=["fenced_code", "tables"])
    except ImportError:
        pass
    try:
        import mistune

        return str(mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])(text))
    except (ImportError, TypeError, AttributeError):  # no mistune, or an old one without create_markdown
        return "<p>" + html.escape(text).replace("\n", "<br>\n") + "</p>"


def _highlight(code: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return f"<pre><code>{html.escape(code)}</code></pre>"
    return highlight(code, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))


class _Shown:
    """A text with a rich (HTML) and a plain view; ``repr`` is the plain text, so outputs stay stable."""

    kind = ""

    def __init__(self, text: str, title: str = "") -> None:
        self.text = text
        self.title = title

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.text == self.text  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]


class Hint(_Shown):
    """A hint, shown as a short note.

    Example:
        >>> str(Hint("The map is 7 x 7."))
        'Hint: The map is 7 x 7.'
    """

    def __str__(self) -> str:
        return f"Hint: {self.text}"

    def _repr_html_(self) -> str:
        return (f'<div class="daylib-hint" style="border-left: 4px solid #f9a825; background: #fffde7; '
                f'padding: 4px 8px;"><b>Hint</b>: {markdown_html(self.text)}</div>')


class Solution(_Shown):
    """A solution's code, highlighted, inside a closed ``<details>``; ``str`` is the code itself.

    Example:
        >>> print(Solution("cells = 7 * 7"))
        cells = 7 * 7
    """

    def _repr_html_(self) -> str:
        title = f" - {html.escape(self.title)}" if self.title else ""
        return (f'<details class="daylib-solution"><summary><b>Solution{title}</b> (click to open)</summary>'
                f"{_highlight(self.text)}</details>")


class Answer(_Shown):
    """A worked answer (Markdown), inside a closed ``<details>`` "Worked answer (click to open)".

    Example:
        >>> "Worked answer (click to open)" in Answer("The head learns faster.")._repr_html_()
        True
    """

    def _repr_html_(self) -> str:
        return ('<details class="daylib-answer"><summary><b>Worked answer</b> (click to open)</summary>'
                f'<div style="padding: 0 8px;">{markdown_html(self.text)}</div></details>')


class Exercise:
    """One exercise of a lesson: a check, a hint, a solution and (for open questions) a worked answer.

    ``check(learner_value, *context)`` calls the check function, unless the first positional
    argument is still ``None`` (then: "Not answered yet", without calling it). A ``ValueError`` or
    ``TypeError`` from the check function (an answer of the wrong kind) becomes a "Not yet" with
    the error's message; any other exception goes on. A passed check is recorded in the progress
    file (:func:`daylib.exercises.progress.record`).

    Example:
        >>> q2 = Exercise("lesson04.q2", "Why the logit?", hint="Saturation.", solution="",
        ...               answer=lambda gap: f"Your gap of {gap:.2f} shows the softmax saturating.")
        >>> q2.checkable
        False
        >>> "0.30" in q2.answer(0.3).text
        True
    """

    def __init__(self, key: str, title: str, *, hint: str, solution: str,
                 check: Optional[Callable[..., CheckResult]] = None,
                 answer: Optional[Callable[..., str]] = None,
                 points: int = 1) -> None:
        if check is None and answer is None:
            raise ValueError(f"{key}: an exercise needs a check, an answer or both")
        self.key = key
        self.title = title
        self.hint_text = textwrap.dedent(hint).strip()
        self.solution_code = textwrap.dedent(solution).strip("\n")
        self.points = points
        self._check = check
        self._answer = answer

    @property
    def checkable(self) -> bool:
        """True when the exercise has a check function."""
        return self._check is not None

    @property
    def answerable(self) -> bool:
        """True when the exercise has a worked answer."""
        return self._answer is not None

    def __repr__(self) -> str:
        return f"Exercise({self.key!r}, {self.title!r})"

    def check(self, *args: Any, **kwargs: Any) -> CheckResult:
        """Check the learner's answer; see the class docstring.

        Example:
            >>> q1.check(None).status
            'unanswered'
        """
        if self._check is None:
            raise TypeError(f"{self.key} ({self.title}) is an open exercise with no check: "
                            f"run its answer(...) instead")
        if args and args[0] is None:
            return dataclasses.replace(unanswered("replace None with your answer, then run the cell again"),
                                       exercise=self.key)
        try:
            result = self._check(*args, **kwargs)
        except (ValueError, TypeError) as err:
            if any(arg is None for arg in args):  # e.g. the second of two placeholders is still None
                result = unanswered("replace every None with your answer, then run the cell again")
            else:
                result = wrong(str(err) or type(err).__name__)
        if isinstance(result, bool):
            result = correct() if result else wrong("that does not match the reference")
        if not isinstance(result, CheckResult):
            raise TypeError(f"the check of {self.key} returned {type(result).__name__}, not a CheckResult")
        result = dataclasses.replace(result, exercise=self.key)
        if result.passed:
            self._record()
        return result

    def _record(self) -> None:
        from daylib.exercises.progress import record  # (the package's `progress` is the table function)

        try:
            record(self.key)
        except OSError as err:  # a read-only or full cache must not spoil a correct answer
            warnings.warn(f"could not record the progress of {self.key}: {err}", stacklevel=3)

    def hint(self) -> Hint:
        """The hint, as a display object.

        Example:
            >>> str(q1.hint())
            'Hint: The map is 7 x 7.'
        """
        return Hint(self.hint_text, self.title)

    def solution(self) -> Solution:
        """The solution code, highlighted and folded.

        Example:
            >>> q1.solution().text
            'cells = 7 * 7'
        """
        return Solution(self.solution_code, self.title)

    def answer(self, *args: Any, **kwargs: Any) -> Answer:
        """The worked answer (Markdown from the answer function, which may use the learner's numbers), folded.

        Example:
            >>> q2.answer(0.3)      # doctest: +SKIP
        """
        if self._answer is None:
            raise TypeError(f"{self.key} ({self.title}) has no worked answer: run its check(...) instead")
        return Answer(textwrap.dedent(str(self._answer(*args, **kwargs))).strip(), self.title)
