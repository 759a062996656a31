"""A clean machine, as far as one can be had here: a fresh clone, the README's two commands,
and a pip environment built from environment.yml alone (so the conda file cannot drift)."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    """The commands of the README's quick start, in order."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    target = tmp_path_factory.mktemp("clean") / "annicas"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readme_has_exactly_two_commands():
    assert _readme_commands() == ["make lab", "make test"]


def test_make_test_passes_in_a_fresh_clone(clone):
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    result = subprocess.run(["make", "test"], cwd=clone, env=env, capture_output=True, text=True, timeout=40 * 60)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
    assert result.returncode == 0, f"`make test` failed in a fresh clone:\n{tail}"
    assert re.search(r"\d+ passed", result.stdout), tail


def test_make_lab_serves_jupyterlab(clone):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "DISPLAY")}
    log = open(clone / "lab.log", "w")
    proc = subprocess.Popen(["make", "lab", f"LAB_PORT={port}"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + 15 * 60  # includes installing on a machine where `make test` has not run
        while time.time() < deadline:
            assert proc.poll() is None, f"`make lab` exited early:\n{(clone / 'lab.log').read_text()[-3000:]}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5)
                break
            except urllib.error.HTTPError:
                break  # the server answered (asking for the token)
            except OSError:
                time.sleep(1)
        else:
            raise AssertionError("`make lab` did not serve JupyterLab within 15 minutes")
        text = (clone / "lab.log").read_text()
        assert f"127.0.0.1:{port}/lab?token=" in text, "`make lab` should print the address with its token"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_environment_yml_builds_a_working_environment(tmp_path):
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    requirements = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            requirements += dep.get("pip", [])
        elif not re.match(r"^(python|pip)\b", dep):
            requirements.append(dep)  # conda-forge and PyPI share these names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + requirements, check=True, timeout=20 * 60)
    subprocess.run(pip + ["--no-deps", str(ROOT)], check=True, timeout=10 * 60)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
         str(ROOT / "notebooks" / "04_softmax.ipynb")],
        cwd=tmp_path, capture_output=True, text=True, timeout=10 * 60, env=dict(os.environ, MPLBACKEND="Agg"),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
