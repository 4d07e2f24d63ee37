"""What a page shows: progress of long runs (under the compute guard), the cache note,
errors and warnings as literal text, charts with their HTML download, tables and exports."""
from __future__ import annotations

import re
import time
from typing import Callable, TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.api import Outcome
from core.engine.distributed import shard_note
from core.report.display import plural
from core.report.plots import figure_html
from core.engine.results import SweepResult
from core.kernel.spec import SpecError

from .compute import ComputeGuard, check_budget

T = TypeVar("T")
PROGRESS_AFTER_S = 0.3


def _warnings_of(value, depth: int = 0) -> list[str]:
    """The cache-fault warnings of the outcomes a task returned (lists of outcomes too)."""
    if isinstance(value, Outcome):
        return list(value.warnings)
    if depth < 2 and isinstance(value, (list, tuple)):
        return [line for item in value for line in _warnings_of(item, depth + 1)]
    return []


def run_with_progress(task: Callable[[Callable[[float], None]], T], label: str,
                      memory_field: str = "memory") -> T:
    """Run ``task(progress)`` under the server's compute guard (ui.compute: one slot per
    computation, a wall-time budget, a stop when the visitor leaves); a progress bar appears
    once it has taken PROGRESS_AFTER_S. Running out of memory becomes a SpecError naming
    ``memory_field`` (the page shows it). Cache warnings of the returned outcomes are shown."""
    slot = st.empty()
    started = time.perf_counter()
    bar = None
    guard = ComputeGuard(waiting=lambda: slot.info("Waiting for a free compute slot: other "
                                                   "visitors' runs are computing …",
                                                   icon=":material/hourglass_top:"))

    def progress(fraction: float) -> None:
        nonlocal bar
        guard.check(float(fraction))
        if bar is None and time.perf_counter() - started < PROGRESS_AFTER_S:
            return
        fraction = min(max(float(fraction), 0.0), 1.0)
        text = f"{label} … {fraction:.0%}{shard_note()}"      # " · shards 3/12" on Ray
        if bar is None:
            bar = slot.progress(fraction, text=text)
        else:
            bar.progress(fraction, text=text)

    try:
        value = task(progress)
    except MemoryError:
        raise SpecError(memory_field, "the run did not fit in memory; lower n, d, the width, "
                        "the iterations or the number of step sizes × seeds") from None
    except RuntimeError as error:       # torch reports allocation failures this way
        if "out of memory" not in str(error).lower():
            raise
        raise SpecError(memory_field, f"{str(error).splitlines()[0]}; lower n, d, the width or "
                        "the number of step sizes × seeds") from None
    finally:
        guard.release()
        slot.empty()
    show_warnings(_warnings_of(value))
    return value


def cache_note(runs: int, cached: int, seconds: float, device: str = "") -> None:
    """One caption: how many runs, whether they came from the cache, the time taken."""
    where = f" on {device}" if device else ""
    sweeps = plural(runs, "batched sweep")
    if cached == runs:
        text = f"{sweeps} from cache in {seconds:.2f} s"
    elif cached:
        text = f"{sweeps}, {cached} from cache, {runs - cached} computed{where} in {seconds:.2f} s"
    else:
        text = f"{sweeps} computed{where} in {seconds:.2f} s"
    st.caption(text)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=@/\"'^%;?])")


def literal(text: object, limit: int = 400) -> str:
    """``text`` made inert for Streamlit's markdown: every ASCII punctuation mark is
    backslash-escaped (CommonMark allows it for all of them), so nothing a visitor typed can
    become a link, an image, HTML, a formula or an autolinked URL. Long text is cut."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "…"
    text = " ".join(text.split())          # one line: no headings or lists from newlines
    # GFM turns "https://…", "www.…" and "a@b.c" into links even with escapes; an invisible
    # zero-width space after ":", "." and "@" keeps them plain text.
    text = re.sub(r"([:.@])", "\\1\u200b", text)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def show_error(error: SpecError) -> None:
    """A bad value, naming the field, shown as literal text; the page carries on."""
    st.error(literal(str(error)), icon=":material/error:")


def show_warnings(lines) -> None:
    """Cache faults and the like: one literal line each (the result is shown regardless)."""
    for line in dict.fromkeys(lines):
        st.warning(literal(line), icon=":material/warning:")


@st.cache_resource(max_entries=48, show_spinner=False)
def _memoised(key: tuple, _build: Callable[[], T]) -> T:
    value = _build()
    for item in value if isinstance(value, tuple) else (value,):
        if isinstance(item, go.Figure):
            item._gdx_memoised = True          # chart() may then send its dict made once
    return value


def memoised(key: tuple, build: Callable[[], T]) -> T:
    """What ``build()`` returns (a figure, a display object, a caption), built once per
    server process for this key and shared by every rerun and session: a cached view then
    redraws without rebuilding its plotly figures (building one with animation frames takes
    0.2–1 s; sending the built one takes a tenth of that). The key must name everything the
    value is drawn from (the chart, the canonical spec strings of its results, its options);
    what comes back must not be changed by the caller."""
    return _memoised(tuple(key), build)


class _PreparedFigure(go.Figure):
    """A built figure's plotly dict, made once and handed to ``st.plotly_chart``, which
    otherwise calls ``to_dict()`` (a deep copy that base64-encodes every array) on every rerun:
    60 % of a cached page's server time. Only ``to_dict`` is ever called on it (by
    ``plotly.tools.return_figure_from_figure_or_data``), so ``go.Figure.__init__`` is skipped."""

    def __init__(self, figure: go.Figure):     # noqa: super().__init__ deliberately not called
        object.__setattr__(self, "_prepared", figure.to_dict())

    def to_dict(self) -> dict:
        return self._prepared


def prepared(figure: go.Figure) -> go.Figure:
    """What ``chart`` hands to Streamlit: for a memoised figure (the same object on every
    rerun and in every session, never changed) its dict made once and kept on the figure;
    any other figure as it is."""
    if not getattr(figure, "_gdx_memoised", False):
        return figure
    made = getattr(figure, "_gdx_prepared", None)
    if made is None:                     # two sessions may both make it: the same dict
        made = _PreparedFigure(figure)
        figure._gdx_prepared = made
    return made


def chart(figure: go.Figure, name: str, container=None) -> None:
    """Draw a figure and offer it as a standalone HTML file (plotly.js inlined)."""
    box = container or st
    check_budget()                 # drawing counts against the page load's time budget
    box.plotly_chart(prepared(figure), theme=None, key=f"chart-{name}", config={"displaylogo": False})
    box.download_button("Figure as HTML", data=lambda: figure_html(figure),
                        file_name=f"{name}.html", mime="text/html", key=f"html-{name}",
                        on_click="ignore", type="tertiary", icon=":material/download:")


def result_downloads(result: SweepResult, cached: bool, name: str, container=None) -> None:
    """The CLI's exports of one sweep: CSV and JSON."""
    box = container or st
    left, right = box.columns(2)
    left.download_button(f"{name}.csv", data=result.to_csv, file_name=f"{name}.csv",
                         mime="text/csv", key=f"csv-{name}", on_click="ignore",
                         icon=":material/table:")
    right.download_button(f"{name}.json", data=lambda: result.to_json(cached),
                          file_name=f"{name}.json", mime="application/json",
                          key=f"json-{name}", on_click="ignore", icon=":material/data_object:")


def table(rows: list[dict], **kwargs) -> None:
    """At most payload.TABLE_ROWS rows on the page (evenly spread), saying so; the downloads
    hold every row (four pins of two algorithms × 4096 runs made a 4.9 MB table)."""
    from core.report.display import human_count, spread_indices
    from core.report.payload import TABLE_ROWS

    if len(rows) > TABLE_ROWS:
        st.caption(f"{human_count(TABLE_ROWS)} of {human_count(len(rows))} rows shown, evenly "
                   "spread (the downloads hold every row).")
        rows = [rows[i] for i in spread_indices(len(rows), TABLE_ROWS)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, **kwargs)
