"""The lab's chart: a measure against a varied field, coloured by a second and faceted by a
third, from the tidy table of ``core.lab``. Every run is a point (its row number rides along
as ``customdata``, so a click finds the run); lines are the medians over the runs of each x,
unsolved runs are drawn at their budget with open markers, and a fitted power law or line is
dashed. The figure stays small whatever the sweep: at most MAX_POINTS runs are drawn as
points (every k-th, said on the chart) while the medians and fits use every run."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import lab

MAX_POINTS = 20_000          # runs drawn as points; medians and fits use every run
MAX_FACETS = 12
MAX_COLOURS = 24
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


def figure(table: pd.DataFrame, measure: str, x: str, color: str | None = None,
           facet: str | None = None, fits: pd.DataFrame | None = None) -> go.Figure:
    """The chart of ``measure`` against the varied field ``x``."""
    entry = lab.MEASURE_BY_NAME[measure]
    x_column = lab.column_of(table, x)
    color_column = lab.column_of(table, color) if color else None
    facet_column = lab.column_of(table, facet) if facet else None
    values, censored = lab.censored_values(table, measure)
    xs = table[x_column].to_numpy()
    numeric_x = lab._numeric(table, x_column)
    facets = list(dict.fromkeys(table[facet_column].tolist()))[:MAX_FACETS] if facet_column else [None]
    colours = list(dict.fromkeys(table[color_column].tolist()))[:MAX_COLOURS] if color_column else [None]
    columns = min(3, len(facets))
    rows = math.ceil(len(facets) / columns)
    fig = make_subplots(rows=rows, cols=columns, shared_yaxes=True,
                        subplot_titles=[f"{facet}={_label(v)}" for v in facets] if facet_column else None,
                        horizontal_spacing=0.06, vertical_spacing=0.14 if rows > 1 else 0.1)
    total = len(table)
    stride = max(1, math.ceil(total / MAX_POINTS))
    drawn_rows = np.arange(0, total, stride)
    gl = len(drawn_rows) > SVG_POINTS
    marker_type = go.Scattergl if gl else go.Scatter
    finite = np.isfinite(values)
    log_y = entry.log and finite.any() and bool((values[finite] > 0).all())
    log_x = numeric_x and is_geometric(pd.to_numeric(table[x_column], errors="coerce"))
    fitted = {}
    if fits is not None and not fits.empty:
        by = [c for c in fits.columns if c not in lab.FIT_COLUMNS]
        for _, row in fits.iterrows():
            fitted[tuple(_key(row[name]) for name in by)] = (by, row)
    drawn_mask = np.zeros(total, dtype=bool)
    drawn_mask[drawn_rows] = True
    for f_index, facet_value in enumerate(facets):
        row_at, col_at = divmod(f_index, columns)
        in_facet = np.ones(total, dtype=bool) if facet_column is None else \
            (table[facet_column].to_numpy() == facet_value)
        for c_index, colour_value in enumerate(colours):
            colour = PALETTE[c_index % len(PALETTE)]
            mask = in_facet if color_column is None else \
                in_facet & (table[color_column].to_numpy() == colour_value)
            name = f"{color}={_label(colour_value)}" if color_column else "runs"
            show_legend = f_index == 0
            for kind, chosen in (("solved", mask & drawn_mask & ~censored & finite),
                                 ("censored", mask & drawn_mask & censored)):
                index = np.flatnonzero(chosen)
                if not index.size:
                    continue
                fig.add_trace(marker_type(
                    x=xs[index], y=values[index], mode="markers", customdata=index,
                    name=name if kind == "solved" else f"{name}: unsolved (drawn at max_iters)",
                    legendgroup=name, showlegend=show_legend,
                    marker=dict(color=colour, size=7 if kind == "solved" else 9, opacity=0.55,
                                symbol="circle" if kind == "solved" else "triangle-up-open"),
                    hovertemplate=f"{x}=%{{x}}<br>{measure}=%{{y:.4g}}"
                                  + (" (unsolved: censored at max_iters)" if kind == "censored" else "")
                                  + "<br>run %{customdata} — click to open its view<extra></extra>"),
                    row=row_at + 1, col=col_at + 1)
            median_x, median_y = _medians(xs[mask], values[mask], numeric_x)
            if len(median_x):
                fig.add_trace(go.Scatter(x=median_x, y=median_y, mode="lines",
                                         name=f"{name}: median", legendgroup=name,
                                         showlegend=False, hoverinfo="skip",
                                         line=dict(color=colour, width=2)),
                              row=row_at + 1, col=col_at + 1)
            line = _fit_line(fitted, facet, facet_value, color, colour_value, median_x)
            if line is not None:
                fit_x, fit_y, text = line
                fig.add_trace(go.Scatter(x=fit_x, y=fit_y, mode="lines", name=text,
                                         legendgroup=name, showlegend=show_legend,
                                         hoverinfo="skip",
                                         line=dict(color=colour, width=1.5, dash="dash")),
                              row=row_at + 1, col=col_at + 1)
    fig.update_xaxes(title_text=x if x_column == x else f"{x} (c of γ = c·n/λ₂)",
                     type="log" if log_x else None)
    fig.update_yaxes(type="log" if log_y else None)
    fig.update_yaxes(title_text=entry.label, col=1)
    notes = []
    if stride > 1:
        notes.append(f"every {stride}-th of {total} runs drawn as a point; lines and fits use all")
    if censored.any():
        count = int(censored.sum())
        notes.append(f"{count} unsolved run{'s' if count > 1 else ''} at their budget (open triangles)")
    missing = int((~finite).sum())
    if missing:
        notes.append(f"{missing} run{'s' if missing > 1 else ''} without a value (diverged or "
                     "not measured) not drawn")
    dropped = []
    if facet_column and table[facet_column].nunique(dropna=False) > MAX_FACETS:
        dropped.append(f"first {MAX_FACETS} {facet} values shown")
    if color_column and table[color_column].nunique(dropna=False) > MAX_COLOURS:
        dropped.append(f"first {MAX_COLOURS} {color} values shown")
    notes += dropped
    title = f"{entry.label} against {x}" + (f", by {color}" if color else "") + \
        (f", per {facet}" if facet else "")
    fig.update_layout(title=dict(text=title + ("<br><sup>" + "; ".join(notes) + "</sup>" if notes else "")),
                      height=360 * rows + 80, clickmode="event+select", dragmode="pan",
                      legend=dict(orientation="h", yanchor="top", y=-0.15),
                      margin=dict(t=90, b=40), template="plotly_white")
    return fig


def _key(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _medians(xs: np.ndarray, values: np.ndarray, numeric: bool) -> tuple[list, list]:
    """The median of the values (unsolved at their budget) at each x, in x order."""
    if not len(xs):
        return [], []
    frame = pd.DataFrame({"x": xs, "y": values}).dropna()
    if frame.empty:
        return [], []
    medians = frame.groupby("x", sort=numeric)["y"].median()
    return list(medians.index), list(medians.to_numpy())


def _fit_line(fitted: dict, facet, facet_value, color, colour_value, xs) -> tuple | None:
    """The dashed fit of the group drawn here (its other varied fields), over its x range."""
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
            y = np.exp(row.intercept) * grid ** row.slope
        else:
            y = row.intercept + row.slope * grid
        text = (f"fit: slope {row.slope:.3g} [{row.ci_low:.3g}, {row.ci_high:.3g}]"
                + (f" ({lab.group_label(row, by)})" if by else ""))
        return grid, y, text
    return None
