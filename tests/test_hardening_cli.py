"""The CLI as a user runs it (a subprocess): hostile values exit 2 with one line naming the
flag, quickly; cache faults degrade to one warning line while the result is still printed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

QUICK = ["--dataset", "two_point", "--max-iters", "5"]


def cli(*args, env=None, timeout=60):
    environment = dict(os.environ, **(env or {}))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout)
    return done, time.perf_counter() - started


HOSTILE = [
    (["run", "--step-size", "1:inf:x2"], "--step-size"),
    (["run", "--step-size", "1:1e12:x1.0000000001"], "--step-size"),
    (["run", "--step-size", "1,2,...,1e12"], "--step-size"),
    (["run", "--seed", "0,1,...,1e15"], "--seed"),
    (["run", "--seed", "0:100000000"], "--seed"),
    (["run", "--step-size", "1:10:xnan"], "--step-size"),
    (["run", "--n", "１２"], "--n"),
    (["run", "--max-iters", "٣"], "--max-iters"),
    (["run", "--a", "1,...,1e9", "--b", "1", "--model", "shallow_linear"], "--a"),
    (["sweep-d", "--d", ""], "--d"),
    (["sweep-d", "--d", "16:inf:x2"], "--d"),
    (["sweep-d", "--d", "16:1e15:x1.5"], "--d"),
    (["run", "--dataset", "csv", "--path", "/proc/self/mem"], "--path"),
    (["run", "--dataset", "csv", "--path", "/proc/self/status"], "--label-column"),
    (["run", "--width", "inf", "--model", "mlp"], "--width"),
    (["run", "--output", "/proc/version"], "--output"),
]


@pytest.mark.parametrize("args, named", HOSTILE)
def test_hostile_values_exit_2_with_one_line(args, named, capsys):
    from core.cli import main

    code = main(args)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error:") and named in lines[0], err
    assert "np.int" not in err and "Traceback" not in err


@pytest.mark.slow
def test_hostile_values_in_a_real_process():
    """The same refusals from `python -m core`, as a script sees them (exit code, stderr)."""
    for args, named in HOSTILE[::4]:
        done, seconds = cli(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and named in lines[0], done.stderr
        assert seconds < 30


@pytest.mark.parametrize("value", ["nan", "inf", "lots", "-1"])
def test_a_bad_memory_fraction_is_named(value, monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setenv("GDX_MEMORY_FRACTION", value)
    assert main(["run", *QUICK]) == 2
    assert capsys.readouterr().err.startswith("error: GDX_MEMORY_FRACTION:")


@pytest.mark.slow
def test_a_damaged_cache_is_rebuilt_and_every_command_works(tmp_path):
    env = {"GDX_CACHE_DIR": str(tmp_path)}
    assert cli("run", *QUICK, env=env)[0].returncode == 0
    (tmp_path / "cache.db").write_bytes(b"\x00garbage" * 100)
    done, _ = cli("run", *QUICK, "--format", "summary", env=env)
    assert done.returncode == 0 and "from cache: no" in done.stdout
    assert done.stderr.count("\n") == 1 and "damaged" in done.stderr
    for action in ("info", "clear"):
        done, _ = cli("cache", action, env=env)
        assert done.returncode == 0, done.stderr
    done, _ = cli("run", *QUICK, "--format", "json", env=env)
    assert done.returncode == 0 and json.loads(done.stdout)["cached"] is False


@pytest.mark.slow
def test_a_read_only_cache_is_used_for_reads_and_runs_go_on(tmp_path):
    source = tmp_path / "cache"
    env = {"GDX_CACHE_DIR": str(source)}
    assert cli("run", *QUICK, env=env)[0].returncode == 0
    mount = tmp_path / "ro"
    mount.mkdir()
    bound = subprocess.run(["mount", "--bind", str(source), str(mount)], capture_output=True)
    if bound.returncode != 0:
        pytest.skip("no bind mounts here (needs root in a mount namespace)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
        env = {"GDX_CACHE_DIR": str(mount)}
        done, _ = cli("run", *QUICK, "--format", "summary", env=env)
        assert done.returncode == 0 and "from cache: yes" in done.stdout, done.stderr
        done, _ = cli("run", *QUICK, "--step-size", "7", "--format", "summary", env=env)
        assert done.returncode == 0 and "from cache: no" in done.stdout
        assert done.stderr.count("\n") == 1 and "read only" in done.stderr
        done, _ = cli("cache", "info", env=env)
        assert done.returncode == 0 and json.loads(done.stdout)["entries"] == 1
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_output_is_checked_before_computing(tmp_path, capsys):
    from core.cli import main

    for target in (str(tmp_path), str(tmp_path / "no" / "x.json"), "/dev/null", "/proc/version"):
        started = time.perf_counter()
        code = main(["run", "--dataset", "worst_case", "--max-iters", "1000000",
                     "--step-size", "1e-6", "--run-to-max", "-o", target])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: --output:"), err
        assert time.perf_counter() - started < 30   # refused up front, not after 1e6 iterations


@pytest.mark.slow
def test_uploads_are_reported_and_cleared(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / ("a" * 64 + ".csv")).write_text("x,label\n1,a\n2,b\n")
    env = {"GDX_CACHE_DIR": str(tmp_path)}
    done, _ = cli("cache", "info", env=env)
    assert json.loads(done.stdout)["uploads"]["files"] == 1
    done, _ = cli("cache", "clear", env=env)
    assert done.returncode == 0 and "1 uploads" in done.stdout
    assert not list(uploads.iterdir())


def test_view_links_are_full_urls_under_gdx_base_url(monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setenv("GDX_BASE_URL", "http://lab-server:8501/")
    assert main(["reproduce", "two_point_loss"]) == 0
    out = capsys.readouterr().out
    assert "view:     http://lab-server:8501/dynamics?" in out
    assert main(["reproduce", "two_point_loss", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["link"].startswith("http://lab-server:8501/")
    monkeypatch.setenv("GDX_BASE_URL", "javascript:alert(1)")
    assert main(["reproduce", "two_point_loss"]) == 2
    assert capsys.readouterr().err.startswith("error: GDX_BASE_URL:")
    monkeypatch.delenv("GDX_BASE_URL")
    assert main(["reproduce", "two_point_loss"]) == 0
    assert "view:     http://localhost:8501/dynamics?" in capsys.readouterr().out   # the local dashboard


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_stdout_that_cannot_be_written_is_one_line_and_exit_2():
    """A full disk (/dev/full) or an I/O error on stdout: one line naming --output, exit 2,
    and no second message from the interpreter's last flush (was 'internal error', exit 1)."""
    for command in ("schema", "cache info", "run --dataset two_point --step-size 1 --max-iters 3"):
        done = subprocess.run(f"{sys.executable} -m core {command} >/dev/full", shell=True,
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.count("\n") == 1, (command, done.stderr)
        assert done.stderr.startswith("error: --output: could not write to stdout"), done.stderr
