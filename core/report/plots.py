"""Plotly figures for the dashboard: small pure functions from core results to figures.

Nothing here imports streamlit; every builder takes plain results (``SweepResult``,
``ScalingResult``, numpy arrays) and returns a ``plotly.graph_objects.Figure`` or plain
rows, so the pages only read widgets, call ``core`` and draw. Non-finite values become
``None`` (gaps): divergent runs end where they diverge and are marked with a cross.

One rule for every builder (:func:`honest_view`): a value that cannot be drawn — zero or
negative on a log axis, non-finite, or an outlier far beyond the robust bulk of the data —
is never dropped silently. Axis ranges come from the bulk; what lies outside is drawn as a
triangle on the edge of the plot and counted in a note ("11 values outside the view").
Tables go through :func:`display_rows` (4 significant digits, "not solved" for None).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from core.algorithms.builtin import algorithms
from core.analysis.sweeps import status_text, step_map_rows
from core.report.display import (MAX_FRAMES, MAX_SCATTER_POINTS, frame_stride, human_count, point_budget,
                                 spread_indices, thin_indices, thinning_note)
from core.report.player import Frame, add_player
from core.report.display_scaling import slope_number
from core.kernel.registry import Lookup, Names
from core.engine.results import METRIC_DESCRIPTIONS, RunRecord, SweepResult

FONT_SIZE = 15
HEIGHT = 400
TEMPLATE = "plotly_white"
DIVERGED_COLOR = "#d62728"

# An algorithm's label, line style and weight come from its registry entry (core.algorithms.builtin).
ALGORITHM_LABELS = Lookup(lambda: {name: a.label for name, a in algorithms().items()})
ALGORITHM_DASH = Lookup(lambda: {name: a.dash for name, a in algorithms().items()})
PERCEPTRONS = Names(lambda: (name for name, a in algorithms().items() if a.perceptron))
METRIC_TITLES = {
    "loss": "logistic loss f(θₜ)",
    "accuracy": "training accuracy",
    "min_margin": "min margin minᵢ mᵢ",
    "grad_norm": "gradient norm ‖∇f(θₜ)‖",
    "param_norm": "‖θₜ‖",
    "perceptron_gap": "distance to the perceptron",
}
LOG_METRICS = ("loss", "grad_norm", "param_norm", "perceptron_gap")
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


# ---------------------------------------------------------------------- helpers
def clean(values: Iterable[float]) -> list[float | None]:
    """Floats with inf/NaN replaced by None (a gap in a plotly trace, null in JSON)."""
    return [float(v) if math.isfinite(float(v)) else None for v in values]


def format_step(step: float) -> str:
    """3 significant digits: 0.05, 1000, 2.5·10⁶."""
    if step == 0 or 1e-3 <= abs(step) < 1e5:
        return np.format_float_positional(float(f"{step:.3g}"), trim="-")
    exponent = math.floor(math.log10(abs(step)))
    mantissa = f"{step / 10**exponent:.3g}"
    power = "10" + str(exponent).translate(SUPERSCRIPTS)
    return power if mantissa == "1" else f"{mantissa}·{power}"


def algorithm_label(algorithm: str) -> str:
    return ALGORITHM_LABELS.get(algorithm, algorithm)


def step_colors(steps: Iterable[float]) -> dict[float, str]:
    """One colour per step size, ordered along a perceptually ordered scale by log γ."""
    unique = sorted(set(float(s) for s in steps))
    if not unique:
        return {}
    logs = np.log10(unique)
    span = logs[-1] - logs[0]
    positions = [0.45] if span == 0 else [float(p) for p in 0.85 * (logs - logs[0]) / span]
    colors = sample_colorscale("Plasma", positions)
    return dict(zip(unique, colors))


@lru_cache(maxsize=1)
def _template() -> dict:
    return go.Figure(layout=dict(template=TEMPLATE)).layout.template.to_plotly_json()


def styled_figure() -> go.Figure:
    """An empty figure with the dashboard's template. plotly re-validates a template every
    time it is set (~6 ms, most of a cached page's time per chart); the template is validated
    once here and then set without validation, after which the figure validates as usual
    (tests/test_app_plots.py checks the JSON equals the plain construction)."""
    figure = go.Figure(layout=dict(template=_template()), _validate=False)
    figure._validate = figure.layout._validate = True
    return figure


def base_figure(title: str, x_title: str, y_title: str, *, log_x: bool = False,
                log_y: bool = False, height: int = HEIGHT, plain_x: bool = False,
                plain_y: bool = False) -> go.Figure:
    """An empty figure in the dashboard's style. Log axes label powers of ten (10⁻³);
    ``plain_x``/``plain_y`` print plain numbers instead (counts, step sizes)."""
    figure = styled_figure()
    figure.update_layout(
        height=height, title=dict(text=title, x=0.01, xanchor="left"),
        font=dict(size=FONT_SIZE), margin=dict(l=70, r=20, t=60, b=60),
        legend=dict(font=dict(size=FONT_SIZE - 2), groupclick="togglegroup"),
        hovermode="closest")
    figure.update_xaxes(title=x_title, type="log" if log_x else "linear",
                        exponentformat="power" if log_x and not plain_x else "none",
                        showline=True, linecolor="#888", mirror=True, zeroline=False)
    figure.update_yaxes(title=y_title, type="log" if log_y else "linear",
                        exponentformat="power" if log_y and not plain_y else "none",
                        showline=True, linecolor="#888", mirror=True, zeroline=not log_y)
    return figure


def tick_text(value: float) -> str:
    """0.05, 20, 1000 as plain numbers; 10⁻⁶ or 2·10⁸ outside 1e-3…1e5."""
    if 1e-3 <= value < 1e5:
        return f"{value:g}"
    # read off the float's own decimal form: 10**-324 is 0, and subnormal values such as
    # 1e-323 lose the digits that value / 10**exponent needs
    digits, exponent = f"{value:.0e}".split("e")
    mantissa, exponent = int(digits), int(exponent)
    power = "10" + str(exponent).translate(SUPERSCRIPTS)
    return power if mantissa == 1 else f"{mantissa}·{power}"


FLOAT_DECADES = (-323, 308)      # the powers of ten a double holds (10⁻³²³ is subnormal)


def log_ticks(values: Iterable[float], max_ticks: int = 10) -> list[float]:
    """Tick values 1, 2, 5, 10, 20, … covering the positive finite ``values``; decades only
    (every k-th decade if needed) when that would be more than ``max_ticks`` ticks."""
    array = np.asarray([v for v in values if v is not None], dtype=float)
    array = array[np.isfinite(array) & (array > 0)]
    if array.size == 0:
        return []
    low, high = float(array.min()), float(array.max())
    # within the decades a float holds: 10.0**-324 is 0 (no log), 10.0**309 raises
    first = max(math.floor(math.log10(low)), FLOAT_DECADES[0])
    last = min(math.ceil(math.log10(high)), FLOAT_DECADES[1])
    ticks = [m * 10.0**e for e in range(first, last + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if low / 2.2 <= t <= high * 2.2 and 0 < t < math.inf]
    if sum(low <= t <= high for t in ticks) < 2 and high > low:
        # a narrow range (280 … 300): a few rounded values inside it, so the axis has numbers
        ticks = sorted({float(f"{v:.2g}") for v in np.geomspace(low, high, 3)})
    return ticks if len(ticks) <= max_ticks else _decade_ticks(first, last, max_ticks)


def _decade_ticks(first: int, last: int, max_ticks: int) -> list[float]:
    decades = list(range(first, last + 1))
    stride = max(1, math.ceil(len(decades) / max_ticks))
    return [10.0**e for e in decades[::stride]]


def tidy_log_axis(figure: go.Figure, axis: str = "y", values: Iterable[float] | None = None,
                  max_ticks: int = 10) -> None:
    """Readable ticks on a log axis: 1-2-5 steps (or decades) with full labels."""
    if values is None:
        values = [v for trace in figure.data for v in (getattr(trace, axis) or ())
                  if isinstance(v, (int, float))]
    ticks = log_ticks(values, max_ticks)
    if ticks:
        update = figure.update_yaxes if axis == "y" else figure.update_xaxes
        update(tickvals=ticks, ticktext=[tick_text(t) for t in ticks])


def figure_html(figure: go.Figure) -> str:
    """A standalone HTML page with plotly.js inlined (works offline)."""
    return figure.to_html(include_plotlyjs=True, full_html=True)


def empty_figure(title: str, message: str, height: int = HEIGHT) -> go.Figure:
    figure = base_figure(title, "", "", height=height)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                          showarrow=False, font=dict(size=FONT_SIZE))
    return figure


def last_finite(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    keep = np.flatnonzero(np.isfinite(y))
    if keep.size == 0:
        return None
    return float(x[keep[-1]]), float(y[keep[-1]])


def run_name(algorithm: str, record: RunRecord, many_seeds: bool) -> str:
    name = f"{algorithm_label(algorithm)} γ={format_step(record.step_size)}"
    return f"{name} seed {record.seed}" if many_seeds else name


# ---------------------------------------------------------------------- honest views
EDGE_COLOR = "#444"
EDGE_META = "edge"          # traces drawn by honest_view (skipped when it runs again)


def _log10(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(values)


def robust_range(values: Iterable[float], log: bool = False,
                 min_gap: float | None = None) -> tuple[float, float] | None:
    """The view of ``values`` in axis units (log10 for a log axis): every value except
    outliers, padded. Outliers are what lies beyond an empty gap wider than
    ``max(10 × IQR, min_gap)`` above or below the median (``min_gap``: 6 decades on a log
    axis), so one blown-up run cannot stretch the axis, whatever the number of points."""
    array = np.asarray([v for v in values if v is not None], dtype=float)
    array = array[np.isfinite(array)]
    if log:
        array = _log10(array[array > 0])
    if array.size == 0:
        return None
    u = np.sort(array)
    q1, median, q3 = (float(q) for q in np.quantile(u, [0.25, 0.5, 0.75]))
    if min_gap is None:
        min_gap = 6.0 if log else 1e-12 + 0.5 * max(abs(q1), abs(q3))
    threshold = max(10 * (q3 - q1), min_gap)
    # On a log axis tiny values are real (a distance or loss falling towards 0): below the
    # median only a gap of 20 decades counts; blow-ups upwards are cut at min_gap.
    low_threshold = max(threshold, 20.0) if log else threshold
    gaps = np.diff(u)
    above = np.flatnonzero((gaps > threshold) & (u[:-1] >= median))
    below = np.flatnonzero((gaps > low_threshold) & (u[1:] <= median))
    high = float(u[above[0]]) if above.size else float(u[-1])
    low = float(u[below[-1] + 1]) if below.size else float(u[0])
    if log:
        pad = 0.25 if high - low < 0.5 else 0.08
    else:
        pad = 0.04 * (high - low) if high > low else max(0.1 * abs(high), 0.5)
    return low - pad, high + pad


def _trace_points(trace, axis: str) -> list[tuple[Any, Any]]:
    xs = list(getattr(trace, "x", None) or ())
    ys = list(getattr(trace, "y", None) or ())
    if axis == "x":
        xs, ys = ys, xs
    if len(xs) != len(ys):
        xs = list(range(len(ys)))
    return list(zip(xs, ys))


def honest_view(figure: go.Figure, axis: str = "y", *, log: bool | None = None,
                below: Sequence[tuple[Any, str]] = (), counts: dict[str, int] | None = None,
                note: bool = True) -> go.Figure:
    """Apply the charts' one rule to ``figure``'s ``axis`` (see the module docstring).

    The range covers the robust bulk of every drawn value (traces marked with
    ``meta="edge"`` or ``meta="skip"`` are ignored). Values outside it become triangles on the
    edge of the plot (their hover text says the real value). ``below``: (x, text) of values
    that cannot be drawn on a log axis (≤ 0), drawn as triangles on the bottom edge.
    ``counts``: other values not drawn, by reason ("non-finite": 3), added to the note."""
    if log is None:
        layout_axis = figure.layout.yaxis if axis == "y" else figure.layout.xaxis
        log = layout_axis.type == "log"
    data = [t for t in figure.data if getattr(t, "meta", None) not in (EDGE_META, "skip")
            and isinstance(t, (go.Scatter, go.Scattergl))]
    values = [v for t in data for _, v in _trace_points(t, axis) if isinstance(v, (int, float))]
    span = robust_range(values, log)
    top: list[tuple[Any, float, str]] = []
    bottom: list[tuple[Any, str]] = list(below)
    if span is not None:
        outside_top, outside_bottom = _outside(data, axis, span, log)
        top, bottom = outside_top, bottom + outside_bottom
        _draw_view(figure, axis, span, log, top, bottom)
    notes = _view_notes(len(top) + len(bottom) - len(below), len(below), span is not None, counts)
    if notes and note:
        add_subtitle(figure, "<br>".join(notes))
    return figure


def _outside(data: list, axis: str, span: tuple[float, float], log: bool
             ) -> tuple[list[tuple[Any, float, str]], list[tuple[Any, str]]]:
    """Drawn points above and below the view ``span`` (axis units), each point once."""
    view_low, view_high = span
    top, bottom, seen = [], [], set()
    for trace in data:
        for x, v in _trace_points(trace, axis):
            if not _drawable(v, log) or (x, v) in seen:
                continue
            u = math.log10(v) if log else v
            if u > view_high:
                top.append((x, v, trace.name or ""))
            elif u < view_low:
                bottom.append((x, f"{trace.name or ''}: {v:.4g} (below the view)"))
            else:
                continue
            seen.add((x, v))
    return top, bottom


def _drawable(value: Any, log: bool) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and not (log and value <= 0)


def _draw_view(figure: go.Figure, axis: str, span: tuple[float, float], log: bool,
               top: list, bottom: list) -> None:
    """Set the view and draw what lies outside it as triangles on its edges."""
    view_low, view_high = span
    update = figure.update_yaxes if axis == "y" else figure.update_xaxes
    update(range=[view_low, view_high], autorange=False)
    edge_high, edge_low = (10 ** view_high, 10 ** view_low) if log else (view_high, view_low)
    if top:
        edge_trace(figure, axis, [p[0] for p in top], edge_high, "triangle-up",
                    [f"{name}: {v:.4g} (above the view)" for _, v, name in top],
                    "outside the view (▲ above)")
    if bottom:
        label = "≤ 0 or below the view (▼)" if log else "outside the view (▼ below)"
        edge_trace(figure, axis, [p[0] for p in bottom], edge_low, "triangle-down",
                    [p[1] for p in bottom], label)


def _view_notes(outside: int, below: int, has_view: bool, counts: dict[str, int] | None) -> list[str]:
    notes = []
    if below and not has_view:
        notes.append(f"{_count(below, 'value')} ≤ 0 (a log axis cannot show them)")
    if outside:
        notes.append(f"{_count(outside, 'value')} outside the view (▲▼)")
    if below and has_view:
        notes.append(f"{_count(below, 'value')} ≤ 0, not on a log axis (▼)")
    for reason, count in (counts or {}).items():
        if count:
            notes.append(f"{count} {reason} {'value' if count == 1 else 'values'} not drawn")
    return notes


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


SUBTITLE_SIZE = FONT_SIZE - 3


def title_room(lines: int, title_size: float) -> int:
    """The top margin a title and ``lines`` subtitle lines need to stay clear of the plot
    frame. Plotly centres the title in the top margin (title.y "auto") and hangs the
    subtitle under it, so the margin is twice the way from the title's middle to the
    subtitle's last line (half the title, 1.3 lines of SUBTITLE_SIZE per line, 5 px)."""
    if lines <= 0:
        return 0
    return math.ceil(2 * (0.6 * title_size + 1.3 * SUBTITLE_SIZE * lines + 5))


def add_subtitle(figure: go.Figure, text: str) -> None:
    """A line under the title (notes on what is not drawn): never over the data."""
    current = figure.layout.title.subtitle.text if figure.layout.title.subtitle else None
    text = f"{current}<br>{text}" if current else text
    figure.update_layout(title=dict(subtitle=dict(text=text, font=dict(size=SUBTITLE_SIZE,
                                                                       color="#444"))))
    top = figure.layout.margin.t if figure.layout.margin.t is not None else 60
    lines = text.count("<br>") + 1
    title_size = figure.layout.title.font.size or 1.2 * (figure.layout.font.size or FONT_SIZE)
    figure.update_layout(margin=dict(t=max(top, 70 + 15 * lines, title_room(lines, title_size))))


def align_panels(figures: list) -> None:
    """Side-by-side panels share one plot box: the same top margin (the tallest subtitle's,
    with room under it) and the same height and bottom margin."""
    top = max(f.layout.margin.t or 80 for f in figures) + 22
    height = max(f.layout.height for f in figures)
    bottom = max(f.layout.margin.b if f.layout.margin.b is not None else 80 for f in figures)
    for figure in figures:
        figure.update_layout(height=height + 10, margin=dict(t=top, b=bottom))


MIN_PLOT = 240                   # px of plot a chart keeps under its title and subtitle
MAX_LEGEND_PLOT = 480            # the plot grows to its legend's height up to this


def room_for_legend(figure: go.Figure, font_size: float | None = None) -> None:
    """The chart grows so that its plot keeps MIN_PLOT px under a long subtitle, and the
    height of its legend beside it (two font sizes a row, and its padding): five subtitle
    lines left a half-width panel a 150 px plot whose y title ran up into the subtitle, and a
    nine-entry legend scrolled with its last entry hidden."""
    size = font_size or figure.layout.font.size or FONT_SIZE
    beside = figure.layout.legend.y is None or figure.layout.legend.y >= 0
    rows = sum(1 for trace in figure.data if trace.showlegend is not False and trace.name) \
        if figure.layout.showlegend is not False and beside else 0
    need = max(MIN_PLOT, min(rows * 2 * size + 24, MAX_LEGEND_PLOT))     # 24: its padding
    plot = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
    if plot < need:
        figure.update_layout(height=figure.layout.height + need - plot)


def legend_under(figure: go.Figure) -> None:
    """A narrow panel keeps its plot area: its legend goes under the x-axis title, in a bottom
    margin grown by the legend's rows (a legend beside a half-width plot squeezed it to 50 px);
    the plot keeps its height, so side-by-side panels keep the same plot box."""
    rows = sum(1 for trace in figure.data if trace.showlegend is not False)
    top = figure.layout.margin.t if figure.layout.margin.t is not None else 80
    bottom = figure.layout.margin.b if figure.layout.margin.b is not None else 80
    plot = max(figure.layout.height - top - bottom, 100)
    extra = int(rows * 2 * (figure.layout.font.size or FONT_SIZE)) + 20
    figure.update_layout(legend=dict(orientation="v", yanchor="top", y=-(bottom + 10) / plot,
                                     x=0, xanchor="left"),
                         height=figure.layout.height + extra, margin=dict(b=bottom + extra))


def legends_under(figures: list) -> None:
    """Side-by-side panels: each legend still beside its plot goes under it
    (:func:`legend_under`); two entries such as "CNN k=3 η=10⁸ (seeds 0, 1)" beside a
    half-width panel left its plot 90 px wide."""
    for figure in figures:
        entries = [t for t in figure.data if t.showlegend is not False and t.name]
        beside = figure.layout.legend.y is None or figure.layout.legend.y >= 0
        if entries and figure.layout.showlegend is not False and beside:
            legend_under(figure)


def share_legend(figures: list) -> None:
    """Side-by-side panels: a panel whose every legend entry (beside the plot) the last panel's
    legend also lists shows none of its own, and gets its width back for the plot (a six-entry
    legend beside each of two half-width panels left about 180 px of plot). The last panel may
    list more (its own reference lines)."""
    entries = [[t.name for t in f.data if t.showlegend is not False and t.name] for f in figures]
    under = any(f.layout.legend.y is not None and f.layout.legend.y < 0 for f in figures)
    if len(figures) < 2 or under:
        return                    # a legend under its plot (pins) stays: its margin is its own
    listed = set(entries[-1])
    for figure, names in zip(figures[:-1], entries[:-1]):
        if names and set(names) <= listed:
            figure.update_layout(showlegend=False)
            add_subtitle(figure, "legend: with the next chart")


def edge_trace(figure: go.Figure, axis: str, where: list, edge: float, symbol: str,
               text: list[str], name: str) -> None:
    """Marks on a plot edge (▲/▼) for what lies beyond the axis window, with their hover text."""
    position = [edge] * len(where)
    x, y = (where, position) if axis == "y" else (position, where)
    figure.add_trace(go.Scatter(
        x=x, y=y, mode="markers", name=name, meta=EDGE_META, cliponaxis=False,
        marker=dict(symbol=symbol, size=9, color=EDGE_COLOR), text=text,
        hovertemplate="%{text}<extra></extra>"))


def display_value(value: Any, digits: int = 4) -> Any:
    """A table cell: floats to ``digits`` significant digits (as text), None (and pandas'
    missing value) as "—"."""
    if value is None or type(value).__name__ == "NAType":
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if value == 0 or 1e-4 <= abs(value) < 1e6:
            return np.format_float_positional(float(f"{value:.{digits}g}"), trim="-")
        return f"{value:.{digits - 1}e}"
    return value


def display_rows(rows: Sequence[dict[str, Any]], digits: int = 4,
                 unsolved: str = "not solved") -> list[dict[str, Any]]:
    """Rows for a table people read: sensible significant digits, ``unsolved`` instead of
    None in "iterations to …" columns, and each column one type (text where any cell is)."""
    out = []
    for row in rows:
        cells = {}
        for name, value in row.items():
            if value is None and name.startswith("iterations to"):
                cells[name] = unsolved
            else:
                cells[name] = display_value(value, digits)
        out.append(cells)
    for name in (out[0] if out else {}):
        if any(isinstance(r.get(name), str) for r in out):
            for r in out:
                r[name] = str(r[name])
    return out


def missing_as_text(rows: Sequence[dict[str, Any]], digits: int = 4) -> list[dict[str, Any]]:
    """Rows whose columns keep their numbers (a table sorts them) except the columns that hold
    a missing value (None or NaN) or a word: those become text, "—" for the missing cells
    and the numbers as :func:`display_value` writes them, so a table never shows "None" or
    "nan" and no column mixes numbers and words."""
    def missing(value: Any) -> bool:
        return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))

    names = list(dict.fromkeys(name for row in rows for name in row))
    gaps = {name for name in names
            if any(missing(row.get(name)) or isinstance(row.get(name), str) for row in rows)}
    return [{name: (str(display_value(value, digits)) if name in gaps else value)
             for name, value in row.items()} for row in rows]


def shade(color: str, index: int, count: int) -> str:
    """The ``index``-th of ``count`` shades of ``color`` (seeds of one step size): from the
    colour itself towards white, so seeds are told apart but keep their step size's hue."""
    if count <= 1 or index <= 0:
        return color
    if color.startswith("#"):
        value = color.lstrip("#")
        rgb = [int(value[i:i + 2], 16) for i in (0, 2, 4)]
    else:
        rgb = [float(part) for part in color[color.index("(") + 1:color.index(")")].split(",")[:3]]
    mix = 0.55 * index / (count - 1)
    r, g, b = (round(c + (255 - c) * mix) for c in rgb)
    return f"rgb({r},{g},{b})"


def seed_range(seeds: Sequence[int]) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}–{seeds[-1]}"
    return "seeds " + ", ".join(str(s) for s in seeds)


# ---------------------------------------------------------------------- dynamics
def metric_series(record: RunRecord, metric: str, per_norm: bool = False) -> np.ndarray | None:
    """The recorded values of ``metric`` (``per_norm``: divided by ‖θ_t‖, 0/0 -> NaN)."""
    if metric not in record.history:
        return None
    values = np.asarray(record.history[metric], dtype=float)
    if per_norm:
        norms = np.asarray(record.history["param_norm"], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(norms > 0, values / norms, np.nan)
    return values


PIN_COLORS = ("#7f7f7f", "#17becf", "#bcbd22", "#8c564b")
GL_POINTS = 1500         # longer series are drawn with WebGL (scattergl)


def _line(x: np.ndarray, y: np.ndarray, **kwargs) -> go.Scatter | go.Scattergl:
    """A line trace; WebGL for long series (the browser draws them much faster)."""
    kind = go.Scattergl if len(x) > GL_POINTS else go.Scatter
    return kind(x=np.asarray(x).tolist(), y=clean(y), mode="lines", **kwargs)


def _any_positive(results: Sequence[SweepResult], metric: str, per_norm: bool) -> bool:
    for result in results:
        for record in result.runs:
            values = metric_series(record, metric, per_norm)
            if values is not None and np.any(np.isfinite(values) & (values > 0)):
                return True
    return False


def _view_values(figure: go.Figure) -> list[float]:
    """Both ends of a log y axis's view, for its tick labels."""
    low, high = figure.layout.yaxis.range or (None, None)
    if low is None:
        return [v for trace in figure.data for v in (trace.y or ()) if isinstance(v, (int, float))]
    return [10 ** low, 10 ** high]


def run_table(results: Sequence[SweepResult]) -> list[dict[str, Any]]:
    """One row per run: iterations to solve, divergence and final values."""
    rows = []
    for result in results:
        for record in result.runs:
            rows.append({
                "algorithm": algorithm_label(result.spec.algorithm),
                "step size γ": record.step_size,
                "seed": record.seed,
                "iterations to solve": record.iterations_to_solve,
                "status": status_text(record),
                "last iteration": record.last_iteration,
                "final loss": _finite_or_none(record.final_loss),
                "final accuracy": _finite_or_none(record.final_accuracy),
            })
    return rows


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- trajectories
def decision_values(spec, theta: np.ndarray, points: np.ndarray) -> np.ndarray:
    """g(b; θ) at each row of ``points`` for the spec's model (via the engine's models)."""
    import torch

    from core.models.builtin import build

    model = build(spec)
    features = torch.as_tensor(points, dtype=torch.float64)
    labels = torch.ones(points.shape[0], dtype=torch.float64)
    shared = model.prepare(features, labels)
    outputs, _ = model.outputs(torch.as_tensor(theta[None, :], dtype=torch.float64), shared)
    return outputs[0].numpy()


def _box(features: np.ndarray, pad: float = 0.3) -> tuple[float, float, float, float]:
    """A square view around 2-D points (equal scales, so angles are true)."""
    low, high = features.min(axis=0), features.max(axis=0)
    center = (low + high) / 2
    half = max(float((high - low).max()), 1e-9) * (0.5 + pad)
    return (float(center[0] - half), float(center[0] + half), float(center[1] - half),
            float(center[1] + half))


def unique_points(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (point, label) rows with their multiplicities (worst_case repeats one point)."""
    stacked = np.column_stack([features, labels])
    rows, counts = np.unique(stacked, axis=0, return_counts=True)
    return rows[:, :-1], rows[:, -1], counts


def drawn_points(features: np.ndarray, labels: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The distinct points a 2-D chart draws: all of them up to MAX_SCATTER_POINTS, else a
    fixed random sample of that many (and a note saying so)."""
    points, point_labels, copies = unique_points(features, labels)
    if len(points) <= MAX_SCATTER_POINTS:
        return points, point_labels, copies, ""
    shown = np.sort(np.random.default_rng(0).choice(len(points), MAX_SCATTER_POINTS, replace=False))
    note = f"{human_count(MAX_SCATTER_POINTS)} of {human_count(len(labels))} points drawn"
    return points[shown], point_labels[shown], copies[shown], note


def boundary_figure(spec, features: np.ndarray, labels: np.ndarray, record: RunRecord,
                    index: int, algorithm: str = "", grid: int = 80,
                    height: int = 460) -> go.Figure:
    """2-D data with the decision boundary {b : g(b; θ_t) = 0} of ``record`` at the
    ``index``-th recorded iteration; earlier recorded boundaries are drawn faintly."""
    t = int(record.history["iteration"][index])
    title = f"decision boundary at t = {t} ({run_name(algorithm, record, False)})"
    figure = base_figure(title, "b₁", "b₂", height=height)
    x0, x1, y0, y1 = _box(features)
    xs, ys = np.linspace(x0, x1, grid), np.linspace(y0, y1, grid)
    mesh = np.array(np.meshgrid(xs, ys)).reshape(2, -1).T
    earlier = sorted(set(np.linspace(0, index, min(index, 6) + 1).round().astype(int)) - {index})
    legend_shown = False
    for step, past in enumerate(earlier):
        drawn = _add_zero_contour(
            figure, spec, record.params[past], mesh, xs, ys,
            color="rgba(90,90,90,%.2f)" % (0.15 + 0.35 * step / max(len(earlier), 1)), width=1.5,
            name=f"t = {int(record.history['iteration'][past])}", legend=not legend_shown,
            legend_name="earlier boundaries")
        legend_shown = legend_shown or drawn is not None
    values = _add_zero_contour(figure, spec, record.params[index], mesh, xs, ys, color="#111",
                               width=4, name=f"t = {t}", legend=True,
                               legend_name=f"boundary at t = {t}")
    margins = decision_values(spec, record.params[index], features) * labels
    points, point_labels, counts, drawn_note = drawn_points(features, labels)
    wrong_point = decision_values(spec, record.params[index], points) * point_labels <= 0
    for label, color, symbol in ((1.0, "#1f77b4", "circle"), (-1.0, "#ff7f0e", "square")):
        keep = point_labels == label
        if not keep.any():
            continue
        sizes = 10 + 4 * np.log10(counts[keep])
        figure.add_trace(go.Scatter(
            x=points[keep, 0].tolist(), y=points[keep, 1].tolist(), mode="markers",
            name=f"label {int(label):+d}",
            marker=dict(color=color, symbol=symbol, size=sizes.tolist(),
                        line=dict(width=np.where(wrong_point[keep], 3, 1).tolist(),
                                  color=np.where(wrong_point[keep], DIVERGED_COLOR, "#333").tolist())),
            customdata=counts[keep].tolist(),
            hovertemplate="b=(%{x:.3g}, %{y:.3g})<br>copies: %{customdata}<extra></extra>"))
    wrong = int((margins <= 0).sum())
    note = (f"{wrong} of {len(labels)} points misclassified (red outline)"
            + ("" if values is not None else "; g has no zero level in view")
            + (f"<br>Thinned: {drawn_note} (the count uses every point)" if drawn_note else ""))
    figure.update_layout(title=dict(subtitle=dict(text=note)), margin=dict(t=85))
    figure.update_xaxes(range=[x0, x1], constrain="domain")
    figure.update_yaxes(range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain")
    return figure


BOUNDARY_SPEEDS_MS = {"▶ play": 350, "▶▶ fast": 90}     # frame duration of each play speed


def boundary_animation(spec, features: np.ndarray, labels: np.ndarray, record: RunRecord,
                       algorithm: str = "", max_frames: int = MAX_FRAMES, grid: int = 40,
                       height: int = 640) -> go.Figure:
    """The decision boundary of ``record`` through its recorded iterations as plotly frames:
    play at two speeds, pause, one step back or on, reset, and the slider (core.player). Everything
    is computed here once from the recorded θₜ; playing never reruns anything.

    The size is fixed before anything is built (the payload bound): at most ``max_frames``
    frames (every k-th recorded iteration, the last one always), at most
    MAX_SCATTER_POINTS distinct points drawn; a frame carries only the boundary and the
    misclassified points drawn. The counts in each frame's note are over all n points."""
    iterations = np.asarray(record.history["iteration"])
    stride = frame_stride(len(iterations), max_frames)
    picked = sorted(set(range(0, len(iterations), stride)) | {len(iterations) - 1})
    x0, x1, y0, y1 = _box(features)
    xs, ys = np.linspace(x0, x1, grid), np.linspace(y0, y1, grid)
    mesh = np.array(np.meshgrid(xs, ys)).reshape(2, -1).T
    points, point_labels, copies, drawn_note = drawn_points(features, labels)
    thinned = [drawn_note] if drawn_note else []
    if stride > 1:
        thinned.append(f"every {stride}th of {human_count(len(iterations))} recorded iterations")
    thin_note = ("Thinned: " + "; ".join(thinned) + " (counts use every point)") if thinned else ""

    def frame_data(index: int) -> tuple[list, str]:
        theta = record.params[index]
        finite = bool(np.all(np.isfinite(theta)))
        z = decision_values(spec, theta, mesh).reshape(grid, grid) if finite else np.full((grid, grid), np.nan)
        wrong = (decision_values(spec, theta, points) * point_labels <= 0) if finite else \
            np.ones(len(points), dtype=bool)
        contour = go.Contour(x=xs.tolist(), y=ys.tolist(),
                             z=[[float(f"{v:.3g}") if math.isfinite(v) else None for v in row] for row in z],
                             contours=dict(start=0, end=0, size=1, coloring="none"),
                             line=dict(color="#111", width=4), showscale=False,
                             name="boundary g(b; θₜ) = 0", hoverinfo="skip")
        misses = go.Scatter(x=points[wrong, 0].tolist(), y=points[wrong, 1].tolist(), mode="markers",
                            name="misclassified", hoverinfo="skip",
                            marker=dict(size=(12 + 4 * np.log10(copies[wrong])).tolist(),
                                        color="rgba(0,0,0,0)", line=dict(width=3, color=DIVERGED_COLOR)))
        count = int((decision_values(spec, theta, features) * labels <= 0).sum()) if finite else len(labels)
        note = f"t = {int(iterations[index])}: {count} of {len(labels)} misclassified"
        return [contour, misses], note + (f"<br>{thin_note}" if thin_note else "")

    title = f"decision boundary over the iterations ({run_name(algorithm, record, False)})"
    figure = base_figure(title, "b₁", "b₂", height=height)
    first, first_note = frame_data(picked[0])
    figure.add_trace(first[0])
    figure.add_trace(first[1])
    for label, color, symbol in ((1.0, "#1f77b4", "circle"), (-1.0, "#ff7f0e", "square")):
        keep = point_labels == label
        figure.add_trace(go.Scatter(
            x=points[keep, 0].tolist(), y=points[keep, 1].tolist(), mode="markers",
            name=f"label {int(label):+d}", customdata=copies[keep].tolist(),
            marker=dict(color=color, symbol=symbol, size=(10 + 4 * np.log10(copies[keep])).tolist(),
                        line=dict(width=1, color="#333")),
            hovertemplate="b=(%{x:.3g}, %{y:.3g})<br>copies: %{customdata}<extra></extra>"))
    frames = []
    for index in picked:
        data, note = frame_data(index)
        frames.append(Frame(str(int(iterations[index])), data, [0, 1],
                            layout=dict(title=dict(subtitle=dict(text=note)))))
    figure.update_layout(title=dict(subtitle=dict(text=first_note)), margin=dict(t=120, b=60),
                         showlegend=False)
    add_player(figure, frames, prefix="iteration t = ", speeds=BOUNDARY_SPEEDS_MS)
    figure.update_xaxes(range=[x0, x1], constrain="domain")
    figure.update_yaxes(range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain")
    return figure


def _add_zero_contour(figure, spec, theta, mesh, xs, ys, *, color, width, name, legend,
                      legend_name) -> np.ndarray | None:
    if not np.all(np.isfinite(theta)):
        return None
    values = decision_values(spec, theta, mesh).reshape(len(ys), len(xs))
    if not (values.min() < 0 < values.max()):
        return None
    figure.add_trace(go.Contour(
        x=xs.tolist(), y=ys.tolist(), z=values.tolist(), contours=dict(start=0, end=0, size=1,
                                                                       coloring="none"),
        line=dict(color=color, width=width), showscale=False, name=legend_name if legend else name,
        showlegend=legend, legendgroup=legend_name, hoverinfo="skip"))
    return values


def direction_paths(results: Sequence[SweepResult]) -> tuple[list[tuple[str, RunRecord, np.ndarray]], np.ndarray]:
    """θ_t/‖θ_t‖ of every run that kept θ, projected on the two principal directions of
    all of them together. Returns [(algorithm, record, (k, 2) coordinates)] and the
    explained variance ratio of the two directions."""
    runs, stacks = [], []
    for result in results:
        for record in result.runs:
            if record.params is None:
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                # scale first: θ of a diverging run can overflow ‖θ‖² in float64
                scale = np.max(np.abs(record.params), axis=1)
                norms = scale * np.linalg.norm(record.params / np.where(scale > 0, scale, 1)[:, None],
                                               axis=1)
            keep = np.isfinite(norms) & (norms > 0)
            directions = np.full_like(record.params, np.nan)
            directions[keep] = record.params[keep] / norms[keep, None]
            runs.append((result.spec.algorithm, record, directions))
            stacks.append(directions[keep])
    if not runs:
        return [], np.zeros(2)
    matrix = np.concatenate(stacks)
    center = matrix.mean(axis=0)
    _, singular, basis = np.linalg.svd(matrix - center, full_matrices=False)
    basis = basis[:2]
    if basis.shape[0] < 2:
        basis = np.vstack([basis, np.zeros((2 - basis.shape[0], matrix.shape[1]))])
    total = float((singular**2).sum())
    explained = (singular[:2] ** 2 / total) if total > 0 else np.zeros(2)
    explained = np.pad(explained, (0, 2 - explained.size))
    return [(a, r, (d - center) @ basis.T) for a, r, d in runs], explained


def direction_figure(results: Sequence[SweepResult], selected: tuple[str, float, int] | None,
                     t: int | None, height: int = 560) -> go.Figure:
    """The path of θ_t/‖θ_t‖ in the plane of its two principal directions; the selected
    run (algorithm, step size, seed) is drawn bold with a marker at iteration ``t``."""
    paths, explained = direction_paths(results)
    title = "direction θₜ/‖θₜ‖ on its two principal directions"
    if not paths:
        return empty_figure(title, "θₜ was not kept (too many parameters × iterations)", height)
    figure = base_figure(title, f"PC 1 ({explained[0]:.0%} of variance)",
                         f"PC 2 ({explained[1]:.0%} of variance)", height=height)
    colors = step_colors(r.step_size for _, r, _ in paths)
    budget = point_budget(len(paths), max(len(c) for _, _, c in paths))
    keep = set(spread_indices(len(paths), budget.drawn_traces))
    for index, (algorithm, record, coords) in enumerate(paths):
        bold = selected is not None and (algorithm, record.step_size, record.seed) == tuple(selected)
        if index in keep or bold:
            _direction_path(figure, algorithm, record, coords, colors[record.step_size],
                            budget.points_per_trace, bold, selected is None, t if bold else None)
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
                         margin=dict(b=140), showlegend=len(keep) <= 24)
    if thinning_note(budget):
        add_subtitle(figure, thinning_note(budget))
    return figure


def _direction_path(figure: go.Figure, algorithm: str, record: RunRecord, coords: np.ndarray,
                    color: str, points: int, bold: bool, nothing_selected: bool,
                    t: int | None) -> None:
    """One run's thinned path; the chosen run bold, with a star at iteration ``t``."""
    iterations = np.asarray(record.history["iteration"])
    at = max(int(np.searchsorted(iterations, t, side="right") - 1), 0) if t is not None else None
    rows = thin_indices(len(coords), points, [] if at is None else [at])
    name = run_name(algorithm, record, True)
    figure.add_trace(go.Scatter(
        x=clean(coords[rows, 0]), y=clean(coords[rows, 1]), mode="lines+markers", name=name,
        line=dict(color=color, width=4 if bold else 1.5, dash=ALGORITHM_DASH.get(algorithm, "solid")),
        marker=dict(size=5 if bold else 3), opacity=1.0 if bold or nothing_selected else 0.45,
        customdata=iterations[rows].tolist(),
        hovertemplate=f"{name}<br>t=%{{customdata}}<extra></extra>"))
    if at is not None and np.all(np.isfinite(coords[at])):
        figure.add_trace(go.Scatter(
            x=[float(coords[at, 0])], y=[float(coords[at, 1])], mode="markers",
            name=f"t = {int(iterations[at])}",
            marker=dict(size=18, color=color, symbol="star", line=dict(width=2, color="#111"))))


# ---------------------------------------------------------------------- scaling in d
def scaling_figure(result, height: int = 500, labels: dict | None = None,
                   pins: Sequence[tuple] = ()) -> go.Figure:
    """Iterations to solve against d (log–log): median per curve with its p10–p90 band,
    the fitted line (slope and bootstrap CI in the legend) and reference slopes 1 and ½.
    ``labels``: friendly curve names (the sidebar's), by curve. Fit lines are drawn last
    (over the data, dashed and wider) so they are never hidden under a median line.
    ``pins``: (label, result, labels) of pinned views: each curve's p90 in the colour of the
    live curve of the same model · algorithm · step rule, in the pin's own dash."""
    labels = labels or {}
    figure = base_figure("iterations to solve against the dimension d", "dimension d",
                         "iterations to solve", log_x=True, log_y=True, height=height,
                         plain_x=True, plain_y=True)
    dims = np.asarray(result.dims, dtype=float)
    anchor, fits, unsolved_notes = None, [], []
    for index, curve in enumerate(result.curves):
        color = SCALING_PALETTE[index % len(SCALING_PALETTE)]
        name = labels.get(curve, curve.label)
        p90, missing = _scaling_curve(figure, result, curve, dims, color, name)
        if anchor is None and np.isfinite(p90).any():
            first = int(np.flatnonzero(np.isfinite(p90))[0])
            anchor = (dims[first], p90[first])
        fits.extend(_fit_trace(result, curve, dims, color, name))
        if missing:
            unsolved_notes.append(f"{name}: {missing} seed runs unsolved within the budget "
                                  "(counted at the budget: a lower bound)")
    _reference_slopes(figure, dims, anchor)
    _pinned_scaling(figure, [curve.label for curve in result.curves], pins)
    for trace in fits:
        figure.add_trace(trace)
    if unsolved_notes:
        figure.add_annotation(text="<br>".join(unsolved_notes), x=0.01, y=0.99, xref="paper",
                              yref="paper", xanchor="left", yanchor="top", showarrow=False,
                              align="left", bgcolor="rgba(255,255,255,0.85)",
                              font=dict(size=FONT_SIZE - 3))
    ticks = sorted({int(d) for d in dims} | {int(d) for pin in pins for d in pin[1].dims})
    figure.update_xaxes(tickvals=ticks, ticktext=[str(d) for d in ticks])
    honest_view(figure, log=True)
    tidy_log_axis(figure, values=_view_values(figure))
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
                         margin=dict(b=170))
    return figure


SCALING_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def _pinned_scaling(figure: go.Figure, live: list[str], pins: Sequence[tuple]) -> None:
    """Each pinned curve's p90 (the fitted statistic) against d."""
    order = list(live)
    for index, (pin_label, pinned, pinned_labels) in enumerate(pins):
        pinned_dims = np.asarray(pinned.dims, dtype=float)
        for curve in pinned.curves:
            if curve.label not in order:
                order.append(curve.label)
            color = SCALING_PALETTE[order.index(curve.label) % len(SCALING_PALETTE)]
            p90 = np.array([pinned.stats(curve, d)["p90"] for d in pinned.dims])
            name = f"{pin_label}: {pinned_labels.get(curve, curve.label)} (p90)"
            figure.add_trace(go.Scatter(
                x=pinned_dims.tolist(), y=clean(p90), mode="lines+markers", name=name,
                opacity=0.8, line=pin_line(index, color, 2.0), marker=dict(size=5, symbol="diamond"),
                hovertemplate="d=%{x}<br>p90=%{y:.4g}<extra>" + name + "</extra>"))


def _scaling_curve(figure: go.Figure, result, curve, dims: np.ndarray, color: str,
                   name: str) -> tuple[np.ndarray, int]:
    """The p90 line (the judged and fitted statistic, core.analysis.scaling.FIT_QUANTILE; unsolved seeds
    censored at the budget), a thin median line and the p10–p90 band of one curve; returns the
    p90s and the number of unsolved seed runs."""
    stats = [result.stats(curve, d) for d in result.dims]
    median, p10, p90 = (np.array([s[key] for s in stats]) for key in ("median", "p10", "p90"))
    unsolved = [s["unsolved"] for s in stats]
    steps = [result.step_sizes[(curve, d)] for d in result.dims]
    figure.add_trace(go.Scatter(
        x=dims.tolist() + dims[::-1].tolist(), y=clean(p90) + clean(p10[::-1]), mode="lines",
        fill="toself", fillcolor=_with_alpha(color, 0.15), line=dict(width=0), hoverinfo="skip",
        name=f"{name}: p10–p90", legendgroup=name, showlegend=False))
    figure.add_trace(go.Scatter(
        x=dims.tolist(), y=clean(p90), mode="lines+markers", name=f"{name} (p90, fitted)",
        legendgroup=name, line=dict(color=color, width=2.5), marker=dict(size=8),
        customdata=[[p, q, u, s] for p, q, u, s in zip(clean(p10), clean(median), unsolved, steps)],
        hovertemplate="d=%{x}<br>p90=%{y:.4g}<br>p10=%{customdata[0]:.4g}, "
                      "median=%{customdata[1]:.4g}<br>unsolved seeds: %{customdata[2]}<br>"
                      "γ=%{customdata[3]:.4g}<extra>" + name + "</extra>"))
    figure.add_trace(go.Scatter(
        x=dims.tolist(), y=clean(median), mode="lines", name=f"{name} (median)",
        legendgroup=name, line=dict(color=color, width=1, dash="dot"), hoverinfo="skip"))
    return p90, int(sum(unsolved))


def _fit_trace(result, curve, dims: np.ndarray, color: str, name: str) -> list[go.Scatter]:
    fit = result.fits.get(curve)
    if fit is None:
        return []
    fitted = np.exp(fit.intercept) * dims**fit.slope
    return [go.Scatter(
        x=dims.tolist(), y=fitted.tolist(), mode="lines", legendgroup=name,
        name=f"fit: slope {slope_number(fit.slope)} (95 % CI {slope_number(fit.ci_low)}–"
             f"{slope_number(fit.ci_high)})",
        line=dict(color=color, dash="dash", width=3), opacity=0.9, hoverinfo="skip")]


def _reference_slopes(figure: go.Figure, dims: np.ndarray, anchor) -> None:
    if anchor is None:
        return
    for slope, label, dash in ((1.0, "reference slope 1 (∝ d)", "dot"),
                               (0.5, "reference slope ½ (∝ √d)", "dashdot")):
        figure.add_trace(go.Scatter(
            x=dims.tolist(), y=(anchor[1] * (dims / anchor[0]) ** slope).tolist(),
            mode="lines", name=label, line=dict(color="#777", dash=dash, width=1.5),
            hoverinfo="skip"))


def _with_alpha(hex_color: str, alpha: float) -> str:
    value = hex_color.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def scaling_rows(result, labels: dict | None = None) -> list[dict[str, Any]]:
    """The numbers behind :func:`scaling_figure`, one row per (curve, d)."""
    by_label = {curve.label: (labels or {}).get(curve, curve.label) for curve in result.curves}
    return [{"curve": by_label.get(row["curve"], row["curve"]), "d": row["d"], "step size γ": row["step_size"],
             "median": row["median"], "p10": row["p10"], "p90": row["p90"],
             "unsolved seeds": row["unsolved"]} for row in result.summary()]


def fit_rows(result, labels: dict | None = None) -> list[dict[str, Any]]:
    rows = []
    for curve in result.curves:
        fit = result.fits.get(curve)
        # four decimals (+ 0.0: no −0): a flat fit's −5.571e-17 is no slope to read
        rows.append({"curve": (labels or {}).get(curve, curve.label),
                     "slope": None if fit is None else round(fit.slope, 4) + 0.0,
                     "95 % CI low": None if fit is None else round(fit.ci_low, 4) + 0.0,
                     "95 % CI high": None if fit is None else round(fit.ci_high, 4) + 0.0,
                     "dimensions fitted": 0 if fit is None else fit.points})
    return rows


# ---------------------------------------------------------------------- step-size map
def robust_log_range(values: Sequence[float], low_q: float = 0.01, high_q: float = 0.99,
                     max_decades: float = 30.0) -> tuple[float, float] | None:
    """A log10 axis range covering the bulk of positive ``values``: their 1st–99th
    percentiles padded by a quarter decade, at most ``max_decades`` tall (anchored at the
    top, so huge pre-divergence losses do not flatten everything else)."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array) & (array > 0)]
    if array.size == 0:
        return None
    low, high = np.log10(np.quantile(array, [low_q, high_q]))
    low, high = low - 0.25, high + 0.25
    if high - low > max_decades:
        low = high - max_decades
    return float(low), float(high)


# A pinned view's line: its own dash (these patterns are not used by any live line).
PIN_PATTERNS = ("12px,4px,2px,4px", "2px,3px", "8px,3px,2px,3px,2px,3px", "16px,6px")


def pin_line(index: int, color: str, width: float = 2.0) -> dict:
    return dict(color=color, width=width, dash=PIN_PATTERNS[index % len(PIN_PATTERNS)])


def _nothing_solved(result: SweepResult) -> str:
    """The solve chart's word when no run solved: every run diverged, or more iterations or
    other step sizes may solve (the caption's words; the data are not blamed)."""
    budget = f"no run solved within {human_count(result.spec.max_iters)} iterations"
    if result.runs and all(r.diverged for r in result.runs):
        return budget + "<br>(every run diverged: try smaller step sizes)"
    return budget + "<br>(more iterations or other step sizes may, unless the data are not separable)"


def solve_vs_step_figure(result: SweepResult, selected: float | None = None,
                         height: int = 380,
                         pins: Sequence[tuple[str, SweepResult]] = ()) -> go.Figure:
    """Iterations to solve against the step size; unsolved runs along the top. ``pins``:
    (label, result) of pinned views, each a line of its own dash."""
    figure = base_figure("iterations to solve against the step size", "step size γ",
                         "iterations to solve", log_x=True, log_y=True, height=height,
                         plain_x=True, plain_y=True)
    solved = [(r.step_size, r.iterations_to_solve) for r in result.runs
              if r.iterations_to_solve is not None]
    if solved:
        _solved_and_unsolved(figure, result, solved)
    else:
        figure.add_annotation(text=_nothing_solved(result), x=0.5, y=0.5,   # over the γ line
                              xref="paper", yref="paper", showarrow=False,
                              bgcolor="rgba(255,255,255,0.9)")
        figure.update_yaxes(showticklabels=False)
        figure.update_xaxes(range=np.log10([result.spec.step_sizes[0],
                                            result.spec.step_sizes[-1]]).tolist())
    pinned_solves = _pinned_solves(figure, pins)
    if pinned_solves and not solved:
        figure.layout.annotations = ()
        figure.update_yaxes(showticklabels=True)
    if selected is not None:
        figure.add_vline(x=selected, line=dict(color="#2ca02c", width=2, dash="dash"))
    tidy_log_axis(figure, values=[i for _, i in solved] + pinned_solves + [result.spec.max_iters])
    tidy_log_axis(figure, "x", [r.step_size for r in result.runs]
                  + [r.step_size for _, pinned in pins for r in pinned.runs])
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
                         margin=dict(b=110))
    return figure


def _pinned_solves(figure: go.Figure, pins: Sequence[tuple[str, SweepResult]]) -> list[int]:
    """Each pinned sweep's iterations to solve against γ (a line of the pin's dash)."""
    pinned_solves = []
    for index, (label, pinned) in enumerate(pins):
        solves = [(r.step_size, r.iterations_to_solve) for r in pinned.runs
                  if r.iterations_to_solve is not None]
        pinned_solves += [i for _, i in solves]
        figure.add_trace(go.Scatter(
            x=[s for s, _ in solves], y=[i for _, i in solves], mode="lines",
            name=f"{label}: solved {len(solves)} of {len(pinned.runs)}", opacity=0.8,
            line=pin_line(index, "#1f77b4"),
            hovertemplate=f"{label}<br>γ=%{{x:.4g}}<br>solved at t=%{{y}}<extra></extra>"))
    return pinned_solves


def _solved_and_unsolved(figure: go.Figure, result: SweepResult, solved: list) -> None:
    figure.add_trace(go.Scatter(
        x=[s for s, _ in solved], y=[i for _, i in solved], mode="markers+lines",
        name="solved", line=dict(color="#1f77b4", width=1), marker=dict(size=5),
        hovertemplate="γ=%{x:.4g}<br>solved at t=%{y}<extra></extra>"))
    unsolved = [r for r in result.runs if r.iterations_to_solve is None]
    if not unsolved:
        return
    top = result.spec.max_iters
    figure.add_trace(go.Scatter(
        x=[r.step_size for r in unsolved], y=[top] * len(unsolved), mode="markers",
        name=f"not solved within {top} (× diverged)",
        marker=dict(symbol=["x" if r.diverged else "triangle-up" for r in unsolved],
                    color=[DIVERGED_COLOR if r.diverged else "#7f7f7f" for r in unsolved],
                    size=8),
        text=[status_text(r) for r in unsolved],
        hovertemplate="γ=%{x:.4g}<br>%{text}<extra></extra>"))


def nonmonotone_figure(result: SweepResult, selected: float | None = None,
                       height: int = 380,
                       pins: Sequence[tuple[str, SweepResult]] = ()) -> go.Figure:
    """Share of loss increases f(θ_{t+1}) > f(θ_t) in the last K iterations, per step size;
    ``pins``: (label, result) of pinned views, each a line of its own dash."""
    figure = base_figure("where the loss is non-monotone", "step size γ",
                         "steps that raised the loss", log_x=True, height=height,
                         plain_x=True)
    rows = step_map_rows(result)
    fractions = [row["loss increases in tail"] for row in rows]
    figure.add_trace(go.Scatter(
        x=[row["step size γ"] for row in rows], y=clean(fractions), mode="lines+markers",
        name="last K iterations", line=dict(color="#9467bd", width=1.5), marker=dict(size=4),
        hovertemplate="γ=%{x:.4g}<br>%{y:.1%} of the last steps raised the loss<extra></extra>"))
    rose = [row["step size γ"] for row in rows if row["loss ever rose"]]
    if rose:
        figure.add_trace(go.Scatter(
            x=rose, y=[-0.04] * len(rose), mode="markers", name="loss rose somewhere (recorded history)",
            marker=dict(symbol="line-ns-open", size=6, color="rgba(255,127,14,0.5)",
                        line=dict(width=1)),
            hovertemplate="γ=%{x:.4g}: the recorded loss is non-monotone<extra></extra>"))
    pinned_steps = []
    for index, (label, pinned) in enumerate(pins):
        pinned_rows = step_map_rows(pinned)
        pinned_steps += [row["step size γ"] for row in pinned_rows]
        figure.add_trace(go.Scatter(
            x=[row["step size γ"] for row in pinned_rows],
            y=clean([row["loss increases in tail"] for row in pinned_rows]), mode="lines",
            name=label, opacity=0.8, line=pin_line(index, "#9467bd", 1.8),
            hovertemplate=f"{label}<br>γ=%{{x:.4g}}<br>%{{y:.1%}} of the last steps raised "
                          "the loss<extra></extra>"))
    figure.update_yaxes(range=[-0.08, 1.02], tickformat=".0%")
    tidy_log_axis(figure, "x", [row["step size γ"] for row in rows] + pinned_steps)
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
                         margin=dict(b=110))
    if selected is not None:
        figure.add_vline(x=selected, line=dict(color="#2ca02c", width=2, dash="dash"))
    return figure


def loss_curve_figure(record: RunRecord, algorithm: str, height: int = 400,
                      pins: Sequence[tuple[str, RunRecord]] = ()) -> go.Figure:
    """The full recorded loss curve of one run, with its exact tail overlaid; ``pins``:
    (label, run) of pinned views at the nearest step size, each of its own dash."""
    title = f"loss of the run with γ = {format_step(record.step_size)} ({status_text(record)})"
    figure = base_figure(title, "iteration t", "logistic loss f(θₜ)", log_y=True, height=height)
    loss = np.asarray(record.history["loss"], dtype=float)
    iterations = np.asarray(record.history["iteration"])
    zero = np.isfinite(loss) & (loss <= 0)
    below = [(int(t), f"f = {v:.3g} at t={int(t)} (underflow)") for t, v in
             zip(iterations[zero], loss[zero])]
    figure.add_trace(_line(iterations, np.where(loss > 0, loss, np.nan),
                           name=f"{algorithm_label(algorithm)} (recorded history)",
                           line=dict(color="#1f3b73", width=2)))
    if record.tail:
        tail = np.asarray(record.tail["loss"], dtype=float)
        tail_t = np.asarray(record.tail["iteration"])
        tail_zero = np.isfinite(tail) & (tail <= 0)
        below += [(int(t), f"tail f = {v:.3g} at t={int(t)}") for t, v in
                  zip(tail_t[tail_zero], tail[tail_zero])]
        figure.add_trace(go.Scatter(
            x=tail_t.tolist(), y=clean(np.where(tail > 0, tail, np.nan)),
            mode="markers", name="last K iterations (exact)",
            marker=dict(size=4, color="#ff7f0e")))
    for index, (label, pinned) in enumerate(pins):
        pinned_loss = np.asarray(pinned.history["loss"], dtype=float)
        figure.add_trace(go.Scatter(        # SVG: WebGL lines know no custom dash
            x=np.asarray(pinned.history["iteration"]).tolist(),
            y=clean(np.where(pinned_loss > 0, pinned_loss, np.nan)), mode="lines",
            name=f"{label}: γ = {format_step(pinned.step_size)} ({status_text(pinned)})",
            line=pin_line(index, "#1f3b73", 1.8)))
    honest_view(figure, log=True, below=below)
    tidy_log_axis(figure, values=_view_values(figure))
    if record.iterations_to_solve is not None:
        figure.add_vline(x=record.iterations_to_solve, line=dict(color="#2ca02c", dash="dot"),
                         annotation_text=f"solved at t={record.iterations_to_solve}",
                         annotation_position="top right")
    if record.diverged:
        point = last_finite(np.asarray(record.history["iteration"]), loss)
        if point is not None:
            figure.add_trace(go.Scatter(x=[point[0]], y=[point[1]], mode="markers",
                                        name=f"diverged at t={record.diverged_at}",
                                        marker=dict(symbol="x", size=14, color=DIVERGED_COLOR)))
    return figure


def metric_help(metric: str) -> str:
    return METRIC_DESCRIPTIONS.get(metric, "")
