"""daylib.exercises' machinery: results, checks, progress, quizzes and the solution notebooks."""
import importlib
import json
import sys
import types
import warnings

import nbformat
import pytest

from daylib import config
from daylib.exercises import CheckResult, Exercise, lesson, load_quiz, progress, reset_progress
from daylib.exercises.core import Answer, Hint, Solution, correct, markdown_html, unanswered, wrong
from daylib.exercises.progress import passed, progress_path, record
from daylib.exercises.quiz import QuizWidget, grade, quiz
from daylib.exercises.solutions import lesson_of, solve_cell, solved_notebook, write_solution

progress_module = importlib.import_module("daylib.exercises.progress")

QUIZ = {"lesson": "99", "title": "A tiny quiz", "questions": [
    {"kind": "choice", "question": "Which is a prime?", "options": ["4", "7", "9"], "answer": 1,
     "explanation": "7 has no divisor but 1 and itself."},
    {"kind": "number", "question": "How many pixels per cell: 224 px over 7 cells?", "answer": 32, "tolerance": 0.5,
     "explanation": "224 / 7 = 32."},
]}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Each test gets its own cache dir, so its progress file starts empty."""
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    progress_module._WARNED.clear()


@pytest.fixture
def quiz_file(tmp_path):
    path = tmp_path / "lesson99.json"
    path.write_text(json.dumps(QUIZ))
    return path


def _check_area(value, side):
    if not isinstance(value, (int, float)):
        raise TypeError(f"the area is a number, not {type(value).__name__}")
    if value < 0:
        raise ValueError("an area cannot be negative")
    reference = side * side
    return correct(f"{side} x {side} = {reference}") if value == reference else wrong(
        f"{value} is {value - reference:+} off the reference {reference}: square the side")


@pytest.fixture
def area():
    return Exercise("lesson99.q1", "Area of a square", check=_check_area, hint="Square the side.",
                    solution="""
                        area = side * side
                    """, answer=lambda value: f"Your area **{value}** is the side squared.")


# --- CheckResult ---------------------------------------------------------------------------------------------

def test_check_result_text_html_and_truth():
    ok, bad, empty = correct("fine"), wrong("3 too high <b>"), unanswered("replace None")
    assert bool(ok) and not bad and not empty
    assert (ok.status, bad.status, empty.status) == ("correct", "wrong", "unanswered")
    assert str(ok) == "Correct: fine" and str(bad) == "Not yet: 3 too high <b>"
    assert str(empty) == "Not answered yet: replace None" and str(correct()) == "Correct"
    assert "Correct" in ok._repr_html_() and "#2e7d32" in ok._repr_html_()
    assert "Not yet" in bad._repr_html_() and "&lt;b&gt;" in bad._repr_html_()
    assert "Not answered yet" in empty._repr_html_()
    assert ok._repr_html_().count("<div") == 1 and "daylib-check-wrong" in bad._repr_html_()
    with pytest.raises(ValueError, match="status"):
        CheckResult(True, "", "maybe")
    with pytest.raises(Exception):
        ok.passed = False  # frozen


# --- Exercise ------------------------------------------------------------------------------------------------

def test_none_is_unanswered_without_calling_the_check():
    calls = []
    exercise = Exercise("lesson99.q2", "t", check=lambda *a: calls.append(a) or correct(), hint="h", solution="x=1")
    result = exercise.check(None, 3)
    assert result.status == "unanswered" and "None" in result.message and result.exercise == "lesson99.q2"
    assert calls == [] and passed() == set()


def test_check_passes_fills_the_key_and_records_progress(area):
    result = area.check(9, 3)
    assert result.passed and result.exercise == "lesson99.q1" and "3 x 3 = 9" in result.message
    assert "lesson99.q1" in passed()
    failed = area.check(10, 3)
    assert failed.status == "wrong" and "+1 off" in failed.message


def test_value_and_type_errors_become_wrong_others_propagate(area):
    assert area.check(-1, 3).status == "wrong" and "negative" in area.check(-1, 3).message
    result = area.check("nine", 3)
    assert result.status == "wrong" and "not str" in result.message
    broken = Exercise("lesson99.q3", "t", check=lambda v: 1 / 0, hint="h", solution="")
    with pytest.raises(ZeroDivisionError):
        broken.check(1)
    assert passed() == set()


def test_a_second_placeholder_that_trips_the_check_is_unanswered():
    exercise = Exercise("lesson99.q4", "t", check=lambda a, b: correct() if a + b == 3 else wrong("no"),
                        hint="h", solution="a, b = 1, 2")
    assert exercise.check(1, None).status == "unanswered"
    assert exercise.check(1, 2).passed


def test_hint_solution_and_answer_display(area):
    hint, solution, answer = area.hint(), area.solution(), area.answer(42)
    assert isinstance(hint, Hint) and str(hint) == "Hint: Square the side." and "Square the side" in hint._repr_html_()
    assert isinstance(solution, Solution) and area.solution_code == "area = side * side" == str(solution)
    page = solution._repr_html_()
    assert page.startswith("<details") and "<details open" not in page and "</details>" in page
    assert "area" in page and "<span" in page  # highlighted by pygments
    assert isinstance(answer, Answer) and "42" in answer.text
    page = answer._repr_html_()
    assert "Worked answer (click to open)" in page.replace("</b> (", " (").replace("<b>", "")
    assert page.startswith("<details") and "<strong>42</strong>" in page
    assert area.checkable and area.answerable and repr(hint) == str(hint)


def test_open_exercises_and_bad_definitions():
    open_one = Exercise("lesson99.q5", "Why?", answer=lambda: "Because.", hint="h", solution="")
    assert not open_one.checkable and str(open_one.answer()) == "Because."
    with pytest.raises(TypeError, match="no check"):
        open_one.check(1)
    with pytest.raises(ValueError, match="a check, an answer or both"):
        Exercise("lesson99.q6", "t", hint="h", solution="")


def test_markdown_html_escapes_raw_html():
    page = markdown_html("Use `x` and <script>alert(1)</script>\nnext line")
    assert "<script>" not in page and "x" in page


# --- progress ------------------------------------------------------------------------------------------------

def test_progress_file_is_written_atomically_and_read_back(monkeypatch):
    written = []
    real = progress_module.write_json
    monkeypatch.setattr(progress_module, "write_json",
                        lambda path, content: written.append(path) or real(path, content))
    record("lesson99.q1")
    record("lesson99.q1")  # idempotent: no second write
    record("lesson99.quiz.2")
    path = config.CACHE_DIR / "exercises" / "progress.json"
    assert progress_path() == path and written == [path, path]
    assert set(json.loads(path.read_text())["passed"]) == {"lesson99.q1", "lesson99.quiz.2"}
    assert passed() == {"lesson99.q1", "lesson99.quiz.2"}
    assert not list(path.parent.glob("*.partial*"))


def test_corrupt_progress_file_reads_as_empty_with_one_warning():
    path = progress_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"passed": ["lesson99.q1"')
    with pytest.warns(UserWarning, match="damaged"):
        assert passed() == set()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert passed() == set()  # said once
        record("lesson99.q2")  # writes a good file over it
    assert passed() == {"lesson99.q2"}


def test_missing_progress_file_is_a_quiet_fresh_start():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert passed() == set()


def test_reset_progress():
    for key in ("lesson98.q1", "lesson99.q1", "lesson99.quiz.1"):
        record(key)
    reset_progress(["99"])
    assert passed() == {"lesson98.q1"}
    reset_progress()
    assert passed() == set() and not progress_path().exists()


@pytest.fixture
def fake_lesson(monkeypatch, tmp_path, quiz_file):
    """A lesson 99 module with two checks and one open exercise, and its quiz."""
    module = types.ModuleType("daylib.exercises.lesson99")
    module.__doc__ = "Exercises of lesson 99 (a test)."
    module.q1 = Exercise("lesson99.q1", "Area", check=_check_area, hint="h", solution="area = side * side")
    module.q2 = Exercise("lesson99.q2", "Perimeter", check=lambda v, s: correct() if v == 4 * s else wrong("no"),
                         hint="h", solution="perimeter = 4 * side")
    module.q3 = Exercise("lesson99.q3", "Why?", answer=lambda: "Because.", hint="h", solution="")
    module.EXERCISES = [module.q1, module.q2, module.q3]
    monkeypatch.setitem(sys.modules, "daylib.exercises.lesson99", module)
    quiz_module = importlib.import_module("daylib.exercises.quiz")
    real = quiz_module.load_quiz
    monkeypatch.setattr(quiz_module, "load_quiz",
                        lambda lesson: real(quiz_file) if str(lesson) == "99" else real(lesson))
    return module


def test_progress_table_rows(fake_lesson):
    fake_lesson.q1.check(9, 3)
    record("lesson99.quiz.2")
    table = progress(["99"])
    (row,) = table.rows
    assert row["lesson"] == "99" and row["title"] == "A tiny quiz"
    assert (row["checks_passed"], row["checks_total"], row["checks"], row["open"]) == (1, 2, ["q1"], ["q3"])
    assert (row["quiz_right"], row["quiz_total"], row["quiz"]) == (1, 2, [2])
    assert "1 / 2" in table._repr_html_() and "<table" in table._repr_html_()
    assert "checks 1/2 (q1)" in str(table)


def test_progress_discovers_lessons_and_survives_a_missing_one(fake_lesson):
    assert lesson(99) is fake_lesson
    (row,) = progress(["97"]).rows  # neither a module nor a quiz
    assert (row["checks_total"], row["quiz_total"], row["problems"]) == (0, 0, [])
    numbers = [row["lesson"] for row in progress().rows]
    assert numbers == sorted(numbers) and all(len(n) == 2 for n in numbers)


# --- quizzes -------------------------------------------------------------------------------------------------

def test_load_quiz_from_a_path(quiz_file):
    data = load_quiz(quiz_file)
    assert data.lesson == "99" and data.title == "A tiny quiz" and len(data.questions) == 2
    first, second = data.questions
    assert (first.key, first.kind, first.options, first.answer) == ("lesson99.quiz.1", "choice", ("4", "7", "9"), 1)
    assert (second.key, second.tolerance) == ("lesson99.quiz.2", 0.5)
    assert load_quiz(str(quiz_file)).questions == data.questions


@pytest.mark.parametrize("change, message", [
    (lambda q: q[0].pop("explanation"), r"question 1 \('Which is a prime\?'\): missing field 'explanation'"),
    (lambda q: q[0].update(answer=3), r"question 1 .*answer index 3 is out of range for 3 options"),
    (lambda q: q[1].update(kind="essay"), r"question 2 .*unknown kind 'essay'"),
    (lambda q: q[0].update(options=["only one"]), r"question 1 .*at least two"),
    (lambda q: q[1].update(answer="32"), r"question 2 .*finite number"),
    (lambda q: q[1].update(tolerance=-1), r"question 2 .*tolerance"),
    (lambda q: q[0].update(answer=True), r"question 1 .*0-based index"),
])
def test_malformed_quiz_entries_are_refused_naming_file_and_question(tmp_path, change, message):
    content = json.loads(json.dumps(QUIZ))
    change(content["questions"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message) as caught:
        load_quiz(path)
    assert str(path) in str(caught.value)


def test_malformed_quiz_files(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_quiz(path)
    path.write_text(json.dumps({"lesson": "99", "questions": []}))
    with pytest.raises(ValueError, match="non-empty list"):
        load_quiz(path)
    with pytest.raises(FileNotFoundError, match="lesson 97 has no quiz"):
        load_quiz("97")
    with pytest.raises(ValueError, match="a lesson is a number"):
        load_quiz("grad-cam")


def test_grade_choice_and_number(quiz_file):
    choice, number = load_quiz(quiz_file).questions
    right = grade(choice, 1)
    assert right.passed and "no divisor" in right.message and right.exercise == "lesson99.quiz.1"
    assert grade(choice, "7").passed
    miss = grade(choice, 0)
    assert miss.status == "wrong" and "no divisor" in miss.message
    assert grade(choice, 5).status == "wrong" and grade(choice, None).status == "unanswered"
    assert grade(number, 32).passed and grade(number, "32.4").passed and grade(number, 31.6).passed
    high = grade(number, 33)
    assert high.status == "wrong" and "too high" in high.message and "224 / 7" in high.message
    assert "too low" in grade(number, 3).message
    assert grade(number, "").status == "unanswered" and grade(number, "abc").status == "wrong"
    assert grade(number, float("nan")).status == "wrong"
    assert passed() == set()  # grading alone records nothing


def test_quiz_widget_checks_and_records(quiz_file):
    box = quiz(quiz_file)
    assert isinstance(box, QuizWidget) and "daylib-quiz" in box._dom_classes and len(box.items) == 2
    (q1, options, check1, feedback1), (q2, number, check2, feedback2) = box.items
    assert "daylib-quiz-choice" in options._dom_classes and "daylib-quiz-check" in check1._dom_classes
    assert "daylib-quiz-feedback" in feedback1._dom_classes and feedback1.value == ""
    check1.click()
    assert "Not answered yet" in feedback1.value
    options.value = 0
    check1.click()
    assert "Not yet" in feedback1.value and passed() == set()
    options.value = 1
    check1.click()
    assert "Correct" in feedback1.value and passed() == {"lesson99.quiz.1"}
    number.value = "32"
    check2.click()
    assert "Correct" in feedback2.value and passed() == {"lesson99.quiz.1", "lesson99.quiz.2"}
    assert "2 of 2" in box.score.value
    again = quiz(quiz_file)
    assert "right before" in again.items[0][3].value and "2 of 2" in again.score.value


# --- solution notebooks --------------------------------------------------------------------------------------

def _notebook(tmp_path, *cells, name="99_tiny.ipynb"):
    notebook = nbformat.v4.new_notebook()
    for source, key in cells:
        cell = nbformat.v4.new_code_cell(source)
        if key:
            cell.metadata.update({"tags": ["exercise"], "daylib": {"exercise": key}})
            cell.outputs = [nbformat.v4.new_output("stream", text="old output")]
        notebook.cells.append(cell)
    path = tmp_path / name
    nbformat.write(notebook, str(path))
    return path


def test_solve_cell():
    source = "# Exercise 1 (replace None)\narea = None\nex.q1.check(area, side)  # ex.q1.hint()\nprint(1)"
    solved = solve_cell(source, "q1", "area = side * side\n")
    assert solved == "area = side * side\nex.q1.check(area, side)  # ex.q1.hint()\nprint(1)"
    assert solve_cell("ex.q1.answer(history)", "q1", "x = 1") is None
    assert solve_cell("if True:\n    ex.q1.check(1)", "q1", "x = 1") is None
    assert lesson_of("notebooks/04_grad_cam.ipynb") == "04"
    with pytest.raises(ValueError, match="starts with its number"):
        lesson_of("grad_cam.ipynb")


def test_solved_notebook_replaces_learner_parts(tmp_path, fake_lesson):
    path = _notebook(tmp_path, ("from daylib.exercises import lesson99 as ex\nside = 3", None),
                     ("# Exercise 1\narea = None\nex.q1.check(area, side)", "q1"),
                     ("perimeter = None\nex.q2.check(perimeter, side)", "q2"),
                     ("ex.q3.answer()", "q3"))
    notebook = solved_notebook(path)
    cells = [cell.source for cell in notebook.cells]
    assert cells[0] == "from daylib.exercises import lesson99 as ex\nside = 3"
    assert cells[1] == "area = side * side\nex.q1.check(area, side)" and notebook.cells[1].outputs == []
    assert cells[2] == "perimeter = 4 * side\nex.q2.check(perimeter, side)"
    assert cells[3] == "ex.q3.answer()" and notebook.cells[3].outputs  # an open exercise stays as it is
    namespace = {}
    for source in cells:
        exec(source, namespace)
    assert namespace["ex"].q1.check(namespace["area"], 3).passed
    target = write_solution(path, tmp_path / "solutions", execute=False)
    assert target == tmp_path / "solutions" / "99_tiny.ipynb"
    assert nbformat.read(str(target), as_version=4).cells[1].source == cells[1]


def test_solved_notebook_names_a_missing_exercise(tmp_path, fake_lesson):
    path = _notebook(tmp_path, ("x = None\nex.q7.check(x)", "q7"))
    with pytest.raises(ValueError, match=r"99_tiny.ipynb: cell 0 .* exercise 'q7'.*lesson99 has no such"):
        solved_notebook(path)


def test_solved_notebook_refuses_a_check_without_solution(tmp_path, fake_lesson):
    fake_lesson.q2.solution_code = ""
    path = _notebook(tmp_path, ("p = None\nex.q2.check(p, 1)", "q2"))
    with pytest.raises(ValueError, match="cell 0 .* has no solution code"):
        solved_notebook(path)


def test_failed_checks_names_every_exercise_whose_solution_did_not_pass():
    import nbformat

    from daylib.exercises.core import correct, wrong
    from daylib.exercises.solutions import failed_checks

    def check_cell(key, outputs):
        cell = nbformat.v4.new_code_cell(f"x = 1\nex.{key}.check(x)", metadata={"daylib": {"exercise": key}})
        cell.outputs = outputs
        return cell

    def shown(result):
        return nbformat.v4.new_output("execute_result", {"text/html": result._repr_html_(), "text/plain": str(result)})

    notebook = nbformat.v4.new_notebook(cells=[
        check_cell("q1", [shown(correct("fine"))]),
        check_cell("q2", [shown(wrong("off by 0.3"))]),
        check_cell("q3", [nbformat.v4.new_output("error", ename="NameError", evalue="name 'x' is not defined",
                                                 traceback=[])]),
        check_cell("q4", []),
        nbformat.v4.new_code_cell("ex.q5.answer()", metadata={"daylib": {"exercise": "q5"}}),
    ])
    assert failed_checks(notebook) == ["q2: Not yet: off by 0.3", "q3: NameError: name 'x' is not defined",
                                       "q4: no check result"]
