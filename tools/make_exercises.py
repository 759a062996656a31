"""Generate the student notebooks in exercises/ from the instructor notebooks in solutions/.

Does what nbgrader's ClearSolutions, ClearHiddenTests and ClearOutput preprocessors do,
without needing an nbgrader course set up:

- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` at the same indentation;
  in markdown cells it becomes ``YOUR ANSWER HERE``;
- lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed;
- outputs and execution counts are cleared.

The nbgrader cell metadata is kept, so the exercises are what ``nbgrader generate_assignment``
would release.

    python tools/make_exercises.py           # write exercises/
    python tools/make_exercises.py --check   # exit 1 if exercises/ is not what solutions/ generates
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from generated_files import sync

ROOT = Path(__file__).resolve().parents[1]
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
TEXT_STUB = ["YOUR ANSWER HERE"]


class MarkerError(Exception):
    pass


def _source_lines(cell):
    src = cell.get("source", "")
    return ("".join(src) if isinstance(src, list) else src).split("\n")


def _replace_regions(lines, begin, end, replacement, where):
    out, inside, indent = [], False, ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise MarkerError(f"{where}, line {number}: {begin!r} inside another region")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.extend(indent + r for r in replacement)
        elif stripped == end:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {begin!r} is never closed by {end!r}")
    return out


def student_version(nb: dict, name: str) -> dict:
    nb = json.loads(json.dumps(nb))  # deep copy
    for index, cell in enumerate(nb["cells"]):
        where = f"{name}, cell {index}"
        lines = _source_lines(cell)
        stub = CODE_STUB if cell["cell_type"] == "code" else TEXT_STUB
        lines = _replace_regions(lines, BEGIN_SOLUTION, END_SOLUTION, stub, where)
        lines = _replace_regions(lines, BEGIN_HIDDEN, END_HIDDEN, [], where)
        text = "\n".join(lines)
        cell["source"] = text.splitlines(keepends=True)
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    return nb


def dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render(root: Path) -> dict[Path, str]:
    files = {}
    for path in sorted((root / "solutions").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        files[root / "exercises" / path.name] = dump(student_version(nb, f"solutions/{path.name}"))
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on any difference")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        files = render(root)
    except MarkerError as err:
        print(f"make_exercises: {err}", file=sys.stderr)
        return 2
    stale = [p for p in sorted((root / "exercises").glob("*.ipynb")) if p not in files]
    return sync(files, stale, root, check=args.check, source="solutions/", target="exercises/", command="make exercises")

if __name__ == "__main__":
    sys.exit(main())
