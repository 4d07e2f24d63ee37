"""The orbit diagram (bifurcation diagram) as a display object, shared by the shallow page
(the last K residuals of the balanced a·b dynamics against η|Φ|) and the step-size map (the
last K losses against γ).

:class:`OrbitDiagram` holds the numbers of one diagram, worked out before anything is drawn:
the y window (the bulk of the finite values, the count outside it), what is drawn (every dot
when there are at most ``payload.SCATTER_POINTS``, otherwise a density image of at most
``payload.DENSITY_CELLS`` cells), the runs that diverged, and the facts a caption states (where
the last values stop being one value, where they fill bands). :meth:`OrbitDiagram.to_plotly`
only draws. Every value stays in the downloads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from core.report import payload
from core.report.display import Display, human_count, human_number, plural, spread_indices
from core.report.player import Frame, add_player
from core.report.plots import (DIVERGED_COLOR, FONT_SIZE, add_subtitle, base_figure, edge_trace,
                                tidy_log_axis)

BUILD_UP_FRAMES = 16       # the build-up plays the last K iterations in this many slices
BAND_VALUES = 16            # more distinct last values than this: a band (chaos), not a cycle
QUANTILE_SAMPLE = 256       # values per run used for the y window
SETTLED_VALUES = 64         # last values of a run that say whether it settled or cycles
MAX_DECADES = 30            # a log y axis spans at most this many decades (the densest ones)


@dataclass(frozen=True)
class OrbitColumn:
    """One run: its x (step size or η|Φ|), its last values and their iterations."""
    x: float
    values: np.ndarray
    iterations: np.ndarray
    diverged: bool = False
    diverged_at: int | None = None


@dataclass(kw_only=True)
class OrbitDiagram(Display):
    x_title: str
    y_title: str
    log_x: bool
    log_y: bool
    x_name: str                                   # "η|Φ|" or "γ" in hovers and captions
    y_window: tuple[float, float] | None          # in axis units (log10 when log_y)
    total_values: int                             # finite (positive on a log axis) last values
    outside: int                                  # of them beyond the y window
    underflow: int                                # zero or negative on a log axis
    density: bool                                 # drawn as a density image
    x_span: tuple[float, float] | None = None
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None   # x, y, iteration
    image: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None    # x edges, y edges, counts
    diverged: list[tuple[float, int | None]] = field(default_factory=list)
    beyond: list[tuple[float, int, int]] = field(default_factory=list)  # per run: x, above, below
    distinct: list[tuple[float, int]] = field(default_factory=list)    # per settled run
    kinds: list[str] = field(default_factory=list)  # per run of ``distinct``: settled, cycle, band, moving
    selected: float | None = None
    reference: tuple[float, str] | None = None    # a vertical line and its label

    # ------------------------------------------------------------------ numbers
    @classmethod
    def build(cls, columns: Sequence[OrbitColumn], *, title: str, x_title: str, y_title: str,
              x_name: str, log_x: bool = False, log_y: bool = False,
              selected: float | None = None,
              reference: tuple[float, str] | None = None) -> "OrbitDiagram":
        """The numbers of the diagram. Diverged runs are marked, not drawn (their last finite
        values are the blow-up, not an orbit)."""
        kept, underflow = [], 0
        diverged = []
        for column in columns:
            if column.diverged:
                diverged.append((column.x, column.diverged_at))
                continue
            values = np.asarray(column.values, dtype=float)
            good = np.isfinite(values) & (values > 0 if log_y else True)
            underflow += int((np.isfinite(values) & ~good).sum())
            kept.append((column.x, values[good], np.asarray(column.iterations)[good]))
        total = sum(v.size for _, v, _ in kept)
        window = _y_window(kept, log_y)
        xs = [c.x for c in columns]
        diagram = cls(title=title, x_title=x_title, y_title=y_title, log_x=log_x, log_y=log_y,
                      x_name=x_name, y_window=window, total_values=total, outside=0,
                      underflow=underflow, density=total > payload.SCATTER_POINTS,
                      x_span=(min(xs), max(xs)) if xs else None, diverged=diverged,
                      selected=selected, reference=reference)
        diagram.distinct, diagram.kinds = _read_runs(kept, window, log_y)
        diagram.beyond = _beyond(kept, window, log_y)
        diagram.outside = sum(above + below for _, above, below in diagram.beyond)
        if diagram.density:
            diagram.image = _density(kept, window, log_x, log_y)
        elif kept:
            diagram.points = _dots(kept, window, log_y)
        diagram.facts = diagram.regimes()
        diagram.sentences = [diagram.look_for()]
        diagram.notes = diagram.chart_notes()
        return diagram

    # ------------------------------------------------------------------ facts
    def regimes(self) -> dict[str, float | int | None]:
        """Where the last values are one value, a cycle of 2–16, or a band of more; the
        smallest x of each (None when none) and how many runs diverged, the first where."""
        ordered = sorted((x, kind) for (x, _), kind in zip(self.distinct, self.kinds))

        def first(kind: str):
            return next((x for x, k in ordered if k == kind), None)

        count = {kind: sum(1 for _, k in ordered if k == kind)
                 for kind in ("settled", "cycle", "band", "moving")}
        return {"settled": count["settled"], "cycles": count["cycle"], "bands": count["band"],
                "moving": count["moving"], "first_cycle": first("cycle"),
                "first_band": first("band"), "first_moving": first("moving"),
                "last_fixed": max((x for x, k in ordered if k == "settled"), default=None),
                "diverged": len(self.diverged),
                "first_diverged": min((x for x, _ in self.diverged), default=None)}

    def look_for(self) -> str:
        """What to look for, read off these runs (true at any setting)."""
        facts = self.regimes()
        name = self.x_name
        runs = human_count(len(self.distinct) + facts["diverged"])
        if not self.distinct:
            return (f"What to look for: all {runs} runs diverged (the first at {name} = "
                    f"{human_number(facts['first_diverged'], 4)}); lower the step sizes.")
        parts = []
        if facts["settled"]:
            parts.append(f"{_runs(facts['settled'], 'settles', 'settle')} to one value (a single dot), "
                         f"up to {name} = {human_number(facts['last_fixed'], 4)}")
        if facts["cycles"]:
            parts.append(f"{_runs(facts['cycles'], 'ends', 'end', noun=False)} on a cycle of 2–{BAND_VALUES} values "
                         f"(period doubling), from {name} = {human_number(facts['first_cycle'], 4)}")
        if facts["bands"]:
            parts.append(f"{_runs(facts['bands'], 'fills', 'fill', noun=False)} a band of more than {BAND_VALUES} values "
                         f"(chaos), from {name} = {human_number(facts['first_band'], 4)}")
        if facts["moving"]:
            parts.append(f"{_runs(facts['moving'], 'is', 'are', noun=False)} still moving at the end (their last values "
                         f"do not repeat yet: a transient, no cycle or band to read; raise the "
                         f"iterations), from {name} = {human_number(facts['first_moving'], 4)}")
        if facts["diverged"]:
            parts.append(f"{human_count(facts['diverged'])} diverged (× on the top edge), from {name} = "
                         f"{human_number(facts['first_diverged'], 4)}")
        return "What to look for: " + "; ".join(parts) + "." + _no_doubling(facts)

    def chart_notes(self) -> list[str]:
        """What the chart does not show dot for dot (written on the chart)."""
        out = []
        if self.density and self.image is not None:
            counts = self.image[2]
            out.append(f"density image: {human_count(self.total_values)} values in "
                       f"{counts.shape[0]} × {counts.shape[1]} cells (the downloads hold every value)")
        if self.outside:
            out.append(f"{plural(self.outside, 'value')} outside the view")
        if self.underflow:
            out.append(f"{plural(self.underflow, 'value')} underflow to 0 (not drawn)")
        if self.y_window is None and self.diverged:
            out.append("every run diverged (× along the top): no finite last values to draw,"
                       " so the y axis has no scale")
        return out

    # ------------------------------------------------------------------ drawing
    def to_plotly(self, height: int = 480) -> go.Figure:
        figure = base_figure(self.title, self.x_title, self.y_title, log_x=self.log_x,
                             log_y=self.log_y, height=height, plain_x=self.log_x)
        frames = []
        if self.image is not None:
            self._draw_image(figure)
        elif self.points is not None and self.points[0].size:
            frames = self._draw_dots(figure)
        self._draw_diverged(figure)
        self._draw_beyond(figure)
        if self.y_window is not None:
            figure.update_yaxes(range=list(self.y_window))
            if self.log_y:
                tidy_log_axis(figure, values=[10 ** self.y_window[0], 10 ** self.y_window[1]])
        elif self.diverged:       # only × marks: no values, so no y scale to read off them
            figure.update_yaxes(range=[0, 1], showticklabels=False)   # × at 1 (10¹ on log)
        if self.x_span is not None:
            self._set_x_range(figure)
        if self.reference is not None:
            figure.add_vline(x=self.reference[0], line=dict(color="#d62728", dash="dash", width=1.5))
            figure.add_annotation(x=self.reference[0], y=1, yref="paper", yanchor="bottom",
                                  text=self.reference[1], showarrow=False,
                                  font=dict(size=FONT_SIZE - 3, color="#d62728"))
        if self.selected is not None:
            figure.add_vline(x=self.selected, line=dict(color="#2ca02c", width=2, dash="dash"))
        for note in self.notes:
            add_subtitle(figure, note)
        if frames:
            add_player(figure, frames, prefix="iterations k ", start=len(frames) - 1)
        return figure

    def _set_x_range(self, figure: go.Figure) -> None:
        figure.update_xaxes(range=list(_x_view(self.x_span, self.log_x)))
        if self.log_x:
            tidy_log_axis(figure, "x", [self.x_span[0], self.x_span[1]])

    def _draw_dots(self, figure: go.Figure) -> list:
        """The dots as a raster (:func:`_dot_raster`): one heatmap, each cell holding the first
        iteration k at which a value fell in it. Drawn as scatter markers, a few thousand dots
        cost the browser half a second at every redraw (SVG nodes, or a WebGL context per
        chart); an image of the same dots costs a tenth of that. The build-up plays by
        colour alone: frame j shows the cells reached by the end of the j-th stretch of k, so
        the frames send a colour scale each and no dot twice."""
        x_edges, y_edges, first = _dot_raster(self.points, self.log_x, self.log_y, self.y_window,
                                               self.x_span)
        k = self.points[2]
        low, high = float(k.min()) - 0.5, float(k.max()) + 0.5
        figure.add_trace(go.Heatmap(
            x=payload.compact(x_edges), y=payload.compact(y_edges),
            z=payload.compact(first.T, single=True), zmin=low, zmax=high, zauto=False,
            zsmooth=False, showscale=False, hoverongaps=False, name=self.y_title,
            colorscale=_reached(high, low, high),
            hovertemplate=f"{self.x_name}=%{{x:.4g}}<br>value≈%{{y:.4g}}<br>first at k=%{{z:.0f}}"
                          "<extra></extra>"))
        edges = np.unique(np.quantile(k, np.linspace(0, 1, BUILD_UP_FRAMES + 1)))
        if edges.size < 2:
            return []
        slices = np.clip(np.searchsorted(edges, k, side="right") - 1, 0, edges.size - 2)
        trace = len(figure.data) - 1
        frames = []
        for j in range(edges.size - 1):
            reached = int(k[slices <= j].max())
            frames.append(Frame(f"≤ {reached}", [go.Heatmap(colorscale=_reached(reached + 0.5, low, high))],
                                [trace]))
        frames.append(Frame("all", [go.Heatmap(colorscale=_reached(high, low, high))], [trace]))
        return frames

    def _draw_image(self, figure: go.Figure) -> None:
        x_edges, y_edges, counts = self.image
        with np.errstate(divide="ignore"):
            shade = np.where(counts > 0, np.log10(np.maximum(counts, 1)), np.nan)
        figure.add_trace(go.Heatmap(
            x=x_edges, y=y_edges, z=payload.compact(shade.T, single=True), zsmooth=False,
            name="density of the last values", showscale=False, hoverongaps=False,
            colorscale=[[0.0, "#9ecae1"], [0.25, "#4292c6"], [0.6, "#1f3b73"], [1.0, "#08132b"]],
            hovertemplate=f"{self.x_name}=%{{x:.4g}}<br>value=%{{y:.4g}}<br>"
                          "log₁₀(values in the cell)=%{z:.1f}<extra></extra>"))

    def _draw_beyond(self, figure: go.Figure) -> None:
        """A ▲ on the top edge (▼ on the bottom) at each run with values beyond the view."""
        if not self.beyond or self.y_window is None:
            return
        chosen = [self.beyond[i] for i in spread_indices(len(self.beyond), 2_000)]
        for side, edge, symbol, column in (("above", self.y_window[1], "triangle-up", 1),
                                           ("below", self.y_window[0], "triangle-down", 2)):
            marks = [(mark[0], mark[column]) for mark in chosen if mark[column]]
            if marks:
                edge_trace(figure, "y", [x for x, _ in marks], 10 ** edge if self.log_y else edge,
                           symbol, [f"{self.x_name}={x:.4g}: {plural(count, 'value')} {side} the view"
                                    for x, count in marks], f"values {side} the view")

    def _draw_diverged(self, figure: go.Figure) -> None:
        if not self.diverged:
            return
        chosen = spread_indices(len(self.diverged), 2_000)
        marks = [self.diverged[i] for i in chosen]
        top = self.y_window[1] if self.y_window is not None else 1.0
        top = 10 ** top if self.log_y else top
        figure.add_trace(go.Scatter(
            x=[x for x, _ in marks], y=[top] * len(marks), mode="markers",
            name="diverged (inf/NaN)", cliponaxis=False, meta="edge",
            marker=dict(symbol="x", size=9, color=DIVERGED_COLOR),
            text=[f"{self.x_name}={x:.4g} diverged at k={k}" for x, k in marks],
            hovertemplate="%{text}<extra></extra>"))


# ---------------------------------------------------------------------- numbers
def _distinct(values: np.ndarray, resolution: float) -> int:
    """Distinct values among a run's last :data:`SETTLED_VALUES` at ``resolution`` (a
    thousandth of the view's height): what the eye sees as one dot, two dots or a smear. The
    earlier values of the tail can still be the transient."""
    last = values[-SETTLED_VALUES:]
    if last.size == 0:
        return 0
    return int(np.unique(np.round(last / resolution)).size)


def _resolution(kept, window, log_y: bool) -> float:
    """A thousandth of the view's height, in axis units: values closer than that are one dot."""
    resolution = (window[1] - window[0]) / 1000 if window is not None else 1.0
    # A settled run can jitter between neighbouring floats (residuals of 1e-16): on a view
    # that tall those read as many values. Below a billionth of the values' scale they are one.
    with np.errstate(divide="ignore"):
        sizes = [np.abs(_axis(v, log_y)) for _, v, _ in kept if v.size]
    scale = max((float(a[np.isfinite(a)].max()) for a in sizes if np.isfinite(a).any()), default=1.0)
    return max(resolution, 1e-9 * max(scale, 1.0))


def _runs(count: int, one: str, many: str, noun: bool = True) -> str:
    """"1 run settles", "40 runs settle"; without the noun "1 ends", "40 end"."""
    head = plural(count, "run") if noun else human_count(count)
    return f"{head} {one if count == 1 else many}"


def _no_doubling(facts: dict) -> str:
    """The closing remark when no run ends on a cycle or a band."""
    if facts["cycles"] or facts["bands"]:
        return ""
    if facts["moving"]:
        return " No cycle or band is settled in this window yet."
    return (" No period doubling before the runs diverge." if facts["diverged"] else
            " No period doubling in this window: widen it to larger step sizes.")


def _period(last: np.ndarray, resolution: float) -> int | None:
    """The smallest p ≤ BAND_VALUES with last[t] = last[t − p] (to ``resolution``) over every
    value of ``last``, seen at least twice; None when the values do not repeat."""
    for p in range(1, min(BAND_VALUES, last.size // 2) + 1):
        if float(np.max(np.abs(last[p:] - last[:-p]))) <= resolution:
            return p
    return None


def _contracting(last: np.ndarray, ratio: float = 0.6) -> bool:
    """A transient: the spread (largest − smallest) of the last quarter of the values is
    under ``ratio`` times that of the first quarter (a run closing in on a fixed point or a
    cycle: ε = ±A with A shrinking by |1 − 2η|Φ|| a step); a cycle or a chaotic band keeps
    its spread."""
    quarter = last.size // 4
    return quarter >= 2 and float(np.ptp(last[-quarter:])) < ratio * float(np.ptp(last[:quarter]))


def _kind(values: np.ndarray, resolution: float, count: int) -> str:
    """settled (one value), cycle (values that repeat with a period of 2–16), band (more than
    16 values that do not close in) or moving (a transient: the last values do not repeat
    yet). A short run's last values are its transient: with 5 iterations the 3 last values of
    a converging run were read as a cycle of 3 (period doubling) below η|Φ| = 1."""
    last = values[-SETTLED_VALUES:]
    if count <= 1 or float(np.ptp(last)) <= 2 * resolution:    # one dot, maybe across a rounding edge
        return "settled"
    period = _period(last, resolution)
    if period == 1:
        return "settled"
    if period is not None:     # ±A with A shrinking slowly also repeats to the resolution,
        quarter = last.size // 4   # but a cycle keeps its spread to the resolution
        shrinks = float(np.ptp(last[:quarter])) - float(np.ptp(last[-quarter:])) > 2 * resolution
        return "moving" if quarter >= 2 and (shrinks or _contracting(last)) else "cycle"
    return "band" if count > BAND_VALUES and not _contracting(last) else "moving"


def _read_runs(kept, window, log_y: bool) -> tuple[list[tuple[float, int]], list[str]]:
    """Per run, read once at the view's resolution: (x, how many distinct last values) and
    what the run does (settled, cycle, band or moving)."""
    resolution = _resolution(kept, window, log_y)
    distinct, kinds = [], []
    for x, values, _ in kept:
        with np.errstate(divide="ignore", invalid="ignore"):
            axis = _axis(values, log_y)
        count = _distinct(axis, resolution)
        distinct.append((x, count))
        kinds.append(_kind(axis, resolution, count))
    return distinct, kinds


def _dots(kept, window, log_y: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and iteration of the dots drawn: per run each value once at a thousandth of the
    view's height, at the first iteration it occurs (a settled run is one dot, a cycle of p
    values p dots, a band every value). The picture, the build-up by iteration and the hovers
    are those of drawing every value, for a fraction of the points the browser must draw
    (64 per settled run before); the captions and counts read every value."""
    resolution = _resolution(kept, window, log_y)
    xs, ys, ks = [], [], []
    for x, values, iterations in kept:
        with np.errstate(divide="ignore", invalid="ignore"):
            cells = np.round(_axis(values, log_y) / resolution)
        _, first = np.unique(cells, return_index=True)
        first.sort()
        xs.append(np.full(first.size, x))
        ys.append(values[first])
        ks.append(np.asarray(iterations)[first])
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ks)


def _axis(values: np.ndarray, log: bool) -> np.ndarray:
    return np.log10(values) if log else values


def _y_window(kept, log_y: bool) -> tuple[float, float] | None:
    """The bulk of the finite last values (0.1 %–99.9 % of a sample of each run), padded;
    in log10 units on a log axis."""
    sample = [_axis(v[spread_indices(v.size, QUANTILE_SAMPLE)], log_y) for _, v, _ in kept
              if v.size]
    if not sample:
        return None
    values = np.concatenate(sample)
    low, high = (float(q) for q in np.quantile(values, [0.001, 0.999]))
    full_low, full_high = float(values.min()), float(values.max())
    # Keep the whole range when it is not much wider than the bulk (no outlier to hide).
    if full_high - full_low <= 3 * (high - low or 1e-300):
        low, high = full_low, full_high
    if log_y:   # solved runs drive the loss to 1e-70 and below: keep the decades where most values are
        q10, q90 = (float(q) for q in np.quantile(values, [0.1, 0.9]))
        low = max(low, q10 - max(3.0, 2 * (q90 - q10)))
        if high - low > MAX_DECADES:
            low, high = _densest_decades(values, low, high)
    pad = 0.25 if log_y else 0.04 * (high - low or abs(high) or 1.0)
    return low - pad, high + pad


def _densest_decades(units: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """MAX_DECADES of a log axis taller than that, where the most values lie (the higher window
    on a tie): runs whose last K losses climb to 1e303 while still finite pushed every settled
    run into the bottom hundredth of the view; the values outside are marked ▲/▼ and counted."""
    units = np.sort(units[(units >= low) & (units <= high)])
    counts = np.arange(1, units.size + 1) - np.searchsorted(units, units - MAX_DECADES, side="left")
    top = float(units[np.flatnonzero(counts == counts.max())[-1]])
    inside = units[units >= top - MAX_DECADES]       # down to the lowest value in the window:
    return float(inside.min()), top                  # no empty decades under the data


def _beyond(kept, window, log_y: bool) -> list[tuple[float, int, int]]:
    """Per run with values outside the y window: (x, how many above, how many below)."""
    if window is None:
        return []
    out = []
    for x, values, _ in kept:
        axis = _axis(values, log_y)
        above, below = int((axis > window[1]).sum()), int((axis < window[0]).sum())
        if above or below:
            out.append((x, above, below))
    return out


def _x_edges(xs: np.ndarray, log_x: bool) -> np.ndarray:
    """Cell edges across: one column per run (edges half way between neighbours) when the
    runs fit, else ``payload.DENSITY_COLUMNS`` even cells."""
    axis = np.log10(xs) if log_x else xs
    unique = np.unique(axis)
    if unique.size == 1:
        edges = np.array([unique[0] - 0.5, unique[0] + 0.5]) if not log_x else unique[0] + np.array([-0.05, 0.05])
    elif unique.size <= payload.DENSITY_COLUMNS:
        middle = (unique[1:] + unique[:-1]) / 2
        edges = np.concatenate([[2 * unique[0] - middle[0]], middle, [2 * unique[-1] - middle[-1]]])
    else:
        edges = np.linspace(unique[0], unique[-1], payload.DENSITY_COLUMNS + 1)
    return 10 ** edges if log_x else edges


DOT_COLOR = "rgba(31,59,115,0.8)"   # the dots' #1f3b73, a little see-through
NO_DOT = "rgba(0,0,0,0)"
DOT_ROWS = 150              # rows of the dot raster: a dot is about as tall as a 3 px marker
DOT_WIDTH = 0.004           # a run's column: this share of the x view wide (when runs are apart)
MIN_COLUMN_FRACTION = 1400  # half a column under this share of the view: under ~1 px, not drawn


def _reached(threshold: float, low: float, high: float) -> list:
    """A colour scale over [low, high] that shows the cells with k ≤ threshold and hides the
    rest (plotly steps at a repeated stop)."""
    cut = min(max((threshold - low) / ((high - low) or 1.0), 0.0), 1.0)
    if cut >= 1.0:
        return [[0.0, DOT_COLOR], [1.0, DOT_COLOR]]
    return [[0.0, DOT_COLOR], [cut, DOT_COLOR], [cut, NO_DOT], [1.0, NO_DOT]]


def _x_view(x_span, log_x: bool) -> tuple[float, float]:
    """The x view in axis units (log10 on a log axis): the span of every run, diverged ones
    included, padded 3 % (log) or 2 % each side."""
    low, high = (math.log10(v) for v in x_span) if log_x else x_span
    pad = 0.03 * (high - low or 1.0) if log_x else 0.02 * (high - low or abs(high) or 1.0)
    return low - pad, high + pad


def _dot_columns(axis: np.ndarray, view: float) -> tuple[np.ndarray, np.ndarray]:
    """Column edges (axis units) and each run's column. A run's column is centred on its x and
    :data:`DOT_WIDTH` of the view wide, or reaches half way to a neighbour that is near (the
    columns then touch); an empty column lies between runs that do not touch, so dots read as
    dots. Runs closer than a pixel to a neighbour, or more than
    ``payload.DENSITY_COLUMNS`` of them, share even columns instead (a column of under a pixel
    is not drawn at all)."""
    target = DOT_WIDTH * view / 2
    # to a neighbour: half the gap when the empty column between would be thin anyway (fewer
    # cells to send and draw), else the target
    gaps = np.diff(axis)
    sides = np.where(target > 0.3 * gaps, gaps / 2, target)
    halves = np.minimum(np.r_[np.inf, sides], np.r_[sides, np.inf])
    halves[np.isinf(halves)] = target                      # a single run
    if axis.size > payload.DENSITY_COLUMNS or halves.min() < view / MIN_COLUMN_FRACTION:
        pad = DOT_WIDTH * view / 2
        edges = np.linspace(axis[0] - pad, axis[-1] + pad, payload.DENSITY_COLUMNS + 1)
        return edges, np.clip(np.searchsorted(edges, axis, side="right") - 1, 0, edges.size - 2)
    edges, columns = [axis[0] - halves[0]], []
    for i, (centre, half) in enumerate(zip(axis, halves)):
        if i and centre - half > edges[-1] + 1e-12 * view:
            edges.append(centre - half)                       # an empty column before this run
        columns.append(len(edges) - 1)
        edges.append(centre + half)
    return np.asarray(edges), np.asarray(columns)


def _dot_raster(points, log_x: bool, log_y: bool, window, x_span) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x edges, y edges and, per (column, row) cell, the first iteration k of a dot in it (NaN:
    none); the columns are :func:`_dot_columns`'s, sized against the whole x view."""
    x, y, k = points
    runs = np.unique(x)
    axis = np.log10(runs) if log_x else runs
    view_low, view_high = _x_view(x_span or (runs[0], runs[-1]), log_x)
    axis_edges, columns_of_runs = _dot_columns(axis, view_high - view_low)
    x_edges = 10 ** axis_edges if log_x else axis_edges
    low, high = window if window is not None else (float(np.nanmin(y)), float(np.nanmax(y)))
    y_axis_edges = np.linspace(low, high, DOT_ROWS + 1)
    first = np.full((x_edges.size - 1, DOT_ROWS), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = np.floor((_axis(y, log_y) - low) / ((high - low) or 1.0) * DOT_ROWS)
    inside = np.isfinite(rows) & (rows >= 0) & (rows < DOT_ROWS)
    columns = columns_of_runs[np.searchsorted(runs, x)]
    np.minimum.at(first, (columns[inside], rows[inside].astype(int)), k[inside].astype(float))
    first[np.isinf(first)] = np.nan
    y_edges = 10 ** y_axis_edges if log_y else y_axis_edges
    return x_edges, y_edges, first


def _density(kept, window, log_x: bool, log_y: bool):
    """Counts of the last values in (x cell, y cell), built run by run (no list of every
    value is made)."""
    xs = np.array([x for x, _, _ in kept], dtype=float)
    x_edges = _x_edges(xs, log_x)
    axis_edges = np.log10(x_edges) if log_x else x_edges
    y_axis_edges = np.linspace(window[0], window[1], payload.DENSITY_ROWS + 1)
    counts = np.zeros((x_edges.size - 1, payload.DENSITY_ROWS))
    columns = np.clip(np.searchsorted(axis_edges, _axis(xs, log_x), side="right") - 1,
                      0, x_edges.size - 2)
    for column, (_, values, _) in zip(columns, kept):
        histogram, _ = np.histogram(_axis(values, log_y), bins=y_axis_edges)
        counts[column] += histogram
    y_edges = 10 ** y_axis_edges if log_y else y_axis_edges
    return x_edges, y_edges, counts
