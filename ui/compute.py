"""What keeps one visitor's computation from starving the others on a shared server.

* A compute slot: at most ``GDX_CONCURRENT_RUNS`` computations run at once in the server
  process; the others wait, with a note, and a page whose results are all cached never
  waits (the slot is taken when a run actually starts computing).
* A wall-time budget (``GDX_SESSION_SECONDS``) per computation, reported naming the field
  to lower. Memory is bounded per run by the core's guard (``GDX_MEMORY_FRACTION``), so the
  server's total is that times the number of slots.
* A visitor who leaves (closes the tab) stops their computation at its next progress
  report (at least every 0.25 s: core.engine.loop), instead of burning CPU for minutes.
* A computing thread runs at a lower CPU priority (COMPUTE_NICE), so pages served from the
  cache stay quick beside heavy sweeps.
* One page load (app.py's :func:`page_load`) has one slot and one budget: once it has taken
  the slot for a computation it keeps it until its script run ends, so building and sending
  the figures of every computation — pins included — runs inside the same slot and the same
  wall-time budget (``check_budget`` is called before each chart). A fragment's own rerun
  (ui.boundary.fragment) continues the budget of the page load that drew it: what it spends
  (drawing or computing) adds to what the page load had spent. The memory guard of every
  computation in a page load counts the figures the page will build (the payload bound's
  worth: core.report.display.page_figure_memory) on top of the run. When the page load ends,
  memory freed by its computations and figures is handed back to the system.
"""
from __future__ import annotations

import contextlib
import gc
import os
import threading
import time

from core.kernel.errors import SpecError
from core.kernel.settings import env_number


# A computing thread runs at this lower CPU priority (nice), so that a visitor whose page
# only draws from the cache is not slowed down by heavy sweeps: beside a busy sweep thread a
# light page's work took 2.1x its idle wall time at equal priority and 1.0x at nice +10
# (measured on the 2-core machine; benchmarks/bench_light_page.py).
COMPUTE_NICE = 10


def lower_thread_priority() -> int | None:
    """Lower this thread's CPU priority to COMPUTE_NICE (Linux: per thread); returns the
    previous niceness to restore, None where it cannot be changed."""
    try:
        thread = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, thread)
        if before < COMPUTE_NICE:
            os.setpriority(os.PRIO_PROCESS, thread, COMPUTE_NICE)
        return before
    except (AttributeError, OSError):
        return None


def restore_thread_priority(before: int | None) -> None:
    """Put the niceness back (an unprivileged server may not raise it again: the thread,
    which serves the visitor who computed, then stays at the lower priority)."""
    if before is None:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), before)
    except OSError:
        pass


class VisitorLeft(Exception):
    """The session that asked for this computation is gone; nothing is shown."""


_SLOTS: threading.BoundedSemaphore | None = None
_SLOTS_LOCK = threading.Lock()
_HOLDING = threading.local()


def _slots() -> threading.BoundedSemaphore:
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = threading.BoundedSemaphore(int(env_number("GDX_CONCURRENT_RUNS")))
        return _SLOTS


def _session_id() -> str | None:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        context = get_script_run_ctx(suppress_warning=True)
        return None if context is None else context.session_id
    except Exception:
        return None


def visitor_present(session_id: str | None) -> bool:
    """False once the browser session that started the computation has disconnected."""
    if session_id is None:
        return True
    try:
        from streamlit import runtime

        if not runtime.exists():
            return True
        return runtime.get_instance().is_active_session(session_id)
    except Exception:
        return True


class _PageLoad(threading.local):
    """This thread's page load (Streamlit runs each script run in its session's thread).
    ``started``: when this script run began (moved on by the time spent waiting for a
    compute slot); ``spent_before``: what the page load had used in earlier script runs (a
    fragment rerun continues its page load's budget)."""
    active = False
    holding = False
    started: float | None = None
    spent_before = 0.0
    session: str | None = None
    niceness: int | None = None


_PAGE = _PageLoad()
# Seconds each session's current page load has used, by session id: what a fragment rerun
# starts from. A full script run starts a new page load at 0. Bounded: oldest dropped.
_SPENT: dict[str | None, float] = {}
_SPENT_LIMIT = 4096
_SPENT_LOCK = threading.Lock()


def _spent_of(session: str | None) -> float:
    with _SPENT_LOCK:
        return _SPENT.get(session, 0.0)


def _record_spent(session: str | None, seconds: float) -> None:
    with _SPENT_LOCK:
        _SPENT.pop(session, None)
        _SPENT[session] = seconds
        while len(_SPENT) > _SPENT_LIMIT:
            _SPENT.pop(next(iter(_SPENT)))


def page_spent() -> float:
    """Seconds this thread's page load has used of its budget so far."""
    if not _PAGE.active:
        return 0.0
    running = 0.0 if _PAGE.started is None else time.monotonic() - _PAGE.started
    return _PAGE.spent_before + running


@contextlib.contextmanager
def page_load(fragment: bool = False):
    """One script run of the app: its computations and the building and sending of its
    figures share one time budget, counted from the start of the run (waiting for a compute
    slot excluded); the slot, once taken, is given back only when the run ends (a rerun or a
    stop included). ``fragment``: a fragment's own rerun (st.fragment) is part of the page
    load that drew it: it continues that page load's budget instead of getting a fresh one."""
    if _PAGE.active:                                  # nested: the outer one governs
        yield
        return
    session = _session_id()
    _PAGE.active, _PAGE.holding, _PAGE.session = True, False, session
    _PAGE.spent_before = _spent_of(session) if fragment else 0.0
    _PAGE.started = time.monotonic()
    from core.engine.memory import figures_to_draw
    from core.report.display import page_figure_memory

    try:
        with figures_to_draw(page_figure_memory()):   # the memory guard counts the figures
            yield
    finally:
        held = _PAGE.holding
        _record_spent(session, page_spent())
        _PAGE.active, _PAGE.holding, _PAGE.started, _PAGE.spent_before = False, False, None, 0.0
        if held:
            _HOLDING.active = False
            _slots().release()
            restore_thread_priority(_PAGE.niceness)
            _PAGE.niceness = None
            release_memory()


def budget_error(budget: float) -> SpecError:
    return SpecError("max_iters", f"this page load hit the server's time budget of {budget:g} s "
                     "(GDX_SESSION_SECONDS, computing and drawing together, its fragments' "
                     "reruns included); lower the iterations, the sizes, the number of step "
                     "sizes × seeds or of pins")


def check_budget() -> None:
    """Before drawing a chart (and when a fragment reruns): refuse once this page load's
    computing and drawing have used the time budget."""
    if _PAGE.active and _PAGE.started is not None:
        budget = float(env_number("GDX_SESSION_SECONDS"))
        if page_spent() > budget:
            raise budget_error(budget)


def release_memory() -> None:
    """Hand memory freed by a finished computation back to the system: collect cycles, then
    ask glibc to return free heap pages (core.engine.runtime keeps them for speed while a loop
    runs). Without it the server stayed at its peak after every heavy session had closed."""
    gc.collect()
    from core.engine.runtime import trim_heap

    trim_heap()


class ComputeGuard:
    """Used by ``run_with_progress``: ``check(fraction)`` is called from every progress
    report of the core. It takes the slot on the first report of a real computation, waits
    (calling ``waiting(ahead)``) while none is free, and raises on a spent budget or a
    visitor who left."""

    def __init__(self, waiting=None):
        self.session_id = _session_id()
        self.budget = float(env_number("GDX_SESSION_SECONDS"))
        self.waiting = waiting
        self.started: float | None = None
        self.holding = False
        self.niceness: int | None = None
        self.nested = getattr(_HOLDING, "active", False)
        self.in_page = _PAGE.active                 # this page load's one budget
        self._last_presence_check = 0.0

    def spent(self, now: float) -> float:
        if self.in_page:
            return page_spent()
        return 0.0 if self.started is None else now - self.started

    def check(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last_presence_check > 0.5:
            self._last_presence_check = now
            if not visitor_present(self.session_id):
                raise VisitorLeft()
        if not self.holding and not self.nested and fraction < 1.0:
            self._acquire()
        if self.spent(now) > self.budget:
            raise budget_error(self.budget)

    def _acquire(self) -> None:
        slots = _slots()
        told = False
        asked = time.monotonic()
        while not slots.acquire(timeout=0.25):
            if self.waiting is not None and not told:
                self.waiting()                      # once: no redraws while waiting
                told = True
            if not visitor_present(self.session_id):
                raise VisitorLeft()
        self.holding = True
        _HOLDING.active = True
        # A visitor's computation (a script run's thread); the CLI and tests keep theirs.
        self.niceness = lower_thread_priority() if self.session_id is not None else None
        now = time.monotonic()
        self.started = now
        if _PAGE.active:
            _PAGE.holding = True                    # waiting for the slot does not count
            _PAGE.started = now if _PAGE.started is None else _PAGE.started + (now - asked)
            _PAGE.niceness = self.niceness          # drawing too, until the page load ends

    def release(self) -> None:
        if self.holding:
            self.holding = False
            if _PAGE.active and _PAGE.holding:
                return                   # kept for the drawing; page_load gives it back
            _HOLDING.active = False
            _slots().release()
            restore_thread_priority(self.niceness)
            release_memory()
