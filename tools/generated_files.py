"""What `tools/export.py` and `tools/make_exercises.py` share: bring a set of generated files
up to date, or (in check mode) report how they differ, without touching anything."""
import sys


def sync(files, stale, root, *, check, source, target, command):
    """`files`: {path: wanted text}; `stale`: generated paths nothing generates any more.

    check=False writes what differs and removes the stale files. check=True only compares and
    returns 1 on any difference, saying which command to run. `source` and `target` name the two
    sides in messages (e.g. "the notebooks", "annicas_lib")."""
    if check:
        problems = [f"{p.relative_to(root)} differs from what {source} generate(s)"
                    for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        problems += [f"{p.relative_to(root)} is generated, but nothing in {source} generates it any more" for p in stale]
        if problems:
            print(f"{target} is out of date with {source}:", file=sys.stderr)
            for line in problems:
                print(f"  - {line}", file=sys.stderr)
            print(f"Run `{command}` and commit the result (never edit {target} by hand).", file=sys.stderr)
            return 1
        print(f"{target} matches {source} ({len(files)} files).")
        return 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(root)}")
    for path in stale:
        path.unlink()
        print(f"removed {path.relative_to(root)} (nothing generates it any more)")
    return 0
