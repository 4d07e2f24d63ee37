"""A visitor who closes the tab stops their computation within a second or two (issue 20):
the loops report progress at least every REPORT_SECONDS whatever max_iters is (each report is
where the dashboard's guard looks whether the session is still connected), and the guard
stops a run whose session Streamlit no longer lists as active. The browser test of the whole
path is tests/test_browser_hardening.py::test_a_visitor_who_leaves_stops_the_computation."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from core.engine import loop
from ui import compute


def test_a_slow_loop_reports_progress_every_quarter_second(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(loop.time, "monotonic", lambda: now[0])
    reports = []
    control = loop.LoopControl(SimpleNamespace(max_iters=10**6), torch.device("cpu"),
                               reports.append)
    active = torch.tensor([True])
    for t in range(1, 101):                  # 100 steps of 20 ms: 2 s, far from 1 % of max_iters
        now[0] += 0.02
        assert not control.done(t, active)
    assert len(reports) >= 2 / loop.REPORT_SECONDS - 1, reports


class FakeRuntime:
    def __init__(self):
        self.active = {"s1"}

    def is_active_session(self, session_id):
        return session_id in self.active


def test_the_guard_stops_once_the_session_is_gone(monkeypatch):
    import streamlit.runtime as runtime

    fake = FakeRuntime()
    monkeypatch.setattr(runtime, "exists", lambda: True)
    monkeypatch.setattr(runtime, "get_instance", lambda: fake)
    guard = compute.ComputeGuard()
    guard.session_id = "s1"
    try:
        guard.check(0.1)                     # connected: carries on
        fake.active.clear()                  # the tab closes
        guard._last_presence_check = -1e9
        with pytest.raises(compute.VisitorLeft):
            guard.check(0.2)
    finally:
        guard.release()


def niceness() -> int:
    import os
    import threading

    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_visitors_computation_runs_at_lower_priority_and_gives_it_back(monkeypatch):
    """Light pages beside heavy sweeps (issue 20 §2): the computing thread is niced to
    COMPUTE_NICE while it holds the slot; the thread's niceness is restored at the end of
    the page load where the system allows it."""
    import threading

    monkeypatch.setattr(compute, "_session_id", lambda: "visitor")
    monkeypatch.setattr(compute, "visitor_present", lambda session: True)
    monkeypatch.setattr(compute, "_SLOTS", threading.BoundedSemaphore(1))
    seen = {}

    def script_run():
        seen["before"] = niceness()
        with compute.page_load():
            guard = compute.ComputeGuard()
            guard.check(0.0)
            seen["computing"] = niceness()
            guard.release()
            seen["drawing"] = niceness()
        seen["after"] = niceness()

    thread = threading.Thread(target=script_run)
    thread.start()
    thread.join()
    assert seen["computing"] == seen["drawing"] == max(seen["before"], compute.COMPUTE_NICE)
    assert seen["after"] in (seen["before"], compute.COMPUTE_NICE)   # restored where allowed
    assert niceness() == seen["before"]                 # other threads keep theirs
