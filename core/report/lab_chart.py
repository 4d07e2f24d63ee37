"""The lab's chart: a measure against a varied field, coloured by a second and faceted by a
third, from the tidy table of ``core.analysis.lab``. Every run is a point (its row number rides along
as ``customdata``, so a click finds the run); lines are the medians over the runs of each x,
unsolved runs are drawn at their budget with open markers, and a fitted power law or line is
dashed. The figure stays small whatever the sweep: at most MAX_POINTS runs are drawn as
points (every k-th, said on the chart) while the medians and fits use every run."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis import lab

MAX_POINTS = 20_000          # runs drawn as points; medians and fits use every run
MAX_FACETS = 12
MAX_COLOURS = 24
LEGEND_ROW_PX = 21           # one legend row
MAX_LEGEND_ROWS = 40         # the margin grows for this many at most
LEGEND_GAP_PX = 62        # x tick labels and the x title sit in the first ~55 px under a plot
SVG_POINTS = 1_500           # more points than this are drawn with WebGL
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")


def is_geometric(values: Sequence[float]) -> bool:
    """A positive field spanning at least a factor of 8 (16:2048:x2, 1e-3:1e3:log7) is drawn
    on a log axis."""
    numbers = np.asarray([v for v in values if v is not None], dtype=float)
    numbers = numbers[np.isfinite(numbers)]
    return bool(numbers.size >= 2 and (numbers > 0).all() and numbers.max() / numbers.min() >= 8)


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return str(value)


@dataclass
class Group:
    """The runs of one (facet, colour) pair: the points drawn (row numbers of the table), the
    medians over every run at each x, and the dashed fit of the group."""

    facet: int
    colour: str
    name: str
    solved: np.ndarray
    censored: np.ndarray
    median_x: list
    median_y: list
    fit: tuple | None


@dataclass
class LabChart:
    """The lab's chart as numbers: per group the runs drawn and their medians and fit, the
    facets, the axes and what the chart says was thinned, censored or left out."""

    measure: str
    x: str
    x_title: str
    y_title: str
    facet_titles: list[str] | None
    xs: np.ndarray
    values: np.ndarray
    groups: list[Group]
    log_x: bool
    log_y: bool
    gl: bool
    notes: list[str]
    title: str

    @property
    def facets(self) -> int:
        return len(self.facet_titles) if self.facet_titles else 1

    @property
    def drawn_points(self) -> int:
        return sum(g.solved.size + g.censored.size for g in self.groups)

    @classmethod
    def from_table(cls, table: pd.DataFrame, measure: str, x: str, color: str | None = None,
                   facet: str | None = None, fits: pd.DataFrame | None = None) -> "LabChart":
        entry = lab.MEASURE_BY_NAME[measure]
        x_column = lab.column_of(table, x)
        values, censored = lab.censored_values(table, measure)
        total = len(table)
        stride = max(1, math.ceil(total / MAX_POINTS))
        drawn = np.zeros(total, dtype=bool)
        drawn[::stride] = True
        finite = np.isfinite(values)
        facet_values = _distinct(table, facet, MAX_FACETS)
        groups = _groups(table, x, color, facet, facet_values, values, censored & drawn,
                         ~censored & drawn & finite, _fitted(fits), lab._numeric(table, x_column))
        title = f"{entry.label} against {x}" + (f", by {color}" if color else "") + \
            (f", per {facet}" if facet else "")
        return cls(measure, x, x if x_column == x else f"{x} (c of γ = c·n/λ₂)", entry.label,
                   [f"{facet}={_label(v)}" for v in facet_values] if facet else None,
                   table[x_column].to_numpy(), values, groups,
                   lab._numeric(table, x_column) and is_geometric(pd.to_numeric(table[x_column], errors="coerce")),
                   bool(entry.log and finite.any() and (values[finite] > 0).all()),
                   int(drawn.sum()) > SVG_POINTS,
                   _notes(table, stride, censored, finite, color, facet), title)

    def to_plotly(self) -> go.Figure:
        columns = min(3, self.facets)
        rows = math.ceil(self.facets / columns)
        fig = make_subplots(rows=rows, cols=columns, shared_yaxes=True, subplot_titles=self.facet_titles,
                            horizontal_spacing=0.06, vertical_spacing=0.14 if rows > 1 else 0.1)
        named: set[str] = set()      # each entry once, from whichever facet first draws it
        for group in self.groups:
            where = dict(row=group.facet // columns + 1, col=group.facet % columns + 1)
            for trace in self._traces(group):
                if trace.showlegend is not False:
                    trace.showlegend = trace.name not in named
                    named.add(trace.name)
                fig.add_trace(trace, **where)
        fig.update_xaxes(title_text=self.x_title, type="log" if self.log_x else None)
        fig.update_yaxes(type="log" if self.log_y else None)
        fig.update_yaxes(title_text=self.y_title, col=1)
        sub = "<br><sup>" + "; ".join(self.notes) + "</sup>" if self.notes else ""
        # the legend under the x title: plotly stacks a legend group's entries (a colour and
        # its fits, whose names are long) a row each, so a row per entry, up to a cap
        bottom = max(110, 60 + LEGEND_ROW_PX * min(len(named), MAX_LEGEND_ROWS))
        height, top = 360 * rows + 10 + bottom, 90
        below_axis_title = -LEGEND_GAP_PX / (height - top - bottom)   # the legend under the x title
        fig.update_layout(title=dict(text=self.title + sub), height=height,
                          clickmode="event+select", dragmode="pan",
                          legend=dict(orientation="h", yanchor="top", y=below_axis_title),
                          margin=dict(t=top, b=bottom), template="plotly_white")
        return fig

    def _traces(self, group: Group) -> list:
        marker_type = go.Scattergl if self.gl else go.Scatter
        traces = []
        for kind, index in (("solved", group.solved), ("censored", group.censored)):
            if not index.size:
                continue
            unsolved = kind == "censored"
            traces.append(marker_type(
                x=self.xs[index], y=self.values[index], mode="markers", customdata=index,
                name=f"{group.name}: unsolved (drawn at max_iters)" if unsolved else group.name,
                legendgroup=group.name, showlegend=True,
                marker=dict(color=group.colour, size=9 if unsolved else 7, opacity=0.55,
                            symbol="triangle-up-open" if unsolved else "circle"),
                hovertemplate=f"{self.x}=%{{x}}<br>{self.measure}=%{{y:.4g}}"
                              + (" (unsolved: censored at max_iters)" if unsolved else "")
                              + "<br>run %{customdata} — click to open its view<extra></extra>"))
        if group.median_x:
            traces.append(go.Scatter(x=group.median_x, y=group.median_y, mode="lines",
                                     name=f"{group.name}: median", legendgroup=group.name,
                                     showlegend=False, hoverinfo="skip",
                                     line=dict(color=group.colour, width=2)))
        if group.fit is not None:
            fit_x, fit_y, text = group.fit
            traces.append(go.Scatter(x=fit_x, y=fit_y, mode="lines", name=text, legendgroup=group.name,
                                     showlegend=True, hoverinfo="skip",
                                     line=dict(color=group.colour, width=1.5, dash="dash")))
        return traces


def figure(table: pd.DataFrame, measure: str, x: str, color: str | None = None,
           facet: str | None = None, fits: pd.DataFrame | None = None) -> go.Figure:
    """The chart of ``measure`` against the varied field ``x``."""
    return LabChart.from_table(table, measure, x, color, facet, fits).to_plotly()


def _distinct(table: pd.DataFrame, field: str | None, limit: int) -> list:
    if not field:
        return [None]
    return list(dict.fromkeys(table[lab.column_of(table, field)].tolist()))[:limit]


def _fitted(fits: pd.DataFrame | None) -> dict:
    fitted = {}
    if fits is not None and not fits.empty:
        by = [c for c in fits.columns if c not in lab.FIT_COLUMNS]
        for _, row in fits.iterrows():
            fitted[tuple(_key(row[name]) for name in by)] = (by, row)
    return fitted


def _groups(table, x, color, facet, facet_values, values, censored, solved, fitted, numeric_x) -> list[Group]:
    xs = table[lab.column_of(table, x)].to_numpy()
    in_column = {name: table[lab.column_of(table, name)].to_numpy() for name in (color, facet) if name}
    groups = []
    for f_index, facet_value in enumerate(facet_values):
        in_facet = in_column[facet] == facet_value if facet else np.ones(len(table), dtype=bool)
        for c_index, colour_value in enumerate(_distinct(table, color, MAX_COLOURS)):
            mask = in_facet & (in_column[color] == colour_value) if color else in_facet
            median_x, median_y = _medians(xs[mask], values[mask], numeric_x)
            groups.append(Group(
                f_index, PALETTE[c_index % len(PALETTE)],
                f"{color}={_label(colour_value)}" if color else "runs",
                np.flatnonzero(mask & solved), np.flatnonzero(mask & censored), median_x, median_y,
                _fit_line(fitted, facet, facet_value, color, colour_value, median_x, median_y)))
    return groups


def _notes(table, stride, censored, finite, color, facet) -> list[str]:
    total, notes = len(table), []
    if stride > 1:
        notes.append(f"every {stride}-th of {total} runs drawn as a point; lines and fits use all")
    if censored.any():
        count = int(censored.sum())
        diverged = _diverged(table) & censored
        why = f", {int(diverged.sum())} of them diverged" if diverged.any() else ""
        notes.append(f"{count} unsolved run{'s' if count > 1 else ''} at their budget (open "
                     f"triangles{why})")
    missing = int((~finite).sum())
    if missing:
        notes.append(f"{missing} run{'s' if missing > 1 else ''} without a value (diverged or "
                     "not measured) not drawn")
    for field, limit in ((facet, MAX_FACETS), (color, MAX_COLOURS)):
        if field and table[lab.column_of(table, field)].nunique(dropna=False) > limit:
            notes.append(f"first {limit} {field} values shown")
    return notes


def _diverged(table: pd.DataFrame) -> np.ndarray:
    """Which runs diverged (none known when the table has no ``diverged`` column)."""
    if "diverged" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return table["diverged"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _key(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _medians(xs: np.ndarray, values: np.ndarray, numeric: bool) -> tuple[list, list]:
    """The median of the values (unsolved at their budget) at each x, in x order; a run without
    a finite value (a diverged run's inf) is left out, as the fits leave it out."""
    if not len(xs):
        return [], []
    frame = pd.DataFrame({"x": xs, "y": values})
    frame = frame[np.isfinite(frame["y"].to_numpy(dtype=float))].dropna()
    if frame.empty:
        return [], []
    medians = frame.groupby("x", sort=numeric)["y"].median()
    return list(medians.index), list(medians.to_numpy())


def _fit_line(fitted: dict, facet, facet_value, color, colour_value, xs, ys) -> tuple | None:
    """The dashed fit of the group drawn here (its other varied fields), over the x range it
    was fitted on (a power law: where x and the median are positive)."""
    if not fitted or len(xs) < 2:
        return None
    for key, (by, row) in fitted.items():
        if not set(by) <= {facet, color}:       # the group is not what this line is
            return None
        wanted = dict(zip(by, key))
        if facet and _key(facet_value) != wanted.get(facet, _key(facet_value)):
            continue
        if color and _key(colour_value) != wanted.get(color, _key(colour_value)):
            continue
        if not math.isfinite(row.slope):
            return None
        grid = np.asarray(xs, dtype=float)
        if row.kind == "power":
            grid = grid[(grid > 0) & (np.asarray(ys, dtype=float) > 0)]
            y = np.exp(row.intercept) * grid ** row.slope
        else:
            y = row.intercept + row.slope * grid
        text = (f"fit: slope {lab.slope_text(row.slope)} [{lab.slope_text(row.ci_low)}, "
                f"{lab.slope_text(row.ci_high)}]"
                + (f" ({lab.group_label(row, by)})" if by else ""))
        return grid, y, text
    return None
