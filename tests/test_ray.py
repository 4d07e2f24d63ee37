"""The Ray backend (core/engine/distributed.py): the shard plan, identity with the local backend in
float64, shard caching, a killed worker, an unreachable cluster.

The Ray tests share one local instance (2 CPUs, no dashboard) started by a module fixture
and shut down after the module; the two-node loopback cluster is in test_ray_cluster.py."""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
import torch

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")     # loopback test clusters, no tokens

from core import make_spec# noqa: E402
from core.engine import distributed# noqa: E402
from core.api import run_spec  # noqa: E402
from core.store.cache import ResultCache, cache_key  # noqa: E402
from core.cli import main  # noqa: E402

from tests.conftest import ROOT  # noqa: E402

SMALL = make_spec(model="two_layer_conv", dataset="minimal", d=64,
                  step_sizes=(50.0, 200.0, 400.0), seeds=tuple(range(6)), max_iters=2000,
                  history_points=16)


def payload_of(result) -> tuple[dict, dict]:
    payload = result.to_payload()
    document = json.loads(payload["json"])
    document["meta"].pop("seconds", None)
    document["meta"].pop("key", None)
    return document, payload["arrays"]


def assert_identical(a, b) -> None:
    """Same spec, same runs, same arrays bit for bit (float64), same dtypes."""
    doc_a, arrays_a = payload_of(a)
    doc_b, arrays_b = payload_of(b)
    assert doc_a == doc_b
    assert arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype, name
        assert np.array_equal(arrays_a[name], arrays_b[name], equal_nan=True), name


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def one_thread():
    """One torch thread: on the shared 2-core machine spinning threads make runs 30x slower."""
    torch.set_num_threads(1)
    yield


@pytest.fixture
def small_shards(monkeypatch):
    """A shard budget small enough that the test specs are cut into several shards."""
    monkeypatch.setattr(distributed, "SHARD_WORK", 2000)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GDX_CACHE_DIR", str(tmp_path / "cache"))
    return str(tmp_path / "cache")


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module (ensure_ray's own start: 2 CPUs, no dashboard)."""
    distributed.shutdown()
    ray = distributed.ensure_ray(distributed.Backend("ray", ""))
    yield ray
    distributed.shutdown()


# ---------------------------------------------------------------------- the plan
@pytest.mark.parametrize("steps,seeds,work", [(3, 6, 2000), (1, 40, 1000), (7, 3, 900),
                                              (5, 5, 10**9), (4, 1, 300)])
def test_plan_covers_every_run_exactly_once(steps, seeds, work):
    spec = make_spec(model="linear", dataset="gaussian", n=10, d=10,
                     step_sizes=tuple(float(2 ** k) for k in range(steps)),
                     seeds=tuple(range(seeds)))
    shards = distributed.plan(spec, 10, 10, work=work)
    seen = [(g, s) for shard in shards for g in range(*shard.steps) for s in range(*shard.seeds)]
    assert sorted(seen) == [(g, s) for g in range(steps) for s in range(seeds)]
    for shard in shards:
        assert shard.spec.step_sizes == spec.step_sizes[slice(*shard.steps)]
        assert shard.spec.seeds == spec.seeds[slice(*shard.seeds)]
        assert shard.rows * 100 <= work or shard.rows == 1          # within the budget
    assert distributed.plan(spec, 10, 10, work=work) == shards       # deterministic


def test_small_specs_are_one_shard_with_the_real_budget():
    spec = make_spec(model="linear", dataset="worst_case", n=1000, algorithm="normalized_gd",
                     step_sizes=(100.0, 10.0, 1.0, 0.1), seeds=tuple(range(8)))
    (shard,) = distributed.plan(spec, 1000, 2)
    assert shard.spec == spec
    big = make_spec(model="two_layer_conv", dataset="minimal", d=100_000, seeds=tuple(range(512)))
    assert distributed.row_work(big, 2, 100_000) == 2 * (2 * 50_000 + 2)   # n x parameters
    assert [s.seeds for s in distributed.plan(big, 2, 100_000)] == [(0, 256), (256, 512)]


def test_sharded_local_runs_merge_in_spec_order(one_thread, small_shards, cache_dir):
    assert len(distributed.plan(SMALL, 2, 64)) > 1
    result = run_spec(SMALL).result
    assert [(r.step_size, r.seed) for r in result.runs] == \
        [(g, s) for g in SMALL.step_sizes for s in SMALL.seeds]
    assert result.meta["shards"] == len(distributed.plan(SMALL, 2, 64))
    # each run is the run of its shard's sub-spec, computed on its own
    shard = distributed.plan(SMALL, 2, 64)[-1]
    alone = run_spec(shard.spec, use_cache=False).result
    first = shard.steps[0] * len(SMALL.seeds) + shard.seeds[0]
    for offset, record in enumerate(alone.runs):
        merged = result.runs[first + offset]
        assert (merged.step_size, merged.seed) == (record.step_size, record.seed)
        assert np.array_equal(merged.history["loss"], record.history["loss"])


def test_rerun_after_a_lost_shard_computes_only_that_shard(one_thread, small_shards, cache_dir,
                                                           monkeypatch):
    shards = distributed.plan(SMALL, 2, 64)
    first = run_spec(SMALL).result
    cache = ResultCache(cache_dir)
    keys = [cache_key(s.spec, "cpu") for s in shards]
    assert all(key in cache._store for key in keys)          # every shard stored on its own
    del cache._store[first.meta["key"]]                     # the merged entry and one shard gone
    del cache._store[keys[1]]
    cache.close()
    computed = []
    real = distributed.run_shard
    monkeypatch.setattr(distributed, "run_shard",
                        lambda spec, *a, **k: computed.append(spec) or real(spec, *a, **k))
    again = run_spec(SMALL)
    assert not again.cached and computed == [shards[1].spec]
    assert_identical(first, again.result)


# ---------------------------------------------------------------------- backend choice
def test_backend_flags_and_environment(monkeypatch):
    monkeypatch.delenv("GDX_BACKEND", raising=False)
    monkeypatch.delenv("GDX_RAY_ADDRESS", raising=False)
    assert distributed.current_backend() == distributed.Backend("local", "")
    monkeypatch.setenv("GDX_BACKEND", "ray")
    monkeypatch.setenv("GDX_RAY_ADDRESS", "127.0.0.1:6379")
    assert distributed.current_backend() == distributed.Backend("ray", "127.0.0.1:6379")
    with distributed.use_backend("local"):
        assert distributed.current_backend().name == "local"
    monkeypatch.setenv("GDX_BACKEND", "spark")
    code, _, err = cli("run", "--no-cache", "--max-iters", "5")
    assert code == 2 and err.strip() == "error: GDX_BACKEND: 'spark' is not one of local, ray"
    monkeypatch.delenv("GDX_BACKEND")
    code, _, err = cli("run", "--backend", "local", "--ray-address", "127.0.0.1:1")
    assert code == 2 and "--ray-address" in err and "--backend ray" in err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_cluster_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("GDX_RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    code, out, err = cli("run", "--backend", "ray", "--no-cache", "--max-iters", "5")
    assert time.monotonic() - started < 15
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "GDX_RAY_ADDRESS" in err and "cannot reach the Ray cluster" in err


@pytest.mark.slow
def test_silent_endpoint_fails_within_15_seconds(tmp_path):
    """A port that accepts TCP but never speaks Ray: ray.init would wait for minutes; the
    CLI gives up with one line (in a subprocess: a stuck ray.init stays in its process),
    within 15 s of what starting Python and importing Ray take on this machine."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        env = dict(os.environ, GDX_RAY_ADDRESS=address, GDX_BACKEND="ray",
                   GDX_CACHE_DIR=str(tmp_path))
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "core", "run", "--no-cache", "--max-iters", "5"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - started
    started = time.monotonic()          # what starting the process and importing Ray take here
    subprocess.run([sys.executable, "-c", "import ray, core.cli, core.engine.distributed"], cwd=ROOT,
                   env=env, capture_output=True, timeout=60, check=True)
    start_up = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "GDX_RAY_ADDRESS" in errors[0] and address in errors[0]
    assert elapsed - start_up < 15, (elapsed, start_up)


# ---------------------------------------------------------------------- on a local Ray instance
@pytest.mark.slow
def test_run_on_ray_is_identical_fills_the_cache_and_repeats_from_it(ray_local, one_thread,
                                                                     small_shards, cache_dir):
    local = run_spec(SMALL, use_cache=False).result
    placed = len(distributed.LAST_PLACEMENTS)
    with distributed.use_backend("ray"):
        first = run_spec(SMALL)
        shards = distributed.plan(SMALL, 2, 64)
        assert not first.cached
        assert len(distributed.LAST_PLACEMENTS) - placed == len(shards)   # every shard on Ray
        assert_identical(local, first.result)
        assert first.result.meta["key"] == cache_key(SMALL, "cpu")
        cache = ResultCache(cache_dir)
        assert first.result.meta["key"] in cache._store
        assert all(cache_key(s.spec, "cpu") in cache._store for s in shards)
        cache.close()
        placed = len(distributed.LAST_PLACEMENTS)
        again = run_spec(SMALL)
    assert again.cached and len(distributed.LAST_PLACEMENTS) == placed    # nothing sent to Ray
    assert_identical(local, again.result)


@pytest.mark.slow
def test_cli_run_and_sweep_d_on_ray_match_local(ray_local, one_thread, small_shards, cache_dir,
                                                tmp_path):
    run_args = ["run", "--model", "two_layer_conv", "--dataset", "minimal", "--d", "64",
                "--step-size", "50,200,400", "--seed", "0:5", "--max-iters", "2000",
                "--history-points", "16", "--no-cache", "--format", "json"]
    code, local_run, _ = cli(*run_args)
    assert code == 0
    code, ray_run, err = cli(*run_args, "--backend", "ray", "--progress")
    assert code == 0, err
    assert "shards 2/2" in err                 # the progress line counts shards
    a, b = json.loads(local_run), json.loads(ray_run)
    for document in (a, b):
        document.get("meta", {}).pop("seconds", None)
    assert a == b

    sweep_args = ["sweep-d", "--models", "linear:batch_perceptron,two_layer_conv:gd:scaled",
                  "--d", "16,32,64,128", "--seed", "0:11", "--max-iters", "3000",
                  "--format", "json"]
    code, local_sweep, _ = cli(*sweep_args, "--no-cache")
    assert code == 0
    placed = len(distributed.LAST_PLACEMENTS)
    code, ray_sweep, err = cli(*sweep_args, "--backend", "ray", "--progress")
    assert code == 0, err
    assert json.loads(local_sweep) == json.loads(ray_sweep)
    assert "shards" in err
    assert len(distributed.LAST_PLACEMENTS) - placed >= 8       # 8 specs (2 curves x 4 d) on Ray
    placed = len(distributed.LAST_PLACEMENTS)
    code, cached_sweep, _ = cli(*sweep_args, "--backend", "ray")
    assert code == 0 and json.loads(cached_sweep) == json.loads(local_sweep)
    assert len(distributed.LAST_PLACEMENTS) == placed         # the repeat came from the cache


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _shard_workers() -> list[int]:
    """Ray worker processes of this test's instance now running a shard."""
    busy = []
    for pid in _descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                title = handle.read().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::_remote_shard"):
            busy.append(pid)
    return busy


@pytest.mark.slow
def test_killed_worker_loses_nothing(ray_local, one_thread, cache_dir, monkeypatch):
    spec = make_spec(model="linear", dataset="gaussian", n=200, d=20, algorithm="gd",
                     step_sizes=(0.5, 1.0, 2.0, 4.0), seeds=(0, 1), max_iters=20000,
                     run_to_max=True, history_points=32)
    monkeypatch.setattr(distributed, "SHARD_WORK", 2 * 200 * 20)       # 4 shards of 2 runs
    assert len(distributed.plan(spec, 200, 20)) == 4
    local = run_spec(spec, use_cache=False).result
    outcome: dict = {}

    def sweep() -> None:
        try:
            with distributed.use_backend("ray"):
                outcome["result"] = run_spec(spec, use_cache=False).result
        except BaseException as error:        # reported below
            outcome["error"] = error

    runner = threading.Thread(target=sweep)
    runner.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and runner.is_alive() and time.monotonic() < deadline:
        busy = _shard_workers()
        if busy:
            killed = busy[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    runner.join(300)
    assert killed is not None, "no shard was seen running"
    assert "error" not in outcome, outcome.get("error")
    assert len(outcome["result"].runs) == 8
    assert_identical(local, outcome["result"])


class Stop(Exception):
    pass


@pytest.mark.slow
def test_a_stop_from_progress_ends_the_sweep_without_waiting_for_every_shard(
        ray_local, one_thread, cache_dir, monkeypatch):
    """The dashboard stops a computation by raising from its progress callback (time budget,
    visitor gone): the Ray loop lets it through and cancels what is still outstanding."""
    spec = make_spec(model="linear", dataset="gaussian", n=200, d=20, algorithm="gd",
                     step_sizes=(0.5, 1.0, 2.0, 4.0), seeds=(0, 1), max_iters=20000,
                     run_to_max=True, history_points=32)
    monkeypatch.setattr(distributed, "SHARD_WORK", 2 * 200 * 20)       # 4 shards, 2 CPUs
    placed = len(distributed.LAST_PLACEMENTS)
    seen = []

    def progress(fraction: float) -> None:
        seen.append(len(distributed.LAST_PLACEMENTS) - placed)
        if seen[-1] >= 1:
            raise Stop()

    with distributed.use_backend("ray"), pytest.raises(Stop):
        run_spec(spec, progress=progress)
    assert 1 <= seen[-1] < 4
    cache = ResultCache(cache_dir)
    assert cache_key(spec, "cpu") not in cache._store             # nothing merged, nothing stored
    stored = [cache_key(s.spec, "cpu") in cache._store for s in distributed.plan(spec, 200, 20)]
    assert sum(stored) == seen[-1]                 # but the shards done are kept for a rerun
    cache.close()


# ---------------------------------------------------------------------- dashboard setting
def test_sidebar_switches_this_sessions_backend(monkeypatch):
    from tests.app_helpers import assert_clean, open_page
    from ui.sidebar import BACKEND_STATE, BACKEND_WIDGET

    monkeypatch.delenv("GDX_BACKEND", raising=False)
    monkeypatch.setenv("GDX_RAY_ADDRESS", "10.0.0.7:6379")     # the server's cluster
    at = open_page("home")
    assert_clean(at)
    (switch,) = [radio for radio in at.sidebar.radio if radio.key == BACKEND_WIDGET]
    assert switch.value == "local" and list(switch.options) == ["here", "on Ray"]
    switch.set_value("ray").run()
    assert_clean(at)
    assert at.session_state[BACKEND_STATE] == "ray"
    # the caption is written from core.engine.distributed.current_backend() inside the session
    assert any("Ray cluster at 10.0.0.7:6379" in caption.value for caption in at.sidebar.caption)
    assert distributed.current_backend().name == "local"      # other sessions, the CLI: unchanged
