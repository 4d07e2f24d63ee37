"""The frame of a page (on top of ui.state and ui.display): its start (navigation guard, URL
state, title, intro), formulas typeset on demand, views bound to the URL, controls of hidden
views that keep their values, several runs under one progress bar, and relative links."""
from __future__ import annotations

import time
from typing import Callable, Sequence

import streamlit as st

from core.api import Outcome, run_spec
from core.api import run_all
from core.distributed import current_backend
from core.spec import RunSpec

from .display import run_with_progress
from .navigation import require_app
from .state import Field, UrlState


def open_page(page: str, fields: Sequence[Field], title: str, intro: str, *,
              keep_hidden: bool = False, details: tuple[str, str] | None = None) -> UrlState:
    """The start every page shares: run under app.py's navigation, bind the controls to the
    URL, the title and introduction (``details``: an expander's label and text after it),
    then the notes on URL values that could not be used. ``keep_hidden``: keep the values of
    controls in views hidden in this run (:func:`keep_values`)."""
    require_app()
    state = UrlState.create(page, fields)
    if keep_hidden:
        keep_values(state)
    st.title(title)
    st.markdown(intro)
    if details is not None:
        with st.expander(details[0]):
            st.markdown(details[1])
    state.show_errors()
    return state


def formulas_on_demand(page: str, label: str, text: str) -> None:
    """Formulas typeset only when asked for: typesetting them delays the first chart."""
    if st.toggle(label, key=f"{page}.formulas"):
        st.markdown(text)


def keep_values(state: UrlState) -> None:
    """Streamlit forgets the value of a widget that is not drawn in a run; re-storing every
    control's value at the top of the run keeps what the user set in views that are hidden
    now (switching back shows them unchanged)."""
    for name in state.fields:
        key = state.key(name)
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def run_specs(specs: Sequence[RunSpec], label: str, weights: Sequence[float] | None = None,
              memory_field: str = "step_size") -> tuple[list[Outcome], int, float]:
    """run_spec for each spec (from the cache where possible) under one progress bar.
    Returns the outcomes, how many came from the cache and the wall time. Running out of
    memory despite the core's estimate becomes a SpecError naming ``memory_field``."""
    started = time.perf_counter()
    weights = list(weights) if weights is not None else [1.0] * len(specs)
    total = sum(weights) or 1.0
    outcomes: list[Outcome] = []

    def task(progress: Callable[[float], None]) -> list[Outcome]:
        if len(specs) > 1 and current_backend().name == "ray":   # every spec's shards at once
            outcomes.extend(run_all(specs, progress=progress))
            return outcomes
        done = 0.0
        for spec, weight in zip(specs, weights):
            outcomes.append(run_spec(spec, progress=lambda f, base=done, w=weight:
                                     progress((base + w * f) / total)))
            done += weight
        return outcomes

    run_with_progress(task, label, memory_field=memory_field)
    return outcomes, sum(o.cached for o in outcomes), time.perf_counter() - started


# Results that a page may keep for the life of the server process (shared by sessions):
# deterministic for a given core code version, so keyed by it. Bounded by remember().
PROCESS_MEMO: dict = {}


def remember(key, value, limit: int = 16):
    if len(PROCESS_MEMO) >= limit:
        PROCESS_MEMO.clear()
    PROCESS_MEMO[key] = value
    return value


def relative_link(link: str) -> str:
    """'/page?query' -> 'page?query': resolved against the current page's URL, so it keeps
    any base path the app is served under."""
    return link.lstrip("/")
