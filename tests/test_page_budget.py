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


# ---------------------------------------------------------------------- fragments
def test_a_fragment_rerun_continues_its_page_loads_budget(clock):
    """A fragment's own rerun (st.fragment) does not get a fresh budget: the page load used
    4 s of 5, so the fragment's 2-s computation is refused."""
    with compute.page_load():
        computation(clock, 4.0)
    with compute.page_load(fragment=True):
        with pytest.raises(SpecError) as refused:
            computation(clock, 2.0)
    assert "fragments" in str(refused.value)


def test_a_new_page_load_starts_a_fresh_budget(clock):
    """Negative control: a full script run after the same 4 s is a new page load."""
    with compute.page_load():
        computation(clock, 4.0)
    with compute.page_load():
        computation(clock, 2.0)


def test_fragment_reruns_add_up_and_drawing_counts(clock):
    with compute.page_load():
        computation(clock, 2.0)
    for _ in range(2):                                # two reruns drawing 1 s each: 4 s of 5
        with compute.page_load(fragment=True):
            compute.check_budget()
            clock[0] += 1.0                          # building and sending its figure
    with compute.page_load(fragment=True):
        clock[0] += 1.5                              # drawing only, no computation
        with pytest.raises(SpecError):
            compute.check_budget()


def test_waiting_for_a_slot_does_not_count(clock, monkeypatch):
    monkeypatch.setattr(compute, "_SLOTS", threading.BoundedSemaphore(1))

    class SlowSlots:
        def acquire(self, timeout=None):
            clock[0] += 10.0                         # another visitor held the slot 10 s
            return True

        def release(self):
            pass

    monkeypatch.setattr(compute, "_slots", lambda: SlowSlots())
    with compute.page_load():
        computation(clock, 2.0)
        compute.check_budget()


def test_the_fragment_boundary_refuses_a_spent_budget_on_the_page(clock, monkeypatch):
    """ui.boundary's fragment body: a rerun after the page load spent its budget shows the
    refusal (naming the field) and does not run the fragment."""
    from ui import boundary

    shown, ran = [], []
    monkeypatch.setattr(boundary, "show_error", shown.append)
    with compute.page_load():
        computation(clock, 4.0)
        clock[0] += 1.5                              # drawing the page
    boundary.fragment_run(lambda: ran.append(1))
    assert not ran and len(shown) == 1 and str(shown[0]).startswith("max_iters:")
    with compute.page_load():                         # a new page load: the fragment runs
        boundary.fragment_run(lambda: ran.append(1))
    assert ran == [1]


@pytest.mark.slow
def test_a_page_with_four_pins_stops_at_the_budget(monkeypatch):
    """The dynamics page (AppTest) with GDX_SESSION_SECONDS=2 and four pins of seconds each
    (on a fast machine too): the page load is refused by name with the budget, and no
    traceback. That the pins share one budget rather than get 2 s each is shown with a
    clock by the tests above (a pin's length varies too much between machines here)."""
    from tests.app_helpers import open_page, shown_text

    monkeypatch.setenv("GDX_SESSION_SECONDS", "2")
    pin = ("model=linear&dataset=gaussian&n=1000&d=50&step_size=1e-3:1e3:log8&max_iters=3000"
           "&run_to_max=1&algorithm=gd&seed={}")
    pins = ";".join(pin.format(seed) for seed in (8101, 8102, 8103, 8104))
    at = open_page("dynamics", {"max_iters": "5", "step_size": "1", "pins": pins})
    assert not at.exception
    shown = [shown_text(e.value) for e in list(at.error) + list(at.warning)]
    assert any("time budget of 2 s" in text for text in shown), shown
