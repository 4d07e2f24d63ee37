"""What keeps one visitor's computation from starving the others on a shared server.

* A compute slot: at most ``GDX_CONCURRENT_RUNS`` computations run at once in the server
  process; the others wait, with a note, and a page whose results are all cached never
  waits (the slot is taken when a run actually starts computing).
* A wall-time budget (``GDX_SESSION_SECONDS``) per computation, reported naming the field
  to lower. Memory is bounded per run by the core's guard (``GDX_MEMORY_FRACTION``), so the
  server's total is that times the number of slots.
* A visitor who leaves (closes the tab) stops their computation at its next progress
  report, instead of burning CPU for minutes.
"""
from __future__ import annotations

import threading
import time

from core.errors import SpecError
from core.settings import env_number


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
            raise SpecError("max_iters", f"the computation hit this server's time budget of "
                            f"{self.budget:g} s (GDX_SESSION_SECONDS); lower the iterations, "
                            "the sizes or the number of step sizes × seeds")

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

    def release(self) -> None:
        if self.holding:
            self.holding = False
            _HOLDING.active = False
            _slots().release()
