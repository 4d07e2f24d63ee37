"""One visitor cannot take the shared cache (issue 20 §4): a result larger than the declared
share of the cache is shown but not stored, and other entries survive; value files orphaned
by a process killed mid-write are found, counted and removed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from core.api import run_spec
from core.store.cache import LARGEST_SHARE, ORPHAN_GRACE_S, ResultCache, cache_key
from core.cli import main
from core.kernel.spec import make_spec
from tests.browser_helpers import ROOT

SMALL = [make_spec(dataset="two_point", step_sizes=(float(g),), max_iters=20) for g in range(1, 7)]
# θ is kept at every recorded step: 33 x 4 x 400 float64 values, about 420 kB.
LARGE = make_spec(dataset="gaussian", n=20, d=400, step_sizes=(1.0, 2.0, 3.0, 4.0), run_to_max=True,
                  max_iters=32, history_points=32)


def test_a_result_over_the_share_is_not_stored_and_the_others_survive(tmp_path):
    cache = ResultCache(str(tmp_path), size_limit=2 * 2**20)       # share: 256 KiB
    for spec in SMALL:
        assert cache.put(cache_key(spec, "cpu"), run_spec(spec, use_cache=False).result)
    large = run_spec(LARGE, use_cache=False).result
    key = cache_key(LARGE, "cpu")
    assert not cache.put(key, large)
    lines = cache.take_warnings()
    assert len(lines) == 1 and "not stored" in lines[0] and \
        f"1/{round(1 / LARGEST_SHARE)} of the cache (2 MiB" in lines[0], lines
    assert cache.get(key) is None
    assert len(cache) == len(SMALL)
    assert all(cache.get(cache_key(spec, "cpu")) is not None for spec in SMALL)
    # Negative control: with a cache large enough for the share, the same result is kept.
    roomy = ResultCache(str(tmp_path / "roomy"), size_limit=8 * 2**20)
    assert roomy.put(key, large) and roomy.get(key) is not None


def test_run_spec_shows_an_unstored_result_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GDX_CACHE_SIZE_MB", "1")
    outcome = run_spec(LARGE, cache_dir=str(tmp_path / "visitor"))
    assert outcome.result.runs and not outcome.cached
    assert [line for line in outcome.warnings if "not stored" in line] == outcome.warnings
    assert len(outcome.warnings) == 1
    again = run_spec(LARGE, cache_dir=str(tmp_path / "visitor"))
    assert not again.cached                     # it was not stored


WRITER = r"""
import os, sys, time, diskcache
from diskcache import core
def slow_write(self, full_path, iterator, mode, encoding=None):
    os.makedirs(os.path.dirname(full_path), exist_ok=True)
    with open(full_path, mode) as handle:
        handle.write(b"x" * (1 << 20))
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)
core.Disk._write = slow_write
cache = diskcache.Cache(sys.argv[1])
cache.set("key", b"y" * (4 << 20))
"""


def kill_during_a_write(directory) -> None:
    ResultCache(str(directory))                                  # the database exists
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(directory)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)


def test_an_orphan_from_a_killed_write_is_counted_and_cleared(tmp_path):
    kill_during_a_write(tmp_path)
    cache = ResultCache(str(tmp_path))
    assert len(cache) == 0
    orphans = cache.orphans()
    assert len(orphans) == 1 and orphans[0].stat().st_size == 1 << 20
    assert cache.info()["orphans"] == 1 and cache.orphans_removed == 0   # young: may be a write
    cache.clear()
    assert cache.orphans_removed == 1 and not orphans[0].exists()
    assert cache.info()["orphans"] == 0


def test_an_old_orphan_is_removed_at_start_up_and_reported_by_cache_info(tmp_path, monkeypatch,
                                                                         capsys):
    kill_during_a_write(tmp_path)
    (orphan,) = ResultCache(str(tmp_path)).orphans()
    past = time.time() - ORPHAN_GRACE_S - 5
    os.utime(orphan, (past, past))
    monkeypatch.setenv("GDX_CACHE_DIR", str(tmp_path))
    assert main(["cache", "info", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["orphans_removed"] == 1 and info["orphans"] == 0
    assert not orphan.exists()
    # Negative control: a named value file is no orphan.
    cache = ResultCache(str(tmp_path))
    cache._store.set("big", b"z" * (1 << 20))
    assert cache.orphans() == [] and cache.get("big") is None      # (not a result: dropped)
