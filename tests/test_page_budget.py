"""Drawing counts against the visitor's budget (issue 20 §2): one page load has one compute
slot and one time budget, pins included; the slot is kept while the page draws and handed
back (with the freed memory) when the page load ends."""
from __future__ import annotations

import threading

import pytest

from core.kernel.errors import SpecError
from ui import compute


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(compute.time, "monotonic", lambda: now[0])
    monkeypatch.setenv("GDX_SESSION_SECONDS", "5")
    return now


def computation(clock, seconds: float) -> None:
    """One pin's computation under its guard, as run_with_progress does it."""
    guard = compute.ComputeGuard()
    try:
        guard.check(0.0)
        clock[0] += seconds
        guard.check(0.5)
    finally:
        guard.release()


def test_four_pins_share_one_budget_in_a_page_load(clock):
    with compute.page_load():
        computation(clock, 2.0)
        computation(clock, 2.0)                      # 4 s of 5
        with pytest.raises(SpecError) as refused:
            computation(clock, 2.0)                  # 6 s: over
    assert str(refused.value).startswith("max_iters:") and "page load" in str(refused.value)


def test_without_a_page_load_each_computation_has_its_own_budget(clock):
    """Negative control: what the pins got before (27.4 s of computing with a 5 s budget)."""
    for _ in range(4):
        computation(clock, 4.0)


def test_drawing_after_the_computation_counts(clock):
    with compute.page_load():
        compute.check_budget()                       # nothing computed: nothing to check
        computation(clock, 3.0)
        compute.check_budget()
        clock[0] += 3.0                              # building and sending figures
        with pytest.raises(SpecError):
            compute.check_budget()


def test_the_slot_is_kept_while_the_page_draws_and_given_back_at_its_end(clock, monkeypatch):
    monkeypatch.setattr(compute, "_SLOTS", threading.BoundedSemaphore(1))
    released = []
    monkeypatch.setattr(compute, "release_memory", lambda: released.append(1))
    with compute.page_load():
        computation(clock, 1.0)
        assert not compute._slots().acquire(blocking=False)   # drawing: still this page's
        assert not released
    assert compute._slots().acquire(blocking=False)          # given back
    compute._slots().release()
    assert released == [1]


def test_a_page_load_that_only_reads_the_cache_takes_no_slot(clock, monkeypatch):
    monkeypatch.setattr(compute, "_SLOTS", threading.BoundedSemaphore(1))
    compute._slots().acquire()                                # another visitor computes
    try:
        with compute.page_load():
            guard = compute.ComputeGuard()
            guard.check(1.0)                                  # a cache hit reports 1.0 only
            guard.release()
            compute.check_budget()
    finally:
        compute._slots().release()


def test_trim_heap_runs():
    from core.engine.runtime import trim_heap

    assert trim_heap() in (True, False)
