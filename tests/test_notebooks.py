"""Every lesson follows the course's rules; nbval (make test) executes them separately."""
import ast
import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

from daylib.config import REPO_DIR

NOTEBOOKS = sorted((REPO_DIR / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COLAB_REPO = "github/daylib-course/daylib/blob/main/notebooks/"


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_lessons_are_numbered_from_00_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 9, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_opens_with_objectives_prerequisites_and_time(path):
    first = _source(_cells(path)[0])
    learn = re.search(r"\*\*You will learn\*\*\n((?:- .+\n)+)", first)
    assert learn and len(learn.group(1).splitlines()) >= 2, f"{path.name}: a 'You will learn' list of 2+ items"
    assert re.search(r"\*\*You need first:\*\* \S", first), f"{path.name}: a 'You need first:' line"
    assert re.search(r"\*\*Time:\*\* about \d+ minutes to read and try; the cells run in .*minute", first), \
        f"{path.name}: a 'Time:' line with the reading time and the run time"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_imports_only_names_daylib_has(path):
    """Every ``from daylib... import x`` / ``import daylib...`` in a lesson resolves (fast, before nbval runs it)."""
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        source = re.sub(r"^(\s*)[%!].*$", r"\1pass", _source(cell), flags=re.M)  # IPython magics
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("daylib"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), \
                        f"{path.name}: {node.module} has no {alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("daylib"):
                        importlib.import_module(alias.name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_imports_daylib_and_has_a_parameters_cell(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert any(re.search(r"^\s*(import daylib|from daylib)", _source(c), re.M) for c in code)
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one code cell tagged 'parameters'"
    assert "QUICK" in _source(params[0]), "the parameters cell picks quick-mode values from daylib.config.QUICK"
    assert code.index(params[0]) <= 3, "the parameters cell sits near the top"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_has_no_error_outputs_and_was_executed(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert all(c.get("execution_count") for c in code if _source(c).strip()), "run `make notebooks` to store outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_has_colab_badge_install_cell_and_exercises(path):
    cells = _cells(path)
    assert f"{COLAB_REPO}{path.name}" in _source(cells[0]), "first cell: Open in Colab badge for this notebook"
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert "google.colab" in _source(first_code) and "%pip install" in _source(first_code)
    assert re.search(r"^#+ .*Exercises", "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown"), re.M)


def test_readme_lists_exactly_the_notebooks():
    readme = (REPO_DIR / "README.md").read_text()
    block = readme.split("<!-- notebook-list")[1].split("<!-- /notebook-list -->")[0]
    listed = re.findall(r"\]\(notebooks/([^)]+\.ipynb)\)", block)
    assert listed == [p.name for p in NOTEBOOKS]
