"""The README's run line needs no root and no system package manager; the test
line installs what the tests need and says it uses the package manager; .ci/run keeps running
the README's test line."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from tests.app_helpers import ROOT

RUN_LINE = "bash setup.sh && .venv/bin/streamlit run app.py"
TEST_LINE = "bash setup.sh --test && .venv/bin/python -m pytest"


def loud_failures(folder: Path, log: Path) -> None:
    """sudo and apt-get that record the call and fail loudly."""
    folder.mkdir()
    for name in ("sudo", "apt-get", "apt", "dnf", "yum", "brew"):
        tool = folder / name
        tool.write_text(f"#!/bin/sh\necho \"{name} $*\" >> {log}\necho '{name} must not be called' >&2\nexit 99\n")
        tool.chmod(0o755)


def venv_on_the_shared_packages(target: Path) -> None:
    """A fresh .venv whose interpreter sees the already-installed requirements (a .pth file
    pointing at this venv's site-packages), so setup.sh finds them satisfied."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(target)], check=True, timeout=120)
    site = subprocess.run([str(target / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "shared-requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_run_path_needs_no_root_and_the_dashboard_answers(tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("setup.sh", "requirements.txt", "requirements-ray.txt", "requirements-test.txt",
                 "app.py"):
        shutil.copy(ROOT / name, clone / name)
    for folder in ("core", "pages", "ui", ".streamlit"):
        shutil.copytree(ROOT / folder, clone / folder, ignore=shutil.ignore_patterns("__pycache__"))
    venv_on_the_shared_packages(clone / ".venv")
    calls = tmp_path / "calls.log"
    loud_failures(tmp_path / "bin", calls)
    python_bin = Path(getattr(sys, "_base_executable", sys.executable)).parent
    env = {"PATH": f"{tmp_path / 'bin'}:{python_bin}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PIP_NO_INDEX": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(["bash", "setup.sh"], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert not calls.exists(), calls.read_text()
    assert "streamlit run app.py" in done.stderr          # says what to do next
    assert (clone / ".venv" / ".gdx-requirements").exists()
    assert not (clone / ".venv" / ".gdx-requirements-test").exists()   # no test tools on this path

    port = free_port()
    server = subprocess.Popen(
        [str(clone / ".venv" / "bin" / "python"), "-m", "streamlit", "run", "app.py",
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=clone, env={**env, "GDX_CACHE_DIR": str(tmp_path / "cache")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, answer = time.monotonic() + 120, None
        while time.monotonic() < deadline and answer is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
                    answer = (r.status, r.read().decode())
            except OSError:
                time.sleep(0.5)
        assert answer == (200, "ok")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not calls.exists()


def test_missing_venv_module_and_old_python_are_one_line_naming_the_fix(tmp_path):
    shutil.copy(ROOT / "setup.sh", tmp_path / "setup.sh")
    old = tmp_path / "old-python"
    old.write_text("#!/bin/sh\ncase \"$*\" in *version_info*) exit 1;; *python_version*) echo 3.8.10;; esac\n")
    old.chmod(0o755)
    done = subprocess.run(["bash", "setup.sh"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin",
                          "PYTHON": str(old)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "3.10 or newer" in done.stderr and "3.8.10" in done.stderr
    no_venv = tmp_path / "no-venv-python"
    no_venv.write_text("#!/bin/sh\ncase \"$*\" in *'import venv'*) exit 1;; *) exit 0;; esac\n")
    no_venv.chmod(0o755)
    done = subprocess.run(["bash", "setup.sh"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin",
                          "PYTHON": str(no_venv)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "python3-venv" in done.stderr
    assert not (tmp_path / ".venv").exists()


def test_readme_lines_ci_and_requirements_agree():
    readme = (ROOT / "README.md").read_text()
    assert RUN_LINE in readme and TEST_LINE in readme
    assert "package manager" in readme
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == [TEST_LINE]
    runtime = (ROOT / "requirements.txt").read_text()
    assert "ray" not in re.sub(r"#.*", "", runtime).lower()
    assert re.search(r"^torch==2\.13\.0$", runtime, re.M)
    assert "ray[default]" in (ROOT / "requirements-ray.txt").read_text()
    tests = (ROOT / "requirements-test.txt").read_text()
    assert "-r requirements-ray.txt" in tests and any(ROOT.glob("tests/test_ray*.py"))
