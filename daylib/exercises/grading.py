"""The teacher's path: release a lesson as an nbgrader assignment and autograde what the students hand in.

nbgrader (https://nbgrader.readthedocs.io) grades with the same ``daylib.exercises`` checks the learners run:

- :func:`source_notebook` turns a lesson into nbgrader's *source* version. Each exercise cell that has a check
  (``ex.qN.check(...)``) becomes a "solution" cell: the learner's lines stay as they are (the ``None``
  placeholders), followed by the solution between ``### BEGIN SOLUTION`` / ``### END SOLUTION``. After it comes a
  locked, autograded test cell worth the Exercise's ``points``: ``assert`` on the same ``ex.qN.check(...)`` call.
  Open exercises (``ex.qN.answer(...)``) are left as they are: nbgrader does not grade them.
- :func:`release` writes the course folder (``nbgrader_config.py``, ``source/<assignment>/<notebook>``) and runs
  ``nbgrader generate_assignment``: ``release/<assignment>/<notebook>`` is the student version, solutions
  stripped, which is exactly the lesson's own notebook plus the test cells.
- :func:`grade` runs ``nbgrader autograde <assignment> --create`` over ``submitted/<student>/<assignment>/`` and
  reads the scores from nbgrader's gradebook (``gradebook.db``).

Command line (what ``make release LESSON=03`` and ``make grade LESSON=03`` run)::

    python -m daylib.exercises.grading release 03 --course build/course
    python -m daylib.exercises.grading grade 03 --course build/course

nbgrader runs in a subprocess with the course folder's own config (``JUPYTER_CONFIG_DIR`` points into the course
folder, so nothing in ``~/.jupyter`` is read or written).
"""
from __future__ import annotations

import argparse
import ast
import copy
import importlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Optional, Union

import nbformat

from daylib.config import REPO_DIR

NOTEBOOKS_DIR = REPO_DIR / "notebooks"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SCHEMA_VERSION = 3
#: Seconds one cell may run while autograding (nbgrader's own default, 30 s, is too short for a training cell).
CELL_TIMEOUT = 1200

CONFIG_TEMPLATE = '''\
# nbgrader configuration of this course folder, written by daylib.exercises.grading.
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "daylib"
# The student version keeps the lesson's own placeholder lines (``x = None``) in front of the solution region,
# so the stripped solution is replaced by nothing rather than by nbgrader's ``raise NotImplementedError()``.
c.ClearSolutions.code_stub = {{"python": ""}}
c.Execute.timeout = {timeout}
c.Execute.store_widget_state = False
'''

LessonLike = Union[str, int]


@dataclass(frozen=True)
class Grade:
    """One student's result: total ``score`` of ``max_score`` and the score of each graded exercise."""
    score: float
    max_score: float
    exercises: dict = field(default_factory=dict)  # grade_id -> score, e.g. {"lesson03_q2": 1.0}


def lesson_number(lesson: LessonLike) -> str:
    """``3``, ``"3"``, ``"03"`` or ``"lesson03"`` -> ``"03"``."""
    match = re.fullmatch(r"(?:lesson)?(\d{1,2})", str(lesson).strip())
    if not match:
        raise ValueError(f"a lesson is a number such as 03, not {lesson!r}")
    return f"{int(match.group(1)):02d}"


def assignment_name(lesson: LessonLike) -> str:
    return f"lesson{lesson_number(lesson)}"


def lesson_path(lesson: LessonLike, notebooks_dir: Path = NOTEBOOKS_DIR) -> Path:
    number = lesson_number(lesson)
    found = sorted(Path(notebooks_dir).glob(f"{number}_*.ipynb"))
    if len(found) != 1:
        raise FileNotFoundError(f"no single lesson notebook {number}_*.ipynb in {notebooks_dir}: {found}")
    return found[0]


def lesson_module(lesson: LessonLike) -> ModuleType:
    return importlib.import_module(f"daylib.exercises.lesson{lesson_number(lesson)}")


def _solved(path: Path) -> dict:
    """The lesson with each check exercise's learner lines replaced by its solution (the core's ``solved_notebook``)."""
    from daylib.exercises.solutions import solved_notebook

    solved = solved_notebook(path)
    if isinstance(solved, (str, Path)):
        solved = json.loads(Path(solved).read_text())
    return json.loads(json.dumps(solved))  # a plain dict, whatever solved_notebook returns


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _exercise_key(cell: dict) -> Optional[str]:
    if cell.get("cell_type") != "code":
        return None
    return (cell.get("metadata", {}).get("daylib") or {}).get("exercise")


def _check_call(source: str, key: str) -> Optional[tuple[int, str]]:
    """(index of the line where ``<alias>.<key>.check(`` starts, the call's source text), or None."""
    tree = ast.parse(source)
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else getattr(node, "value", None)
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "check"
                and isinstance(call.func.value, ast.Attribute) and call.func.value.attr == key):
            return node.lineno - 1, ast.get_source_segment(source, call)
    return None


def _learner_lines(source: str, key: str) -> Optional[tuple[list[str], list[str], str]]:
    """(lines before the check line, the check line and what follows, the check call), or None."""
    found = _check_call(source, key)
    if found is None:
        return None
    index, call = found
    lines = source.split("\n")
    return lines[:index], lines[index:], call


def _new_id(cell_id: str, used: set) -> str:
    candidate, n = cell_id, 0
    while candidate in used:
        n += 1
        candidate = f"{cell_id}-{n}"
    used.add(candidate)
    return candidate


def source_notebook(lesson: LessonLike, *, student: Optional[dict] = None, solved: Optional[dict] = None,
                    module: Optional[ModuleType] = None) -> nbformat.NotebookNode:
    """nbgrader's source version of a lesson: graded solution cells and their autograded test cells.

    ``student`` is the lesson notebook as the learners get it (default: ``notebooks/NN_*.ipynb``), ``solved`` the
    same with the solutions filled in (default: ``daylib.exercises.solutions.solved_notebook``), ``module`` the
    lesson's exercises module (default: ``daylib.exercises.lessonNN``).
    """
    number = lesson_number(lesson)
    if student is None:
        student = json.loads(lesson_path(number).read_text())
    if solved is None:
        solved = _solved(lesson_path(number))
    module = module or lesson_module(number)
    solved_cells = {key: cell for cell in solved["cells"] if (key := _exercise_key(cell))}

    nb = copy.deepcopy(student)
    used_ids = {cell.get("id") for cell in nb["cells"]}
    cells, graded = [], 0
    for cell in nb["cells"]:
        cells.append(cell)
        key = _exercise_key(cell)
        exercise = getattr(module, key, None) if key else None
        if exercise is None or not exercise.checkable:
            continue  # open questions (answer()) stay as they are
        split = _learner_lines(_source(cell), key)
        solved_split = _learner_lines(_source(solved_cells[key]), key) if key in solved_cells else None
        if split is None or solved_split is None:
            raise ValueError(f"lesson {number}: the {key} cell has no {key}.check(...) line")
        learner, rest, call = split
        solution = solved_split[0]
        shared = 0  # the comment lines the solved cell kept from the learner's cell stay outside the solution
        while shared < min(len(learner), len(solution)) and learner[shared] == solution[shared]:
            shared += 1
        solution = solution[shared:]
        cell["source"] = "\n".join(learner + [BEGIN] + solution + [END] + rest)
        cell["outputs"], cell["execution_count"] = [], None
        grade_id = f"lesson{number}_{key}"
        cell["metadata"]["nbgrader"] = {"grade": False, "solution": True, "locked": False, "task": False,
                                        "grade_id": f"{grade_id}_answer", "schema_version": SCHEMA_VERSION}
        cells.append({
            "cell_type": "code", "id": _new_id(f"{grade_id}-test".replace("_", "-"), used_ids),
            "execution_count": None, "outputs": [],
            "metadata": {"tags": ["exercise-test"], "daylib": {"grades": key},
                         "nbgrader": {"grade": True, "solution": False, "locked": True, "task": False,
                                      "points": exercise.points, "grade_id": grade_id,
                                      "schema_version": SCHEMA_VERSION}},
            "source": f"# Autograded: {exercise.points} point(s) for exercise {key[1:]}. Do not change this cell.\n"
                      f"_result = {call}\n"
                      f"assert _result.passed, _result.message",
        })
        graded += 1
    if not graded:
        raise ValueError(f"lesson {number} has no exercise with a check: nothing for nbgrader to grade")
    nb["cells"] = cells
    return nbformat.from_dict(nb)


def _path_with_venv() -> str:
    """PATH with this Python's bin folder first: nbgrader's gradebook runs the ``alembic`` command it installs."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])


def _nbgrader(course_dir: Path, *args: str, env: Optional[dict] = None) -> str:
    """Run one nbgrader command in the course folder; its output, or RuntimeError with the output's tail."""
    config_dir = course_dir / ".jupyter"
    config_dir.mkdir(exist_ok=True)
    run_env = dict(os.environ, **(env or {}), JUPYTER_CONFIG_DIR=str(config_dir), PATH=_path_with_venv())
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course_dir}"]
    done = subprocess.run(command, cwd=course_dir, env=run_env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    if done.returncode != 0 or "[ERROR]" in output:
        raise RuntimeError(f"{' '.join(command[2:])} failed ({done.returncode}):\n{output[-4000:]}")
    return output


def write_config(course_dir: Union[str, Path], timeout: int = CELL_TIMEOUT) -> Path:
    course_dir = Path(course_dir).resolve()
    course_dir.mkdir(parents=True, exist_ok=True)
    path = course_dir / "nbgrader_config.py"
    path.write_text(CONFIG_TEMPLATE.format(root=str(course_dir), timeout=int(timeout)))
    return path


def release(course_dir: Union[str, Path], lesson: LessonLike, *, source: Optional[nbformat.NotebookNode] = None,
            notebook_name: Optional[str] = None, timeout: int = CELL_TIMEOUT) -> Path:
    """Write ``source/lessonNN/NN_*.ipynb`` and generate ``release/lessonNN/``; returns the student notebook's path."""
    course_dir = Path(course_dir).resolve()
    assignment = assignment_name(lesson)
    write_config(course_dir, timeout)
    source = source if source is not None else source_notebook(lesson)
    name = notebook_name or lesson_path(lesson).name
    source_dir = course_dir / "source" / assignment
    source_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(source, source_dir / name)
    _nbgrader(course_dir, "generate_assignment", assignment, "--force")
    released = course_dir / "release" / assignment / name
    if not released.exists():
        raise RuntimeError(f"nbgrader wrote no {released}")
    return released


def solved_submission(course_dir: Union[str, Path], lesson: LessonLike,
                      notebook_name: Optional[str] = None) -> nbformat.NotebookNode:
    """The released notebook with every graded cell answered by its solution (what a perfect student hands in)."""
    course_dir = Path(course_dir).resolve()
    assignment = assignment_name(lesson)
    name = notebook_name or lesson_path(lesson).name
    source = nbformat.read(course_dir / "source" / assignment / name, as_version=4)
    answers = {cell.metadata.nbgrader.grade_id: cell.source for cell in source.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(course_dir / "release" / assignment / name, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "\n".join(line for line in answers[grade_id].split("\n") if line not in (BEGIN, END))
    return nb


def grade(course_dir: Union[str, Path], lesson: LessonLike, *, quick: Optional[bool] = None,
          students: Optional[list] = None) -> dict:
    """Autograde ``submitted/<student>/lessonNN/`` (all students, or ``students``); {student: Grade}.

    ``quick=True`` runs the submissions in daylib's quick mode (DAYLIB_QUICK=1), ``False`` in full mode; None keeps
    the environment's setting. The checks compute their references from each student's own run either way.
    """
    course_dir = Path(course_dir).resolve()
    assignment = assignment_name(lesson)
    submitted = course_dir / "submitted"
    found = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    students = list(students) if students is not None else found
    if not students:
        raise FileNotFoundError(f"no submissions in {submitted}/<student>/{assignment}/")
    env = {} if quick is None else {"DAYLIB_QUICK": "1" if quick else "0"}
    args = ["autograde", assignment, "--create", "--force"]
    if students == found:
        _nbgrader(course_dir, *args, env=env)  # one run, one student after the other
    else:
        for student in students:
            _nbgrader(course_dir, *args, f"--student={student}", env=env)
    return scores(course_dir, lesson, students)


def scores(course_dir: Union[str, Path], lesson: LessonLike, students: Optional[list] = None) -> dict:
    """{student: Grade} from the course folder's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    course_dir = Path(course_dir).resolve()
    assignment = assignment_name(lesson)
    result, path = {}, os.environ.get("PATH")
    os.environ["PATH"] = _path_with_venv()
    try:
        gradebook = Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}")
    finally:
        os.environ.pop("PATH") if path is None else os.environ.__setitem__("PATH", path)
    with gradebook:
        for student in students if students is not None else [s.id for s in gradebook.students]:
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            exercises = {g.name: g.score for nb in submission.notebooks for g in nb.grades if g.cell_type == "code"}
            result[student] = Grade(float(submission.score), float(submission.max_score), exercises)
    return result


def _main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m daylib.exercises.grading", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["release", "grade"])
    parser.add_argument("lesson", help="lesson number, e.g. 03")
    parser.add_argument("--course", default="build/course", help="nbgrader course folder (default: build/course)")
    args = parser.parse_args(argv)
    course = Path(args.course).resolve()
    try:
        return _run(args.command, args.lesson, course)
    except (FileNotFoundError, ValueError, RuntimeError, ImportError) as error:
        print(f"{args.command} lesson {args.lesson}: {error}", file=sys.stderr)
        return 1


def _run(command: str, lesson: str, course: Path) -> int:
    if command == "release":
        path = release(course, lesson)
        print(f"student version: {path}\nsolutions (teacher only): {path.parents[2] / 'source' / path.parent.name}")
        print(f"collect submissions into {course}/submitted/<student>/{assignment_name(lesson)}/, "
              f"then: make grade LESSON={lesson_number(lesson)}")
        return 0
    results = grade(course, lesson)
    for student, result in sorted(results.items()):
        print(f"{student:20s} {result.score:g} / {result.max_score:g}   "
              + "  ".join(f"{k.rsplit('_', 1)[-1]}={v:g}" for k, v in sorted(result.exercises.items())))
    print(f"gradebook: {course / 'gradebook.db'} (nbgrader export writes grades.csv)")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
