"""Plotly figures for the shallow linear network L(a, b) = ½(aᵀb − Φ)² (science.md §3).

Pure builders: they take ``SweepResult`` objects of ``core.engine.shallow`` (GD and gradient flow)
and return figures or table rows; nothing here imports streamlit. Every number drawn comes
from the run histories and extras computed by ``core.engine.shallow`` (ε, λ, Q, C, sharpness,
λ_GF = √(4Φ² + C₀), λ_GD = √(4Φ² + S²C₀), the Theorem-1 bound), never re-derived here except
the plane coordinates of the trajectory, which are projections of the recorded (a, b).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from core.report.display import (Display, divergence_point, finite_span, human_count, human_number, plural,
                                 point_budget, spread_indices)
from core.report.payload import compact, envelope_indices
from core.report.player import Frame, add_player, frame_positions
from core.report.plots import (DIVERGED_COLOR, GL_POINTS, HEIGHT, add_subtitle, base_figure,
                               empty_figure, format_step, room_for_legend, step_colors, tidy_log_axis)
from core.report.display_orbit import OrbitColumn, OrbitDiagram
from core.engine.results import RunRecord, SweepResult

GF_DASH = "dash"
PIN_DASHES = ("dot", "dashdot", "longdashdot")   # one per pin (GD solid, GF dashed)
RUNS_DRAWN = 12            # step sizes (× seeds) one chart draws; the table lists every run
CHART_POINTS = 24_000      # points one shallow chart draws (float64 typed arrays: ≈ 0.5 MB)
GUIDE_COLOR = "#555555"
MINIMA_COLOR = "#2ca02c"
SHALLOW_Y_TITLES = {"residual": "|ε|", "norm": "λ", "imbalance": "S(t)", "sharpness": "sharpness"}
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


# ---------------------------------------------------------------------- shared drawing parts
@dataclass(frozen=True)
class Series:
    """One drawn line: its name, legend group, style and (thinned) numbers."""
    name: str
    x: np.ndarray
    y: np.ndarray
    color: str
    dash: str = "solid"
    width: float = 2.0
    group: str = ""


@dataclass(frozen=True)
class Guide:
    """A horizontal reference line (2/η, λ_GF, 2|Φ|)."""
    value: float
    label: str
    color: str
    dash: str = "dot"


def chosen_runs(runs: Sequence[RunRecord], limit: int = RUNS_DRAWN) -> tuple[list[RunRecord], int]:
    """At most ``limit`` runs, evenly spread over the list (first and last kept), and how
    many there were."""
    return [runs[i] for i in spread_indices(len(runs), limit)], len(runs)


def thinned(x: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    keep = envelope_indices(y, limit)
    return np.asarray(x)[keep], np.asarray(y)[keep]


def split_guides(guides: Sequence[Guide], window: tuple[float, float] | None,
                 log: bool = False) -> tuple[list[Guide], list[Guide]]:
    """The guides inside the y window (drawn) and those off it (an edge label): a line far
    off the data must not set the axis."""
    if window is None:
        return list(guides), []
    inside, outside = [], []
    for guide in guides:
        if not math.isfinite(guide.value) or (log and guide.value <= 0):
            continue
        value = math.log10(guide.value) if log else guide.value
        (inside if window[0] <= value <= window[1] else outside).append(guide)
    return inside, outside


def draw_series(figure: go.Figure, series: Sequence[Series], hover: str) -> None:
    for line in series:
        kind = go.Scattergl if line.x.size > GL_POINTS else go.Scatter
        figure.add_trace(kind(
            x=compact(line.x), y=compact(line.y), mode="lines", name=line.name,
            legendgroup=line.group or None, line=dict(color=line.color, dash=line.dash, width=line.width),
            hovertemplate=f"{line.name}<br>k=%{{x}}<br>{hover}=%{{y:.6g}}<extra></extra>"))


def draw_guides(figure: go.Figure, inside: Sequence[Guide], outside: Sequence[Guide],
                window: tuple[float, float] | None, x_span: tuple[float, float]) -> None:
    """Guides in view as legend-named lines (no labels on the plot to collide); guides off
    the view as one edge label saying where they are."""
    for guide in inside:
        figure.add_trace(go.Scatter(
            x=list(x_span), y=[guide.value, guide.value], mode="lines", name=guide.label,
            meta="skip", hoverinfo="skip", line=dict(color=guide.color, dash=guide.dash, width=1.4)))
    above = [g for g in outside if window is None or g.value > window[1]]
    below = [g for g in outside if g not in above]
    for group, word in ((above, "↑ above"), (below, "↓ below")):
        if group:
            add_subtitle(figure, f"{word} the view: " + ", ".join(
                f"{g.label} = {human_number(g.value)}" for g in group[:2])
                + (f" and {len(group) - 2} more" if len(group) > 2 else ""))


def legend_below(figure: go.Figure, rows: int = 1) -> None:
    """A horizontal legend under the x-axis title whatever the chart's height (a legend at a
    fixed fraction of the height sat on the axis title of short charts)."""
    height = figure.layout.height or HEIGHT
    top = figure.layout.margin.t if figure.layout.margin.t is not None else 60
    bottom = 70 + 22 * rows
    plot = max(height - top - bottom, 100)
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-62 / plot, x=0),
                         margin=dict(b=bottom))


def window_of(series_by_run: Sequence[tuple[bool, np.ndarray]], log: bool,
              guides: Sequence[Guide] = (), near: float = 0.25) -> tuple[float, float] | None:
    """The y window (axis units) of the runs that stayed finite, widened to the guides that
    lie within ``near`` of its height beyond it (a line just above the data is drawn, one far
    off is an edge label). Diverged runs do not stretch it."""
    span = finite_span([values for diverged, values in series_by_run if not diverged], log)
    if span is None:                 # every run diverged: their values until they escape
        span = finite_span([_before_escape(values) for _, values in series_by_run], log)
    if span is None:
        return None
    low, high = span
    reach = near * (high - low)
    for guide in guides:
        if not math.isfinite(guide.value) or (log and guide.value <= 0):
            continue
        value = math.log10(guide.value) if log else guide.value
        if low - reach <= value <= high + reach:
            low, high = min(low, value), max(high, value)
    pad = 0.04 * (high - low or 1.0)
    return low - pad, high + pad


def _before_escape(values: np.ndarray, factor: float = 100.0) -> np.ndarray:
    """A diverged run's values before the first that exceeds ``factor`` times its start in
    size: where it leaves the view, not the 1e250 it reaches."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or not np.isfinite(values[0]):
        return values
    limit = factor * max(abs(float(values[0])), 1e-12)
    with np.errstate(invalid="ignore"):
        escaped = np.flatnonzero(~(np.abs(values) <= limit))
    return values[: max(int(escaped[0]), 1)] if escaped.size else values


def thinning_line(drawn: int, total: int, noun: str = "runs") -> str:
    return (f"{human_count(drawn)} of {human_count(total)} {noun} drawn, evenly spread "
            "(the table and the downloads hold all)") if drawn < total else ""


# ---------------------------------------------------------------------- GD against GF
@dataclass(kw_only=True)
class HistoryDisplay(Display):
    """One quantity of §3 against the iteration k: GD solid and gradient flow dashed
    (reported at t = kη), one colour per step size; the 2/η, λ_GF and 2|Φ| guides."""
    metric: str
    log_y: bool
    series: list[Series] = field(default_factory=list)
    inside: list[Guide] = field(default_factory=list)
    outside: list[Guide] = field(default_factory=list)
    window: tuple[float, float] | None = None
    x_span: tuple[float, float] = (0.0, 1.0)
    crosses: list[tuple[float, float, str]] = field(default_factory=list)
    empty_message: str = ""
    frames_at: np.ndarray | None = None            # iterations of the play/step frames

    @classmethod
    def build(cls, gd: SweepResult, gf: SweepResult | None, metric: str,
              pins: Sequence[tuple[str, SweepResult]] = ()) -> "HistoryDisplay":
        """``pins``: (label, GD result) of pinned views, drawn in the colour of their step
        size with a dash of their own, named by what differs from the live view."""
        display = cls(title=SHALLOW_TITLES[metric], metric=metric, log_y=metric == "residual")
        runs, total = chosen_runs(gd.runs)
        flows = _flows_by_run(gf, gd.spec.dtype)
        many = len(gd.spec.seeds) > 1
        colors = step_colors([r.step_size for r in gd.runs] +
                             [r.step_size for _, pinned in pins for r in pinned.runs])
        pairs = _drawn_pairs(runs, flows, pins)
        budget = point_budget(len(pairs), max((len(run.history["iteration"]) for _, _, run in pairs),
                                              default=0), total=CHART_POINTS, max_traces=3 * RUNS_DRAWN)
        measured, gone = [], []
        for record, kind, run in pairs:
            line, values = _history_series(record, kind, run, metric, colors, many,
                                           budget.points_per_trace)
            if line is None:
                continue
            display.series.append(line)
            measured.append((run.diverged, values))
            if kind == "GD" and run.diverged:
                gone.append((run, values))
        display._place_guides(gd, metric, colors, measured)
        display.crosses = [_divergence_mark(run, values, many, display.window, display.log_y)
                           for run, values in gone]
        display.empty_message = "" if display.series else (
            "every Qᵢ(0) = 0: a balanced start stays balanced (Qᵢ = 0 for GD and GF)"
            if metric == "imbalance" else "nothing to draw")
        display.notes = [thinning_line(len(runs), total)] + (
            [f"every line thinned to ≤ {human_count(budget.points_per_trace)} points (its "
             "smallest and largest value per stretch)"] if budget.thinned_points else [])
        return display

    def _place_guides(self, gd: SweepResult, metric: str, colors, measured) -> None:
        guides = _guides(gd, metric, colors)
        self.window = window_of(measured, self.log_y, guides)
        self.inside, self.outside = split_guides(guides, self.window, self.log_y)
        ends = [float(np.nanmax(s.x)) for s in self.series if s.x.size]
        self.x_span = (0.0, max(ends, default=1.0))

    def to_plotly(self, height: int = HEIGHT) -> go.Figure:
        if not self.series:
            return empty_figure(self.title, self.empty_message, height)
        figure = base_figure(self.title, "iteration k  (gradient flow at t = kη)",
                             SHALLOW_Y_TITLES[self.metric], log_y=self.log_y, height=height)
        draw_series(figure, self.series, self.metric)
        if self.crosses:
            figure.add_trace(go.Scatter(
                x=[c[0] for c in self.crosses], y=[c[1] for c in self.crosses], mode="markers",
                name="diverged", marker=dict(symbol="x", size=12, color=DIVERGED_COLOR),
                cliponaxis=False, text=[c[2] for c in self.crosses], hovertemplate="%{text}<extra></extra>"))
        draw_guides(figure, self.inside, self.outside, self.window, self.x_span)
        if self.window is not None:
            figure.update_yaxes(range=list(self.window))
            if self.log_y:
                tidy_log_axis(figure, values=[10 ** self.window[0], 10 ** self.window[1]])
        for note in self.notes:
            if note:
                add_subtitle(figure, note)
        figure.update_layout(legend=dict(groupclick="togglegroup"))
        room_for_legend(figure, figure.layout.legend.font.size)   # a legend that scrolled hid runs
        return figure


def _drawn_pairs(runs, flows, pins) -> list[tuple[RunRecord, Any, RunRecord]]:
    """(GD record, kind, run drawn): GD and its gradient flow per run, then the pins' GD runs
    (at most half a chart's runs each)."""
    pairs = [(record, kind, run) for record in runs
             for kind, run in (("GD", record), ("GF", flows.get((record.step_size, record.seed))))
             if run is not None]
    pairs += [(record, (label, PIN_DASHES[index]), record)
              for index, (label, pinned) in enumerate(pins[:len(PIN_DASHES)])
              for record in chosen_runs(pinned.runs, RUNS_DRAWN // 2)[0]]
    return pairs


def _flows_by_run(gf: SweepResult | None, dtype: str = "float64", every: bool = False) -> dict:
    """The flow runs by (η, seed) as GD records them: GD in float32 keeps η rounded to
    float32 (0.6000000238418579) while the flow runs in float64 (0.6), so the flow's η is
    rounded the same way before it is matched (without it every flow line went missing).
    ``every``: also the runs that recorded nothing."""
    if gf is None:
        return {}
    cast = np.dtype(dtype).type
    return {(float(cast(r.step_size)), r.seed): r for r in gf.runs
            if every or len(r.history.get("iteration", ())) > 0}


def _history_series(record, kind, run, metric, colors, many, limit):
    """``kind``: "GD", "GF" or a pin's (label, dash)."""
    values = _metric_values(run, metric)
    if values is None:
        return None, None
    x, y = thinned(np.asarray(run.history["iteration"], dtype=float), values, limit)
    color, label = colors[record.step_size], run_label(record, many)
    if kind == "GD":
        line = Series(f"GD {label}", x, y, color, "solid", 2.2, f"{record.step_size!r}:{record.seed}")
    elif kind == "GF":
        line = Series(f"GF {label}", x, y, color, GF_DASH, 1.8, f"{record.step_size!r}:{record.seed}")
    else:
        line = Series(f"{kind[0]}: GD {label}", x, y, color, kind[1], 1.6, kind[0])
    return line, values


def spec_difference(pinned, live) -> str:
    """What a pinned view changes against the live one ("Φ = 2, a₀ = 1,0.5"), at most three
    fields; "same runs" when nothing differs."""
    before, now = pinned.to_query(), live.to_query()
    names = {"phi": "Φ", "a": "a₀", "b": "b₀", "step_sizes": "η", "init_scale": "s", "seeds": "seeds",
             "max_iters": "T", "tol": "tol", "d": "d", "init": "init", "dtype": "precision"}
    changed = [f"{names.get(key, key)} = {value}" for key, value in before.items()
               if now.get(key) != value and key in names]
    return ", ".join(changed[:3]) + (" …" if len(changed) > 3 else "") if changed else "same runs"


def _divergence_mark(run: RunRecord, values: np.ndarray, many: bool,
                     window: tuple[float, float] | None = None, log: bool = False):
    """The × of a diverged run: where it leaves the y view, on the edge it crosses (its last
    finite value, 10²²⁸ say, lies far off the view); where it stops being finite when it
    never leaves the view before."""
    iterations = np.asarray(run.history["iteration"])
    text = f"GD {run_label(run, many)} diverged at k = {human_count(run.diverged_at or 0)}"
    exit_point = _view_exit(iterations, values, window, log)
    if exit_point is not None:
        return exit_point + (text,)
    point = divergence_point(iterations, values)
    x, y = point if point is not None else (0, math.nan)
    return float(x), y, text


def _view_exit(iterations: np.ndarray, values: np.ndarray, window: tuple[float, float] | None,
               log: bool) -> tuple[float, float] | None:
    """(k, edge) where the values leave the y window (axis units: log10 on a log axis) for
    good: the first finite value beyond it after the last one inside; the edge in data
    units. None when the values stay inside until they stop being finite."""
    if window is None:
        return None
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        units = np.log10(values) if log else values
    finite = np.isfinite(units)
    inside = np.flatnonzero(finite & (units >= window[0]) & (units <= window[1]))
    first = int(inside[-1]) + 1 if inside.size else 0
    if first >= units.size or not finite[first]:
        return None
    edge = window[0] if units[first] < window[0] else window[1]
    return float(iterations[first]), float(10 ** edge if log else edge)


def _guides(gd: SweepResult, metric: str, colors) -> list[Guide]:
    if metric not in ("norm", "sharpness"):
        return []
    guides = [Guide(2 / step, f"2/η (η = {format_step(step)})", colors[step], "dot")
              for step in sorted(colors)]
    if not gd.runs:
        return guides
    flat = {r.extras.get("gf_sharpness") for r in gd.runs}
    if metric == "norm" and len(flat) == 1 and None not in flat:
        guides.append(Guide(float(gd.runs[0].extras["gf_sharpness"]), "λ_GF = √(4Φ² + C₀)",
                            GUIDE_COLOR, "dash"))
    phi = abs(float(gd.spec.phi))
    if phi > 0:
        guides.append(Guide(2 * phi, "2|Φ| (flattest minimum)", MINIMA_COLOR, "dashdot"))
    return guides


def history_display(gd: SweepResult, gf: SweepResult | None, metric: str) -> HistoryDisplay:
    return HistoryDisplay.build(gd, gf, metric)


def history_figure(gd: SweepResult, gf: SweepResult | None, metric: str,
                   height: int = HEIGHT, pins: Sequence[tuple[str, SweepResult]] = ()) -> go.Figure:
    return HistoryDisplay.build(gd, gf, metric, pins).to_plotly(height)


def _metric_values(run: RunRecord, metric: str) -> np.ndarray | None:
    if metric == "residual":
        values = np.abs(np.asarray(run.history["residual"], dtype=float))
        return np.where(values > 0, values, np.nan)
    if metric == "imbalance":
        # Per coordinate, not the total Q: Q(0) = ‖a₀‖² − ‖b₀‖² can be 0 while the Qᵢ are not.
        ratio = np.asarray(run.history["imbalance_ratio"], dtype=float)
        return None if ratio.size == 0 or np.isnan(ratio[0]) else ratio
    return np.asarray(run.history[metric], dtype=float)


@dataclass(kw_only=True)
class GdGfFacts(Display):
    """What the GD-against-gradient-flow view states, read off the runs: per step size the
    sharpness GD ends at, against gradient flow's λ_GF from the same start."""
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def build(cls, gd: SweepResult, gf: SweepResult | None) -> "GdGfFacts":
        facts = cls(title="GD against gradient flow")
        flows = _flows_by_run(gf, gd.spec.dtype)
        for record in gd.runs:
            flow = flows.get((record.step_size, record.seed))
            facts.rows.append({
                "step": record.step_size, "seed": record.seed, "diverged": record.diverged,
                "diverged_at": record.diverged_at, "solved": record.iterations_to_solve,
                "gd_sharpness": record.extras.get("final_sharpness"),
                "gd_limit": record.extras.get("gd_limit_sharpness"),
                "gf_sharpness": record.extras.get("gf_sharpness"),
                "gf_final": None if flow is None else _finite(flow.history["norm"][-1]),
                "ratio": record.extras.get("imbalance_ratio")})
        facts.facts = {"gf_missing": gf is None or not flows,
                       "tol": float(gd.spec.tol), "floor": _precision_floor(gd.spec)}
        facts.sentences = facts._sentences()
        return facts

    def _sentences(self) -> list[str]:
        ended = [r for r in self.rows if _ended_at_a_minimum(r)]
        gone = [r for r in self.rows if r["diverged"]]
        moving = [r for r in self.rows if _still_moving(r)]
        early = [r for r in self.rows if _stopped_early(r)]
        out = [_flatter_sentence(ended), _diverged_sentence(gone), _early_sentence(early, self.facts["tol"])]
        out.append(_moving_sentence(moving))
        if not any((ended, gone, early)):
            out.append(_nothing_ended_sentence(self.facts))
        if self.facts.get("gf_missing"):
            out.append("Gradient flow did not finish for these values: only GD is drawn.")
        return [line for line in out if line]


def _precision_floor(spec) -> float | None:
    """The smallest |ε| the run's precision resolves near aᵀb = Φ (machine epsilon times
    max(|Φ|, 1)) when the tolerance lies below it, else None."""
    floor = float(np.finfo(np.dtype(spec.dtype)).eps) * max(abs(float(spec.phi)), 1.0)
    return floor if float(spec.tol) < floor else None


def _nothing_ended_sentence(facts: dict) -> str:
    """More iterations help only when the precision can reach the tolerance (float32 stops
    near |ε| ≈ 10⁻⁷, above the default tol 10⁻¹⁰)."""
    if facts.get("floor") is not None:
        return (f"What to look for: no run reached |ε| ≤ tol = {human_number(facts['tol'])}: that "
                f"is below what this precision resolves (|ε| ≈ {human_number(facts['floor'], 2)}); "
                "raise the tolerance or use float64.")
    return "What to look for: no run has ended at a minimum yet: raise the iterations."


def _at_its_limit(row: dict) -> bool:
    """GD's last sharpness is its limit λ_GD = √(4Φ² + S²C₀) (within 0.1 %): |ε| ≤ tol was
    reached at the minimum, not by a loose tolerance on the way (tol = 0.3 stopped η = 0.6 at
    sharpness 2.68, its limit 2.33)."""
    limit = row.get("gd_limit")
    return limit is None or abs(row["gd_sharpness"] - limit) <= SAME_SHARPNESS * abs(limit)


def _ended_at_a_minimum(row: dict) -> bool:
    return (not row["diverged"] and row["solved"] is not None and row["gd_sharpness"] is not None
            and row["gf_sharpness"] is not None and _at_its_limit(row))


def _still_moving(row: dict) -> bool:
    return not row["diverged"] and row["solved"] is None


def _stopped_early(row: dict) -> bool:
    return (not row["diverged"] and row["solved"] is not None and row["gd_sharpness"] is not None
            and not _at_its_limit(row))


def _early_sentence(early: list[dict], tol: float) -> str:
    if not early:
        return ""
    where = ", ".join(f"η = {format_step(r['step'])} at {human_number(r['gd_sharpness'])} (limit "
                      f"{human_number(r['gd_limit'])})" for r in early[:4])
    return (f"{plural(len(early), 'run')} stopped at |ε| ≤ tol = {human_number(tol)} short of a "
            f"minimum (the last sharpness is no λ_∞): {where}; lower the tolerance to compare "
            "with gradient flow.")


def _flatter_sentence(ended: list[dict]) -> str:
    """GD's final sharpness per step size (first seed of each, at most four) against λ_GF."""
    if not ended:
        return ""
    first_per_step: dict[float, dict] = {}
    for row in sorted(ended, key=lambda r: (r["step"], r["seed"])):
        first_per_step.setdefault(row["step"], row)
    shown = sorted(first_per_step.values(), key=lambda r: r["step"])
    shown = [shown[i] for i in spread_indices(len(shown), 4)]
    ends = ", ".join(f"{human_number(r['gd_sharpness'])} at η = {format_step(r['step'])}" for r in shown)
    if len({r["seed"] for r in ended}) > 1:
        ends += " (first seed of each)"
    gf_values = sorted({round(r["gf_sharpness"], 12) for r in ended})
    gf_text = " to ".join(dict.fromkeys(human_number(v) for v in (gf_values[0], gf_values[-1])))
    return (f"What to look for: {_flatness_verdict(ended)}: final sharpness "
            f"λ_∞ = {ends}, against λ_GF = {gf_text} from the same start (the λ chart, top right).")


SAME_SHARPNESS = 1e-3        # λ_∞ within 0.1 % of λ_GF: as flat (the caption shows 3 digits)


def _flatness_verdict(ended: list[dict]) -> str:
    """'GD ends flatter than gradient flow at every step size that converged', or as flat
    (within 0.1 %: a tiny balanced start is already at the flattest minimum, and
    2.0000000035 < 2.0000000099 is no flatter to a reader of '2 against 2'), counted."""
    flatter = sum(1 for r in ended if r["gd_sharpness"] < r["gf_sharpness"] * (1 - SAME_SHARPNESS))
    same = sum(1 for r in ended if abs(r["gd_sharpness"] - r["gf_sharpness"])
               <= SAME_SHARPNESS * abs(r["gf_sharpness"]))
    if flatter == len(ended):
        return "GD ends flatter than gradient flow at every step size that converged"
    if same == len(ended):
        return "GD ends as flat as gradient flow (within 0.1 %) at every step size that converged"
    return (f"GD ends flatter than gradient flow at {flatter} of {len(ended)} step sizes"
            + (f" and as flat (within 0.1 %) at {same}" if same else ""))


def _moving_sentence(moving: list[dict]) -> str:
    if not moving:
        return ""
    return (f"{plural(len(moving), 'run')} did not reach |ε| ≤ tol within the budget (still moving "
            "or oscillating: the last sharpness is no end point): "
            + ", ".join(f"η = {format_step(r['step'])}" for r in moving[:4]) + ".")


def _diverged_sentence(gone: list[dict]) -> str:
    if not gone:
        return ""
    where = ", ".join(f"η = {format_step(r['step'])} at k = {human_count(r['diverged_at'] or 0)}"
                      for r in gone[:4])
    return (f"{plural(len(gone), 'run')} diverged (× where {'it' if len(gone) == 1 else 'each'} "
            f"left the chart): {where}{' …' if len(gone) > 4 else ''}.")


# ---------------------------------------------------------------------- trajectory
@dataclass(kw_only=True)
class TrajectoryDisplay(Display):
    """GD paths (markers at the recorded iterates) and the gradient-flow path in the plane of
    :func:`plane_coordinates`, with the set of minima; frames that move a dot along each GD
    path (play/step)."""
    d: int
    phi: float
    x_title: str
    y_title: str
    gd_paths: list[tuple[Series, np.ndarray]] = field(default_factory=list)   # line, iterations
    gf_paths: list[Series] = field(default_factory=list)
    start: tuple[float, float] | None = None
    box: tuple[tuple[float, float], tuple[float, float]] = ((-1.0, 1.0), (-1.0, 1.0))
    frames_at: np.ndarray = field(default_factory=lambda: np.arange(0))

    @classmethod
    def build(cls, gd: SweepResult, gf: SweepResult | None) -> "TrajectoryDisplay":
        d, phi = int(gd.spec.d), float(gd.spec.phi)
        if d == 1:
            title, x_title, y_title = "trajectory in the (a, b) plane", "a", "b"
        else:
            title = "trajectory in (a+b, a−b) coordinates"
            x_title, y_title = "x = (a+b)·u₀/‖u₀‖", "y = (a−b)·v₀/‖v₀‖"
        display = cls(title=title, d=d, phi=phi, x_title=x_title, y_title=y_title)
        runs, total = chosen_runs(gd.runs)
        many = len(gd.spec.seeds) > 1
        colors = step_colors(r.step_size for r in gd.runs)
        limit = max(CHART_POINTS // max(2 * len(runs), 1), 64)
        for record in runs:
            coords = plane_coordinates(record, d)
            if coords is None:
                continue
            keep = envelope_indices(np.hypot(*coords), limit)
            iterations = np.asarray(record.history["iteration"])[keep]
            display.gd_paths.append((Series(f"GD {run_label(record, many)}", coords[0][keep],
                                            coords[1][keep], colors[record.step_size], width=1.2),
                                     iterations))
        display.gf_paths = _gf_paths(gf, d, many, limit)
        display._frame_and_box()
        display.notes = [thinning_line(len(runs), total), display._outside_note()]
        return display

    def _outside_note(self) -> str:
        """The GD paths whose last finite point lies outside the view box (a far minimum, a
        divergence): named, since the box is set by the start and the flow."""
        (x0, x1), (y0, y1) = self.box
        names = []
        for line, _ in self.gd_paths:
            keep = np.isfinite(line.x) & np.isfinite(line.y)
            if keep.any():
                x, y = float(line.x[keep][-1]), float(line.y[keep][-1])
                if not (x0 <= x <= x1 and y0 <= y <= y1):
                    names.append(line.name)
        if not names:
            return ""
        return (", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                + (" ends" if len(names) == 1 else " end") + " outside the view (double-click to see all)")

    def balanced_start(self) -> bool:
        """Every GD path starts balanced, C₀ = 0 (a = ±b, or x·y = 0 in the plane's
        coordinates, where x·y = ‖a‖² − ‖b‖² up to a factor): GD and GF then keep C = 0."""
        starts = [(float(line.x[0]), float(line.y[0])) for line, _ in self.gd_paths if line.x.size]
        if self.d == 1:
            starts = [(a + b, a - b) for a, b in starts]
        return bool(starts) and all(abs(x * y) <= 1e-12 * (x * x + y * y) for x, y in starts)

    def caption(self) -> str:
        """What the plane shows, and what GD does to C there, for these starts."""
        plane = ("d = 1: the (a, b) plane; the minima are the hyperbola ab = Φ. " if self.d == 1 else
                 "a+b keeps the direction u₀ = a₀+b₀ and a−b the direction v₀ = a₀−b₀ (GD and GF "
                 "only rescale them), so the path is exact in x = (a+b)·u₀/‖u₀‖, y = (a−b)·v₀/‖v₀‖: "
                 "the minima are x² − y² = 4Φ and C = x²y². ")
        if self.balanced_start():
            return plane + ("The start is balanced (C = 0): GF and GD both keep C = 0, on the "
                            "line the start lies on; GD has nothing to shrink there.")
        return plane + ("GF moves along C = const; GD also shrinks C by (1 − η²ε²)² per step and "
                        "lands closer to the balanced point.")

    def _frame_and_box(self) -> None:
        paths = [(s.x, s.y) for s, _ in self.gd_paths] + [(s.x, s.y) for s in self.gf_paths]
        starts = [(float(x[0]), float(y[0])) for x, y in paths
                  if x.size and np.isfinite(x[0]) and np.isfinite(y[0])]
        self.start = starts[0] if starts else None
        self.box = _view_box(starts, [(s.x, s.y) for s, _ in self.gd_paths],
                             [(s.x, s.y) for s in self.gf_paths], self.phi)
        longest = max((s.x.size for s, _ in self.gd_paths), default=0)
        self.frames_at = frame_positions(longest)

    def to_plotly(self, height: int = 560) -> go.Figure:
        if not self.gd_paths and not self.gf_paths:
            return empty_figure(self.title, "θ was not kept for these runs (too many coordinates); "
                                "lower d or the number of step sizes", height)
        figure = base_figure(self.title, self.x_title, self.y_title, height=height)
        for line, iterations in self.gd_paths:
            figure.add_trace(go.Scatter(
                x=compact(line.x), y=compact(line.y), mode="lines+markers", name=line.name,
                line=dict(color=line.color, width=line.width), marker=dict(size=5, color=line.color),
                customdata=iterations.astype(np.int64),
                hovertemplate=f"{line.name}<br>k=%{{customdata}}<br>x=%{{x:.5g}}<br>y=%{{y:.5g}}"
                              "<extra></extra>"))
        for line in self.gf_paths:
            figure.add_trace(go.Scatter(
                x=compact(line.x), y=compact(line.y), mode="lines", name=line.name,
                line=dict(color="black", dash=GF_DASH, width=2.2),
                hovertemplate="gradient flow<br>x=%{x:.5g}<br>y=%{y:.5g}<extra></extra>"))
        if self.start is not None:
            figure.add_trace(go.Scatter(
                x=[self.start[0]], y=[self.start[1]], mode="markers", name="start",
                marker=dict(symbol="star", size=15, color="#ff7f0e", line=dict(color="black", width=1))))
        xlim, ylim = self.box
        _add_minima(figure, self.phi, self.d, xlim, ylim)
        figure.update_xaxes(range=list(xlim))
        figure.update_yaxes(range=list(ylim), scaleanchor="x", scaleratio=1)
        figure.update_layout(legend=dict(groupclick="toggleitem"))
        self._add_frames(figure)
        for note in self.notes:
            if note:
                add_subtitle(figure, note)
        return figure

    def _add_frames(self, figure: go.Figure) -> None:
        """A dot per GD run at its k-th recorded iterate (every k-th, at most MAX_FRAMES)."""
        if self.frames_at.size < 2:
            return
        first = len(figure.data)
        for line, _ in self.gd_paths:
            figure.add_trace(go.Scatter(x=[line.x[0]], y=[line.y[0]], mode="markers",
                                        showlegend=False, hoverinfo="skip", meta="skip",
                                        marker=dict(size=13, color=line.color,
                                                    line=dict(color="black", width=1.5))))
        frames = []
        for position in self.frames_at:
            data, label = [], ""
            for line, iterations in self.gd_paths:
                at = min(int(position), line.x.size - 1)
                data.append(go.Scatter(x=[_num(line.x[at])], y=[_num(line.y[at])]))
                label = label or human_count(int(iterations[at]))
            frames.append(Frame(label, data, list(range(first, first + len(self.gd_paths)))))
        add_player(figure, frames)


def _num(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _gf_paths(gf: SweepResult | None, d: int, many: bool, limit: int) -> list[Series]:
    """One gradient-flow path per start: the flow runs of every η follow the same curve,
    sampled at t = kη, so their samples merged by t draw it densely (the run of the largest η
    alone, 3 samples at η = 5, drew a chord across the curve C = const)."""
    if gf is None:
        return []
    samples: dict[int, list] = {}
    for record in gf.runs:
        coords = plane_coordinates(record, d) if len(record.history.get("iteration", ())) else None
        if coords is not None:
            times = np.asarray(record.history["iteration"], dtype=float) * record.step_size
            samples.setdefault(record.seed, []).append((times, *coords))
    paths = []
    for seed, parts in list(samples.items())[:RUNS_DRAWN]:
        times, x, y = (np.concatenate([part[i] for part in parts]) for i in range(3))
        _, first = np.unique(times, return_index=True)       # sorted by t, one sample per t
        keep = first[envelope_indices(np.hypot(x[first], y[first]), limit)]
        paths.append(Series("gradient flow" + (f" seed {seed}" if many else ""),
                            x[keep], y[keep], "black", GF_DASH, 2.2))
    return paths


def trajectory_display(gd: SweepResult, gf: SweepResult | None) -> TrajectoryDisplay:
    return TrajectoryDisplay.build(gd, gf)


def trajectory_figure(gd: SweepResult, gf: SweepResult | None, height: int = 560) -> go.Figure:
    return TrajectoryDisplay.build(gd, gf).to_plotly(height)


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
    for path in gd_paths:            # each path that stays near: one that runs away does not
        wide = _box_of([path])       # keep the others out (η = 0.6 beside a diverged η = 1.5)
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
    out = [("Theorem 1: η*", extras["theorem1_step_bound"])]
    if lam0 > 0:
        out.append(("η = 2/λ(0)", 2 / lam0))
    if phi != 0:
        out.append(("η = 1/|Φ| (no stable minimum beyond)", 1 / abs(phi)))
    return [(name, float(value)) for name, value in out if value is not None and math.isfinite(value)]


def theorem1_figure(gd: SweepResult, height: int = 360) -> go.Figure:
    """The chosen step sizes (markers: steps to |ε| ≤ tol) on a log η axis with the
    Theorem-1 bound and the other thresholds as vertical lines."""
    figure = base_figure("η against Theorem 1's η*",
                         "step size η", "steps to |ε| ≤ tol", log_x=True, log_y=True,
                         height=height, plain_x=True, plain_y=True)
    top = gd.spec.max_iters
    runs = [gd.runs[i] for i in spread_indices(len(gd.runs), 400)]     # one marker trace
    figure.add_trace(_theorem1_markers(runs, step_colors(r.step_size for r in gd.runs), top))
    if len(runs) < len(gd.runs):
        add_subtitle(figure, thinning_line(len(runs), len(gd.runs)))
    marks = thresholds(gd.runs[0], float(gd.spec.phi)) if gd.runs else []
    bounds = sorted({round(r.extras["theorem1_step_bound"], 15) for r in gd.runs})
    if len(bounds) > 1:                                              # random inits: per run
        marks = [m for m in marks if not m[0].startswith("Theorem")]
        add_subtitle(figure, f"η* differs per start: {human_number(bounds[0], 3)} to "
                             f"{human_number(bounds[-1], 3)} (no line drawn)")
    _threshold_lines(figure, marks)
    rows = len(marks) + any(name.startswith("Theorem") for name, _ in marks)
    xs = [r.step_size for r in gd.runs] + [v for _, v in marks]
    low, high = min(xs) / 2, max(xs) * 2
    figure.update_xaxes(range=[math.log10(low), math.log10(high)], tickangle=0)
    # a narrow column: few x ticks, upright (8 ticks turned 90° pushed the x title into the legend)
    tidy_log_axis(figure, "x", [low, high], max_ticks=5)
    ys = [max(r.iterations_to_solve or top, 1) for r in gd.runs] + [top]
    tidy_log_axis(figure, "y", ys)
    figure.update_yaxes(range=[-0.1, math.log10(max(ys)) + 0.3])
    figure.update_layout(height=height + 22 * rows)
    legend_below(figure, rows)
    return figure


def _threshold_lines(figure: go.Figure, marks: Sequence[tuple[str, float]]) -> None:
    """A dashed vertical line per threshold and its legend entry."""
    palette = ["#d62728", "#9467bd", "#8c564b"]
    for (name, value), color in zip(marks, palette):
        figure.add_vline(x=value, line=dict(color=color, dash="dash", width=2))
        label = f"{name} = {human_number(value, 4)}"
        if name.startswith("Theorem"):     # the value first, the formula on a line of its own:
            label += "<br>= min{1/(2|ε₀|), 2/√(λ₀² + 4Φ²)}"    # a narrow column cuts one long line
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=label,
                                    line=dict(color=color, dash="dash", width=2)))


def _marker_symbol(record: RunRecord) -> str:
    if record.iterations_to_solve is not None:
        return "circle"
    return "x" if record.diverged else "triangle-up"


def _theorem1_markers(runs: Sequence[RunRecord], colors: dict, top: int) -> go.Scatter:
    solved = [r.iterations_to_solve for r in runs]
    return go.Scatter(
        x=[r.step_size for r in runs], y=[top if k is None else max(k, 1) for k in solved],
        mode="markers", name="runs", showlegend=False,
        marker=dict(size=13, color=[colors[r.step_size] for r in runs],
                    symbol=[_marker_symbol(r) for r in runs], line=dict(color="black", width=1)),
        text=[f"{status(r)}<br>η/η* = {human_number(r.step_size / r.extras['theorem1_step_bound'])}"
              for r in runs],
        hovertemplate="η=%{x:.6g}<br>%{text}<extra></extra>")


def summary_rows(gd: SweepResult, gf: SweepResult | None) -> list[dict[str, Any]]:
    """One row per GD run: where η sits and what GD and GF end with."""
    flows = _flows_by_run(gf, gd.spec.dtype, every=True)
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
def tail_diagram(gd: SweepResult) -> OrbitDiagram:
    """The last K residuals of each run (kept exactly) against η: one value = converged, a
    few = a periodic orbit, many = chaos. The orbit diagram's numbers, on a log η axis."""
    columns = [OrbitColumn(r.step_size, np.asarray(r.tail["residual"] if r.tail else [], dtype=float),
                           np.asarray(r.tail["iteration"] if r.tail else [], dtype=int),
                           r.diverged, r.diverged_at) for r in gd.runs]
    return OrbitDiagram.build(columns, title="last K iterations: residual ε per step size",
                              x_title="step size η", y_title="ε (last K iterations)", x_name="η",
                              log_x=True)


def tail_figure(gd: SweepResult, height: int = 380) -> go.Figure:
    if not any(r.tail for r in gd.runs):
        return empty_figure("last K iterations: residual ε per step size",
                            "no tail kept (set tail_points > 0)", height)
    return tail_diagram(gd).to_plotly(height)


# ---------------------------------------------------------------------- Figure 3
def scale_colors(scales: Sequence[float]) -> dict[float, str]:
    unique = sorted(set(float(s) for s in scales))
    if len(unique) == 1:
        return {unique[0]: "#1f77b4"}
    positions = [0.9 * i / (len(unique) - 1) for i in range(len(unique))]
    return dict(zip(unique, sample_colorscale("Viridis", positions)))


BLOWN_UP = 1e3     # |S| beyond this is a blow-up (S = −2.6·10⁵⁰ after 5 chaotic steps)


def robust_linear_range(values: Sequence[float], spread: float = 3.0,
                        min_width: float = 0.5, blown_up: float = BLOWN_UP) -> tuple[float, float] | None:
    """A y range from the bulk of the values: the quartiles widened by ``spread`` times the
    interquartile range (at least ``min_width``), never wider than the data. One blown-up run
    (S ≈ −2e292 in the chaotic regime) then cannot flatten the others onto a line. Values
    beyond ``blown_up`` in size never set the range while others are there: among two or
    three values the quartiles are no bulk (0.99 and −2.6·10⁵⁰ made a range of 10⁵⁰)."""
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if (np.abs(finite) <= blown_up).any():
        finite = finite[np.abs(finite) <= blown_up]
    if not finite.size:
        return None
    q1, q3 = np.percentile(finite, [25, 75])
    width = spread * max(q3 - q1, min_width)
    return max(float(finite.min()), q1 - width), min(float(finite.max()), q3 + width)


@dataclass(frozen=True)
class ScaleCurve:
    """One initial scale s of Figure 3: ηλ(0), the value drawn (S or steps; NaN where there
    is none), each run's status, and the scale's regime lines."""
    scale: float
    lam0: float
    x: np.ndarray
    y: np.ndarray
    solved: np.ndarray                # bool: |ε| ≤ tol reached
    text: list[str]
    color: str
    flip_x: float | None              # ηλ(0) where η|ε(0)| = 1
    unstable_x: float | None          # ηλ(0) where η|Φ| = 1 (when elsewhere)


@dataclass(kw_only=True)
class Figure3Display(Display):
    """Figure 3 of the paper, one curve per initial scale s: S = Qᵢ(T)/Qᵢ(0) ("ratio") or the
    steps to |ε| ≤ tol ("steps", log) against ηλ(0). The S axis covers the bulk of the values;
    values beyond it are triangles on its edge, counted in a note."""
    quantity: str
    budget_iters: int
    curves: list[ScaleCurve] = field(default_factory=list)
    window: tuple[float, float] | None = None
    below: list[tuple[float, float, str]] = field(default_factory=list)
    above: list[tuple[float, float, str]] = field(default_factory=list)
    missing: int = 0

    @classmethod
    def build(cls, results: Sequence[SweepResult], quantity: str,
              scales: Sequence[float] | None = None) -> "Figure3Display":
        steps = quantity == "steps"
        display = cls(title=("steps to |ε| ≤ tol against ηλ(0)" if steps else
                             "S = Qᵢ(T)/Qᵢ(0) against ηλ(0)"), quantity=quantity,
                      budget_iters=max((r.spec.max_iters for r in results), default=1))
        scales = [float(r.spec.init_scale) for r in results] if scales is None else list(scales)
        colors = scale_colors(scales)
        chosen = spread_indices(len(results), RUNS_DRAWN)
        per_curve = max(CHART_POINTS // max(len(chosen), 1), 64)
        for index in chosen:
            display.curves.append(_scale_curve(results[index], scales[index], colors[scales[index]],
                                               steps, per_curve))
        display.missing = sum(int(np.isnan(c.y).sum()) for c in display.curves) if not steps else 0
        if not steps:
            display._s_window()
        display.facts = _figure3_facts(display.curves, steps)
        display.notes = ([thinning_line(len(chosen), len(results), "initial scales")] + display._out_notes()
                         + [_off_view_lines(display.curves)])
        return display

    def _s_window(self) -> None:
        points = [(float(x), float(y), t) for c in self.curves for x, y, t in zip(c.x, c.y, c.text)
                  if math.isfinite(y)]
        span = robust_linear_range([p[1] for p in points])
        low, high = (-0.05, 1.08) if span is None else (min(span[0], 0.0), max(span[1], 1.0))
        if span is not None:
            pad = 0.04 * (high - low)
            low, high = low - pad, high + pad
        self.window = (low, high)
        self.below = [p for p in points if p[1] < low]
        self.above = [p for p in points if p[1] > high]

    def _out_notes(self) -> list[str]:
        notes = []
        outside = self.below + self.above
        if outside:
            extreme = max(outside, key=lambda p: abs(p[1]))[1]
            notes.append(f"{plural(len(outside), 'value')} outside the view (▼/▲ on its edge; "
                         f"the farthest S = {human_number(extreme, 2)}: the imbalance blew up)")
        if self.missing:
            notes.append(f"{plural(self.missing, 'run')} without an S (diverged)")
        return notes

    def to_plotly(self, height: int = 440) -> go.Figure:
        steps = self.quantity == "steps"
        figure = base_figure(self.title, "ηλ(0)", "steps to |ε| ≤ tol" if steps else "S = Qᵢ(T)/Qᵢ(0)",
                             log_y=steps, height=height, plain_y=True)
        for curve in self.curves:
            self._draw_curve(figure, curve, steps)
        self._draw_regimes(figure)
        if steps:
            self._steps_axis(figure)
        else:
            figure.add_hline(y=1.0, line=dict(color=GUIDE_COLOR, width=1))
            figure.update_yaxes(range=list(self.window))
            self._draw_edges(figure)
        xs = [float(v) for c in self.curves for v in (c.x.min(), c.x.max()) if c.x.size]
        if xs:
            pad = 0.03 * (max(xs) - min(xs) or 1.0)
            figure.update_xaxes(range=[min(xs) - pad, max(xs) + pad])
        for note in self.notes:
            if note:
                add_subtitle(figure, note)
        figure.update_layout(legend=dict(x=1.02, xanchor="left", y=1, yanchor="top"))
        return figure

    def _steps_axis(self, figure: go.Figure) -> None:
        self._draw_unsolved(figure)
        if any(np.any(np.isfinite(c.y) & (c.y < 1)) for c in self.curves):
            add_subtitle(figure, "0 steps (a start already within tol) drawn at 1: a log axis has no 0")
        tidy_log_axis(figure, values=[max(float(v), 1.0) for c in self.curves for v in c.y
                                      if math.isfinite(v)] + [self.budget_iters])

    def _draw_curve(self, figure: go.Figure, curve: ScaleCurve, steps: bool) -> None:
        y = np.maximum(curve.y, 1.0) if steps else curve.y        # 0 steps sits at 1 on a log axis
        figure.add_trace(go.Scatter(
            x=compact(curve.x), y=compact(y), mode="lines+markers",
            name=f"s = {curve.scale:g} (λ(0) = {human_number(curve.lam0, 4)})",
            line=dict(color=curve.color, width=2), marker=dict(size=5, color=curve.color),
            text=curve.text, customdata=compact(curve.y),              # the hover: the value itself
            hovertemplate=f"s = {curve.scale:g}<br>ηλ(0)=%{{x:.4g}}<br>%{{customdata:.6g}}"
                          "<br>%{text}<extra></extra>"))

    def _draw_regimes(self, figure: go.Figure) -> None:
        for curve in self.curves:
            if curve.flip_x is not None:
                figure.add_vline(x=curve.flip_x, line=dict(color=curve.color, dash="dot", width=1.5))
            if curve.unstable_x is not None:
                figure.add_vline(x=curve.unstable_x, line=dict(color=curve.color, dash="dashdot", width=1.5))
        if any(c.unstable_x is not None for c in self.curves):
            figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines",
                                        name="η|Φ| = 1 per s (no stable minimum beyond)",
                                        line=dict(color=GUIDE_COLOR, dash="dashdot", width=1.5)))
        figure.add_vline(x=2.0, line=dict(color="black", dash="dash", width=1.5))
        figure.add_vrect(x0=1.8, x1=2.2, fillcolor="rgba(255,165,0,0.12)", line_width=0)
        # The shaded band is named in the legend: a label on the plot sat on the markers.
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="ηλ(0) ≈ 2: slow (shaded)",
                                    marker=dict(symbol="square", size=12, color="rgba(255,165,0,0.35)")))
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="η = 1/|ε(0)| per s "
                                    "(sign flips; chaos beyond η|Φ| = 1)",
                                    line=dict(color=GUIDE_COLOR, dash="dot", width=1.5)))

    def _draw_unsolved(self, figure: go.Figure) -> None:
        fails = [(float(x), t) for c in self.curves for x, ok, t in zip(c.x, c.solved, c.text) if not ok]
        if fails:
            top = self.budget_iters
            figure.add_trace(go.Scatter(
                x=[f[0] for f in fails], y=[top] * len(fails), mode="markers",
                name=f"not converged within {human_count(top)} (or diverged)",
                marker=dict(symbol="x", size=8, color=DIVERGED_COLOR), text=[f[1] for f in fails],
                hovertemplate="ηλ(0)=%{x:.4g}<br>%{text}<extra></extra>"))

    def _draw_edges(self, figure: go.Figure) -> None:
        for group, edge, symbol, word in ((self.below, self.window[0], "triangle-down", "below"),
                                          (self.above, self.window[1], "triangle-up", "above")):
            if group:
                figure.add_trace(go.Scatter(
                    x=[p[0] for p in group], y=[edge] * len(group), mode="markers", meta="edge",
                    name=f"{plural(len(group), 'value')} {word} the view (hover for each)", cliponaxis=False,
                    marker=dict(symbol=symbol, size=10, color=DIVERGED_COLOR),
                    text=[f"{p[2]}<br>S = {human_number(p[1], 3)}" for p in group],
                    hovertemplate="ηλ(0)=%{x:.4g}<br>%{text}<extra></extra>"))

    def look_for(self) -> str:
        return self.sentences[0] if self.sentences else ""


def _scale_curve(result: SweepResult, scale: float, color: str, steps: bool, limit: int) -> ScaleCurve:
    runs = [result.runs[i] for i in spread_indices(len(result.runs), limit)]
    x = np.array([r.extras["eta_lambda0"] for r in runs], dtype=float)
    if steps:
        y = np.array([np.nan if r.iterations_to_solve is None else r.iterations_to_solve for r in runs],
                     dtype=float)
    else:
        y = np.array([np.nan if r.extras.get("imbalance_ratio") is None else r.extras["imbalance_ratio"]
                      for r in runs], dtype=float)
    lam0 = float(result.runs[0].extras["initial_norm"])
    eps0 = abs(float(result.runs[0].history["residual"][0]))
    phi = abs(float(result.spec.phi))
    return ScaleCurve(scale, lam0, x, y, np.array([r.iterations_to_solve is not None for r in runs]),
                      [status(r) + ("; η|ε(0)| > 1" if _first_step_flips(r) else "") for r in runs],
                      color, lam0 / eps0 if eps0 > 0 else None,
                      lam0 / phi if phi > 0 and not math.isclose(eps0, phi) else None)


def _off_view_lines(curves: Sequence[ScaleCurve]) -> str:
    """The regime lines that lie right of the ηλ(0) range (η|ε(0)| = 1 at ηλ(0) = 1.25·s² for
    the axes init: 5, 20, 80 for s = 2, 4, 8 against a range up to 3): named, not drawn in
    view, so a reader does not take the one in view for every scale's."""
    xs = [float(v) for c in curves for v in (c.x.min(), c.x.max()) if c.x.size]
    if not xs:
        return ""
    high = max(xs) + 0.03 * (max(xs) - min(xs) or 1.0)
    off = [f"s = {c.scale:g}: {name} at ηλ(0) = {human_number(x, 3)}" for c in curves
           for name, x in (("η|ε(0)| = 1", c.flip_x), ("η|Φ| = 1", c.unstable_x))
           if x is not None and x > high]
    if not off:
        return ""
    return "→ right of the view: " + ", ".join(off[:3]) + (f" and {len(off) - 3} more" if len(off) > 3 else "")


def _figure3_facts(curves: Sequence[ScaleCurve], steps: bool) -> dict[str, Any]:
    facts = {}                       # by the curve's position (two curves may share a scale)
    for index, curve in enumerate(curves):
        ok = curve.solved & np.isfinite(curve.y)
        if not ok.any():
            facts[index] = None
            continue
        xs, ys = curve.x[ok], curve.y[ok]
        # S: the value nearest 0 (|S| is what shrank: S = −9 is an imbalance grown ninefold)
        best = int(np.argmax(ys) if steps else np.argmin(np.abs(ys)))
        facts[index] = {"first_x": float(xs[0]), "first_y": float(ys[0]),
                        "extreme_x": float(xs[best]), "extreme_y": float(ys[best]),
                        "unsolved": int((~curve.solved).sum()),
                        "grew": 0 if steps else int(np.sum(np.abs(ys) > 1 + 1e-9))}
        if steps:
            # Small steps are slow (steps ∝ 1/η): the largest count is often at the smallest
            # ηλ(0). What the figure shows is where the count bottoms out and the peak after it.
            low = int(np.argmin(ys))
            peak = low + int(np.argmax(ys[low:]))
            facts[index].update(low_x=float(xs[low]), low_y=float(ys[low]),
                                peak_x=float(xs[peak]), peak_y=float(ys[peak]))
    return facts


def _steps_clause(fact: dict[str, Any]) -> str:
    """', and the steps to converge fall to 2 at ηλ(0) = 1, then rise to 130 at 2'."""
    low, at = human_count(int(fact["low_y"])), human_number(fact["low_x"])
    text = (f", and the steps to converge are fewest ({low}) at the smallest ηλ(0) = {at}"
            if fact["low_x"] == fact["first_x"] else          # nothing to fall from
            f", and the steps to converge fall to {low} at ηλ(0) = {at}")
    if fact["peak_y"] > fact["low_y"]:
        text += (f", then rise to {human_count(int(fact['peak_y']))} at "
                 f"ηλ(0) = {human_number(fact['peak_x'])}")
    return text


def _s_clause(fact: dict[str, Any]) -> str:
    """'S falls from 0.986 at ηλ(0) = 0.05 to 0.0643 at 1.2' (to the value nearest 0), or that
    it does not; and where |S| > 1: the imbalance grew there, no regularization."""
    # "falls from 1 to 1" is no fall: the two values must differ as written (3 digits)
    falls = (abs(fact["extreme_y"]) < abs(fact["first_y"]) - 1e-9
             and human_number(fact["extreme_y"]) != human_number(fact["first_y"]))
    text = (f"S falls from {human_number(fact['first_y'])} at ηλ(0) = {human_number(fact['first_x'])} "
            f"to {human_number(fact['extreme_y'])} at {human_number(fact['extreme_x'])}" if falls else
            f"S does not fall below its value at the smallest ηλ(0) ({human_number(fact['first_y'])})")
    if fact["grew"]:
        text += (f"; |S| > 1 at {plural(fact['grew'], 'value')} of ηλ(0): the imbalance grew there "
                 "(a step with η|ε| > √2)")
    return text


def figure3_look_for(ratio: Figure3Display, steps: Figure3Display) -> str:
    """One sentence per drawn scale (at most three: the smallest, a middle one, the largest),
    from the converged runs: how far S falls, where the steps bottom out and the peak after."""
    count = len(ratio.curves)
    parts = []
    for index in sorted({0, count // 2, count - 1}) if count else []:
        scale = ratio.curves[index].scale
        s_fact, k_fact = ratio.facts.get(index), steps.facts.get(index)
        if s_fact is None:
            parts.append(f"s = {scale:g}: no run converged within the budget")
            continue
        part = f"s = {scale:g}: " + _s_clause(s_fact)
        if k_fact is not None:
            part += _steps_clause(k_fact)
        if s_fact["unsolved"]:
            part += f" ({plural(s_fact['unsolved'], 'run')} did not converge)"
        parts.append(part)
    if not parts:
        return ""
    # "it costs steps" only where the drawn steps rise again past their fewest
    costs = any(f is not None and f["peak_y"] > f["low_y"] for f in steps.facts.values())
    return ("What to look for: " + "; ".join(parts) + ". Smaller |S| is more implicit "
            "regularization (a flatter end point)" + ("; it costs steps." if costs else "."))


def figure3_display(results: Sequence[SweepResult], quantity: str,
                    scales: Sequence[float] | None = None) -> Figure3Display:
    return Figure3Display.build(results, quantity, scales)


def figure3_figure(results: Sequence[SweepResult], quantity: str, height: int = 440,
                   scales: Sequence[float] | None = None) -> go.Figure:
    return Figure3Display.build(results, quantity, scales).to_plotly(height)


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
    diagram = OrbitDiagram.build(
        columns, title=f"orbit diagram of the balanced dynamics a = b: last K values of {label}",
        x_title="η|Φ|", y_title=f"{label}, last K iterations", x_name="η|Φ|",
        reference=(1.0, "η|Φ| = 1"))
    if phi < 0:      # the map's fixed points are x = 0 and x² = Φ: only the saddle for Φ < 0
        diagram.sentences.append(
            "With Φ < 0 no minimum lies on the line a = b (aᵀb = a² ≥ 0 > Φ): a run that settles "
            "here sits at the saddle a = b = 0 (aᵀb = 0, ε = −Φ), not at a minimum; the line "
            "η|Φ| = 1 is where the minima lose stability for Φ > 0.")
    return diagram


def orbit_figure(result: SweepResult, quantity: str = "residual", height: int = 520) -> go.Figure:
    return orbit_diagram(result, quantity).to_plotly(height)


# ---------------------------------------------------------------------- catapult
@dataclass(kw_only=True)
class CatapultDisplay(Display):
    """Φ = 0: the loss (log, or linear to see the spike's size) or λ against k, one colour
    per ηλ(0); λ with the 2/η lines. The x window is the spike (ten times the last loss peak
    of the runs that stayed finite); frames move a dot along each curve (play/step)."""
    metric: str
    linear: bool
    series: list[Series] = field(default_factory=list)
    inside: list[Guide] = field(default_factory=list)
    outside: list[Guide] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    window_y: tuple[float, float] | None = None
    window_x: float | None = None
    last: int = 0
    frames_at: np.ndarray = field(default_factory=lambda: np.arange(0))

    @classmethod
    def build(cls, result: SweepResult, metric: str, linear: bool = False) -> "CatapultDisplay":
        loss = metric == "loss"
        display = cls(title=("loss ½ε²" + ("" if linear else " (log)")) if loss else
                      "λ = ‖a‖² + ‖b‖² against 2/η", metric=metric, linear=linear or not loss)
        runs, total = chosen_runs(result.runs)
        colors = step_colors(r.step_size for r in result.runs)
        display.window_x = catapult_window(result)
        display.last = max((r.last_iteration for r in result.runs), default=0)
        limit = max(CHART_POINTS // max(len(runs), 1), 64)
        measured = [display._add_run(record, colors[record.step_size], limit) for record in runs]
        guides = [] if loss else [
            Guide(2 / r.step_size, f"2/η (ηλ(0) = {human_number(r.extras['eta_lambda0'])})",
                  colors[r.step_size]) for r in runs]
        display._windows(measured, guides, loss)
        display.notes = [thinning_line(len(runs), total)]
        return display

    def _add_run(self, record: RunRecord, color: str, limit: int) -> tuple[bool, np.ndarray]:
        """Its line (thinned), and its values inside the x window (for the y window)."""
        loss = self.metric == "loss"
        values = np.asarray(record.history["loss" if loss else "norm"], dtype=float)
        if loss and not self.linear:
            values = np.where(values > 0, values, np.nan)
        name = f"ηλ(0) = {human_number(record.extras['eta_lambda0'])}"
        iterations = np.asarray(record.history["iteration"], dtype=float)
        x, y = thinned(iterations, values, limit)
        self.series.append(Series(name + (" (diverged)" if record.diverged else ""), x, y, color))
        if record.diverged:
            self.gone.append(f"{name}: diverged at k = {human_count(record.diverged_at or 0)} "
                             "(off the scale)")
        inside = values if self.window_x is None else values[iterations <= self.window_x]
        return record.diverged, inside

    def _windows(self, measured, guides, loss: bool) -> None:
        log = loss and not self.linear
        self.window_y = window_of(measured, log, guides, near=0.5)
        if self.window_y is not None and self.linear and loss:
            self.window_y = (0.0, self.window_y[1])                 # a linear loss axis from 0
        self.inside, self.outside = split_guides(guides, self.window_y, log)
        longest = max((s.x.size for s in self.series), default=0)
        shown = [int(np.sum(s.x <= (self.window_x or math.inf))) for s in self.series]
        self.frames_at = frame_positions(max(shown, default=longest))

    def to_plotly(self, height: int = 400) -> go.Figure:
        loss = self.metric == "loss"
        figure = base_figure(self.title, "iteration k", "½ε²" if loss else "λ",
                             log_y=loss and not self.linear, height=height)
        draw_series(figure, self.series, "½ε²" if loss else "λ")
        end = self.window_x if self.window_x is not None else float(self.last or 1)
        draw_guides(figure, self.inside, self.outside, self.window_y, (0.0, float(self.last or end)))
        for line in self.gone:
            # A legend entry, not a note on the plot: a long note ran across the axis ticks.
            figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=line,
                                        marker=dict(symbol="x", size=10, color=DIVERGED_COLOR)))
        if self.window_y is not None:
            figure.update_yaxes(range=list(self.window_y))
            if loss and not self.linear:
                tidy_log_axis(figure, values=[10 ** self.window_y[0], 10 ** self.window_y[1]])
        if self.window_x is not None:
            figure.update_xaxes(range=[-0.02 * self.window_x, self.window_x],
                                title_text=f"iteration k (0–{self.window_x:g} of {self.last}; "
                                           "double-click for all)")
        self._add_frames(figure)
        for note in self.notes:
            if note:
                add_subtitle(figure, note)
        figure.update_layout(legend=dict(x=1.02, xanchor="left", y=1, yanchor="top"))
        room_for_legend(figure, figure.layout.legend.font.size)
        return figure

    def _add_frames(self, figure: go.Figure) -> None:
        if self.frames_at.size < 2:
            return
        first = len(figure.data)
        for line in self.series:
            figure.add_trace(go.Scatter(x=[line.x[0]], y=[_num(line.y[0])], mode="markers",
                                        showlegend=False, hoverinfo="skip", meta="skip",
                                        marker=dict(size=11, color=line.color,
                                                    line=dict(color="black", width=1.5))))
        frames = []
        for position in self.frames_at:
            data = [go.Scatter(x=[float(s.x[min(int(position), s.x.size - 1)])],
                               y=[_num(s.y[min(int(position), s.x.size - 1)])]) for s in self.series]
            label = human_count(int(self.series[0].x[min(int(position), self.series[0].x.size - 1)]))
            frames.append(Frame(label, data, list(range(first, first + len(self.series)))))
        add_player(figure, frames)


def catapult_display(result: SweepResult, metric: str, linear: bool = False) -> CatapultDisplay:
    return CatapultDisplay.build(result, metric, linear)


def catapult_figure(result: SweepResult, metric: str, height: int = 400,
                    linear: bool = False) -> go.Figure:
    return CatapultDisplay.build(result, metric, linear).to_plotly(height)


def catapult_look_for(result: SweepResult) -> str:
    """Per run, from its numbers: no spike, a spike of ×r then λ_∞ against 2/η, or divergence."""
    parts = []
    for record, row in zip(result.runs, catapult_rows(result)):
        name = f"ηλ(0) = {human_number(row['ηλ(0)'])}"
        if record.diverged:
            parts.append(f"{name} diverges at k = {human_count(record.diverged_at or 0)}")
            continue
        peak = row["peak loss / initial loss"]
        end = _catapult_end(record, row)
        if peak is not None and peak > 1.05:
            parts.append(f"{name}: the loss spikes ×{human_number(peak, 2)}{end}")
        else:
            parts.append(f"{name}: the loss falls without a spike{end}")
    return "What to look for: " + "; ".join(parts) + "." if parts else ""


def _catapult_end(record: RunRecord, row: dict) -> str:
    """', ending at λ_∞ = 0.0967 < 2/η = 1.29' for a run that reached |ε| ≤ tol; a run
    still moving when the budget ran out has no λ_∞ to compare."""
    final = row["final sharpness λ_∞"]
    if isinstance(final, str):
        return (f", not at a minimum within {human_count(record.last_iteration)} steps (|ε| > tol: "
                "no λ_∞ yet)" if record.iterations_to_solve is None else "")
    return (f", ending at λ_∞ = {human_number(final)} {'<' if final < row['2/η'] else '≥'} "
            f"2/η = {human_number(row['2/η'])}")


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
        peak = (float(finite.max() / loss[0]) if finite.size and loss[0] > 0 and not record.diverged
                else None)                       # a diverged run's last finite loss is the blow-up
        final = record.extras.get("final_sharpness")
        ended = final is not None and not record.diverged and record.iterations_to_solve is not None
        rows.append({"ηλ(0)": record.extras["eta_lambda0"], "η": record.step_size,
                     "peak loss / initial loss": "diverged" if record.diverged else peak,
                     "final sharpness λ_∞": final if ended else
                     ("diverged" if record.diverged else "no minimum reached"),
                     "2/η": 2 / record.step_size,
                     "λ_∞ < 2/η": (final < 2 / record.step_size) if ended else "—",
                     "status": status(record)})
    return rows


# ---------------------------------------------------------------------- Figures 1 and 2
# Beneventano & Woodworth, Figures 1 and 2, for d = 1 (the (a, b) plane): GD steps along the
# tangent of the level set Q = a² − b² (the gradient ε(b, a) is orthogonal to Q's gradient
# (2a, −2b)), so each finite step lands on a level set of smaller |Q|, by (1 − η²ε²); gradient
# flow stays on its level set. The three regions ε > 0, ε < 0 < aᵀb and aᵀb < 0 decide how the
# norm λ moves: λ⁺ − λ = η²ε²λ − 4ηε·aᵀb, which is > 0 in ε < 0 < aᵀb.
REGIONS = ("ε > 0", "ε < 0 < aᵀb", "aᵀb < 0")
REGION_FILLS = ("#fbe3c8", "#d5ecd4", "#dbe4f6")
REGION_GRID = 161                 # cells per side of the shaded background
PATH_COLORS = ("#1f3b99", "#b3261e", "#111111", "#8e24aa", "#e65100", "#00695c")
REGION_SYMBOLS = ("circle", "diamond", "square")   # dark on the fills


def region_index(product, phi: float):
    """0: ε = aᵀb − Φ > 0; 1: ε < 0 < aᵀb; 2: aᵀb ≤ 0 (and ε ≤ 0), elementwise."""
    product = np.asarray(product, dtype=float)
    return np.where(product - phi > 0, 0, np.where(product > 0, 1, 2))


@dataclass(frozen=True)
class RegionPath:
    """One start's GD path in the (a, b) plane and the numbers the captions state."""
    name: str
    color: str
    a: np.ndarray
    b: np.ndarray
    regions: np.ndarray          # the region of each step's start (t = 0 … T−1)
    norm: np.ndarray             # λ_t
    q0: float
    q_end: float
    product_of_factors: float    # Π(1 − η²ε_t²) over the steps taken
    factor_error: float          # max_t |Q_{t+1} − (1 − η²ε_t²)Q_t| / (1 + Q_t²)^½ (nan: not every step kept)
    middle_steps: int            # steps taken in ε < 0 < aᵀb (|ε| > 1e-9)
    middle_grew: int             # … where λ grew
    outside_steps: int           # steps taken in the other two regions (|ε| > 1e-9)
    outside_grew: int            # … where λ grew
    flow_a: np.ndarray | None
    flow_b: np.ndarray | None
    flow_q_end: float | None
    status: str
    diverged: bool = False


@dataclass(kw_only=True)
class RegionsDisplay(Display):
    """Figures 1–2: GD and gradient-flow paths in the (a, b) plane over the three regions, the
    minima aᵀb = Φ and the level sets Q = Q(0) and Q = Q(T); and λ_t coloured by region."""
    phi: float
    eta: float
    paths: list[RegionPath] = field(default_factory=list)
    box: tuple[tuple[float, float], tuple[float, float]] = ((-1.0, 1.0), (-1.0, 1.0))

    @classmethod
    def build(cls, gd_results: Sequence[SweepResult],
              gf_results: Sequence[SweepResult | None]) -> "RegionsDisplay":
        first = gd_results[0]
        display = cls(title="Figures 1–2 in the (a, b) plane: GD steps along the tangent of Q = a² − b²",
                      phi=float(first.spec.phi), eta=float(first.runs[0].step_size))
        for index, (result, flow) in enumerate(zip(gd_results, gf_results)):
            color = PATH_COLORS[index % len(PATH_COLORS)]
            display.paths.append(_region_path(result, flow, color))
        display.notes.append(_level_set_note(display.paths))
        display.box = _region_box(display.paths, display.phi)
        display._facts()
        return display

    def _facts(self) -> None:
        steps = [sum(int(np.sum(p.regions == index)) for p in self.paths) for index in range(3)]
        middle, grew = sum(p.middle_steps for p in self.paths), sum(p.middle_grew for p in self.paths)
        outside = sum(p.outside_steps for p in self.paths)
        outside_grew = sum(p.outside_grew for p in self.paths)
        errors = [p.factor_error for p in self.paths if math.isfinite(p.factor_error)]
        self.facts = {"steps_per_region": dict(zip(REGIONS, steps)), "middle_steps": middle,
                      "middle_grew": grew, "outside_steps": outside, "outside_grew": outside_grew,
                      "factor_error": max(errors) if errors else None, "eta": self.eta, "phi": self.phi}
        self.sentences = ["What to look for: " + "; ".join(_start_sentence(p, self.phi) for p in self.paths) + ".",
                          _norm_sentence(middle, grew, outside, outside_grew)]
        if errors:
            self.sentences.append(_factor_sentence(max(errors)))
        self.notes += _thinned_notes(self.paths)

    def to_plotly(self, height: int = 560) -> go.Figure:
        (x0, x1), (y0, y1) = self.box
        figure = base_figure(self.title, "a", "b", height=height)
        xs, ys = np.linspace(x0, x1, REGION_GRID), np.linspace(y0, y1, REGION_GRID)
        codes = region_index(np.outer(ys, np.ones_like(xs)) * xs[None, :], self.phi)
        figure.add_trace(go.Heatmap(x=xs, y=ys, z=codes, zmin=0, zmax=2, showscale=False,
                                    colorscale=[[0, REGION_FILLS[0]], [0.5, REGION_FILLS[1]],
                                                [1, REGION_FILLS[2]]],
                                    hoverinfo="skip", meta="skip", name="regions"))
        for index, name in enumerate(REGIONS):      # legend swatches for the shading
            figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                        marker=dict(symbol="square", size=14, color=REGION_FILLS[index],
                                                    line=dict(color="#999", width=1))))
        _add_hyperbola(figure, xs, self.phi, "minima aᵀb = Φ", MINIMA_COLOR, "solid", (y0, y1))
        for path in self.paths:
            for q, dash, label in ((path.q0, "dot", "Q = Q(0)"), (path.q_end, "dashdot", "Q = Q(T)")):
                _add_level_set(figure, q, (x0, x1), (y0, y1), path.color, dash,
                               f"{path.name}: {label} = {human_number(q, 3)}")
            if path.flow_a is not None:
                figure.add_trace(go.Scatter(x=path.flow_a, y=path.flow_b, mode="lines",
                                            name=f"{path.name}: gradient flow",
                                            line=dict(color=path.color, dash=GF_DASH, width=2)))
            figure.add_trace(go.Scatter(x=path.a, y=path.b, mode="lines+markers", name=f"{path.name}: GD",
                                        line=dict(color=path.color, width=2),
                                        marker=dict(size=6, color=path.color),
                                        hovertemplate="k=%{pointNumber}: a=%{x:.4g}, b=%{y:.4g}<extra></extra>"))
        figure.update_xaxes(range=[x0, x1], constrain="domain")
        figure.update_yaxes(range=[y0, y1], scaleanchor="x", scaleratio=1, constrain="domain")
        for note in self.notes:
            add_subtitle(figure, note)
        figure.update_layout(legend=dict(x=1.02, xanchor="left", y=1, yanchor="top"))
        return figure

    def norm_plotly(self, height: int = 380) -> go.Figure:
        """λ_t against k, each step's marker in its region's colour and symbol."""
        figure = base_figure("λ = a² + b² along GD (each marker: the region the step starts in)",
                             "iteration k", "λ", height=height)
        for path in self.paths:
            k = np.arange(path.norm.size)
            codes = [int(r) for r in path.regions] + ([int(path.regions[-1])] if path.regions.size else [2])
            figure.add_trace(go.Scatter(x=k, y=path.norm, mode="lines+markers", name=f"{path.name}: λ",
                                        line=dict(color=path.color, width=2),
                                        marker=dict(size=9, color=[REGION_FILLS[c] for c in codes[:k.size]],
                                                    symbol=[REGION_SYMBOLS[c] for c in codes[:k.size]],
                                                    line=dict(color=path.color, width=1.5))))
        for index, name in enumerate(REGIONS):
            figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"step in {name}",
                                        marker=dict(symbol=REGION_SYMBOLS[index], size=10,
                                                    color=REGION_FILLS[index], line=dict(color="#555", width=1.5))))
        figure.add_hline(y=2 * abs(self.phi), line=dict(color=GUIDE_COLOR, dash="dot"),
                         annotation_text="2|Φ| (flattest minimum)", annotation_position="bottom right")
        self._norm_view(figure)
        figure.update_layout(legend=dict(x=1.02, xanchor="left", y=1, yanchor="top"))
        return figure

    def _norm_view(self, figure: go.Figure) -> None:
        """With a diverged path: the λ axis from the paths that stayed finite (λ ≈ 10²⁸⁶
        flattened them onto 0) and a × on the edge where the diverged path leaves it."""
        gone = [p for p in self.paths if p.diverged]
        if not gone:
            return
        window = window_of([(p.diverged, p.norm) for p in self.paths], False,
                           [Guide(2 * abs(self.phi), "2|Φ|", GUIDE_COLOR)])
        if window is None:
            return
        figure.update_yaxes(range=list(window))
        marks = [(_view_exit(np.arange(p.norm.size), p.norm, window, False), p) for p in gone]
        marks = [(point, p) for point, p in marks if point is not None]
        if marks:
            figure.add_trace(go.Scatter(
                x=[m[0][0] for m in marks], y=[m[0][1] for m in marks], mode="markers",
                name="diverged (leaves the view)", cliponaxis=False,
                marker=dict(symbol="x", size=12, color=DIVERGED_COLOR),
                text=[f"{p.name}: {p.status}" for _, p in marks], hovertemplate="%{text}<extra></extra>"))


def _q_steps(path: RegionPath) -> tuple[int, int]:
    """(steps taken, steps after which |Q| is larger): |Q⁺| = |1 − η²ε²|·|Q| grows where η|ε| > √2."""
    q = np.abs(path.a * path.a - path.b * path.b)
    grew = q[1:] > q[:-1] * (1 + 1e-12)
    return int(q.size - 1 if q.size else 0), int(np.sum(grew))


def _level_set_note(paths: Sequence[RegionPath]) -> str:
    """What the GD steps do to |Q|, counted: 'each step lands on a level set of smaller |Q|'
    only when none of them grew it (at η|ε| > √2 the factor 1 − η²ε² is below −1)."""
    counts = [_q_steps(path) for path in paths]
    steps, grew = sum(c[0] for c in counts), sum(c[1] for c in counts)
    if not grew:
        return "each step lands on a level set of smaller |Q|; gradient flow stays on its own"
    return (f"|Q| grew at {grew} of {steps} GD steps (η|ε| > √2: |1 − η²ε²| > 1), fell at the "
            "others; gradient flow stays on its own level set")


FACTOR_HOLDS = 1e-6           # per-step error of Q⁺ = (1 − η²ε²)Q below this: it holds


def _factor_sentence(error: float) -> str:
    """'holds to 3·10⁻¹⁶' only when it does: after a blow-up, a² − b² of numbers near 10¹⁰⁰
    is rounding, and the check is off by 8·10¹²⁶."""
    if error <= FACTOR_HOLDS:
        return f"Per step, Q⁺ = (1 − η²ε²)Q holds to {human_number(error, 2)}."
    return (f"Per step, Q⁺ = (1 − η²ε²)Q is off by up to {human_number(error, 2)} here: once a and "
            "b blow up, a² − b² is lost to floating-point rounding.")


def _thinned_notes(paths: Sequence[RegionPath]) -> list[str]:
    thinned = [p.name for p in paths if p.regions.size and not math.isfinite(p.factor_error)]
    return [f"{plural(len(thinned), 'path')} recorded thinned: the per-step factor is not checked "
            "there"] if thinned else []


def _start_sentence(path: RegionPath, phi: float) -> str:
    """Where a start lies and what GD and the flow do to its Q."""
    start = f"{path.name} starts {_start_region(path, phi)}"
    if path.q0 == 0:
        return f"{start}: Q(0) = 0 (balanced), and Q stays 0; {path.status}"
    flow = ("" if path.flow_q_end is None else
            f"; gradient flow ends with Q = {human_number(path.flow_q_end, 4)}")
    product = human_number(path.product_of_factors, 4)
    if abs(path.q_end) <= 1e-12 * abs(path.q0):     # Q = a² − b² at rounding level: no ratio to read
        return (f"{start}: GD takes Q from {human_number(path.q0, 4)} to ≈ 0, the rounding level of "
                f"a² − b² (Π(1 − η²ε²) = {product}){flow}; {path.status}")
    return (f"{start}: GD takes Q from {human_number(path.q0, 4)} to {human_number(path.q_end, 4)} "
            f"(×{human_number(path.q_end / path.q0, 4)} = Π(1 − η²ε²) = {product}){flow}; {path.status}")


def _start_region(path: RegionPath, phi: float) -> str:
    """'in ε > 0' (the region of the first step), or 'on the minima' for a start where GD
    took no step (|ε(0)| ≤ tol)."""
    if path.regions.size:
        return f"in {REGIONS[int(path.regions[0])]}"
    if path.status.startswith("|ε| ≤ tol"):
        return "on the minima aᵀb = Φ (|ε(0)| ≤ tol: no step taken)"
    return f"in {REGIONS[int(region_index(path.a[:1] * path.b[:1], phi)[0])]}"


def _norm_sentence(middle: int, grew: int, outside: int, outside_grew: int) -> str:
    """How λ moved in ε < 0 < aᵀb and in the other two regions, counted over the steps."""
    parts = []
    if middle:
        parts.append(f"λ grew at {'every one' if grew == middle else grew} of the {middle} steps taken "
                     "in ε < 0 < aᵀb (λ⁺ − λ = η²ε²λ − 4ηε·aᵀb > 0 there)"
                     + ("." if grew == middle else "; where it did not, η²ε²λ is too small to matter."))
    if outside:
        where = f"the {outside} steps taken outside ε < 0 < aᵀb" if outside > 1 else \
            "the one step taken outside ε < 0 < aᵀb"
        why = " (η|ε| large enough that η²ε²λ > 4ηε·aᵀb)"
        parts.append(f"λ fell at every one of {where}." if not outside_grew else
                     f"λ grew at every one of {where}{why}." if outside_grew == outside else
                     f"λ fell at {outside - outside_grew} of {where} and grew at {outside_grew}{why}.")
    return " ".join(parts)


def _region_path(result: SweepResult, flow: SweepResult | None, color: str) -> RegionPath:
    record = result.runs[0]
    phi, eta = float(result.spec.phi), float(record.step_size)
    split = split_params(record, result.spec.d)
    a, b = (np.asarray(split[0][:, 0]), np.asarray(split[1][:, 0])) if split else (np.zeros(1), np.zeros(1))
    finite = np.isfinite(a) & np.isfinite(b)
    a, b = a[finite], b[finite]
    iterations = np.asarray(record.history["iteration"])[:a.size]
    every_step = bool(np.array_equal(iterations, np.arange(a.size)))
    eps = a * b - phi
    q = a * a - b * b
    regions = region_index(a[:-1] * b[:-1], phi)
    norm = a * a + b * b
    factors = 1 - eta ** 2 * eps[:-1] ** 2
    error = (float(np.max(np.abs(q[1:] - factors * q[:-1]) / np.sqrt(1 + q[:-1] ** 2)))
             if every_step and a.size > 1 else math.nan)
    moving = np.abs(eps[:-1]) > 1e-9
    middle, outside = (regions == 1) & moving, (regions != 1) & moving
    grew = middle & (norm[1:] > norm[:-1])
    outside_grew = outside & (norm[1:] > norm[:-1])
    flow_a = flow_b = flow_q = None
    if flow is not None and flow.runs and flow.runs[0].params is not None:
        fa, fb = split_params(flow.runs[0], flow.spec.d)
        flow_a, flow_b = np.asarray(fa[:, 0]), np.asarray(fb[:, 0])
        flow_q = float(flow_a[-1] ** 2 - flow_b[-1] ** 2)
    name = f"({human_number(float(a[0]), 3)}, {human_number(float(b[0]), 3)})"
    return RegionPath(name, color, a, b, regions, norm, float(q[0]), float(q[-1]),
                      float(np.prod(factors)) if every_step else math.nan, error,
                      int(middle.sum()), int(grew.sum()), int(outside.sum()), int(outside_grew.sum()),
                      flow_a, flow_b, flow_q, status(record), record.diverged)


def _before_escape_plane(path: RegionPath, factor: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """A diverged path's points before the first that lies ``factor`` times farther from the
    origin than its start (at least 1): where it leaves the view, not the 10¹⁴³ it reaches.
    Every point of a path that did not diverge."""
    if not path.diverged or path.a.size == 0:
        return path.a, path.b
    radius = np.hypot(path.a, path.b)
    escaped = np.flatnonzero(radius > factor * max(float(radius[0]), 1.0))
    end = int(escaped[0]) if escaped.size else radius.size
    return path.a[:max(end, 1)], path.b[:max(end, 1)]


def _region_box(paths: Sequence[RegionPath], phi: float):
    """A square window around every GD and flow path, padded by a third of its span (at least
    ±0.25), so the steps and the level sets they cross are large enough to see."""
    kept = [_before_escape_plane(p) for p in paths]
    xs = [v for p, (a, _) in zip(paths, kept)
          for v in np.concatenate([a] + ([p.flow_a] if p.flow_a is not None else []))]
    ys = [v for p, (_, b) in zip(paths, kept)
          for v in np.concatenate([b] + ([p.flow_b] if p.flow_b is not None else []))]
    xs, ys = [v for v in xs if math.isfinite(v)] or [0.0], [v for v in ys if math.isfinite(v)] or [0.0]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 0.5)
    pad = span / 3
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    half = span / 2 + pad
    return (cx - half, cx + half), (cy - half, cy + half)


def _add_hyperbola(figure, xs, phi, name, color, dash, ylim) -> None:
    """ab = Φ, both branches (for Φ = 0: the two axes)."""
    if phi == 0:
        figure.add_trace(go.Scatter(x=[xs[0], xs[-1], None, 0, 0], y=[0, 0, None, ylim[0], ylim[1]],
                                    mode="lines", name=name, line=dict(color=color, dash=dash, width=2.5)))
        return
    with np.errstate(divide="ignore"):
        ys = phi / xs
    ys = np.where((ys < ylim[0]) | (ys > ylim[1]) | (xs == 0), np.nan, ys)
    figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, connectgaps=False,
                                line=dict(color=color, dash=dash, width=2.5)))


def _add_level_set(figure, q, xlim, ylim, color, dash, name) -> None:
    """a² − b² = q: both branches (|a| ≥ √q for q > 0, |b| ≥ √−q for q < 0; q = 0: a = ±b)."""
    t = np.linspace(-3.0, 3.0, 241)
    if q > 0:
        r = math.sqrt(q)
        xa, ya = r * np.cosh(t), r * np.sinh(t)
        x, y = np.concatenate([xa, [np.nan], -xa]), np.concatenate([ya, [np.nan], ya])
    elif q < 0:
        r = math.sqrt(-q)
        xa, ya = r * np.sinh(t), r * np.cosh(t)
        x, y = np.concatenate([xa, [np.nan], xa]), np.concatenate([ya, [np.nan], -ya])
    else:
        x = np.array([xlim[0], xlim[1], np.nan, xlim[0], xlim[1]])
        y = np.array([ylim[0], ylim[1], np.nan, ylim[1], ylim[0]])
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, hoverinfo="skip",
                                line=dict(color=color, dash=dash, width=1.2)))


def regions_display(gd_results: Sequence[SweepResult],
                    gf_results: Sequence[SweepResult | None]) -> RegionsDisplay:
    return RegionsDisplay.build(gd_results, gf_results)
