"""The teacher's path (daylib.exercises.grading): nbgrader releases a lesson and autogrades submissions.

Three submissions are graded, each a full execution of the notebook by ``nbgrader autograde`` in one run: the
solved copy gets full marks, the untouched student copy gets 0, a copy with one wrong answer loses exactly that
exercise's points. First on a tiny synthetic lesson (seconds; independent of the real lessons' exercise modules),
then on the real lesson that runs fastest in quick mode.
"""
import json
import ast
import os
from pathlib import Path

import nbformat
import pytest

from daylib.exercises import grading

FAKE_MODULE = '''
"""A stand-in for daylib.exercises.lessonNN: two checks (1 and 2 points) and one open question."""
class Result:
    def __init__(self, passed, message, status):
        self.passed, self.message, self.status = passed, message, status

class Exercise:
    def __init__(self, key, check=None, answer=None, points=1):
        self.key, self._check, self._answer, self.points = key, check, answer, points
        self.checkable = check is not None
    def check(self, value, *context):
        if value is None:
            return Result(False, "replace None with your answer", "unanswered")
        return self._check(value, *context)
    def answer(self, *args):
        return self._answer(*args)

q1 = Exercise("lesson99.q1", check=lambda v, x: Result(v == 2 * x, f"{v} is not twice {x}", "wrong"))
q2 = Exercise("lesson99.q2", check=lambda v, x: Result(v == x ** 2, f"{v} is not {x} squared", "wrong"), points=2)
q3 = Exercise("lesson99.q3", answer=lambda x: f"worked answer for x = {x}")
EXERCISES = [q1, q2, q3]
'''


def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for source, key in cells:
        if key == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
            continue
        cell = nbformat.v4.new_code_cell(source)
        if key:
            cell.metadata.update({"tags": ["exercise"], "daylib": {"exercise": key}})
        nb.cells.append(cell)
    return json.loads(json.dumps(nb))


def _lesson(q1, q2):
    return _notebook(
        ("import fake_lesson99 as ex\nx = 3", None),
        ("## Exercises\n\n1. Double x.\n2. Square x.\n3. Why?", "md"),
        (f"# Exercise 1: replace None\n{q1}\nex.q1.check(doubled, x)  # ex.q1.hint()", "q1"),
        (f"# Exercise 2: replace None\n{q2}\nex.q2.check(square, x)", "q2"),
        ("ex.q3.answer(x)", "q3"),
    )


def _submit(course, student, assignment, name, nb):
    folder = Path(course) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.from_dict(nb) if isinstance(nb, dict) else nb, folder / name)


def _wrong(nb, grade_id, replacement):
    """``nb`` with the answer cell ``grade_id`` given a wrong value (appended after the student's lines)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    lines = cell.source.split("\n")
    check = next(i for i, line in enumerate(lines) if ".check(" in line)
    cell.source = "\n".join(lines[:check] + [replacement] + lines[check:])
    return nb


@pytest.fixture(scope="module")
def fake_lesson(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake_lesson")
    (folder / "fake_lesson99.py").write_text(FAKE_MODULE)
    import importlib.util

    spec = importlib.util.spec_from_file_location("fake_lesson99", folder / "fake_lesson99.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return folder, module


def test_source_notebook_marks_checks_as_graded_and_leaves_open_questions(fake_lesson):
    _, module = fake_lesson
    student = _lesson("doubled = None", "square = None")
    solved = _lesson("doubled = 2 * x", "square = x ** 2")
    nb = grading.source_notebook(99, student=student, solved=solved, module=module)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    assert [m and (m["grade_id"], m["grade"], m["solution"], m.get("points")) for m in meta] == [
        None, None,
        ("lesson99_q1_answer", False, True, None), ("lesson99_q1", True, False, 1),
        ("lesson99_q2_answer", False, True, None), ("lesson99_q2", True, False, 2),
        None,
    ]
    assert nb.cells[2].source == ("# Exercise 1: replace None\ndoubled = None\n### BEGIN SOLUTION\ndoubled = 2 * x\n"
                                  "### END SOLUTION\nex.q1.check(doubled, x)  # ex.q1.hint()")
    assert "_result = ex.q2.check(square, x)\nassert _result.passed, _result.message" in nb.cells[5].source
    assert nb.cells[6].source == "ex.q3.answer(x)" and "nbgrader" not in nb.cells[6].metadata
    assert len({c.id for c in nb.cells}) == len(nb.cells)


def test_release_and_autograde_a_synthetic_lesson(fake_lesson, tmp_path):
    folder, module = fake_lesson
    name = "99_fake.ipynb"
    source = grading.source_notebook(99, student=_lesson("doubled = None", "square = None"),
                                     solved=_lesson("doubled = 2 * x", "square = x ** 2"), module=module)
    released = grading.release(tmp_path, 99, source=source, notebook_name=name)
    student = nbformat.read(released, as_version=4)
    assert "BEGIN SOLUTION" not in released.read_text() and "2 * x" not in released.read_text()
    assert student.cells[2].source.startswith("# Exercise 1: replace None\ndoubled = None\n")
    assert "NotImplementedError" not in released.read_text()

    solved = grading.solved_submission(tmp_path, 99, notebook_name=name)
    _submit(tmp_path, "solved", "lesson99", name, solved)
    _submit(tmp_path, "untouched", "lesson99", name, student)
    _submit(tmp_path, "one_wrong", "lesson99", name, _wrong(solved, "lesson99_q2_answer", "square = 2 * x"))
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), old]))
    try:
        results = grading.grade(tmp_path, 99)
    finally:
        os.environ.pop("PYTHONPATH") if old is None else os.environ.__setitem__("PYTHONPATH", old)
    assert {s: (r.score, r.max_score) for s, r in results.items()} == {
        "solved": (3, 3), "untouched": (0, 3), "one_wrong": (1, 3)}
    assert results["one_wrong"].exercises == {"lesson99_q1": 1, "lesson99_q2": 0}


# The real lesson: 00 runs fastest in quick mode (about 15 s of cells, no training) and has five checked exercises.
REAL_LESSON, WRONG_EXERCISE = "00", "q3"


def _exercise_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if (c.get("metadata", {}).get("daylib") or {}).get("exercise")]


def test_release_and_autograde_the_fastest_real_lesson(tmp_path):
    lesson = grading.lesson_path(REAL_LESSON)
    assert _exercise_cells(lesson), f"{lesson.name} has no exercise cells: the grading test needs a lesson with checks"
    module = grading.lesson_module(REAL_LESSON)
    released = grading.release(tmp_path, REAL_LESSON)
    student = nbformat.read(released, as_version=4)
    assignment = grading.assignment_name(REAL_LESSON)

    # the student version is the lesson itself (placeholders, no solutions) plus one locked test cell per check
    original = [c.source for c in nbformat.read(lesson, as_version=4).cells]
    kept = [c.source for c in student.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    assert [s.replace("\n\n", "\n") for s in kept] == [s.replace("\n\n", "\n") for s in original]
    tests = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points for c in student.cells
             if c.metadata.get("nbgrader", {}).get("grade")}
    checked = {f"lesson{REAL_LESSON}_{e.key.rsplit('.', 1)[1]}": e.points for e in module.EXERCISES if e.checkable
               and any(c["metadata"]["daylib"]["exercise"] == e.key.rsplit(".", 1)[1] for c in _exercise_cells(lesson))}
    assert tests == checked and len(tests) >= 2
    full = sum(tests.values())

    solved = grading.solved_submission(tmp_path, REAL_LESSON)
    wrong_id = f"lesson{REAL_LESSON}_{WRONG_EXERCISE}"
    cell = next(c for c in solved.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{wrong_id}_answer")
    answer = ast.parse(grading._check_call(cell.source, WRONG_EXERCISE)[1]).body[0].value.args[0].id  # the answer's name
    _submit(tmp_path, "solved", assignment, released.name, solved)
    _submit(tmp_path, "untouched", assignment, released.name, student)
    _submit(tmp_path, "one_wrong", assignment, released.name,
            _wrong(solved, f"{wrong_id}_answer", f"{answer} = {answer} + 10  # 10 percentage points off"))
    results = grading.grade(tmp_path, REAL_LESSON, quick=True)  # one autograde run, the three one after the other

    assert {s: (r.score, r.max_score) for s, r in results.items()} == {
        "solved": (full, full), "untouched": (0, full), "one_wrong": (full - tests[wrong_id], full)}, \
        {s: r.exercises for s, r in results.items()}
    assert results["one_wrong"].exercises == {**tests, wrong_id: 0}
