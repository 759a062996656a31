"""The project's own plumbing: dependency lists in step, the exporter and its drift check."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _requirement_map(reqs):
    out = {}
    for req in reqs:
        name = re.split(r"[<>=!~ ;\[]", req, maxsplit=1)[0].strip().lower().replace("_", "-")
        out[name] = req.replace(" ", "")
    return out


def test_environment_yml_matches_pyproject():
    tomllib = pytest.importorskip("tomllib")
    yaml = pytest.importorskip("yaml")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed += dep.get("pip", [])
        elif not re.match(r"^(python|pip)\b", dep):
            listed.append(dep)
    assert _requirement_map(listed) == _requirement_map(wanted), (
        "environment.yml and pyproject.toml list different dependencies or bounds: keep them in step."
    )


def test_no_deep_learning_framework_in_dependencies():
    text = (ROOT / "pyproject.toml").read_text() + (ROOT / "environment.yml").read_text()
    for framework in ("torch", "tensorflow", "jax", "keras"):
        assert not re.search(rf"^\s*-?\s*\"?{framework}\b", text, re.M), framework


def test_library_matches_notebooks():
    result = subprocess.run([sys.executable, "tools/export.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _notebook(cells):
    return {
        "cells": [{"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None} for src in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }


def _run_export(root, *args):
    return subprocess.run([sys.executable, str(ROOT / "tools/export.py"), "--root", str(root), *args],
                          capture_output=True, text=True)


def test_editing_an_exported_cell_without_exporting_fails_the_check(tmp_path):
    (tmp_path / "notebooks").mkdir()
    nb_path = tmp_path / "notebooks" / "01_demo.ipynb"
    nb_path.write_text(json.dumps(_notebook(["#| export demo\ndef double(x):\n    return 2 * x", "print(double(2))"])))
    assert _run_export(tmp_path).returncode == 0
    generated = (tmp_path / "annicas_lib" / "demo.py").read_text()
    assert "from notebooks/01_demo.ipynb" in generated and "__all__ = ['double']" in generated
    assert "print(double(2))" not in generated  # only exported cells leave the notebook
    assert _run_export(tmp_path, "--check").returncode == 0

    nb_path.write_text(json.dumps(_notebook(["#| export demo\ndef double(x):\n    return x + x", "print(double(2))"])))
    check = _run_export(tmp_path, "--check")
    assert check.returncode == 1
    assert "annicas_lib/demo.py differs" in check.stderr and "make export" in check.stderr


def test_exporter_refuses_a_name_defined_twice(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.ipynb").write_text(json.dumps(_notebook(["#| export a\nclass Thing:\n    pass"])))
    (tmp_path / "notebooks" / "02_b.ipynb").write_text(json.dumps(_notebook(["#| export b\nclass Thing:\n    pass"])))
    result = _run_export(tmp_path)
    assert result.returncode == 2 and "'Thing' is exported twice" in result.stderr


def test_exporter_removes_modules_no_notebook_exports(tmp_path):
    (tmp_path / "notebooks").mkdir()
    nb_path = tmp_path / "notebooks" / "01_a.ipynb"
    nb_path.write_text(json.dumps(_notebook(["#| export gone\nX = 1", "#| export kept\nY = 2"])))
    _run_export(tmp_path)
    nb_path.write_text(json.dumps(_notebook(["#| export kept\nY = 2"])))
    assert _run_export(tmp_path, "--check").returncode == 1
    _run_export(tmp_path)
    assert not (tmp_path / "annicas_lib" / "gone.py").exists()


def test_import_does_not_pull_in_matplotlib_or_jupyter():
    code = "import sys, annicas_lib; bad = [m for m in ('matplotlib', 'ipywidgets', 'IPython', 'nnfs', 'sklearn', 'tqdm') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_chapter_notebook_is_executed_and_numbered():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no chapter notebooks found"
    for path in notebooks:
        assert re.match(r"^\d\d_[a-z0-9_]+\.ipynb$", path.name), path.name
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(c.get("execution_count") for c in code), f"{path.name} is committed without outputs: execute it in place"


def test_notebooks_are_tidy():
    result = subprocess.run([sys.executable, "tools/tidy_notebooks.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_readme_example_trains_the_spiral_network():
    """The README's code sample runs as printed and learns (>= 0.90 training accuracy)."""
    from annicas_lib import accuracy

    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert accuracy(namespace["loss_fn"].output, namespace["y"]) >= 0.90
