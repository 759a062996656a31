"""Exercises: generated from solutions/, checked by `python -m annicas_lib.check`."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_exercises  # noqa: E402

from annicas_lib import check  # noqa: E402


def _meta(grade_id, solution):
    if solution:
        return {"nbgrader": {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": True}}
    return {"nbgrader": {"grade": True, "grade_id": grade_id, "locked": True, "points": 1, "schema_version": 3, "solution": False}}


def _cell(kind, source, metadata=None):
    _cell.count = getattr(_cell, "count", 0) + 1
    # sources as lists of lines, the way notebooks store them on disk
    cell = {"cell_type": kind, "id": f"cell-{_cell.count}", "metadata": metadata or {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _notebook(cells):
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


SOLUTION = _notebook([
    _cell("markdown", "# Demo exercises"),
    _cell("markdown", "## Exercise 1: double a number"),
    _cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", _meta("ex1_solution", True)),
    _cell("code", "from annicas_lib.checks import check_close, passed\ncheck_close(double(3.0), 6.0, 'double(3.0)')\n"
                  "### BEGIN HIDDEN TESTS\ncheck_close(double(-1.5), -3.0, 'double(-1.5)')\n### END HIDDEN TESTS\npassed()",
          _meta("ex1_check", False)),
    _cell("markdown", "## Exercise 2: a column of ones"),
    _cell("code", "import numpy as np\ndef ones_column(n):\n    ### BEGIN SOLUTION\n    return np.ones((n, 1))\n    ### END SOLUTION",
          _meta("ex2_solution", True)),
    _cell("code", "from annicas_lib.checks import check_shape, passed\ncheck_shape(ones_column(4), (4, 1), 'ones_column(4)')\npassed()",
          _meta("ex2_check", False)),
    _cell("markdown", "## Open question\n\n### BEGIN SOLUTION\nA model answer.\n### END SOLUTION", _meta("q1_answer", True)),
])


@pytest.fixture()
def course(tmp_path):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_demo.ipynb").write_text(json.dumps(SOLUTION))
    assert make_exercises.main(["--root", str(tmp_path)]) == 0
    return tmp_path


def test_student_version_hides_solutions_and_hidden_tests(course):
    nb = json.loads((course / "exercises" / "01_demo.ipynb").read_text())
    text = json.dumps(nb)
    assert "return 2 * x" not in text and "double(-1.5)" not in text and "A model answer" not in text
    sources = ["".join(c["source"]) for c in nb["cells"]]
    assert "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()" in sources
    assert any("YOUR ANSWER HERE" in s for s in sources)
    assert all(c.get("outputs", []) == [] for c in nb["cells"])
    assert nb["cells"][2]["metadata"]["nbgrader"]["grade_id"] == "ex1_solution"  # metadata kept for nbgrader


def test_drift_check_fails_when_exercises_are_stale(course):
    assert make_exercises.main(["--root", str(course), "--check"]) == 0
    path = course / "exercises" / "01_demo.ipynb"
    path.write_text(path.read_text().replace("YOUR CODE HERE", "my edit"))
    assert make_exercises.main(["--root", str(course), "--check"]) == 1


def test_unbalanced_markers_are_reported(tmp_path):
    bad = _notebook([_cell("code", "### BEGIN SOLUTION\nx = 1", _meta("ex1_solution", True))])
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_bad.ipynb").write_text(json.dumps(bad))
    assert make_exercises.main(["--root", str(tmp_path)]) == 2


def _statuses(report):
    return {r.key: r.status for r in report.results}


def test_checker_solution_passes_exercise_not_attempted(course):
    reference = json.loads((course / "solutions" / "01_demo.ipynb").read_text())
    solved = check.check_notebook(course / "solutions" / "01_demo.ipynb", reference)
    assert _statuses(solved) == {"ex1": "passed", "ex2": "passed"} and solved.all_passed
    untouched = check.check_notebook(course / "exercises" / "01_demo.ipynb", reference)
    assert _statuses(untouched) == {"ex1": "not attempted", "ex2": "not attempted"}
    assert not untouched.all_passed


def _student(course, edit):
    nb = json.loads((course / "exercises" / "01_demo.ipynb").read_text())
    edit(nb)
    path = course / "student.ipynb"
    path.write_text(json.dumps(nb))
    return check.check_notebook(path, json.loads((course / "solutions" / "01_demo.ipynb").read_text()), timeout=5)


def _answer(nb, grade_id, source):
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            c["source"] = source


def test_checker_wrong_answer_gets_useful_feedback(course):
    def edit(nb):
        _answer(nb, "ex1_solution", "def double(x):\n    return 2 * x if x > 0 else x")  # passes the visible test only
        _answer(nb, "ex2_solution", "import numpy as np\ndef ones_column(n):\n    return np.ones(n)")
    report = _student(course, edit)
    results = {r.key: r for r in report.results}
    assert results["ex1"].status == "FAILED" and "double(-1.5) is off" in results["ex1"].feedback  # hidden test
    assert results["ex2"].status == "FAILED"
    assert "has shape (4,), expected (4, 1)" in results["ex2"].feedback


def test_checker_survives_endless_loops_crashes_and_deleted_cells(course):
    def edit(nb):
        _answer(nb, "ex1_solution", "def double(x):\n    while True:\n        pass")
        nb["cells"] = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") != "ex2_check"]
    report = _student(course, edit)
    results = {r.key: r for r in report.results}
    assert results["ex1"].status == "FAILED" and "timed out: a cell ran longer than 5 s" in results["ex1"].feedback
    assert results["ex2"].status == "MISSING"

    def crash(nb):
        _answer(nb, "ex1_solution", "import os\nos._exit(1)")
    report = _student(course, crash)
    assert report.problem and "kernel" in report.problem
    assert not report.all_passed


def test_check_command_prints_table_and_exit_status(course):
    out = subprocess.run([sys.executable, "-m", "annicas_lib.check", "--no-reference",
                          str(course / "solutions" / "01_demo.ipynb"), str(course / "exercises" / "01_demo.ipynb")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr
    assert "ex1 Exercise 1: double a number" in out.stdout
    assert "2 exercises passed, 0 failed, 2 not attempted" in out.stdout


REAL_EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.mark.skipif(not REAL_EXERCISES, reason="no exercise notebooks yet")
def test_course_exercises_untouched_are_all_not_attempted():
    for path in REAL_EXERCISES:
        reference = json.loads((ROOT / "solutions" / path.name).read_text())
        report = check.check_notebook(path, reference)
        statuses = _statuses(report)
        assert statuses and set(statuses.values()) == {"not attempted"}, (path.name, statuses, report.problem)
