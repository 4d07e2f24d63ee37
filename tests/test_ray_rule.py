"""Ray on a shared server (issue 20 §4): visitors may choose Ray only when the server was
started with GDX_RAY_ADDRESS (no local Ray instance inside the server, nothing that outlives
a session), and an address that answers HTTP/2 but is not Ray fails fast, in one line, with
no thread left running."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from core.engine import distributed
from tests.app_helpers import assert_clean, open_page
from tests.browser_helpers import ROOT

NOT_RAY = r"""
import time
from concurrent import futures
import grpc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
time.sleep(120)
"""


@pytest.fixture
def grpc_server_that_is_not_ray():
    process = subprocess.Popen([sys.executable, "-c", NOT_RAY], stdout=subprocess.PIPE, text=True)
    try:
        yield f"127.0.0.1:{int(process.stdout.readline())}"
    finally:
        process.kill()
        process.wait(timeout=10)


def test_without_a_cluster_address_visitors_are_not_offered_ray(monkeypatch):
    from ui.sidebar import BACKEND_STATE, BACKEND_WIDGET

    monkeypatch.delenv("GDX_RAY_ADDRESS", raising=False)
    monkeypatch.setenv("GDX_BACKEND", "ray")          # even so: no local Ray in the server
    started = []
    monkeypatch.setattr(distributed, "ensure_ray", lambda backend: started.append(backend))
    at = open_page("dynamics", {"dataset": "two_point", "max_iters": "20",
                                           "step_size": "1,2"})
    assert_clean(at)
    assert not [radio for radio in at.sidebar.radio if radio.key == BACKEND_WIDGET]
    assert any("GDX_RAY_ADDRESS" in caption.value for caption in at.sidebar.caption)
    at.session_state[BACKEND_STATE] = "ray"            # a stale choice cannot bring it back
    at.run()
    assert_clean(at)
    assert not started


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_http2_server_that_is_not_ray_fails_in_one_line_within_8_s(
        grpc_server_that_is_not_ray, scheme):
    address = scheme + grpc_server_that_is_not_ray
    threads_before = set(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(distributed.BackendError) as refused:
        distributed.ensure_ray(distributed.Backend("ray", address))
    elapsed = time.monotonic() - started
    message = str(refused.value)
    assert elapsed < distributed.CONNECT_TIMEOUT_S, elapsed
    assert len(message.splitlines()) == 1 and "does not answer like a Ray cluster" in message
    assert address in message
    time.sleep(0.3)
    left = [t.name for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert not left, left


@pytest.mark.slow
def test_the_cli_refuses_it_with_one_line(grpc_server_that_is_not_ray, tmp_path):
    env = dict(os.environ, GDX_CACHE_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "core", "run", "--no-cache", "--max-iters", "5",
                           "--ray-address", grpc_server_that_is_not_ray], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "does not answer like a Ray cluster" in done.stderr
