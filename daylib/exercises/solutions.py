"""Make the lessons' solution notebooks: every exercise cell's learner part replaced by the solution, then run.

In a lesson notebook each exercise has a code cell tagged with ``{"daylib": {"exercise": "q2"}}``.
In a check cell, every line before the line that starts with ``ex.q2.check(`` is the learner's
part; here it is replaced with ``ex.q2.solution_code`` from ``daylib.exercises.lessonNN`` (NN is
the notebook's file-name prefix). Cells without a check line (open exercises) stay as they are.
The solved notebook is then executed in full mode (``DAYLIB_QUICK=0``; ``--quick`` for a fast
smoke run) with nbconvert, in the notebook's own folder, and written atomically.

Usage::

    python -m daylib.exercises.solutions                         # every lesson, into notebooks/solutions/
    python -m daylib.exercises.solutions notebooks/04_grad_cam.ipynb --no-execute

Example:
    >>> from daylib.exercises.solutions import solved_notebook
    >>> nb = solved_notebook("notebooks/04_grad_cam.ipynb")     # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import nbformat

from daylib.config import REPO_DIR
from daylib.training.atomic import atomic_path

__all__ = ["solved_notebook", "solve_cell", "lesson_of", "write_solution", "failed_checks", "main"]

_PREFIX = re.compile(r"^(\d\d)_")
_KEY = re.compile(r"^q\d+$")


def lesson_of(path: Union[str, Path]) -> str:
    """The lesson number of a notebook, from its file-name prefix ``NN_``.

    Example:
        >>> lesson_of("notebooks/04_grad_cam.ipynb")
        '04'
    """
    match = _PREFIX.match(Path(path).name)
    if match is None:
        raise ValueError(f"{path}: a lesson notebook's name starts with its number, e.g. 04_grad_cam.ipynb")
    return match.group(1)


def solve_cell(source: str, key: str, solution_code: str) -> Optional[str]:
    """The cell ``source`` with its learner part replaced by ``solution_code``; ``None`` if it has no check line.

    The learner part is every line before the first line that starts with ``ex.<key>.check(``.

    Example:
        >>> solve_cell("# your turn\\nx = None\\nex.q1.check(x)", "q1", "x = 49")
        'x = 49\\nex.q1.check(x)'
    """
    lines = source.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"ex.{key}.check(")), None)
    if start is None:
        return None
    return solution_code.rstrip("\n") + "\n" + "".join(lines[start:])


def solved_notebook(path: Union[str, Path]) -> nbformat.NotebookNode:
    """The notebook at ``path`` with each exercise check cell's learner part replaced by its solution.

    Raises ``ValueError`` naming the file and the cell when a cell names an exercise the lesson
    module lacks, or a check cell's exercise has no solution code. Replaced cells lose their outputs.

    Example:
        >>> nb = solved_notebook("notebooks/04_grad_cam.ipynb")     # doctest: +SKIP
    """
    from daylib.exercises import lesson

    path = Path(path)
    number = lesson_of(path)
    notebook = nbformat.read(path, as_version=4)
    module = lesson(number)
    for index, cell in enumerate(notebook.cells):
        key = cell.get("metadata", {}).get("daylib", {}).get("exercise")
        if cell.cell_type != "code" or key is None:
            continue
        where = f"{path.name}: cell {index} (id {cell.get('id', '?')})"
        exercise = getattr(module, key, None) if isinstance(key, str) and _KEY.match(key) else None
        if exercise is None or not hasattr(exercise, "solution_code"):
            raise ValueError(f"{where} is exercise {key!r}, but {module.__name__} has no such exercise")
        if not exercise.solution_code.strip():
            if solve_cell(cell.source, key, "") is not None:
                raise ValueError(f"{where} checks {key}, but {module.__name__}.{key} has no solution code")
            continue
        solved = solve_cell(cell.source, key, exercise.solution_code)
        if solved is not None:
            cell.source = solved
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.setdefault("daylib", {})["solutions"] = True
    return notebook


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def write_solution(path: Union[str, Path], out_dir: Union[str, Path], *, execute: bool = True,
                   quick: bool = False, timeout: int = 1200) -> Path:
    """Solve the notebook at ``path``, run it (unless ``execute=False``) and write it into ``out_dir``.

    It runs in the notebook's own folder with kernel ``python3``, in full mode unless ``quick``.

    Example:
        >>> write_solution("notebooks/04_grad_cam.ipynb", "notebooks/solutions", execute=False)  # doctest: +SKIP
        PosixPath('notebooks/solutions/04_grad_cam.ipynb')
    """
    path, out_dir = Path(path), Path(out_dir)
    notebook = solved_notebook(path)
    if execute:
        from nbconvert.preprocessors import ExecutePreprocessor

        runner = ExecutePreprocessor(timeout=timeout, kernel_name="python3", store_widget_state=False)
        with _environment(DAYLIB_QUICK="1" if quick else "0"):
            runner.preprocess(notebook, {"metadata": {"path": str(path.resolve().parent)}})
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / path.name
    with atomic_path(target) as tmp:
        nbformat.write(notebook, str(tmp))
    return target


def failed_checks(notebook: nbformat.NotebookNode) -> list[str]:
    """The exercise check cells of an executed solved notebook whose check did not say "Correct".

    Each entry names the exercise and what its cell showed: the check's own line, an error, or
    "no check result" (the cell did not run). An empty list means every solution passed its check.

    Example:
        >>> failed_checks(nbformat.read("notebooks/solutions/04_grad_cam.ipynb", as_version=4))   # doctest: +SKIP
        []
    """
    failed = []
    for cell in notebook.cells:
        key = (cell.get("metadata", {}).get("daylib") or {}).get("exercise")
        if cell.cell_type != "code" or not key or f"ex.{key}.check(" not in cell.source:
            continue
        outputs = cell.get("outputs", [])
        shown = [output for output in outputs if "daylib-check" in output.get("data", {}).get("text/html", "")]
        errors = [output for output in outputs if output.get("output_type") == "error"]
        if errors:
            failed.append(f"{key}: {errors[0].get('ename')}: {errors[0].get('evalue', '')[:200]}")
        elif not shown:
            failed.append(f"{key}: no check result")
        elif "daylib-check-correct" not in shown[-1]["data"]["text/html"]:
            failed.append(f"{key}: {shown[-1]['data'].get('text/plain', '')[:300]}")
    return failed


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line: ``python -m daylib.exercises.solutions [notebooks...] [--out DIR] [--no-execute]``.

    Example:
        >>> main(["notebooks/04_grad_cam.ipynb", "--no-execute"])      # doctest: +SKIP
        0
    """
    parser = argparse.ArgumentParser(prog="python -m daylib.exercises.solutions", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="lesson notebooks (default: every notebooks/NN_*.ipynb)")
    parser.add_argument("--out", type=Path, default=REPO_DIR / "notebooks" / "solutions",
                        help="folder for the solved notebooks (default: notebooks/solutions)")
    parser.add_argument("--no-execute", action="store_true", help="only replace the cells, do not run them")
    parser.add_argument("--quick", action="store_true", help="run in quick mode (DAYLIB_QUICK=1), e.g. as a smoke test")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell (default 1200)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((REPO_DIR / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        parser.error("no lesson notebooks found")
    problems = []
    for notebook in notebooks:
        print(f"== {notebook}", flush=True)
        target = write_solution(notebook, args.out, execute=not args.no_execute, quick=args.quick,
                                timeout=args.timeout)
        print(f"   -> {target}", flush=True)
        if not args.no_execute:
            solved = nbformat.read(str(target), as_version=4)
            problems += [f"{target.name} {problem}" for problem in failed_checks(solved)]
    if problems:
        print("A solution did not pass its own check (the notebooks are written; look at these cells):\n  "
              + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
