"""Plotly figures for the shallow linear network L(a, b) = ½(aᵀb − Φ)² (science.md §3).

Pure builders: they take ``SweepResult`` objects of ``core.shallow`` (GD and gradient flow)
and return figures or table rows; nothing here imports streamlit. Every number drawn comes
from the run histories and extras computed by ``core.shallow`` (ε, λ, Q, C, sharpness,
λ_GF = √(4Φ² + C₀), λ_GD = √(4Φ² + S²C₀), the Theorem-1 bound), never re-derived here except
the plane coordinates of the trajectory, which are projections of the recorded (a, b).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from .plots import (DIVERGED_COLOR, FONT_SIZE, HEIGHT, base_figure, clean, empty_figure,
                    format_step, step_colors, tidy_log_axis)
from .display_orbit import OrbitColumn, OrbitDiagram
from .results import RunRecord, SweepResult

GF_DASH = "dash"
GUIDE_COLOR = "#555555"
MINIMA_COLOR = "#2ca02c"
SHALLOW_TITLES = {
    "residual": "|ε| = |aᵀb − Φ|",
    "norm": "λ = ‖a‖² + ‖b‖²",
    "imbalance": "S(t) = Qᵢ(t)/Qᵢ(0), every i",
    "sharpness": "sharpness (top Hessian eigenvalue)",
}


# ---------------------------------------------------------------------- helpers
def run_label(record: RunRecord, many_seeds: bool = False) -> str:
    name = f"η={format_step(record.step_size)}"
    return f"{name} seed {record.seed}" if many_seeds else name


def status(record: RunRecord) -> str:
    if record.diverged:
        return f"diverged at k={record.diverged_at}"
    if record.iterations_to_solve is not None:
        return f"|ε| ≤ tol at k={record.iterations_to_solve}"
    return "not converged"


def split_params(record: RunRecord, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(a, b) at the recorded iterations (None when θ was not kept)."""
    if record.params is None:
        return None
    params = np.asarray(record.params, dtype=float)
    return params[:, :d], params[:, d:2 * d]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if norm == 0 or not math.isfinite(norm):
        unit = np.zeros_like(vector)
        unit[0] = 1.0
        return unit
    return vector / norm


def plane_coordinates(record: RunRecord, d: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The trajectory in a plane where it is exact.

    d = 1: (a, b) itself. d ≥ 2: GD scales a+b by (1 − ηε) and a−b by (1 + ηε) (gradient
    flow likewise), so both keep the directions u₀ = a₀+b₀ and v₀ = a₀−b₀ and the path is
    (x, y) = ((a+b)·u₀/‖u₀‖, (a−b)·v₀/‖v₀‖), where the minima are x² − y² = 4Φ and
    C = x²y²."""
    split = split_params(record, d)
    if split is None:
        return None
    a, b = split
    if d == 1:
        return a[:, 0], b[:, 0]
    u0, v0 = _unit(a[0] + b[0]), _unit(a[0] - b[0])
    with np.errstate(over="ignore", invalid="ignore"):
        return (a + b) @ u0, (a - b) @ v0


def _hline(figure: go.Figure, y: float, color: str, dash: str, text: str,
           position: str = "top right") -> None:
    if y is None or not math.isfinite(y):
        return
    figure.add_hline(y=y, line=dict(color=color, dash=dash, width=1.3),
                     annotation_text=text, annotation_position=position,
                     annotation_font=dict(size=FONT_SIZE - 4, color=color))


# ---------------------------------------------------------------------- GD against GF
def history_figure(gd: SweepResult, gf: SweepResult | None, metric: str,
                   height: int = HEIGHT) -> go.Figure:
    """One quantity of §3 against the iteration k, GD solid and gradient flow dashed
    (reported at t = kη), one colour per step size η.

    ``metric``: residual (|ε|, log), norm (λ, with the 2/η lines and λ_GF), imbalance
    (S(t) = Qᵢ(t)/Qᵢ(0), read at the i with the largest |Qᵢ(0)|) or sharpness (with the 2/η
    lines)."""
    title = SHALLOW_TITLES[metric]
    log_y = metric == "residual"
    figure = base_figure(title, "iteration k  (gradient flow at t = kη)", title, log_y=log_y,
                         height=height)
    colors = step_colors(r.step_size for r in gd.runs)
    many = len(gd.spec.seeds) > 1
    flows = {(r.step_size, r.seed): r for r in gf.runs} if gf is not None else {}
    crosses: list[tuple[float, float, str]] = []
    balanced = False
    for record in gd.runs:
        color = colors[record.step_size]
        pairs = [("GD", record, "solid")]
        if (record.step_size, record.seed) in flows:
            pairs.append(("GF", flows[(record.step_size, record.seed)], GF_DASH))
        for kind, run, dash in pairs:
            iterations = np.asarray(run.history["iteration"], dtype=float)
            values = _metric_values(run, metric)
            if values is None:
                balanced = True
                continue
            group = f"{record.step_size!r}:{record.seed}"
            figure.add_trace(go.Scatter(
                x=iterations.tolist(), y=clean(values), mode="lines",
                name=f"{kind} {run_label(record, many)}", legendgroup=group,
                line=dict(color=color, dash=dash, width=2.2 if kind == "GD" else 1.8),
                hovertemplate=f"{kind} {run_label(record, many)}<br>k=%{{x}}<br>"
                              f"{metric}=%{{y:.6g}}<extra></extra>"))
            if kind == "GD" and run.diverged:
                finite = np.flatnonzero(np.isfinite(values))
                if finite.size:
                    crosses.append((float(iterations[finite[-1]]), float(values[finite[-1]]),
                                    f"GD {run_label(record, many)} diverged at k={run.diverged_at}"))
    if crosses:
        figure.add_trace(go.Scatter(
            x=[c[0] for c in crosses], y=[c[1] for c in crosses], mode="markers", name="diverged",
            marker=dict(symbol="x", size=12, color=DIVERGED_COLOR), text=[c[2] for c in crosses],
            hovertemplate="%{text}<extra></extra>"))
    if metric in ("norm", "sharpness"):
        for step in sorted(colors):
            _hline(figure, 2 / step, colors[step], "dot", f"2/η (η={format_step(step)})")
        if gd.runs:
            extras = gd.runs[0].extras
            if metric == "norm" and len({r.extras.get("gf_sharpness") for r in gd.runs}) == 1:
                _hline(figure, extras.get("gf_sharpness"), GUIDE_COLOR, "dash",
                       "λ_GF = √(4Φ² + C₀)", "bottom right")
            phi = abs(float(gd.spec.phi))
            if phi > 0:
                _hline(figure, 2 * phi, MINIMA_COLOR, "dashdot", "2|Φ| (flattest minimum)",
                       "bottom left")
        _fit_range(figure)
    if not figure.data:
        message = ("every Qᵢ(0) = 0: a balanced start stays balanced (Qᵢ = 0 for GD and GF)"
                   if balanced else "nothing to draw")
        return empty_figure(title, message, height)
    if log_y:
        tidy_log_axis(figure)
    figure.update_layout(legend=dict(groupclick="togglegroup"))
    return figure


def _metric_values(run: RunRecord, metric: str) -> np.ndarray | None:
    if metric == "residual":
        values = np.abs(np.asarray(run.history["residual"], dtype=float))
        return np.where(values > 0, values, np.nan)
    if metric == "imbalance":
        # Per coordinate, not the total Q: Q(0) = ‖a₀‖² − ‖b₀‖² can be 0 while the Qᵢ are not.
        ratio = np.asarray(run.history["imbalance_ratio"], dtype=float)
        return None if np.isnan(ratio[0]) else ratio
    return np.asarray(run.history[metric], dtype=float)


def _fit_range(figure: go.Figure) -> None:
    """Keep the 2/η lines from squashing the curves: a y range over the data and the lines
    that are no more than 3× above the data."""
    data = [v for trace in figure.data for v in (trace.y or ()) if v is not None]
    if not data:
        return
    low, high = min(data), max(data)
    for shape in figure.layout.shapes:
        if shape.y0 is not None and shape.y0 <= 3 * max(high, 1e-12):
            low, high = min(low, shape.y0), max(high, shape.y0)
    pad = 0.06 * (high - low or abs(high) or 1.0)
    figure.update_yaxes(range=[max(0.0, low - pad) if low >= 0 else low - pad, high + pad])


def trajectory_figure(gd: SweepResult, gf: SweepResult | None, height: int = 560) -> go.Figure:
    """GD paths (markers at the recorded iterates) and the gradient-flow path in the plane of
    :func:`plane_coordinates`, with the set of minima and the GF invariant curve."""
    d, phi = int(gd.spec.d), float(gd.spec.phi)
    if d == 1:
        title, x_title, y_title = "trajectory in the (a, b) plane", "a", "b"
    else:
        title = "trajectory in (a+b, a−b) coordinates"
        x_title, y_title = "x = (a+b)·u₀/‖u₀‖", "y = (a−b)·v₀/‖v₀‖"
    figure = base_figure(title, x_title, y_title, height=height)
    colors = step_colors(r.step_size for r in gd.runs)
    many = len(gd.spec.seeds) > 1
    gd_paths, gf_paths = [], []
    for record in gd.runs:
        coords = plane_coordinates(record, d)
        if coords is None:
            continue
        x, y = coords
        gd_paths.append((x, y))
        iterations = np.asarray(record.history["iteration"])
        figure.add_trace(go.Scatter(
            x=clean(x), y=clean(y), mode="lines+markers", name=f"GD {run_label(record, many)}",
            line=dict(color=colors[record.step_size], width=1.2),
            marker=dict(size=5, color=colors[record.step_size]), customdata=iterations,
            hovertemplate=f"GD {run_label(record, many)}<br>k=%{{customdata}}<br>"
                          "x=%{x:.5g}<br>y=%{y:.5g}<extra></extra>"))
    if gf is not None:
        seen = set()
        for record in sorted(gf.runs, key=lambda r: -r.step_size):   # longest time first
            if record.seed in seen:
                continue
            seen.add(record.seed)
            coords = plane_coordinates(record, d)
            if coords is None:
                continue
            x, y = coords
            gf_paths.append((x, y))
            figure.add_trace(go.Scatter(
                x=clean(x), y=clean(y), mode="lines",
                name="gradient flow" + (f" seed {record.seed}" if many else ""),
                line=dict(color="black", dash=GF_DASH, width=2.2),
                hovertemplate="gradient flow<br>x=%{x:.5g}<br>y=%{y:.5g}<extra></extra>"))
    paths = gd_paths + gf_paths
    if not paths:
        return empty_figure(title, "θ was not kept for these runs (too many coordinates); "
                            "lower d or the number of step sizes", height)
    starts = [(p[0][0], p[1][0]) for p in paths if np.isfinite(p[0][0]) and np.isfinite(p[1][0])]
    if starts:
        figure.add_trace(go.Scatter(
            x=[s[0] for s in starts[:1]], y=[s[1] for s in starts[:1]], mode="markers",
            name="start", marker=dict(symbol="star", size=15, color="#ff7f0e",
                                      line=dict(color="black", width=1))))
    xlim, ylim = _view_box(starts, gd_paths, gf_paths, phi)
    _add_minima(figure, phi, d, xlim, ylim)
    figure.update_xaxes(range=list(xlim))
    figure.update_yaxes(range=list(ylim), scaleanchor="x", scaleratio=1)
    figure.update_layout(legend=dict(groupclick="toggleitem"))
    return figure


def _box_of(paths) -> list[float] | None:
    xs = np.concatenate([np.asarray(p[0], dtype=float) for p in paths]) if paths else np.array([])
    ys = np.concatenate([np.asarray(p[1], dtype=float) for p in paths]) if paths else np.array([])
    keep = np.isfinite(xs) & np.isfinite(ys)
    if not keep.any():
        return None
    return [float(xs[keep].min()), float(xs[keep].max()), float(ys[keep].min()), float(ys[keep].max())]


def _view_box(starts, gd_paths, gf_paths, phi: float):
    """A square view (equal scales) around the start and the gradient-flow path, grown to
    hold the GD paths unless they run far away (divergence, chaos)."""
    core = [(np.array([s[0]]), np.array([s[1]])) for s in starts] + list(gf_paths)
    box = _box_of(core) or [-1.0, 1.0, -1.0, 1.0]
    size = max(box[1] - box[0], box[3] - box[2], 0.2 * math.sqrt(abs(phi)), 1e-3)
    wide = _box_of(gd_paths)
    if wide is not None and max(wide[1] - wide[0], wide[3] - wide[2]) <= 3 * size:
        box = [min(box[0], wide[0]), max(box[1], wide[1]), min(box[2], wide[2]), max(box[3], wide[3])]
    half = 0.6 * max(box[1] - box[0], box[3] - box[2], 0.2 * math.sqrt(abs(phi)), 1e-3)
    cx, cy = (box[0] + box[1]) / 2, (box[2] + box[3]) / 2
    return (cx - half, cx + half), (cy - half, cy + half)


def _add_minima(figure: go.Figure, phi: float, d: int, xlim, ylim) -> None:
    """aᵀb = Φ: ab = Φ for d = 1, x² − y² = 4Φ in (a+b, a−b) coordinates (both branches),
    drawn across the view."""
    name = "minima ab = Φ" if d == 1 else "minima x² − y² = 4Φ"
    xs: list[float | None] = []
    ys: list[float | None] = []
    xgrid = np.linspace(xlim[0], xlim[1], 1201)
    ygrid = np.linspace(ylim[0], ylim[1], 1201)
    inside_y = lambda v: (v >= ylim[0]) & (v <= ylim[1])     # noqa: E731
    inside_x = lambda v: (v >= xlim[0]) & (v <= xlim[1])     # noqa: E731
    if d == 1:
        if phi == 0:
            xs += [xlim[0], xlim[1], None, 0.0, 0.0]
            ys += [0.0, 0.0, None, ylim[0], ylim[1]]
        else:
            for sign in (-1, 1):
                part = xgrid[(xgrid * sign) > 0]
                keep = inside_y(phi / part)
                xs += part[keep].tolist() + [None]
                ys += (phi / part[keep]).tolist() + [None]
    elif phi >= 0:     # x = ±√(y² + 4Φ)
        other = np.sqrt(ygrid**2 + 4 * phi)
        for sign in (1, -1):
            keep = inside_x(sign * other)
            xs += (sign * other[keep]).tolist() + [None]
            ys += ygrid[keep].tolist() + [None]
    else:              # y = ±√(x² + 4|Φ|)
        other = np.sqrt(xgrid**2 - 4 * phi)
        for sign in (1, -1):
            keep = inside_y(sign * other)
            xs += xgrid[keep].tolist() + [None]
            ys += (sign * other[keep]).tolist() + [None]
    figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
                                line=dict(color=MINIMA_COLOR, width=3), opacity=0.6))


# ---------------------------------------------------------------------- Theorem 1
def thresholds(record: RunRecord, phi: float) -> list[tuple[str, float]]:
    """Step-size thresholds of §3 for the run's initial point (name, η)."""
    extras = record.extras
    lam0 = extras["initial_norm"]
    out = [("Theorem 1: η* = min{1/(2|ε₀|), 2/√(λ₀² + 4Φ²)}", extras["theorem1_step_bound"])]
    if lam0 > 0:
        out.append(("ηλ(0) = 2", 2 / lam0))
    if phi != 0:
        out.append(("η = 1/|Φ| (no stable minimum beyond)", 1 / abs(phi)))
    return [(name, float(value)) for name, value in out if value is not None and math.isfinite(value)]


def theorem1_figure(gd: SweepResult, height: int = 360) -> go.Figure:
    """The chosen step sizes (markers: steps to |ε| ≤ tol) on a log η axis with the
    Theorem-1 bound and the other thresholds as vertical lines."""
    figure = base_figure("η against Theorem 1's η*",
                         "step size η", "steps to |ε| ≤ tol", log_x=True, log_y=True,
                         height=height, plain_x=True, plain_y=True)
    phi = float(gd.spec.phi)
    colors = step_colors(r.step_size for r in gd.runs)
    top = gd.spec.max_iters
    for record in gd.runs:
        solved = record.iterations_to_solve
        y = max(solved, 1) if solved is not None else top
        figure.add_trace(go.Scatter(
            x=[record.step_size], y=[y], mode="markers", name=run_label(record),
            marker=dict(size=13, color=colors[record.step_size],
                        symbol="circle" if solved is not None else
                        ("x" if record.diverged else "triangle-up"),
                        line=dict(color="black", width=1)),
            text=[status(record)], showlegend=False,
            hovertemplate=f"η={record.step_size:.6g}<br>%{{text}}<br>η/η* = "
                          f"{record.step_size / record.extras['theorem1_step_bound']:.3g}"
                          "<extra></extra>"))
    marks = thresholds(gd.runs[0], phi) if gd.runs else []
    if len({round(r.extras["theorem1_step_bound"], 15) for r in gd.runs}) > 1:
        marks = [m for m in marks if not m[0].startswith("Theorem")]   # random inits: per run
    palette = ["#d62728", "#9467bd", "#8c564b"]
    for (name, value), color in zip(marks, palette):
        figure.add_vline(x=value, line=dict(color=color, dash="dash", width=2))
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"{name} = {value:.4g}",
                                    line=dict(color=color, dash="dash", width=2)))
    xs = [r.step_size for r in gd.runs] + [v for _, v in marks]
    low, high = min(xs) / 2, max(xs) * 2
    figure.update_xaxes(range=[math.log10(low), math.log10(high)])
    tidy_log_axis(figure, "x", [low, high])
    ys = [max(r.iterations_to_solve or top, 1) for r in gd.runs] + [top]
    tidy_log_axis(figure, "y", ys)
    figure.update_yaxes(range=[-0.1, math.log10(max(ys)) + 0.3])
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
                         margin=dict(b=120))
    return figure


def summary_rows(gd: SweepResult, gf: SweepResult | None) -> list[dict[str, Any]]:
    """One row per GD run: where η sits and what GD and GF end with."""
    flows = {(r.step_size, r.seed): r for r in gf.runs} if gf is not None else {}
    rows = []
    phi = float(gd.spec.phi)
    for record in gd.runs:
        extras = record.extras
        bound = extras["theorem1_step_bound"]
        flow = flows.get((record.step_size, record.seed))
        row = {
            "η": record.step_size,
            "seed": record.seed,
            "η / η* (Theorem 1)": record.step_size / bound if bound else None,
            "ηλ(0)": extras["eta_lambda0"],
            "η|Φ|": record.step_size * abs(phi),
            "GD": status(record),
            "S = Qᵢ(T)/Qᵢ(0)": extras.get("imbalance_ratio"),
            "S = Π(1 − η²ε²)": extras.get("contraction"),
            "GD final sharpness": extras.get("final_sharpness"),
            "λ_GD = √(4Φ² + S²C₀)": extras.get("gd_limit_sharpness"),
            "λ_GF = √(4Φ² + C₀)": extras.get("gf_sharpness"),
            "2/η": 2 / record.step_size,
        }
        if flow is not None:
            row["GF final λ (t = kη)"] = _finite(flow.history["norm"][-1])
            row["GF steps to tol"] = flow.iterations_to_solve
        rows.append(row)
    return rows


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- tail (exact last K)
def tail_figure(gd: SweepResult, height: int = 380) -> go.Figure:
    """The last K residuals of each run (kept exactly): one value = converged, a few =
    a periodic orbit, many = chaos."""
    title = "last K iterations: residual ε per step size"
    figure = base_figure(title, "step size η", "ε (last K iterations)", log_x=True,
                         height=height, plain_x=True)
    xs, ys, ks = [], [], []
    for record in gd.runs:
        if not record.tail:
            continue
        eps = np.asarray(record.tail["residual"], dtype=float)
        keep = np.isfinite(eps)
        xs += [record.step_size] * int(keep.sum())
        ys += eps[keep].tolist()
        ks += np.asarray(record.tail["iteration"])[keep].tolist()
    if not xs:
        return empty_figure(title, "no tail kept (set tail_points > 0)", height)
    figure.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="ε, last K", customdata=ks,
                                marker=dict(size=6, color="#1f3b73", opacity=0.6),
                                hovertemplate="η=%{x:.4g}<br>k=%{customdata}<br>ε=%{y:.6g}"
                                              "<extra></extra>"))
    tidy_log_axis(figure, "x", [r.step_size for r in gd.runs])
    return figure


# ---------------------------------------------------------------------- Figure 3
def scale_colors(scales: Sequence[float]) -> dict[float, str]:
    unique = sorted(set(float(s) for s in scales))
    if len(unique) == 1:
        return {unique[0]: "#1f77b4"}
    positions = [0.9 * i / (len(unique) - 1) for i in range(len(unique))]
    return dict(zip(unique, sample_colorscale("Viridis", positions)))


def robust_linear_range(values: Sequence[float], spread: float = 3.0,
                        min_width: float = 0.5) -> tuple[float, float] | None:
    """A y range from the bulk of the values: the quartiles widened by ``spread`` times the
    interquartile range (at least ``min_width``), never wider than the data. One blown-up run
    (S ≈ −2e292 in the chaotic regime) then cannot flatten the others onto a line."""
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if not finite.size:
        return None
    q1, q3 = np.percentile(finite, [25, 75])
    width = spread * max(q3 - q1, min_width)
    return max(float(finite.min()), q1 - width), min(float(finite.max()), q3 + width)


def figure3_figure(results: Sequence[SweepResult], quantity: str, height: int = 440,
                   scales: Sequence[float] | None = None) -> go.Figure:
    """Figure 3 of the paper, one curve per initial scale s (``scales``, default each spec's
    init scale).

    ``quantity``: "ratio" for S = Qᵢ(T)/Qᵢ(0) = Π(1 − η²ε²), "steps" for the steps to
    |ε| ≤ tol (log). Regimes: ηλ(0) = 2 (slow) and, per scale, η = 1/|ε(0)| (sign flips of a±b
    from the first step on). The S axis covers the bulk of the values; values beyond it are
    drawn as triangles on its edge and counted in a note, runs without an S (diverged) too."""
    steps = quantity == "steps"
    title = ("steps to |ε| ≤ tol against ηλ(0)" if steps else
             "S = Qᵢ(T)/Qᵢ(0) against ηλ(0)")
    figure = base_figure(title, "ηλ(0)", "steps to |ε| ≤ tol" if steps else "S = Qᵢ(T)/Qᵢ(0)",
                         log_y=steps, height=height, plain_y=True)
    scales = [float(r.spec.init_scale) for r in results] if scales is None else list(scales)
    colors = scale_colors(scales)
    fails_x, fails_y, fails_text = [], [], []
    top = max((r.spec.max_iters for r in results), default=1)
    x_values: list[float] = []
    points: list[tuple[float, float, str]] = []     # (x, S, text) of every run with an S
    missing = 0
    unstable_lines = False
    for scale, result in zip(scales, results):
        color = colors[scale]
        xs, ys, text = [], [], []
        for record in result.runs:
            x = record.extras["eta_lambda0"]
            x_values.append(x)
            value = (record.iterations_to_solve if steps else record.extras.get("imbalance_ratio"))
            label = (f"s={scale:g}, η={record.step_size:.4g}, {status(record)}"
                     + ("; η|ε(0)| > 1" if _first_step_flips(record) else ""))
            if steps and value is None:
                fails_x.append(x)
                fails_y.append(top)
                fails_text.append(label)
            if not steps:
                if value is None:
                    missing += 1
                else:
                    points.append((x, float(value), label))
            xs.append(x)
            ys.append(None if value is None else max(float(value), 1.0) if steps else float(value))
            text.append(label)
        figure.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers",
            name=f"s = {scale:g} (λ(0) = {result.runs[0].extras['initial_norm']:.4g})",
            line=dict(color=color, width=2), marker=dict(size=5, color=color), text=text,
            hovertemplate="ηλ(0)=%{x:.4g}<br>%{y:.6g}<br>%{text}<extra></extra>"))
        lam0 = result.runs[0].extras["initial_norm"]
        eps0 = abs(float(result.runs[0].history["residual"][0]))
        if eps0 > 0:
            figure.add_vline(x=lam0 / eps0, line=dict(color=color, dash="dot", width=1.5))
        phi = abs(float(result.spec.phi))
        if phi > 0 and not math.isclose(eps0, phi):     # η|Φ| = 1 is elsewhere for this init
            figure.add_vline(x=lam0 / phi, line=dict(color=color, dash="dashdot", width=1.5))
            unstable_lines = True
    if unstable_lines:
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines",
                                    name="η|Φ| = 1 per s (no stable minimum beyond)",
                                    line=dict(color=GUIDE_COLOR, dash="dashdot", width=1.5)))
    if fails_x:
        figure.add_trace(go.Scatter(
            x=fails_x, y=fails_y, mode="markers", name=f"not converged within {top} (or diverged)",
            marker=dict(symbol="x", size=8, color=DIVERGED_COLOR), text=fails_text,
            hovertemplate="%{text}<extra></extra>"))
    figure.add_vline(x=2.0, line=dict(color="black", dash="dash", width=1.5))
    figure.add_vrect(x0=1.8, x1=2.2, fillcolor="rgba(255,165,0,0.12)", line_width=0,
                     annotation_text="ηλ(0) ≈ 2: slow", annotation_position="top left",
                     annotation_font=dict(size=FONT_SIZE - 3))
    figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="η = 1/|ε(0)| per s "
                                "(sign flips; chaos beyond η|Φ| = 1)",
                                line=dict(color=GUIDE_COLOR, dash="dot", width=1.5)))
    if x_values:
        low, high = min(x_values), max(x_values)
        pad = 0.03 * (high - low or 1.0)
        figure.update_xaxes(range=[low - pad, high + pad])
    if steps:
        tidy_log_axis(figure)
    else:
        figure.add_hline(y=1.0, line=dict(color=GUIDE_COLOR, width=1))
        _mark_out_of_view(figure, points, missing)
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
                         margin=dict(b=130))
    return figure


def _mark_out_of_view(figure: go.Figure, points: list[tuple[float, float, str]], missing: int) -> None:
    """Set the S axis to the bulk of the values (always showing 0 and 1), draw the values
    beyond it as triangles on the edge (hover: the true value) and count them in a note."""
    span = robust_linear_range([p[1] for p in points])
    if span is None:
        low, high = -0.05, 1.08
    else:
        low, high = min(span[0], 0.0), max(span[1], 1.0)
        pad = 0.04 * (high - low)
        low, high = low - pad, high + pad
    figure.update_yaxes(range=[low, high])
    below = [p for p in points if p[1] < low]
    above = [p for p in points if p[1] > high]
    for group, edge, symbol, word in ((below, low, "triangle-down", "below"),
                                      (above, high, "triangle-up", "above")):
        if group:
            figure.add_trace(go.Scatter(
                x=[p[0] for p in group], y=[edge] * len(group), mode="markers",
                name=f"{len(group)} values {word} the view (hover for each)", cliponaxis=False,
                marker=dict(symbol=symbol, size=10, color=DIVERGED_COLOR),
                text=[f"{p[2]}<br>S = {p[1]:.4g}" for p in group],
                hovertemplate="ηλ(0)=%{x:.4g}<br>%{text}<extra></extra>"))
    notes = []
    outside = len(below) + len(above)
    if outside:
        extreme = max(below + above, key=lambda p: abs(p[1]))[1]
        notes.append(f"{outside} values outside the view (the farthest S = {extreme:.3g}),<br>"
                     "drawn as ▼/▲ on its edge")
    if missing:
        notes.append(f"{missing} runs without an S (diverged)")
    if notes:
        # One line each, short enough for a half-width chart.
        figure.add_annotation(text="<br>".join(notes), x=0.01, y=0.02, xref="paper", yref="paper",
                              xanchor="left", yanchor="bottom", showarrow=False,
                              bgcolor="rgba(255,255,255,0.85)",
                              font=dict(size=FONT_SIZE - 3, color=DIVERGED_COLOR))


def _first_step_flips(record: RunRecord) -> bool:
    eps0 = float(record.history["residual"][0])
    return record.step_size * abs(eps0) > 1


def figure3_rows(results: Sequence[SweepResult],
                 scales: Sequence[float] | None = None) -> list[dict[str, Any]]:
    rows = []
    scales = [r.spec.init_scale for r in results] if scales is None else list(scales)
    for scale, result in zip(scales, results):
        for record in result.runs:
            rows.append({"s": scale, "η": record.step_size,
                         "ηλ(0)": record.extras["eta_lambda0"],
                         "S = Qᵢ(T)/Qᵢ(0)": record.extras.get("imbalance_ratio"),
                         "steps to tol": record.iterations_to_solve,
                         "final sharpness": record.extras.get("final_sharpness"),
                         "λ_GF": record.extras.get("gf_sharpness"),
                         "status": status(record)})
    return rows


# ---------------------------------------------------------------------- orbit diagram
def orbit_diagram(result: SweepResult, quantity: str = "residual") -> OrbitDiagram:
    """Bifurcation diagram of the balanced dynamics a = b (d = 1): the last K values of ε
    (or of aᵀb) of every run against η|Φ|. One dot per η: converged; 2, 4, 8, …: period
    doubling; a smear: chaos. The numbers; :func:`orbit_figure` draws them."""
    phi = float(result.spec.phi)
    label = "ε = aᵀb − Φ" if quantity == "residual" else "aᵀb"
    shift = 0.0 if quantity == "residual" else phi
    columns = [OrbitColumn(r.step_size * abs(phi),
                           np.asarray(r.tail["residual"] if r.tail else [], dtype=float) + shift,
                           np.asarray(r.tail["iteration"] if r.tail else [], dtype=int),
                           r.diverged, r.diverged_at) for r in result.runs]
    return OrbitDiagram.build(
        columns, title=f"orbit diagram of the balanced dynamics a = b: last K values of {label}",
        x_title="η|Φ|", y_title=f"{label}, last K iterations", x_name="η|Φ|",
        reference=(1.0, "η|Φ| = 1"))


def orbit_figure(result: SweepResult, quantity: str = "residual", height: int = 520) -> go.Figure:
    return orbit_diagram(result, quantity).to_plotly(height)


# ---------------------------------------------------------------------- catapult
def catapult_figure(result: SweepResult, metric: str, height: int = 400) -> go.Figure:
    """Φ = 0: the loss (log) or λ against k, one colour per ηλ(0); λ with the 2/η lines."""
    loss = metric == "loss"
    title = "loss ½ε² (log)" if loss else "λ = ‖a‖² + ‖b‖² against 2/η"
    figure = base_figure(title, "iteration k", "½ε²" if loss else "λ", log_y=loss, height=height)
    colors = step_colors(r.step_size for r in result.runs)
    for record in result.runs:
        values = np.asarray(record.history["loss" if loss else "norm"], dtype=float)
        if loss:
            values = np.where(values > 0, values, np.nan)
        name = f"ηλ(0) = {record.extras['eta_lambda0']:.3g}"
        figure.add_trace(go.Scatter(
            x=np.asarray(record.history["iteration"]).tolist(), y=clean(values), mode="lines",
            name=name + (" (diverged)" if record.diverged else ""),
            line=dict(color=colors[record.step_size], width=2),
            hovertemplate=f"{name}<br>k=%{{x}}<br>%{{y:.6g}}<extra></extra>"))
        if not loss:
            _hline(figure, 2 / record.step_size, colors[record.step_size], "dot",
                   f"2/η ({name})")
    # The y range follows the runs that did not diverge (a diverged run leaves the view,
    # its last finite value is in the table).
    kept = [v for record in result.runs if not record.diverged
            for v in np.asarray(record.history["loss" if loss else "norm"], dtype=float)
            if math.isfinite(v) and (v > 0 or not loss)]
    gone = [r for r in result.runs if r.diverged]
    if loss and kept:
        tidy_log_axis(figure, values=kept)
        figure.update_yaxes(range=[math.log10(min(kept)) - 0.5, math.log10(max(kept)) + 1.0])
    elif kept:
        lines = [2 / r.step_size for r in result.runs if 2 / r.step_size <= 3 * max(kept)]
        figure.update_yaxes(range=[0, 1.08 * max(kept + lines)])
    for record in gone:
        # A legend entry, not a note on the plot: a long note ran across the axis ticks.
        figure.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", marker=dict(symbol="x", size=10, color=DIVERGED_COLOR),
            name=f"ηλ(0) = {record.extras['eta_lambda0']:.3g}: diverged at k={record.diverged_at} "
                 "(off the scale)"))
    window = catapult_window(result)
    if window is not None:
        last = max(r.last_iteration for r in result.runs)
        figure.update_xaxes(range=[-0.02 * window, window],
                            title_text=f"iteration k (0–{window:g} of {last} shown; autoscale for all)")
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.22, x=0),
                         margin=dict(b=120))
    return figure


def catapult_window(result: SweepResult) -> float | None:
    """The iterations worth seeing: ten times the last loss peak of the runs that did not
    diverge (at least 30 steps), so a spike at k = 1 is not squeezed against the left edge of a
    long run. None when the whole run fits (nothing is cut)."""
    peaks = []
    for record in result.runs:
        loss = np.asarray(record.history["loss"], dtype=float)
        if record.diverged or not np.isfinite(loss).any():
            continue
        peaks.append(int(record.history["iteration"][int(np.nanargmax(loss))]))
    last = max((r.last_iteration for r in result.runs), default=0)
    window = max(30, 10 * max(peaks, default=0))
    return float(window) if window < last else None


def catapult_rows(result: SweepResult) -> list[dict[str, Any]]:
    rows = []
    for record in result.runs:
        loss = np.asarray(record.history["loss"], dtype=float)
        finite = loss[np.isfinite(loss)]
        peak = float(finite.max() / loss[0]) if finite.size and loss[0] > 0 else None
        final = record.extras.get("final_sharpness")
        rows.append({"ηλ(0)": record.extras["eta_lambda0"], "η": record.step_size,
                     "peak loss / initial loss": peak,
                     "final sharpness λ_∞": final, "2/η": 2 / record.step_size,
                     "λ_∞ < 2/η": None if final is None or record.diverged else final < 2 / record.step_size,
                     "status": status(record)})
    return rows
