"""The heatmap explorer and the quiz in a real JupyterLab and Chromium: they render and react, with no widget error.

Headless tests cannot see a missing front-end extension or a version mismatch
("Error displaying widget"); this one can. It needs Debian's Chromium
(``apt-get install chromium``): where it is missing the test is skipped, except
in CI (``CI`` set), where ``.ci/run`` installs it and a missing browser fails.
"""
import json
import os

import pytest

from daylib.config import REPO_DIR
from tests.browser.jupyterlab import CHROMIUM_ARGS, find_chromium, jupyterlab, notebook_json

ARTIFACTS = REPO_DIR / "test-artifacts"
EXPLORER_CELL = """\
import daylib
from daylib.config import IMAGES_DIR
from daylib.data.images import load_image
from daylib.models import efficientnet_lite0
from daylib.widgets import heatmap_explorer

explorer = heatmap_explorer(efficientnet_lite0(), load_image(IMAGES_DIR / "chelsea.png", size=224))
explorer"""
QUIZ_CELL = """\
import json, pathlib, tempfile
from daylib.exercises import quiz

path = pathlib.Path(tempfile.mkdtemp()) / "lesson99.json"
path.write_text(json.dumps({"lesson": "99", "title": "Browser check", "questions": [
    {"kind": "choice", "question": "Which of these is a prime?", "options": ["4", "7", "9"], "answer": 1,
     "explanation": "7 has no divisor but 1 and itself."}]}))
quiz(path)"""

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run must install it (apt-get install chromium).")
        pytest.skip("Chromium not installed (apt-get install chromium) - the browser test needs it.")
    return path


def _heatmap_src(page) -> str:
    return page.locator(".daylib-heatmap").first.get_attribute("src") or ""


def _wait_for_new_src(page, old: str, timeout_ms: int = 90_000) -> str:
    page.wait_for_function(
        "old => { const img = document.querySelector('.daylib-heatmap'); return img && img.src && img.src !== old; }",
        arg=old, timeout=timeout_ms,
    )
    return _heatmap_src(page)


def test_heatmap_explorer_renders_and_follows_layer_and_class_controls(tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    root = tmp_path / "lab"
    root.mkdir()
    (root / "explorer.ipynb").write_text(notebook_json(EXPLORER_CELL))
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyterlab(root) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(url.format(path="explorer.ipynb"))
            page.get_by_text("| Idle").wait_for(timeout=90_000)
            page.locator(".jp-Cell .cm-content").first.click()
            page.keyboard.press("Control+Enter")
            page.locator(".daylib-heatmap").first.wait_for(timeout=120_000)
            page.wait_for_function("() => (document.querySelector('.daylib-heatmap') || {}).src", timeout=60_000)
            first = _heatmap_src(page)

            page.locator(".daylib-class select").first.select_option(index=1)  # the second most likely class
            after_class = _wait_for_new_src(page, first)

            handle = page.locator(".daylib-layer .noUi-handle").first
            handle.focus()
            page.keyboard.press("Home")  # the first layer: edges, clearly unlike the last layer's map
            after_layer = _wait_for_new_src(page, after_class)
            page.screenshot(path=str(ARTIFACTS / "heatmap_explorer.png"))

            assert len({first, after_class, after_layer}) == 3
            assert page.get_by_text("Error displaying widget").count() == 0
            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        finally:
            if not (ARTIFACTS / "heatmap_explorer.png").exists():
                page.screenshot(path=str(ARTIFACTS / "heatmap_explorer_failure.png"))
            browser.close()
    assert (ARTIFACTS / "heatmap_explorer.png").stat().st_size > 10_000


def test_quiz_widget_renders_and_marks_an_answer(tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    from daylib import config

    root = tmp_path / "lab"
    root.mkdir()
    (root / "quiz.ipynb").write_text(notebook_json(QUIZ_CELL))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "quiz_widget.png"
    shot.unlink(missing_ok=True)
    with jupyterlab(root) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(url.format(path="quiz.ipynb"))
            page.get_by_text("| Idle").wait_for(timeout=90_000)
            page.locator(".jp-Cell .cm-content").first.click()
            page.keyboard.press("Control+Enter")
            page.locator(".daylib-quiz").first.wait_for(timeout=120_000)
            options = page.locator(".daylib-quiz-choice .widget-radio-box label")
            feedback = page.locator(".daylib-quiz-feedback").first
            check = page.locator(".daylib-quiz-check").first

            options.nth(0).click()  # 4: wrong
            check.click()
            feedback.filter(has_text="Not yet").wait_for(timeout=30_000)
            options.nth(1).click()  # 7: right
            check.click()
            feedback.filter(has_text="Correct").wait_for(timeout=30_000)
            page.screenshot(path=str(shot))

            assert "7 has no divisor" in feedback.inner_text()
            assert "1 of 1" in page.locator(".daylib-quiz-score").first.inner_text()
            assert page.get_by_text("Error displaying widget").count() == 0
            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        finally:
            if not shot.exists():
                page.screenshot(path=str(ARTIFACTS / "quiz_widget_failure.png"))
            browser.close()
    # the kernel inherited this session's DAYLIB_CACHE_DIR, so its record is in this session's progress file
    recorded = json.loads((config.CACHE_DIR / "exercises" / "progress.json").read_text())["passed"]
    assert "lesson99.quiz.1" in recorded


def test_jupyterlab_has_the_widgets_front_end_extension():
    import subprocess
    import sys
    from pathlib import Path

    jupyter = str(Path(sys.executable).with_name("jupyter"))
    listing = subprocess.run([jupyter, "labextension", "list"], capture_output=True, text=True, timeout=120)
    text = listing.stdout + listing.stderr
    line = next((row for row in text.splitlines() if "@jupyter-widgets/jupyterlab-manager" in row), "")
    assert "enabled" in line and "OK" in line, text
