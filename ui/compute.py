"""What keeps one visitor's computation from starving the others on a shared server.

* A compute slot: at most ``GDX_CONCURRENT_RUNS`` computations run at once in the server
  process; the others wait, with a note, and a page whose results are all cached never
  waits (the slot is taken when a run actually starts computing).
* A wall-time budget (``GDX_SESSION_SECONDS``) per computation, reported naming the field
  to lower. Memory is bounded per run by the core's guard (``GDX_MEMORY_FRACTION``), so the
  server's total is that times the number of slots.
* A visitor who leaves (closes the tab) stops their computation at its next progress
  report, instead of burning CPU for minutes.
* One page load (app.py's :func:`page_load`) has one slot and one budget: once it has taken
  the slot for a computation it keeps it until its script run ends, so building and sending
  the figures of every computation — pins included — runs inside the same slot and the same
  wall-time budget (``check_budget`` is called before each chart). When the page load ends,
  memory freed by its computations and figures is handed back to the system.
"""
from __future__ import annotations

import contextlib
import gc
import threading
import time

from core.kernel.errors import SpecError
from core.kernel.settings import env_number


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
    """This thread's page load (Streamlit runs each script run in its session's thread)."""
    active = False
    holding = False
    started: float | None = None


_PAGE = _PageLoad()


@contextlib.contextmanager
def page_load():
    """One script run of the app: computations share one slot and one time budget with the
    drawing after them, and the slot is given back only when the run ends (a rerun or a
    stop included)."""
    if _PAGE.active:                                  # nested: the outer one governs
        yield
        return
    _PAGE.active, _PAGE.holding, _PAGE.started = True, False, None
    try:
        yield
    finally:
        held = _PAGE.holding
        _PAGE.active, _PAGE.holding, _PAGE.started = False, False, None
        if held:
            _HOLDING.active = False
            _slots().release()
            release_memory()


def budget_error(budget: float) -> SpecError:
    return SpecError("max_iters", f"this page load hit the server's time budget of {budget:g} s "
                     "(GDX_SESSION_SECONDS, computing and drawing together); lower the "
                     "iterations, the sizes, the number of step sizes × seeds or of pins")


def check_budget() -> None:
    """Before drawing a chart: refuse once this page load's computing and drawing have used
    the time budget (nothing to check for a page that computed nothing)."""
    if _PAGE.active and _PAGE.holding and _PAGE.started is not None:
        budget = float(env_number("GDX_SESSION_SECONDS"))
        if time.monotonic() - _PAGE.started > budget:
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
        self.nested = getattr(_HOLDING, "active", False)
        if _PAGE.active and _PAGE.holding:
            self.started = _PAGE.started            # this page load's one budget
        self._last_presence_check = 0.0

    def check(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last_presence_check > 0.5:
            self._last_presence_check = now
            if not visitor_present(self.session_id):
                raise VisitorLeft()
        if not self.holding and not self.nested and fraction < 1.0:
            self._acquire()
        if self.started is not None and now - self.started > self.budget:
            raise budget_error(self.budget)

    def _acquire(self) -> None:
        slots = _slots()
        told = False
        while not slots.acquire(timeout=0.25):
            if self.waiting is not None and not told:
                self.waiting()                      # once: no redraws while waiting
                told = True
            if not visitor_present(self.session_id):
                raise VisitorLeft()
        self.holding = True
        _HOLDING.active = True
        self.started = time.monotonic()
        if _PAGE.active:
            _PAGE.holding, _PAGE.started = True, self.started

    def release(self) -> None:
        if self.holding:
            self.holding = False
            if _PAGE.active and _PAGE.holding:
                return                   # kept for the drawing; page_load gives it back
            _HOLDING.active = False
            _slots().release()
            release_memory()
