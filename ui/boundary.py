"""One error boundary for every page and fragment: a bad value is an error naming its field;
anything unexpected is a short message with a reference id, and the traceback goes to the
server log only (never to the visitor)."""
from __future__ import annotations

import functools
import logging
import uuid
from typing import Callable

import streamlit as st

from core.kernel.errors import SpecError

from .display import show_error
from .compute import VisitorLeft, check_budget, page_load

LOG = logging.getLogger("gdx.dashboard")


def report_unexpected(error: BaseException) -> str:
    reference = uuid.uuid4().hex[:10]
    LOG.error("unexpected error, reference %s", reference, exc_info=error)
    st.error(f"Something went wrong on this page (reference {reference}). Nothing about it is "
             "shown here; the server log has the details under that reference. Changing a "
             "setting or reloading usually helps.", icon=":material/error:")
    return reference


def guarded(run: Callable[[], object]) -> None:
    """Run a page (or a part of one) inside the boundary. Streamlit's own rerun/stop
    signals are BaseExceptions and pass through."""
    try:
        run()
    except VisitorLeft:
        LOG.info("visitor left; computation stopped")
    except SpecError as error:
        show_error(error)
    except Exception as error:  # noqa: BLE001 - the boundary is the point
        report_unexpected(error)


def fragment_run(run: Callable[[], object]) -> None:
    """One run of a fragment's body: within a full script run, part of its page load; on
    its own rerun, a continuation of that page load's budget (refused once it is spent)."""
    def body():
        check_budget()
        run()
    with page_load(fragment=True):
        guarded(body)


def fragment(function: Callable | None = None, **options):
    """``st.fragment`` whose reruns go through the boundary too, and stay inside the budget of
    the page load that drew them (within a full script run the page load governs; a
    fragment's own rerun continues it: ui.compute.page_load)."""
    def wrap(inner: Callable):
        @functools.wraps(inner)
        def safe(*args, **kwargs):
            fragment_run(lambda: inner(*args, **kwargs))
        return st.fragment(safe, **options)
    return wrap(function) if function is not None else wrap
