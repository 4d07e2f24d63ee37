"""Plotly figures for the dashboard: small pure functions from core results to figures.

Nothing here imports streamlit; every builder takes plain results (``SweepResult``,
``ScalingResult``, numpy arrays) and returns a ``plotly.graph_objects.Figure`` or plain
rows, so the pages only read widgets, call ``core`` and draw. Non-finite values become
``None`` (gaps): divergent runs end where they diverge and are marked with a cross.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from .results import METRIC_DESCRIPTIONS, RunRecord, SweepResult

FONT_SIZE = 15
HEIGHT = 400
TEMPLATE = "plotly_white"
DIVERGED_COLOR = "#d62728"

ALGORITHM_LABELS = {
    "gd": "GD",
    "normalized_gd": "normalized GD",
    "batch_perceptron": "batch perceptron",
    "normalized_batch_perceptron": "normalized batch perceptron",
    "generalized_perceptron": "generalized perceptron",
}
ALGORITHM_DASH = {
    "gd": "solid",
    "normalized_gd": "dash",
    "batch_perceptron": "dot",
    "normalized_batch_perceptron": "dashdot",
    "generalized_perceptron": "dot",
}
PERCEPTRONS = ("batch_perceptron", "normalized_batch_perceptron", "generalized_perceptron")
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


def base_figure(title: str, x_title: str, y_title: str, *, log_x: bool = False,
                log_y: bool = False, height: int = HEIGHT, plain_x: bool = False,
                plain_y: bool = False) -> go.Figure:
    """An empty figure in the dashboard's style. Log axes label powers of ten (10⁻³);
    ``plain_x``/``plain_y`` print plain numbers instead (counts, step sizes)."""
    figure = go.Figure()
    figure.update_layout(
        template=TEMPLATE, height=height, title=dict(text=title, x=0.01, xanchor="left"),
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
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = round(value / 10**exponent)
    power = "10" + str(exponent).translate(SUPERSCRIPTS)
    return power if mantissa == 1 else f"{mantissa}·{power}"


def log_ticks(values: Iterable[float], max_ticks: int = 10) -> list[float]:
    """Tick values 1, 2, 5, 10, 20, … covering the positive finite ``values``; decades only
    (every k-th decade if needed) when that would be more than ``max_ticks`` ticks."""
    array = np.asarray([v for v in values if v is not None], dtype=float)
    array = array[np.isfinite(array) & (array > 0)]
    if array.size == 0:
        return []
    low, high = float(array.min()), float(array.max())
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks = [m * 10.0**e for e in range(first, last + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if low / 2.2 <= t <= high * 2.2]
    if len(ticks) > max_ticks:
        decades = list(range(first, last + 1))
        stride = max(1, math.ceil(len(decades) / max_ticks))
        ticks = [10.0**e for e in decades[::stride]]
    return ticks


def tidy_log_axis(figure: go.Figure, axis: str = "y", values: Iterable[float] | None = None) -> None:
    """Readable ticks on a log axis: 1-2-5 steps (or decades) with full labels."""
    if values is None:
        values = [v for trace in figure.data for v in (getattr(trace, axis) or ())
                  if isinstance(v, (int, float))]
    ticks = log_ticks(values)
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


def history_figure(results: Sequence[SweepResult], metric: str, *, per_norm: bool = False,
                   height: int = HEIGHT, legend: bool = True) -> go.Figure:
    """``metric`` against the iteration, one trace per (algorithm, step size, seed).

    Colour encodes the step size, the dash pattern the algorithm (perceptrons dotted).
    A diverged run ends at its last finite value, marked with a red cross."""
    log_y = metric in LOG_METRICS
    y_title = METRIC_TITLES.get(metric, metric) + (" / ‖θₜ‖" if per_norm else "")
    figure = base_figure(y_title, "iteration t", y_title, log_y=log_y, height=height)
    colors = step_colors(r.step_size for res in results for r in res.runs)
    crosses_x, crosses_y, crosses_text = [], [], []
    for result in results:
        algorithm = result.spec.algorithm
        many_seeds = len(result.spec.seeds) > 1
        shown_groups: set[float] = set()
        for record in result.runs:
            values = metric_series(record, metric, per_norm)
            if values is None:
                continue
            iterations = np.asarray(record.history["iteration"])
            if log_y:
                values = np.where(values > 0, values, np.nan)
            group = f"{algorithm}:{record.step_size!r}"
            figure.add_trace(go.Scatter(
                x=iterations.tolist(), y=clean(values), mode="lines",
                name=run_name(algorithm, record, False), legendgroup=group,
                showlegend=record.step_size not in shown_groups,
                line=dict(color=colors[record.step_size], dash=ALGORITHM_DASH.get(algorithm, "solid"),
                          width=2.5 if algorithm in PERCEPTRONS else 2),
                opacity=0.85 if many_seeds else 1.0,
                hovertemplate=f"{run_name(algorithm, record, many_seeds)}<br>t=%{{x}}<br>"
                              f"value=%{{y:.4g}}<extra></extra>"))
            shown_groups.add(record.step_size)
            if record.diverged:
                point = last_finite(iterations, values)
                if point is not None:
                    crosses_x.append(point[0])
                    crosses_y.append(point[1])
                    crosses_text.append(f"{run_name(algorithm, record, many_seeds)} diverged "
                                        f"at t={record.diverged_at}")
    if crosses_x:
        figure.add_trace(go.Scatter(
            x=crosses_x, y=crosses_y, mode="markers", name="diverged",
            marker=dict(symbol="x", size=12, color=DIVERGED_COLOR, line=dict(width=1)),
            text=crosses_text, hovertemplate="%{text}<extra></extra>"))
    if not figure.data:
        return empty_figure(y_title, f"no run records {metric.replace('_', ' ')}", height)
    if metric == "accuracy":
        figure.update_yaxes(range=[-0.02, 1.02], tickformat=".0%")
    if log_y:
        tidy_log_axis(figure)
    figure.update_layout(showlegend=legend)
    return figure


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


def status_text(record: RunRecord) -> str:
    if record.diverged:
        return f"diverged at t={record.diverged_at}"
    if record.iterations_to_solve is not None:
        return "solved"
    return "not solved"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- trajectories
def decision_values(spec, theta: np.ndarray, points: np.ndarray) -> np.ndarray:
    """g(b; θ) at each row of ``points`` for the spec's model (via the engine's models)."""
    import torch

    from .models import build

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
    points, point_labels, counts = unique_points(features, labels)
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
            + ("" if values is not None else "; g has no zero level in view"))
    figure.update_layout(title=dict(subtitle=dict(text=note)), margin=dict(t=85))
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
    for algorithm, record, coords in paths:
        key = (algorithm, record.step_size, record.seed)
        bold = selected is not None and key == (selected[0], selected[1], selected[2])
        figure.add_trace(go.Scatter(
            x=clean(coords[:, 0]), y=clean(coords[:, 1]), mode="lines+markers",
            name=run_name(algorithm, record, True),
            line=dict(color=colors[record.step_size], width=4 if bold else 1.5,
                      dash=ALGORITHM_DASH.get(algorithm, "solid")),
            marker=dict(size=5 if bold else 3), opacity=1.0 if bold or selected is None else 0.45,
            customdata=np.asarray(record.history["iteration"]).tolist(),
            hovertemplate=f"{run_name(algorithm, record, True)}<br>t=%{{customdata}}<extra></extra>"))
        if bold and t is not None:
            iterations = np.asarray(record.history["iteration"])
            at = int(np.searchsorted(iterations, t, side="right") - 1)
            at = max(at, 0)
            if np.all(np.isfinite(coords[at])):
                figure.add_trace(go.Scatter(
                    x=[float(coords[at, 0])], y=[float(coords[at, 1])], mode="markers",
                    name=f"t = {int(iterations[at])}",
                    marker=dict(size=18, color=colors[record.step_size], symbol="star",
                                line=dict(width=2, color="#111"))))
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
                         margin=dict(b=140))
    return figure


# ---------------------------------------------------------------------- scaling in d
def scaling_figure(result, height: int = 500) -> go.Figure:
    """Iterations to solve against d (log–log): median per curve with its p10–p90 band,
    the fitted line (slope and bootstrap CI in the legend) and reference slopes 1 and ½."""
    figure = base_figure("iterations to solve against the dimension d", "dimension d",
                         "iterations to solve", log_x=True, log_y=True, height=height,
                         plain_x=True, plain_y=True)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
    dims = np.asarray(result.dims, dtype=float)
    anchor = None
    for index, curve in enumerate(result.curves):
        color = palette[index % len(palette)]
        stats = [result.stats(curve, d) for d in result.dims]
        median = np.array([s["median"] for s in stats])
        p10 = np.array([s["p10"] for s in stats])
        p90 = np.array([s["p90"] for s in stats])
        unsolved = [s["unsolved"] for s in stats]
        steps = [result.step_sizes[(curve, d)] for d in result.dims]
        if anchor is None and np.isfinite(median).any():
            first = int(np.flatnonzero(np.isfinite(median))[0])
            anchor = (dims[first], median[first])
        band_x = dims.tolist() + dims[::-1].tolist()
        band_y = clean(p90) + clean(p10[::-1])
        figure.add_trace(go.Scatter(
            x=band_x, y=band_y, mode="lines", fill="toself", fillcolor=_with_alpha(color, 0.15),
            line=dict(width=0), hoverinfo="skip", name=f"{curve.label}: p10–p90",
            legendgroup=curve.label, showlegend=False))
        figure.add_trace(go.Scatter(
            x=dims.tolist(), y=clean(median), mode="lines+markers", name=f"{curve.label} (median)",
            legendgroup=curve.label, line=dict(color=color, width=2.5), marker=dict(size=8),
            customdata=[[p, q, u, s] for p, q, u, s in zip(clean(p10), clean(p90), unsolved, steps)],
            hovertemplate="d=%{x}<br>median=%{y:.4g}<br>p10=%{customdata[0]:.4g}, "
                          "p90=%{customdata[1]:.4g}<br>unsolved seeds: %{customdata[2]}<br>"
                          "γ=%{customdata[3]:.4g}<extra>" + curve.label + "</extra>"))
        fit = result.fits.get(curve)
        if fit is not None:
            fitted = np.exp(fit.intercept) * dims**fit.slope
            figure.add_trace(go.Scatter(
                x=dims.tolist(), y=fitted.tolist(), mode="lines", legendgroup=curve.label,
                name=f"fit: slope {fit.slope:.2f} (95 % CI {fit.ci_low:.2f}–{fit.ci_high:.2f})",
                line=dict(color=color, dash="dash", width=1.5), hoverinfo="skip"))
    if anchor is not None:
        for slope, label, dash in ((1.0, "reference slope 1 (∝ d)", "dot"),
                                   (0.5, "reference slope ½ (∝ √d)", "dashdot")):
            figure.add_trace(go.Scatter(
                x=dims.tolist(), y=(anchor[1] * (dims / anchor[0]) ** slope).tolist(),
                mode="lines", name=label, line=dict(color="#777", dash=dash, width=1.5),
                hoverinfo="skip"))
    figure.update_xaxes(tickvals=dims.tolist(), ticktext=[str(int(d)) for d in dims])
    tidy_log_axis(figure)
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
                         margin=dict(b=170))
    return figure


def _with_alpha(hex_color: str, alpha: float) -> str:
    value = hex_color.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def scaling_rows(result) -> list[dict[str, Any]]:
    """The numbers behind :func:`scaling_figure`, one row per (curve, d)."""
    return [{"curve": row["curve"], "d": row["d"], "step size γ": row["step_size"],
             "median": row["median"], "p10": row["p10"], "p90": row["p90"],
             "unsolved seeds": row["unsolved"]} for row in result.summary()]


def fit_rows(result) -> list[dict[str, Any]]:
    rows = []
    for curve in result.curves:
        fit = result.fits.get(curve)
        rows.append({"curve": curve.label,
                     "slope": None if fit is None else fit.slope,
                     "95 % CI low": None if fit is None else fit.ci_low,
                     "95 % CI high": None if fit is None else fit.ci_high,
                     "dimensions fitted": 0 if fit is None else fit.points})
    return rows


# ---------------------------------------------------------------------- step-size map
def loss_increase_fraction(loss: np.ndarray, tolerance: float = 1e-12) -> float:
    """Fraction of consecutive pairs with f(θ_{t+1}) > f(θ_t)(1 + tol), over finite pairs."""
    loss = np.asarray(loss, dtype=float)
    if loss.size < 2:
        return math.nan
    before, after = loss[:-1], loss[1:]
    finite = np.isfinite(before) & np.isfinite(after)
    if not finite.any():
        return math.nan
    increases = after[finite] > before[finite] * (1 + tolerance) + 1e-300
    return float(increases.mean())


def step_map_rows(result: SweepResult) -> list[dict[str, Any]]:
    """Per run of a step-size grid: iterations to solve, divergence, the share of loss
    increases in the exact tail and whether the recorded loss ever rose."""
    rows = []
    for record in result.runs:
        tail = record.tail or {}
        history_loss = np.asarray(record.history["loss"], dtype=float)
        rows.append({
            "step size γ": record.step_size,
            "seed": record.seed,
            "iterations to solve": record.iterations_to_solve,
            "status": status_text(record),
            "loss increases in tail": loss_increase_fraction(tail.get("loss", np.array([]))),
            "loss ever rose": bool(loss_increase_fraction(history_loss) > 0),
            "final loss": _finite_or_none(record.final_loss),
        })
    return rows


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


def orbit_figure(result: SweepResult, selected: float | None = None,
                 height: int = 480) -> go.Figure:
    """Bifurcation diagram: the last K losses of each run against its step size (log–log).
    Diverged runs are marked with a cross along the top instead; the selected step size is
    a vertical line. The y range covers the bulk of the values (the count outside is noted)."""
    figure = base_figure("orbit diagram: the last K losses of each run against its step size",
                         "step size γ", "loss f(θₜ), last K iterations", log_x=True,
                         log_y=True, height=height, plain_x=True)
    xs, ys, ts = [], [], []
    underflow, diverged_x, diverged_text = 0, [], []
    for record in result.runs:
        if record.diverged:      # its last finite losses are the blow-up, not an orbit
            diverged_x.append(record.step_size)
            diverged_text.append(f"γ={format_step(record.step_size)} diverged at t={record.diverged_at}")
            continue
        if not record.tail:
            continue
        loss = np.asarray(record.tail["loss"], dtype=float)
        keep = np.isfinite(loss) & (loss > 0)
        underflow += int((np.isfinite(loss) & (loss <= 0)).sum())
        xs.extend([record.step_size] * int(keep.sum()))
        ys.extend(loss[keep].tolist())
        ts.extend(np.asarray(record.tail["iteration"])[keep].tolist())
    figure.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers", name="f(θₜ), last K iterations",
        marker=dict(size=3, color="#1f3b73", opacity=0.55), customdata=ts,
        hovertemplate="γ=%{x:.4g}<br>t=%{customdata}<br>loss=%{y:.4g}<extra></extra>"))
    span = robust_log_range(ys)
    notes = []
    if span is not None:
        figure.update_yaxes(range=list(span))
        tidy_log_axis(figure, values=[10 ** span[0], 10 ** span[1]])
        outside = sum(1 for y in ys if not span[0] <= math.log10(y) <= span[1])
        if outside:
            notes.append(f"{outside} values outside the view")
    tidy_log_axis(figure, "x", [r.step_size for r in result.runs])
    if diverged_x:
        top = 10 ** (span[1] - 0.1) if span is not None else 1.0
        figure.add_trace(go.Scatter(
            x=diverged_x, y=[top] * len(diverged_x), mode="markers", name="diverged (inf/NaN)",
            cliponaxis=False,
            marker=dict(symbol="x", size=9, color=DIVERGED_COLOR), text=diverged_text,
            hovertemplate="%{text}<extra></extra>"))
    if selected is not None:
        figure.add_vline(x=selected, line=dict(color="#2ca02c", width=2, dash="dash"))
    if underflow:
        notes.append(f"{underflow} values underflow to 0")
    if notes:
        figure.add_annotation(text="; ".join(notes) + " (not drawn)", x=0.99, y=0.01,
                              xref="paper", yref="paper", xanchor="right", yanchor="bottom",
                              showarrow=False, bgcolor="rgba(255,255,255,0.8)")
    return figure


def solve_vs_step_figure(result: SweepResult, selected: float | None = None,
                         height: int = 380) -> go.Figure:
    """Iterations to solve against the step size; unsolved runs along the top."""
    figure = base_figure("iterations to solve against the step size", "step size γ",
                         "iterations to solve", log_x=True, log_y=True, height=height,
                         plain_x=True, plain_y=True)
    solved = [(r.step_size, r.iterations_to_solve) for r in result.runs
              if r.iterations_to_solve is not None]
    if not solved:
        figure.add_annotation(text=f"no run solved within {result.spec.max_iters} iterations<br>"
                              "(are the data linearly separable?)", x=0.5, y=0.5,
                              xref="paper", yref="paper", showarrow=False)
        figure.update_yaxes(showticklabels=False)
        figure.update_xaxes(range=np.log10([result.spec.step_sizes[0],
                                            result.spec.step_sizes[-1]]).tolist())
    else:
        figure.add_trace(go.Scatter(
            x=[s for s, _ in solved], y=[i for _, i in solved], mode="markers+lines",
            name="solved", line=dict(color="#1f77b4", width=1), marker=dict(size=5),
            hovertemplate="γ=%{x:.4g}<br>solved at t=%{y}<extra></extra>"))
        unsolved = [r for r in result.runs if r.iterations_to_solve is None]
        if unsolved:
            top = result.spec.max_iters
            figure.add_trace(go.Scatter(
                x=[r.step_size for r in unsolved], y=[top] * len(unsolved), mode="markers",
                name=f"not solved within {top} (× diverged)",
                marker=dict(symbol=["x" if r.diverged else "triangle-up" for r in unsolved],
                            color=[DIVERGED_COLOR if r.diverged else "#7f7f7f" for r in unsolved],
                            size=8),
                text=[status_text(r) for r in unsolved],
                hovertemplate="γ=%{x:.4g}<br>%{text}<extra></extra>"))
    if selected is not None:
        figure.add_vline(x=selected, line=dict(color="#2ca02c", width=2, dash="dash"))
    tidy_log_axis(figure, values=[i for _, i in solved] + [result.spec.max_iters])
    tidy_log_axis(figure, "x", [r.step_size for r in result.runs])
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
                         margin=dict(b=110))
    return figure


def nonmonotone_figure(result: SweepResult, selected: float | None = None,
                       height: int = 380) -> go.Figure:
    """Share of loss increases f(θ_{t+1}) > f(θ_t) in the last K iterations, per step size."""
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
    figure.update_yaxes(range=[-0.08, 1.02], tickformat=".0%")
    tidy_log_axis(figure, "x", [row["step size γ"] for row in rows])
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
                         margin=dict(b=110))
    if selected is not None:
        figure.add_vline(x=selected, line=dict(color="#2ca02c", width=2, dash="dash"))
    return figure


def loss_curve_figure(record: RunRecord, algorithm: str, height: int = 400) -> go.Figure:
    """The full recorded loss curve of one run, with its exact tail overlaid."""
    title = f"loss of the run with γ = {format_step(record.step_size)} ({status_text(record)})"
    figure = base_figure(title, "iteration t", "logistic loss f(θₜ)", log_y=True, height=height)
    loss = np.asarray(record.history["loss"], dtype=float)
    figure.add_trace(go.Scatter(
        x=np.asarray(record.history["iteration"]).tolist(), y=clean(np.where(loss > 0, loss, np.nan)),
        mode="lines", name=f"{algorithm_label(algorithm)} (recorded history)",
        line=dict(color="#1f3b73", width=2)))
    if record.tail:
        tail = np.asarray(record.tail["loss"], dtype=float)
        figure.add_trace(go.Scatter(
            x=np.asarray(record.tail["iteration"]).tolist(), y=clean(np.where(tail > 0, tail, np.nan)),
            mode="markers", name="last K iterations (exact)",
            marker=dict(size=4, color="#ff7f0e")))
    tidy_log_axis(figure)
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
