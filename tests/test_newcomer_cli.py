"""The CLI for people — light start-up, output for people on a
terminal and JSON for programs, one full link per computed view, flags the model does not read
refused, `cache info` for people, a closed stdout or a reader that leaves."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from core.cli import main
from tests.app_helpers import ROOT

QUICK = ("run", "--model", "linear", "--dataset", "worst_case", "--n", "20", "--step-size", "1,10",
         "--max-iters", "50")
LIGHT_COMMANDS = [["--help"], ["run", "--help"], ["sweep-d", "--help"], ["reproduce", "--list"],
                  ["schema"], ["run", "--step-size", "abc"], ["run", "--model", "nope"],
                  ["run", "--model", "shallow_linear", "--dataset", "digits"],
                  ["run", "--max-iters", "0"]]


def cli(*args, env=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300, **kwargs)


@pytest.mark.parametrize("args", LIGHT_COMMANDS, ids=" ".join)
def test_help_list_schema_and_argument_errors_do_not_load_torch_or_plotly(args):
    probe = ("import runpy, sys\nsys.argv = ['core'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('core', run_name='__main__')\nexcept SystemExit as e:\n"
             "    code = e.code\nheavy = [m for m in ('torch', 'plotly', 'scipy.integrate', 'ray') "
             "if m in sys.modules]\nsys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n")
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert "HEAVY=\n" in done.stderr, (args, done.stderr)
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_computing_command_does_load_torch():        # the probe above can tell
    probe = ("import sys\nfrom core.cli import main\nmain(['run', '--model', 'linear', '--n', '4',"
             " '--max-iters', '3', '--no-cache'])\nsys.stderr.write(str('torch' in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.stderr.endswith("True"), done.stderr


def on_a_terminal(*args) -> str:
    """The CLI's stdout when it is a terminal (a pseudo-terminal)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, stdout=follower,
                               stderr=subprocess.PIPE)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=300)
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.slow
def test_default_output_is_a_table_on_a_terminal_and_json_when_piped():
    shown = on_a_terminal(*QUICK)
    assert shown.startswith("spec: ") and "iterations_to_solve" in shown
    assert shown.rstrip().splitlines()[-1].startswith("view: http://localhost:8501/perceptron_dynamics?")
    piped = cli(*QUICK)
    assert piped.returncode == 0
    data = json.loads(piped.stdout)
    assert data["view"].startswith("http://localhost:8501/perceptron_dynamics?")
    assert data["view"].endswith("?" + data["canonical"])
    help_text = cli("run", "--help").stdout
    assert "terminal" in help_text and "json" in help_text


@pytest.mark.slow
def test_every_computing_command_prints_one_full_link(capsys, monkeypatch):
    monkeypatch.setenv("GDX_BASE_URL", "https://lab.example:8443/")
    assert main([*QUICK, "--format", "summary"]) == 0
    out = capsys.readouterr().out
    links = [line for line in out.splitlines() if "https://" in line]
    assert len(links) == 1 and links[0].startswith("view: https://lab.example:8443/perceptron_dynamics?")
    assert main([*QUICK, "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert "http" not in captured.out and captured.err.count("view: https://lab.example:8443/") == 1
    assert main(["run", "--model", "shallow_linear", "--step-size", "0.1", "--max-iters", "20",
                 "--format", "summary"]) == 0
    assert "view: https://lab.example:8443/shallow?" in capsys.readouterr().out
    assert main(["sweep-d", "--d", "16,32", "--seed", "0:1", "--format", "text"]) == 0
    link = [line for line in capsys.readouterr().out.splitlines() if line.startswith("view:")]
    assert len(link) == 1 and link[0].startswith("view: https://lab.example:8443/complexity?curves=")
    assert "dims=16,32" in link[0] and "seed=0,1" in link[0]


def test_a_flag_the_model_does_not_read_is_an_error_naming_flag_and_model(capsys):
    cases = {("--model", "shallow_linear", "--dataset", "digits"): ("--dataset", "shallow_linear"),
             ("--model", "shallow_linear", "--seed", "0:3"): ("--seed", "shallow_linear"),
             ("--model", "linear", "--width", "32"): ("--width", "linear"),
             ("--model", "mlp", "--leak", "0.3"): ("--leak", "mlp"),
             ("--model", "linear", "--dataset", "worst_case", "--mu", "0.3"): ("--mu", "worst_case")}
    for args, (flag, owner) in cases.items():
        assert main(["run", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: {flag}: not read by") and owner in err
    # the same flags where they are read, or at their defaults, pass
    assert main(["run", "--model", "mlp", "--activation", "leaky_relu", "--leak", "0.3",
                 "--n", "10", "--max-iters", "2", "--no-cache"]) == 0
    assert main(["run", "--model", "shallow_linear", "--init", "random", "--seed", "0:1",
                 "--max-iters", "5", "--no-cache"]) == 0
    assert main(["run", "--model", "linear", "--tail-points", "0", "--n", "10", "--max-iters", "2"]) == 0


def test_seeds_of_a_model_starting_at_zero_are_said_to_be_identical_once(capsys):
    assert main([*QUICK, "--seed", "0:2"]) == 0
    err = capsys.readouterr().err
    assert err.count("θ₀ = 0") == 1 and "3 seeds give identical runs" in err
    assert main(["run", "--model", "mlp", "--n", "10", "--seed", "0:2", "--max-iters", "2"]) == 0
    assert "identical" not in capsys.readouterr().err


@pytest.mark.slow
def test_cache_info_for_people_and_as_json(tmp_path):
    env = {"GDX_CACHE_DIR": str(tmp_path)}
    assert cli(*QUICK, env=env).returncode == 0
    human = cli("cache", "info", "--format", "text", env=env)
    assert human.returncode == 0 and human.stdout.endswith("\n")
    lines = human.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["cache", "entries", "uploads", "orphans",
                                                      "code version"]
    assert lines[1].startswith("entries:      1, ") and ("KiB" in lines[1] or "MiB" in lines[1])
    machine = cli("cache", "info", "--format", "json", env=env)
    assert machine.stdout.endswith("\n") and json.loads(machine.stdout)["entries"] == 1
    assert json.loads(cli("cache", "info", env=env).stdout)["entries"] == 1    # piped: JSON
    shown = on_a_terminal("cache", "info")
    assert shown.startswith("cache:")


def test_a_closed_stdout_is_one_line_and_exit_2():
    for command in ("schema", " ".join(QUICK)):
        done = subprocess.run(f"{sys.executable} -m core {command} >&-", shell=True, cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: --output: stdout is closed")


def test_a_reader_that_leaves_ends_the_command_quietly(monkeypatch, capsys):
    class LeftPipe:                      # what `| head` leaves behind once head has exited
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def isatty(self):
            return False

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", LeftPipe())
    assert main(["schema"]) == 141
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


def test_ray_backend_without_ray_is_one_line_on_how_to_install(monkeypatch, capsys):
    from core.engine import distributed

    monkeypatch.setitem(sys.modules, "ray", None)            # import ray -> ImportError
    monkeypatch.setattr(distributed, "_connected_to", None, raising=False)
    assert main([*QUICK, "--backend", "ray", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "setup.sh --with-ray" in err and "requirements-ray.txt" in err
