"""Every lesson notebook's exercises fit its lesson module and its quiz (the pattern of daylib.exercises).

For each ``notebooks/NN_*.ipynb``: the ``## Exercises`` list has N numbered items, N code cells
tagged ``exercise`` with keys q1..qN follow, ``daylib.exercises.lessonNN`` has N exercises (each
with a check or an answer), every check cell's learner part is replaced cleanly by the solution
notebook, and a ``## Self-check`` section shows ``quiz("NN")`` on a quiz of 5-8 questions.
No lesson is skipped: a lesson without the pattern fails, naming what is missing.
"""
import ast
import importlib
import re

import nbformat
import pytest

from daylib.config import REPO_DIR
from daylib.exercises import load_quiz
from daylib.exercises.solutions import solve_cell, solved_notebook

NOTEBOOKS = sorted((REPO_DIR / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ITEM = re.compile(r"^(\d+)\.\s")


def _lesson(path) -> str:
    return path.name[:2]


def _markdown_lines(notebook) -> list[str]:
    return [line for cell in notebook.cells if cell.cell_type == "markdown" for line in cell.source.splitlines()]


def _section(lines: list[str], heading: str) -> list[str]:
    """The Markdown lines after ``heading`` (a ``## `` line) up to the next ``## `` heading."""
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start + 1:end]


def _exercise_cells(notebook) -> list[tuple[int, nbformat.NotebookNode]]:
    return [(i, cell) for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and "exercise" in cell.metadata.get("daylib", {})]


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def lesson(request):
    path = request.param
    notebook = nbformat.read(path, as_version=4)
    lines = _section(_markdown_lines(notebook), "## Exercises")
    items = [int(match.group(1)) for line in lines if (match := ITEM.match(line))]
    return path, _lesson(path), notebook, items


def test_there_are_lesson_notebooks():
    assert len(NOTEBOOKS) >= 10, [path.name for path in NOTEBOOKS]


def test_exercises_list_is_numbered_and_has_one_tagged_cell_per_item(lesson):
    path, number, notebook, items = lesson
    assert items, f"lesson {number} ({path.name}): no numbered items under an '## Exercises' heading"
    assert items == list(range(1, len(items) + 1)), f"lesson {number}: the Exercises list is numbered {items}"
    cells = _exercise_cells(notebook)
    keys = [cell.metadata["daylib"]["exercise"] for _, cell in cells]
    expected = [f"q{k}" for k in items]
    assert keys == expected, (f"lesson {number} ({path.name}): the Exercises list has {len(items)} items, "
                              f"the code cells tagged daylib.exercise are {keys}, expected {expected}")
    untagged = [index for index, cell in cells if "exercise" not in cell.metadata.get("tags", [])]
    assert not untagged, f"lesson {number}: exercise cells {untagged} lack the 'exercise' tag"
    imports = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
               and f"from daylib.exercises import lesson{number} as ex" in cell.source]
    assert imports, f"lesson {number}: no code cell 'from daylib.exercises import lesson{number} as ex'"
    assert imports[0] < cells[0][0], f"lesson {number}: the 'import lesson{number} as ex' cell comes after q1's cell"


def test_lesson_module_has_one_exercise_per_item(lesson):
    path, number, notebook, items = lesson
    try:
        module = importlib.import_module(f"daylib.exercises.lesson{number}")
    except ModuleNotFoundError as err:
        pytest.fail(f"lesson {number} ({path.name}): no module daylib.exercises.lesson{number} ({err})")
    exercises = getattr(module, "EXERCISES", None)
    assert exercises is not None, f"lesson {number}: daylib.exercises.lesson{number} has no EXERCISES"
    assert len(exercises) == len(items), (f"lesson {number}: EXERCISES has {len(exercises)} entries, "
                                          f"the notebook's Exercises list {len(items)} items")
    for k, exercise in enumerate(exercises, start=1):
        assert exercise.key == f"lesson{number}.q{k}", f"lesson {number}: EXERCISES[{k - 1}] has key {exercise.key!r}"
        assert getattr(module, f"q{k}", None) is exercise, f"lesson {number}: q{k} is not EXERCISES[{k - 1}]"
        assert exercise.checkable or exercise.answerable, f"lesson {number}: q{k} has neither a check nor an answer"


def test_check_cells_are_replaced_cleanly_by_the_solutions(lesson):
    path, number, notebook, items = lesson
    try:
        solved = solved_notebook(path)
    except Exception as err:  # noqa: BLE001  (the message must name the lesson)
        pytest.fail(f"lesson {number} ({path.name}): solved_notebook failed: {type(err).__name__}: {err}")
    module = importlib.import_module(f"daylib.exercises.lesson{number}")
    for index, cell in _exercise_cells(notebook):
        key = cell.metadata["daylib"]["exercise"]
        exercise = getattr(module, key)
        replaced = solve_cell(cell.source, key, exercise.solution_code)
        if replaced is None:
            assert exercise.answerable, (f"lesson {number}: cell {index} ({key}) has no 'ex.{key}.check(' line at "
                                         f"the start of a line, and {key} has no answer either")
            assert f"ex.{key}.answer(" in cell.source, (
                f"lesson {number}: cell {index} ({key}) calls no ex.{key}.answer(")
            continue
        assert exercise.checkable, f"lesson {number}: cell {index} calls ex.{key}.check but {key} has no check"
        assert solved.cells[index].source == replaced, f"lesson {number}: cell {index} ({key}) was not replaced"
        assert replaced.startswith(exercise.solution_code.rstrip("\n")), f"lesson {number}: cell {index} ({key})"
        code = "\n".join(line for line in replaced.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            ast.parse(code)
        except SyntaxError as err:
            pytest.fail(f"lesson {number}: the solved cell {index} ({key}) is not valid Python: {err}\n{replaced}")


def test_self_check_section_shows_the_lesson_quiz(lesson):
    path, number, notebook, items = lesson
    lines = _markdown_lines(notebook)
    assert any(line.strip() == "## Self-check" for line in lines), f"lesson {number} ({path.name}): no '## Self-check'"
    heading = next(i for i, cell in enumerate(notebook.cells)
                   if cell.cell_type == "markdown"
                   and any(line.strip() == "## Self-check" for line in cell.source.splitlines()))
    calls = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and re.search(rf"""quiz\(\s*["']{number}["']\s*\)""", cell.source)]
    assert calls, f"lesson {number}: no code cell calls quiz(\"{number}\")"
    assert calls[-1] > heading, f"lesson {number}: the quiz(\"{number}\") cell is not in the Self-check section"
    assert "from daylib.exercises import quiz" in notebook.cells[calls[-1]].source, (
        f"lesson {number}: the quiz cell lacks 'from daylib.exercises import quiz'")
    try:
        data = load_quiz(number)
    except (FileNotFoundError, ValueError) as err:
        pytest.fail(f"lesson {number}: its quiz does not load: {err}")
    assert 5 <= len(data.questions) <= 8, f"lesson {number}: the quiz has {len(data.questions)} questions, not 5-8"
