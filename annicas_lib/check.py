"""Check exercise notebooks headless and report each exercise (hand-written tooling).

    python -m annicas_lib.check exercises/06_backpropagation.ipynb [more.ipynb ...]
    make check NB="submissions/*.ipynb"

Exercises are recognised by nbgrader's cell metadata: a cell with ``grade_id`` "exN_check"
(``"grade": true``) checks exercise N; cells "exN_..." with ``"solution": true`` hold the
student's answer. When ``solutions/<same name>.ipynb`` exists, each check cell is replaced
by the instructor's version (hidden tests included), as nbgrader's autograder does, and an
exercise whose check cell was deleted is reported as missing.

Every notebook runs in a fresh kernel in a temporary folder with a per-cell timeout, so a
notebook that crashes, loops forever or deletes files cannot hang or harm the check.
Exit status 0 only when every exercise of every notebook passed.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PASSED, FAILED, NOT_ATTEMPTED, MISSING, NOT_RUN = "passed", "FAILED", "not attempted", "MISSING", "not run"
SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


@dataclass
class Result:
    key: str
    title: str
    status: str = NOT_RUN
    feedback: str = ""


@dataclass
class Report:
    path: str
    results: list[Result] = field(default_factory=list)
    problem: str = ""

    @property
    def all_passed(self):
        return not self.problem and bool(self.results) and all(r.status == PASSED for r in self.results)


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _grade_id(cell):
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id", "")


def _is_check(cell):
    meta = cell.get("metadata", {}).get("nbgrader") or {}
    return cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution") and _grade_id(cell).endswith("_check")


def _key(grade_id):
    return grade_id.split("_", 1)[0]


def _titles(nb):
    """Exercise key -> the heading of the markdown cell that introduces it."""
    titles, heading = {}, ""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
                    break
        elif _is_check(cell):
            titles.setdefault(_key(_grade_id(cell)), heading)
    return titles


def _error(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename", "Error"), out.get("evalue", "")
    return None


def check_notebook(path, reference=None, timeout=120):
    """Run one notebook and return a Report. `reference`: the instructor's notebook (dict) or None."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    path = Path(path)
    report = Report(str(path))
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported, not raised
        report.problem = f"cannot read the notebook: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
        return report

    expected = {}
    if reference is not None:
        ref_nb = nbformat.reads(json.dumps(reference), as_version=4)  # joins sources stored as lists of lines
        expected = {_grade_id(c): c for c in ref_nb.cells if _is_check(c)}
        titles = _titles(ref_nb)
    else:
        titles = _titles(nb)
    present = {_grade_id(c) for c in nb.cells if _is_check(c)}
    for cell in nb.cells:  # restore the instructor's check cells, hidden tests included
        if _is_check(cell) and _grade_id(cell) in expected:
            cell.source = expected[_grade_id(cell)].source
    keys = [_key(g) for g in (expected or {_grade_id(c): c for c in nb.cells if _is_check(c)})]
    report.results = [Result(k, titles.get(k, "")) for k in dict.fromkeys(keys)]
    by_key = {r.key: r for r in report.results}
    for grade_id in expected:
        if grade_id not in present:
            result = by_key[_key(grade_id)]
            result.status, result.feedback = MISSING, "its check cell was deleted or its metadata changed; restore it from a fresh copy"
    if not report.results:
        report.problem = "no exercise check cells found (nbgrader metadata with grade_id 'exN_check')"
        return report

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory(prefix="annicas-check-") as workdir:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
            error_on_timeout={"ename": "CellTimeoutError", "evalue": f"a cell ran longer than {timeout} s (an endless loop?)", "traceback": []},
            resources={"metadata": {"path": workdir}},
        )
        try:
            client.execute()
        except DeadKernelError:
            report.problem = "the kernel crashed (a segmentation fault, or memory ran out); later exercises were not run"
        except Exception as err:  # noqa: BLE001 - report, never hang or crash the checker
            report.problem = f"the notebook could not be run: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"

    not_implemented = set()
    for cell in nb.cells:
        err = _error(cell)
        if err and err[0] == "NotImplementedError" and _grade_id(cell):
            not_implemented.add(_key(_grade_id(cell)))
    for cell in nb.cells:
        if not _is_check(cell):
            continue
        result = by_key.get(_key(_grade_id(cell)))
        if result is None or result.status == MISSING:
            continue
        if cell.get("execution_count") is None and not cell.get("outputs"):
            result.status = NOT_RUN
            continue
        err = _error(cell)
        if err is None:
            result.status = PASSED
        elif err[0] in ("KeyboardInterrupt", "CellTimeoutError"):
            result.status = FAILED
            result.feedback = f"timed out: a cell ran longer than {timeout} s (an endless loop?)"
        elif err[0] == "NotImplementedError" or result.key in not_implemented:
            result.status, result.feedback = NOT_ATTEMPTED, ""
        else:
            first = err[1].strip().splitlines()[0] if err[1].strip() else ""
            result.status = FAILED
            result.feedback = first if err[0] in ("CheckFailed", "AssertionError") and first else f"{err[0]}: {first}".rstrip(": ")
    return report


def _reference_for(path):
    candidate = SOLUTIONS / Path(path).name
    if candidate.exists() and candidate.resolve() != Path(path).resolve():
        return json.loads(candidate.read_text(encoding="utf-8"))
    return None


def print_report(report, out=sys.stdout):
    print(f"\n{report.path}", file=out)
    if report.results:
        width = max(len(f"{r.key} {r.title}") for r in report.results)
        for r in report.results:
            label = f"{r.key} {r.title}".ljust(width)
            line = f"  {label}  {r.status:<13}"
            print((line + ("  " + r.feedback if r.feedback else "")).rstrip(), file=out)
    if report.problem:
        print(f"  ! {report.problem}", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m annicas_lib.check", description="Check exercise notebooks and report each exercise.")
    parser.add_argument("notebooks", nargs="+", help="notebook files (or folders of them)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds one cell may run (default 120)")
    parser.add_argument("--no-reference", action="store_true", help="use the notebooks' own check cells, not those in solutions/")
    args = parser.parse_args(argv)
    paths = []
    for name in args.notebooks:
        p = Path(name)
        paths += sorted(p.glob("*.ipynb")) if p.is_dir() else [p]
    if not paths:
        print("no notebooks given", file=sys.stderr)
        return 2
    reports = []
    for p in paths:
        if not p.exists():
            report = Report(str(p), problem="no such file")
        else:
            report = check_notebook(p, None if args.no_reference else _reference_for(p), timeout=args.timeout)
        print_report(report)
        reports.append(report)
    counts = {s: sum(r.status == s for rep in reports for r in rep.results) for s in (PASSED, FAILED, NOT_ATTEMPTED, MISSING, NOT_RUN)}
    broken = sum(bool(rep.problem) for rep in reports)
    print(
        f"\nsummary over {len(reports)} notebook(s): {counts[PASSED]} exercises passed, {counts[FAILED]} failed, "
        f"{counts[NOT_ATTEMPTED]} not attempted, {counts[MISSING]} missing, {counts[NOT_RUN]} not run; "
        f"{broken} notebook(s) with problems"
    )
    return 0 if all(rep.all_passed for rep in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
