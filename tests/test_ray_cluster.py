"""A two-node Ray cluster on loopback (`ray start --head` plus `ray start --address`, both
started and stopped here, 1 CPU each): a sweep's shards run on both nodes and merge into the
local backend's result."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")     # loopback test clusters, no tokens

from core import make_spec# noqa: E402
from core.engine import distributed# noqa: E402
from core.api import run_spec  # noqa: E402

from tests.test_ray import assert_identical  # noqa: E402

# `ray start`, with every address Ray picks for this node pinned to 127.0.0.1 (Ray maps
# 127.0.0.1 to the machine's outward address otherwise; these tests stay on loopback).
RAY_START = ("import sys, ray._private.services as services; "
             "services.get_node_ip_address = lambda address=None: '127.0.0.1'; "
             "from ray.scripts.scripts import main; sys.exit(main())")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start --head exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the head node did not open port {port} in {seconds:g} s")


@pytest.fixture
def two_nodes(tmp_path):
    port = _free_port()
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    common = ["--num-cpus", "1", "--object-store-memory", str(80 * 2**20), "--block",
              "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    nodes: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", RAY_START, "start", *args, *common],
                                   env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(tmp_path / f"{name}.log", "w"),
                                   start_new_session=True)
        nodes.append(process)
        return process

    try:
        head = start("head", "--head", "--port", str(port), "--include-dashboard", "false")
        _wait_for_port(port, head, 90)
        start("second", "--address", f"127.0.0.1:{port}", "--resources", json.dumps({"second": 1}))
        yield f"127.0.0.1:{port}"
    finally:
        distributed.shutdown()
        for process in reversed(nodes):           # --block: SIGTERM stops the node's processes
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(nodes):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.slow
def test_sweep_runs_across_both_nodes(two_nodes, monkeypatch):
    torch.set_num_threads(1)
    spec = make_spec(model="linear", dataset="gaussian", n=200, d=20, algorithm="gd",
                     step_sizes=(0.5, 1.0, 2.0, 4.0, 8.0, 16.0), seeds=(0, 1), max_iters=6000,
                     run_to_max=True, history_points=32)
    monkeypatch.setattr(distributed, "SHARD_WORK", 2 * 200 * 20)       # 6 shards of 2 runs
    assert len(distributed.plan(spec, 200, 20)) == 6
    local = run_spec(spec, use_cache=False).result
    with distributed.use_backend("ray", two_nodes):
        ray = distributed.ensure_ray(distributed.current_backend())
        deadline = time.monotonic() + 120
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            assert time.monotonic() < deadline, "the second node did not join"
            time.sleep(0.5)
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        placed = len(distributed.LAST_PLACEMENTS)
        result = run_spec(spec, use_cache=False).result
    nodes = {where["node"] for where in distributed.LAST_PLACEMENTS[placed:]}
    assert len(distributed.LAST_PLACEMENTS) - placed == 6
    assert len(nodes) == 2                          # shards ran on both nodes
    assert_identical(local, result)
