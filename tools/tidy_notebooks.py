"""Give every committed notebook the same kernel and no authoring leftovers.

Notebooks written as jupytext scripts arrive without a kernelspec (JupyterLab would then ask
the student to pick a kernel) and with jupytext's cell-spacing metadata. This sets the
standard Python 3 kernel and removes those keys, leaving code, text and outputs alone.

    python tools/tidy_notebooks.py           # fix in place
    python tools/tidy_notebooks.py --check   # exit 1 if a notebook needs tidying
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
FOLDERS = ("notebooks", "solutions")


def tidy(nb):
    nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    nb["metadata"].pop("jupytext", None)
    nb["metadata"].setdefault("language_info", {"name": "python"})
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("lines_to_next_cell", None)
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    untidy = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            text = path.read_text(encoding="utf-8")
            nb = json.loads(text)
            new = json.dumps(tidy(json.loads(text)), indent=1, ensure_ascii=False) + "\n"
            if json.loads(new) != nb:
                untidy.append(path)
                if not args.check:
                    path.write_text(new, encoding="utf-8")
                    print(f"tidied {path.relative_to(ROOT)}")
    if args.check and untidy:
        print("run `python tools/tidy_notebooks.py`: " + ", ".join(str(p.relative_to(ROOT)) for p in untidy), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
