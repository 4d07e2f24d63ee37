"""The frame of a page (on top of ui.state and ui.display): its start (navigation guard, URL
state, title, intro), formulas typeset on demand, views bound to the URL, controls of hidden
views that keep their values, several runs under one progress bar, and relative links."""
from __future__ import annotations

import time
from typing import Callable, Sequence

import streamlit as st

from core.api import Outcome, run_spec
from core.api import run_all
from core.engine.distributed import current_backend
from core.kernel.spec import RunSpec

from .display import literal, run_with_progress
from .navigation import require_app
from .state import PRESENT_KEY, SCENARIO_KEY, Field, UrlState

HEIGHT = 400
PRESENT_HEIGHT = 520
FONT_SIZE, PRESENT_FONT_SIZE = 15, 20
PRESENT_CSS = """<style>
.block-container {max-width: 100% !important; padding-left: 2rem; padding-right: 2rem;}
.stMainBlockContainer p, .stMainBlockContainer li, .stCaption, [data-testid="stCaptionContainer"]
  {font-size: 1.2rem !important;}
</style>"""


def presenting() -> bool:
    """Presentation mode (URL flag ``present=1`` or the sidebar toggle): full-width charts,
    larger fonts, one legend per group of charts, no developer text."""
    return bool(st.session_state.get(PRESENT_KEY, False))


def font_size() -> int:
    return PRESENT_FONT_SIZE if presenting() else FONT_SIZE


def chart_height(height: int = HEIGHT) -> int:
    return max(height, PRESENT_HEIGHT) if presenting() else height


def look_for(sentence: str, container=None) -> None:
    """The caption of a chart, built from its display's measured facts."""
    if sentence:
        (container or st).caption("What to look for: " + sentence)


class _Hidden:
    """A stand-in for a container whose content is not shown (presentation mode)."""

    def __enter__(self):
        self._box = st.empty()
        self._inner = self._box.container()
        return self._inner.__enter__()

    def __exit__(self, *exc):
        result = self._inner.__exit__(*exc)
        self._box.empty()
        return result


def details_box(label: str = "Details"):
    """Developer text (threads, backend, cache, spec ids) behind one expander; nothing of
    it is shown in presentation mode."""
    return _Hidden() if presenting() else st.expander(label, icon=":material/info:")


def _read_flags(page: str) -> None:
    """``present`` and ``scenario`` from the URL: presentation mode lasts the session (until
    ``present=0``); a scenario belongs to the page it was opened on."""
    query = st.query_params
    if "present" in query:
        st.session_state[PRESENT_KEY] = query.get("present") in ("1", "true", "yes", "on")
    if "scenario" in query:
        st.session_state[SCENARIO_KEY] = (page, str(query.get("scenario"))[:40])
    elif st.session_state.get(SCENARIO_KEY, (page, ""))[0] != page:
        st.session_state.pop(SCENARIO_KEY, None)


def scenario_header(page: str, state: UrlState) -> str | None:
    """The opened scenario's title, its look-for sentence and a way back; when the settings
    no longer match the scenario's, the sentence says so instead."""
    from core.claims.scenarios import SCENARIOS

    by_key = {scenario.key: scenario for scenario in SCENARIOS}
    opened = st.session_state.get(SCENARIO_KEY)
    if not opened or opened[0] != page or opened[1] not in by_key:
        return None
    scenario = by_key[opened[1]]
    st.page_link("pages/home.py", label="Back to scenarios", icon=":material/arrow_back:")
    st.title(scenario.title)
    current = state.query()
    changed = [k for k, v in scenario.query.items() if k in current and current[k] != v]
    if changed:
        st.info(literal(f"You changed {', '.join(changed[:4])} from the scenario's settings; "
                        "the captions under each chart describe what is drawn now."),
                icon=":material/tune:")
    else:
        st.info("**What to look for:** " + literal(scenario.look_for, limit=2000)   # whole
                + (f" ({literal(scenario.source)})" if scenario.source else ""),
                icon=":material/visibility:")
    return scenario.key


def presentation_toggle() -> None:
    st.sidebar.toggle("Presentation mode", key=PRESENT_KEY,
                      help="Full-width charts, larger fonts, no developer text (URL: present=1)")
    if presenting():
        st.markdown(PRESENT_CSS, unsafe_allow_html=True)


def open_page(page: str, fields: Sequence[Field], title: str, intro: str, *,
              keep_hidden: bool = False, details: tuple[str, str] | None = None) -> UrlState:
    """The start every page shares: run under app.py's navigation, bind the controls to the
    URL, the title and introduction (``details``: an expander's label and text after it),
    then the notes on URL values that could not be used. ``keep_hidden``: keep the values of
    controls in views hidden in this run (:func:`keep_values`)."""
    require_app()
    _read_flags(page)
    state = UrlState.create(page, fields)
    if keep_hidden:
        keep_values(state)
    presentation_toggle()
    if scenario_header(page, state) is None:
        st.title(title)
    if not presenting():
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
    for line in dict.fromkeys(o.result.meta.get("label_mapping", "") for o in outcomes):
        if line:                     # a file's labels: which became −1 and which +1
            st.caption(literal(line))
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
