"""Plotly figures for the image-classifier page: CNNs of several kernel sizes against the
linear model, on two classes of digits or CIFAR-10.

Pure builders (no streamlit): each takes a list of :class:`Series` — a sweep result with the
model it belongs to — and returns a figure. Colour is the step size η (as on every page),
the dash pattern the kernel size; the linear baseline is dotted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from core.report.display import human_number, point_budget, spread_indices, thin_indices, thinning_note
from core.report.plots import (DIVERGED_COLOR, FONT_SIZE, HEIGHT, PIN_PATTERNS, _view_values, add_subtitle, base_figure, clean,
                               empty_figure, format_step, honest_view, legend_under, seed_range, shade,
                               step_colors, tidy_log_axis)
from core.kernel.registry import dataset_kind
from core.engine.results import RunRecord, SweepResult

KERNEL_DASHES = ("solid", "dash", "longdash", "dashdot", "longdashdot")
LINEAR_DASH = "dot"


@dataclass(frozen=True)
class Series:
    """One sweep on the page: a CNN with ``kernel`` (or the linear model, kernel None)."""
    result: SweepResult
    kernel: int | None = None
    pin: str = ""                    # a pinned view's label ('' for the live view)
    pin_index: int = -1

    @property
    def label(self) -> str:
        return "linear" if self.kernel is None else f"CNN k={self.kernel}"


def class_names(dataset: str) -> dict[int, str]:
    """Class number -> name, from the data set's registry entry (else the numbers)."""
    named = dataset_kind(dataset).class_names
    return dict(enumerate(named)) if named else {i: str(i) for i in range(10)}


def _dash(series: Series, kernels: Sequence[int]) -> str:
    if series.pin:
        return PIN_PATTERNS[series.pin_index % len(PIN_PATTERNS)]
    if series.kernel is None:
        return LINEAR_DASH
    return KERNEL_DASHES[sorted(kernels).index(series.kernel) % len(KERNEL_DASHES)]


def run_label(series: Series, record: RunRecord, many_seeds: bool) -> str:
    name = f"{series.pin + ': ' if series.pin else ''}{series.label} η={format_step(record.step_size)}"
    return f"{name} seed {record.seed}" if many_seeds else name


def _kernels(series_list: Sequence[Series]) -> list[int]:
    """The live view's kernel sizes (a pin's lines take the pin's dash)."""
    return sorted({s.kernel for s in series_list if s.kernel is not None and not s.pin})


def _colors(series_list: Sequence[Series]) -> dict[float, str]:
    return step_colors(r.step_size for s in series_list for r in s.result.runs)


# ---------------------------------------------------------------------- curves
CURVE_TITLES = {"loss": "logistic loss f(θₜ) (log)", "accuracy": "training accuracy",
                "sharpness": "sharpness against 2/η"}


MAX_EDGE_LINES = 6            # 2/η lines drawn at most (the rest are named in a note)


def curves_figure(series_list: Sequence[Series], metric: str, height: int = HEIGHT) -> go.Figure:
    """Loss, accuracy or sharpness against the iteration, one trace per (model, η, seed).

    Sharpness is drawn at the iterations where it was measured (every K steps), with the
    edge-of-stability line 2/η for (at most MAX_EDGE_LINES) step sizes. The drawing plan
    (which runs, how many points each) is fixed from the counts first (the payload bound)."""
    title = CURVE_TITLES[metric]
    log_y = metric == "loss"
    figure = base_figure(title, "iteration t", title.split(" (")[0] if metric != "sharpness"
                         else "top Hessian eigenvalue", log_y=log_y, height=height)
    runs = [(series, record) for series in series_list for record in series.result.runs
            if metric in record.history]
    budget = point_budget(len(runs), max((len(r.history["iteration"]) for _, r in runs), default=0))
    drawn = [runs[i] for i in spread_indices(len(runs), budget.drawn_traces)]
    context = dict(colors=_colors(series_list), kernels=_kernels(series_list), shown=set(),
                   crosses=[], below=[], points=budget.points_per_trace)
    for series, record in drawn:
        _add_curve(figure, series, record, metric, log_y, context)
    _add_crosses(figure, context["crosses"])
    if not figure.data:
        message = ("no sharpness measured: set the sharpness interval K > 0"
                   if metric == "sharpness" else "nothing recorded")
        return empty_figure(title, message, height)
    if metric == "sharpness":
        _edge_of_stability(figure, context["colors"])
    if metric == "accuracy":
        figure.update_yaxes(range=[-0.02, 1.02], tickformat=".0%")
    if log_y:
        honest_view(figure, log=True, below=context["below"])
        tidy_log_axis(figure, values=_view_values(figure))
    _finish(figure, budget, series_list)
    return figure


def _finish(figure: go.Figure, budget, series_list: Sequence[Series]) -> None:
    if thinning_note(budget):
        add_subtitle(figure, thinning_note(budget))
    if any(series.pin for series in series_list):
        legend_under(figure)


def _add_curve(figure: go.Figure, series: Series, record: RunRecord, metric: str, log_y: bool,
               context: dict) -> None:
    seeds = list(series.result.spec.seeds)
    iterations = np.asarray(record.history["iteration"], dtype=float)
    values = np.asarray(record.history[metric], dtype=float)
    if metric == "sharpness":
        keep = np.isfinite(values)
        iterations, values = iterations[keep], values[keep]
    last = np.flatnonzero(np.isfinite(values))
    rows = thin_indices(len(values), context["points"], last[-1:].tolist())
    iterations, values = iterations[rows], values[rows]
    name = run_label(series, record, len(seeds) > 1)
    if log_y:
        zero = np.isfinite(values) & (values <= 0)
        context["below"].extend((float(t), f"{name}: {v:.3g} at t={int(t)}")
                                for t, v in zip(iterations[zero], values[zero]))
        values = np.where(values > 0, values, np.nan)
    group = f"{series.pin}{series.label}:{record.step_size!r}"
    legend_name = run_label(series, record, False) + (f" ({seed_range(seeds)})" if len(seeds) > 1 else "")
    figure.add_trace(go.Scatter(
        x=iterations.tolist(), y=clean(values),
        mode="lines+markers" if metric == "sharpness" else "lines", name=legend_name,
        legendgroup=group, showlegend=group not in context["shown"], opacity=0.75 if series.pin else 1.0,
        line=dict(color=shade(context["colors"][record.step_size],
                              seeds.index(record.seed) if record.seed in seeds else 0, len(seeds)),
                  dash=_dash(series, context["kernels"]),
                  width=1.6 if series.kernel is None else 2.2),
        marker=dict(size=6),
        hovertemplate=f"{name}<br>t=%{{x}}<br>{metric}=%{{y:.5g}}<extra></extra>"))
    context["shown"].add(group)
    if record.diverged and metric != "sharpness":
        finite = np.flatnonzero(np.isfinite(values))
        if finite.size:
            context["crosses"].append((float(iterations[finite[-1]]), float(values[finite[-1]]),
                                       f"{name} diverged at t={record.diverged_at}"))


def _add_crosses(figure: go.Figure, crosses: list) -> None:
    if crosses:
        figure.add_trace(go.Scatter(
            x=[c[0] for c in crosses], y=[c[1] for c in crosses], mode="markers", name="diverged",
            marker=dict(symbol="x", size=12, color=DIVERGED_COLOR), text=[c[2] for c in crosses],
            hovertemplate="%{text}<extra></extra>"))


def _edge_of_stability(figure: go.Figure, colors: dict[float, str]) -> None:
    """2/η for each step size (at most MAX_EDGE_LINES): a dotted line in the run's colour where
    it lies in the view (within 3× the largest sharpness), named in the subtitle; those above
    the view are named there too."""
    top = max((v for t in figure.data for v in (t.y or ()) if v is not None), default=0.0)
    steps = sorted(colors)
    steps = [steps[i] for i in spread_indices(len(steps), MAX_EDGE_LINES)]
    inside = [s for s in steps if 2 / s <= 3 * max(top, 1e-9)]
    high = max([top] + [2 / s for s in inside])
    for step in inside:
        figure.add_hline(y=2 / step, line=dict(color=colors[step], dash="dot", width=1.5))
    _name_edge_lines(figure, inside, [s for s in steps if s not in inside])
    figure.update_yaxes(range=[0, 1.08 * high if high > 0 else 1])


def _name_edge_lines(figure: go.Figure, inside: list[float], above: list[float]) -> None:
    """The 2/η lines named over the plot, not on it (a label on a line sat on the runs)."""
    if inside:
        add_subtitle(figure, "dotted: 2/η = " + ", ".join(f"{human_number(2 / s)} (η = {format_step(s)})"
                                                          for s in inside))
    if above:
        add_subtitle(figure, "2/η above the view for η = " + ", ".join(format_step(s) for s in above)
                     + " (" + ", ".join(human_number(2 / s) for s in above) + ")")


# ---------------------------------------------------------------------- iterations to 100 %
MAX_SOLVE_STEPS = 24          # step sizes drawn on the iterations-to-100 % chart at most


def solve_figure(series_list: Sequence[Series], height: int = HEIGHT) -> go.Figure:
    """Iterations to 100 % training accuracy (the first t ≥ 1 with every margin > 0) against
    the kernel size, one line per step size (at most MAX_SOLVE_STEPS, evenly spread); the
    linear model as a dotted horizontal line in the step size's colour. Runs that never
    reach 100 % sit on the top line."""
    title = "iterations to 100 % by kernel size"
    figure = base_figure(title, "kernel size k", "iterations to 100 % accuracy", log_y=True,
                         height=height, plain_y=True)
    colors = _colors(series_list)
    cnn = sorted((s for s in series_list if s.kernel is not None), key=lambda s: s.kernel)
    linear = [s for s in series_list if s.kernel is None]
    budget = max((s.result.spec.max_iters for s in series_list), default=1)
    steps = sorted(colors)
    drawn = [steps[i] for i in spread_indices(len(steps), MAX_SOLVE_STEPS)]
    values: list[float] = [budget]
    missed: list[tuple[int, str]] = []
    for step in drawn:
        _cnn_solve_line(figure, cnn, step, colors[step], values, missed)
        _linear_solve_lines(figure, linear, step, colors[step], budget, values)
    _missed_markers(figure, missed, budget)
    if not figure.data:
        return empty_figure(title, "no runs", height)
    _solve_axes(figure, cnn, values)
    if len(drawn) < len(steps):
        add_subtitle(figure, f"{len(drawn)} of {len(steps)} step sizes drawn (the table and "
                             "downloads hold all)")
    return figure


def _cnn_solve_line(figure: go.Figure, cnn: list, step: float, color: str, values: list,
                    missed: list) -> None:
    """One line through the kernel sizes: each kernel's run, or with several seeds the median
    of its seeds (an unsolved seed counts as the budget) with every seed's own mark beside it
    (the seeds' values joined in turn drew a zigzag up and down each kernel size)."""
    xs, ys, seed_x, seed_y, seeds = [], [], [], [], 1
    for series in cnn:
        records = [r for r in series.result.runs if r.step_size == step]
        if not records:
            continue
        seeds = max(seeds, len(records))
        solved = _kernel_solves(series, records, step, missed)
        values.extend(solved)
        seed_x += [series.kernel] * len(solved)
        seed_y += solved
        budget = series.result.spec.max_iters
        middle = float(np.median(solved + [budget] * (len(records) - len(solved))))
        xs.append(series.kernel)
        ys.append(None if middle >= budget else middle)      # unsolved: ▲ on the top line
    if not xs:
        return
    name = f"CNN η={format_step(step)}" + (f" (median of {seeds} seeds)" if seeds > 1 else "")
    figure.add_trace(go.Scatter(
        x=xs, y=ys, mode="lines+markers", name=name, legendgroup=name,
        line=dict(color=color, width=2.2), marker=dict(size=10),
        hovertemplate=f"{name}<br>k=%{{x}}<br>t=%{{y}}<extra></extra>"))
    if seeds > 1 and seed_x:
        figure.add_trace(go.Scatter(
            x=seed_x, y=seed_y, mode="markers", name=f"{name}: each seed", legendgroup=name,
            showlegend=False, marker=dict(size=6, color=color, opacity=0.5),
            hovertemplate=f"CNN η={format_step(step)}, one seed<br>k=%{{x}}<br>t=%{{y}}<extra></extra>"))


def _kernel_solves(series, records: list, step: float, missed: list) -> list[int]:
    """The iterations to 100 % of one kernel size's runs that solved; the others go to
    ``missed`` (a ▲ on the top line, its hover saying why)."""
    solved = []
    for record in records:
        if record.iterations_to_solve is not None:
            solved.append(record.iterations_to_solve)
            continue
        missed.append((series.kernel, f"k={series.kernel}, η={format_step(step)}"
                       + (f", seed {record.seed}" if len(records) > 1 else "") + ": "
                       + (f"diverged at t={record.diverged_at}" if record.diverged
                          else f"not 100 % within {series.result.spec.max_iters}")))
    return solved


def _linear_solve_lines(figure: go.Figure, linear: list, step: float, color: str, budget: int,
                        values: list) -> None:
    """The linear model's iterations as a dotted line across the chart, one per step size:
    with several seeds at their median, the legend naming their range."""
    for series in linear:
        records = [r for r in series.result.runs if r.step_size == step]
        if not records:
            continue
        limit = series.result.spec.max_iters
        times = [r.iterations_to_solve for r in records]
        y = float(np.median([t if t is not None else budget for t in times]))
        values.append(y)
        label = f"linear η={format_step(step)}: " + _seeds_text(times, y, limit)
        figure.add_hline(y=y, line=dict(color=color, dash=LINEAR_DASH, width=2))
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=label,
                                    line=dict(color=color, dash=LINEAR_DASH, width=2)))


def _seeds_text(times: list, middle: float, limit: int) -> str:
    """'84', 'not 100 % within 300', '84 (all 3 seeds)' or 'median 84 over 3 seeds (solved:
    62–188; 1 not within 300)'."""
    solved = sorted(t for t in times if t is not None)
    if len(times) == 1:
        return f"{solved[0]}" if solved else f"not 100 % within {limit}"
    if len(solved) == len(times) and solved[0] == solved[-1]:
        return f"{solved[0]} (all {len(times)} seeds)"
    spread = f"{solved[0]}–{solved[-1]}" if solved else "none"
    unsolved = len(times) - len(solved)
    return (f"median {human_number(middle)} over {len(times)} seeds (solved: {spread}"
            + (f"; {unsolved} not within {limit})" if unsolved else ")"))


def _missed_markers(figure: go.Figure, missed: list, budget: int) -> None:
    if missed:
        figure.add_trace(go.Scatter(
            x=[m[0] for m in missed], y=[budget] * len(missed), mode="markers",
            name="not 100 % within the budget",
            marker=dict(symbol="triangle-up", size=11, color="#7f7f7f",
                        line=dict(color="black", width=1)),
            text=[m[1] for m in missed], hovertemplate="%{text}<extra></extra>"))


def _solve_axes(figure: go.Figure, cnn: list, values: list) -> None:
    kernels = sorted({s.kernel for s in cnn})
    if kernels:
        figure.update_xaxes(tickvals=kernels, range=[min(kernels) - 0.7, max(kernels) + 0.7])
    else:
        figure.add_annotation(text="linear model only: choose the CNN to compare kernel sizes",
                              x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                              bgcolor="rgba(255,255,255,0.85)")
        figure.update_xaxes(range=[0, 1], showticklabels=False)
    tidy_log_axis(figure, values=[max(v, 1) for v in values])
    figure.update_yaxes(range=[math.log10(max(min(values), 1)) - 0.15,
                               math.log10(max(values)) + 0.15])


def solve_rows(series_list: Sequence[Series]) -> list[dict[str, Any]]:
    rows = []
    for series in series_list:
        for record in series.result.runs:
            sharp = record.history.get("sharpness")
            measured = sharp[np.isfinite(sharp)] if sharp is not None else np.array([])
            collapsed = record.extras.get("collapsed")
            rows.append({
                "model": series.label, "step size η": record.step_size, "seed": record.seed,
                "iterations to 100 %": record.iterations_to_solve,
                "status": ("diverged at t=%d" % record.diverged_at if record.diverged else
                           "100 %" if record.iterations_to_solve is not None else
                           "collapsed (constant output)" if collapsed else
                           "not 100 % yet"),
                "final accuracy": _finite(record.history["accuracy"][-1]),
                "final loss": _finite(record.history["loss"][-1]),
                "last sharpness": _finite(measured[-1]) if measured.size else None,
                "2/η": 2 / record.step_size,
            })
            if any("collapsed" in r.extras for s in series_list for r in s.result.runs):
                rows[-1]["collapsed"] = bool(collapsed)
    return rows


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- gallery
def gallery_figure(features: np.ndarray, labels: np.ndarray, image_shape: tuple[int, int, int],
                   classes: Sequence[int], dataset: str, per_class: int = 8,
                   height: int = 260) -> go.Figure:
    """The first ``per_class`` training images of each class, one row per class (label −1
    above, +1 below), as one mosaic. Pixels are in [0, 1]; grey digits show ink dark."""
    channels, rows, cols = image_shape
    names = class_names(dataset)
    gap = max(1, rows // 8)
    tiles = []
    counts = []
    for label in (-1.0, 1.0):
        picked = np.flatnonzero(labels == label)[:per_class]
        counts.append(len(picked))
        row = np.ones((rows, per_class * (cols + gap) - gap, 3))
        for slot, index in enumerate(picked):
            image = features[index].reshape(channels, rows, cols).transpose(1, 2, 0)
            image = np.clip(image, 0.0, 1.0)
            if channels == 1:
                image = np.repeat(1.0 - image, 3, axis=2)      # ink dark on white
            row[:, slot * (cols + gap): slot * (cols + gap) + cols] = image
        tiles.append(row)
    mosaic = np.concatenate([tiles[0], np.ones((gap * 2, tiles[0].shape[1], 3)), tiles[1]])
    figure = go.Figure(go.Image(z=(mosaic * 255).round().astype(np.uint8), hoverinfo="skip"))
    negative, positive = classes
    figure.update_layout(
        title=dict(text=f"the images: class {names.get(negative, negative)} (label −1, top) and "
                        f"{names.get(positive, positive)} (label +1, bottom), first "
                        f"{max(counts)} of each", x=0.01, xanchor="left"),
        height=height, margin=dict(l=10, r=10, t=50, b=10), font=dict(size=FONT_SIZE - 2),
        template="plotly_white")
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure
