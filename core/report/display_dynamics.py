"""The perceptron-dynamics charts as display objects: a metric against the iteration for
every run (GD and its perceptrons at several γ), with the window where the runs differ, the
y range of the runs that stayed finite, where diverged runs left the chart, and a caption
built from what was measured (see core/report/display.py for the pattern)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

from core.report import display as dp
from core.report.plots import (ALGORITHM_DASH, DIVERGED_COLOR, METRIC_TITLES, PERCEPTRONS, add_subtitle,
                               algorithm_label, base_figure, empty_figure, format_step, metric_series, shade,
                               room_for_legend, step_colors, tidy_log_axis, title_room)
from core.engine.results import RunRecord, SweepResult

LOG_METRICS = ("loss", "grad_norm", "param_norm", "perceptron_gap")
MAX_DECADES = 14                 # a log axis spans at most this many decades below its top
BULK_METRICS = ("loss",)         # log axes whose lower edge follows where the runs are
BULK_QUANTILES = (0.05, 0.95)    # ... the middle 90 % of the values, each run weighing the same
BULK_DECADES = 1.5               # ... and at least this many decades below it
BULK_MIN_POINTS = 10             # a run of fewer recorded points weighs less (its last plunge)
BLOWN_UP = 1e6                   # a linear axis leaves out runs this many times the typical size
PIN_DASHES = ("dash", "longdash", "dashdot", "longdashdot")
MAX_LEGEND = 24                  # more legend entries than this: no legend (hover names a line)
EDGE_GAP = 8                     # px between the last subtitle line and the plot frame's marks
LOG_X_RATIO = 30                 # events t₁ < t₂ with t₂ ≥ 30·t₁: a log t axis
PERCEPTRON_CLOSE = 0.1          # the last distance at the largest γ within a tenth of the smallest γ's: "turns into"
WINDOW_PAD = 1.3                 # the x window ends 30 % after the last event it must show


@dataclass
class Line:
    """One drawn run: its (thinned) points and what happened to it."""

    algorithm: str
    step_size: float
    seed: int
    name: str                    # legend name
    group: str                   # legend group (seeds of one γ share it)
    t: np.ndarray
    y: np.ndarray
    solved_at: int | None
    diverged_at: int | None
    last_t: int
    pin: str = ""                # the pin's label ('' for the live view)
    pin_index: int = -1
    shade: int = 0               # index of the seed among the seeds of its γ
    shades: int = 1
    exit: tuple[int, float] | None = None      # where it leaves the view (set by the display)
    exit_side: str = ""

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


@dataclass
class HistoryDisplay(dp.Display):
    """``metric`` against the iteration, one line per run."""

    metric: str = "loss"
    per_norm: bool = False
    log_y: bool = False
    y_title: str = ""
    lines: list[Line] = field(default_factory=list)
    x_window: tuple[float, float] = (0.0, 1.0)
    x_full: tuple[float, float] = (0.0, 1.0)
    log_x: bool = False                                 # the runs' events span decades of t
    y_range: tuple[float, float] | None = None          # axis units (log10 on a log axis)
    budget: dp.Budget | None = None
    zeros: int = 0                                      # values ≤ 0 a log axis cannot show
    zero_starts: int = 0                                # runs starting at 0 (θ₀ = 0) on a log axis
    budget_iterations: int = 0

    # ------------------------------------------------------------------ facts
    @property
    def live(self) -> list[Line]:
        return [line for line in self.lines if not line.pin]

    @property
    def diverged(self) -> list[Line]:
        return [line for line in self.live if line.diverged]

    @property
    def out_of_view(self) -> dict[str, int]:
        """Runs that leave the view upwards / downwards / to the right of the window."""
        counts = {"above": 0, "below": 0, "right": 0}
        for line in self.lines:
            if line.exit_side:
                counts[line.exit_side] += 1
            end = line.diverged_at if line.diverged else line.last_t
            if end is not None and end > self.x_window[1] and self.x_window[1] < self.x_full[1]:
                counts["right"] += 1
        return counts

    def solve_times(self, algorithm: str | None = None) -> dict[float, int]:
        """γ -> the slowest solve over its seeds, for runs of ``algorithm`` that all solved."""
        times: dict[float, list[int | None]] = {}
        for line in self.live:
            if algorithm is None or line.algorithm == algorithm:
                times.setdefault(line.step_size, []).append(line.solved_at)
        return {g: max(ts) for g, ts in times.items() if all(t is not None for t in ts)}

    def set_y_range(self, y_range: tuple[float, float] | None) -> None:
        """Another y view (side-by-side panels share one): where each line leaves it, the
        notes and the facts are worked out again for it."""
        self.y_range = y_range
        for line in self.lines:
            line.exit, line.exit_side = None, ""
        _mark_exits(self)
        self.notes = _notes(self)
        self.facts = history_facts(self)

    def to_plotly(self, height: int = 400, legend: bool = True, font_size: int = 15) -> go.Figure:
        return _draw(self, height, legend, font_size)


def history_figure(results: Sequence[SweepResult], metric: str, *, per_norm: bool = False,
                   height: int = 400, legend: bool = True,
                   pinned: Sequence[tuple[str, SweepResult]] = (), full_x: bool = False,
                   font_size: int = 15) -> go.Figure:
    """``metric`` against the iteration, one trace per (algorithm, step size, seed): the
    drawing of :class:`HistoryDisplay`. Colour encodes the step size, the dash the algorithm
    (perceptrons dotted) or the pin; a diverged run ends at a red ×."""
    display = build_history(results, metric, per_norm=per_norm, pinned=pinned, full_x=full_x)
    return display.to_plotly(height=height, legend=legend, font_size=font_size)


# ---------------------------------------------------------------------- building
def build_history(results: Sequence[SweepResult], metric: str, *, per_norm: bool = False,
                  pinned: Sequence[tuple[str, SweepResult]] = (), full_x: bool = False,
                  labels: dict[str, str] | None = None) -> HistoryDisplay:
    """The display of ``metric`` for the live ``results`` and the ``pinned`` (label,
    result) pairs. The drawing plan (which runs, how many points each) is fixed from the
    counts before any series is copied."""

    labels = labels or {}
    sources = [("", -1, r) for r in results] + [(label, i, r) for i, (label, r) in enumerate(pinned)]
    records = [(pin, index, result, record) for pin, index, result in sources for record in result.runs
               if metric in record.history]
    longest = max((len(record.history["iteration"]) for *_, record in records), default=0)
    budget = dp.point_budget(len(records), longest)
    drawn = [records[i] for i in dp.spread_indices(len(records), budget.drawn_traces)]
    display = HistoryDisplay(metric=metric, per_norm=per_norm, budget=budget)
    display.y_title = METRIC_TITLES.get(metric, metric) + (" / ‖θₜ‖" if per_norm else "")
    display.title = display.y_title
    for pin, index, result, record in drawn:
        display.lines.append(_line(result, record, metric, per_norm, budget.points_per_trace,
                                   pin, index, algorithm_label(result.spec.algorithm)))
    display.log_y = metric in LOG_METRICS and any(np.any(np.isfinite(l.y) & (l.y > 0)) for l in display.lines)
    display.budget_iterations = max((r.spec.max_iters for _, _, r in sources), default=0)
    _windows(display, full_x)
    _mark_exits(display)
    display.notes = _notes(display)
    display.facts = history_facts(display)
    display.sentences = history_sentences(display, labels)
    return display


def _line(result: SweepResult, record: RunRecord, metric: str, per_norm: bool, points: int,
          pin: str, pin_index: int, label: str) -> Line:

    values = metric_series(record, metric, per_norm)
    iterations = np.asarray(record.history["iteration"])
    keep = dp.thin_indices(len(iterations), points, _event_indices(iterations, values, record))
    seeds = list(result.spec.seeds)
    name = f"{label} γ={format_step(record.step_size)}"
    if len(seeds) > 1:
        name += f" ({dp.seed_words(seeds)})"
    if pin:
        name = f"{pin}: {name}"
    return Line(result.spec.algorithm, record.step_size, record.seed, name,
                f"{pin}{result.spec.algorithm}:{record.step_size!r}", iterations[keep],
                np.asarray(values, dtype=float)[keep], record.iterations_to_solve,
                record.diverged_at if record.diverged else None, int(record.last_iteration),
                pin, pin_index, seeds.index(record.seed) if record.seed in seeds else 0, len(seeds))


def _event_indices(iterations: np.ndarray, values: np.ndarray, record: RunRecord) -> list[int]:
    events = []
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size:
        events.append(int(finite[-1]))
    if record.iterations_to_solve is not None:
        events.append(int(np.searchsorted(iterations, record.iterations_to_solve)))
    return events


def _windows(display: HistoryDisplay, full_x: bool) -> None:
    """x: the whole run, or where the runs differ; y: the span of the runs that stayed
    finite (within that window), at most MAX_DECADES tall on a log axis."""
    ends = [line.last_t for line in display.lines] or [1]
    display.x_full = (0.0, float(max(ends)))
    display.x_window = display.x_full if full_x else _differ_window(display)
    display.log_x = not full_x and _early_action(display)
    display.zeros = _zeros(display)
    display.zero_starts = _zero_starts(display)
    display.y_range = _y_span(display)


def _y_span(display: HistoryDisplay) -> tuple[float, float] | None:
    if display.metric == "accuracy" and not display.per_norm:
        return (-0.02, 1.02)
    finite_runs = [line for line in display.lines if not line.diverged] or display.lines
    series = [_in_window(display, line) for line in finite_runs]
    span = dp.finite_span(series, display.log_y)
    if span is None:
        return span
    if not display.log_y:
        return _bounded_runs_span(span, series)
    if display.metric in BULK_METRICS:
        span = _bulk_window(span, series)
    return _densest_decades(display, finite_runs, span) if span[1] - span[0] > MAX_DECADES else span


def _bounded_runs_span(span: tuple[float, float], series: list[np.ndarray]) -> tuple[float, float]:
    """A linear axis spans the runs that stayed bounded: a run still finite but blown up
    (a min margin of 1.8·10¹²⁹ while the others stay within ±2) would flatten every other
    run onto one line, so runs beyond BLOWN_UP times the typical run's size are left out of
    the span (they are marked where they leave the view and counted in the notes)."""
    sizes = []
    for line in series:
        finite = np.abs(line[np.isfinite(line)])
        sizes.append(float(finite.max()) if finite.size else math.nan)
    known = [size for size in sizes if math.isfinite(size)]
    typical = float(np.median(known)) if known else 0.0
    if typical <= 0 or max(known) <= BLOWN_UP * typical:
        return span
    kept = [line for line, size in zip(series, sizes) if size <= BLOWN_UP * typical]
    return dp.finite_span(kept, False) or span


def _bulk_window(span: tuple[float, float], series: list[np.ndarray]) -> tuple[float, float]:
    """A log axis's lower edge at the decades where the runs are (each run weighs the same):
    a few values far below the rest — normalized GD's loss dropping to 1e-22 in its last
    step, while every other run lies within 1e-3…1 — are counted below the view (▼) instead
    of stretching the axis over twenty decades. A run of only a few points weighs less, so
    that one plunge among three points is not 'where the runs are'."""
    values, weights = [], []
    for line in series:
        logs = np.log10(line[np.isfinite(line) & (line > 0)])
        if logs.size:
            values.append(logs)
            weights.append(np.full(logs.size, 1.0 / max(logs.size, BULK_MIN_POINTS)))
    if len(values) < 2:
        return span
    values, weights = np.concatenate(values), np.concatenate(weights)
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    low_q, high_q = (float(values[order][np.searchsorted(cumulative, q)]) for q in BULK_QUANTILES)
    floor = low_q - max(BULK_DECADES, 0.5 * (high_q - low_q)) - 0.25
    return (floor, span[1]) if floor - span[0] > BULK_DECADES else span


def _densest_decades(display: HistoryDisplay, lines: list[Line],
                     span: tuple[float, float]) -> tuple[float, float]:
    """MAX_DECADES of a log axis taller than that: the window holding the most drawn values
    (the higher one on a tie). Topping it at the largest value let one run's blow-up to 1e130
    push every other run below the view; the runs outside are marked where they leave it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        units = np.sort(np.concatenate([np.log10(_in_window(display, line)) for line in lines]))
    units = units[np.isfinite(units)]
    if units.size == 0:
        return (span[1] - MAX_DECADES, span[1])
    counts = np.arange(1, units.size + 1) - np.searchsorted(units, units - MAX_DECADES, side="left")
    top = units[np.flatnonzero(counts == counts.max())[-1]]
    pad = 0.02 * MAX_DECADES
    return (float(top - MAX_DECADES), float(min(top + pad, span[1])))


def _differ_window(display: HistoryDisplay) -> tuple[float, float]:
    """Up to the slowest solve among the large-γ half of the runs and every divergence (30 %
    more), when all of those runs have such an event and it ends well before the longest
    run; else the whole run. The live view and each pin are judged alike (a pin whose runs
    solve at t = 278 is not cut at the live view's t = 10)."""
    groups: dict[str, list[Line]] = {}
    for line in display.lines:
        groups.setdefault(line.pin, []).append(line)
    ends = [_last_event(lines) for lines in groups.values()]
    if not ends or any(end is None for end in ends):
        return display.x_full
    end = max(max(ends) * WINDOW_PAD, 10.0)
    return (0.0, float(math.ceil(end))) if end < 0.7 * display.x_full[1] else display.x_full


def _last_event(lines: list[Line]) -> int | None:
    """The slowest solve of the large-γ half of ``lines`` and their last divergence (None when
    a large-γ run has neither: it differs up to its end)."""
    steps = sorted({line.step_size for line in lines})
    large = [line for line in lines if line.step_size in set(steps[len(steps) // 2:])]
    events = [line.solved_at for line in large if line.solved_at is not None]
    events += [line.diverged_at for line in lines if line.diverged]
    if not events or len(events) < len(large):
        return None
    return max(events)


def _early_action(display: HistoryDisplay) -> bool:
    """A log t axis when the live runs' solves and divergences span LOG_X_RATIO or more
    (Table 1: normalized GD solves at t = 2, 16, 157, GD at 308 and 729): on a linear axis
    the early ones would be squeezed against t = 0."""
    events = [line.solved_at for line in display.live if line.solved_at is not None]
    events += [line.diverged_at for line in display.live if line.diverged]
    events = [t for t in events if t is not None and t >= 1]
    return (len(events) >= 2 and max(events) >= LOG_X_RATIO * min(events)
            and min(events) <= 0.05 * display.x_window[1])


def _zeros(display: HistoryDisplay) -> int:
    if not display.log_y:
        return 0
    return sum(int(np.sum(_off_log_axis(line))) for line in display.lines)


def _off_log_axis(line: Line) -> np.ndarray:
    """Values ≤ 0 a log axis cannot draw, after t = 0: a start at 0 (the distance to the
    perceptron from θ₀ = 0) is where the run begins, not a fall below the view."""
    return np.isfinite(line.y) & (line.y <= 0) & (line.t > 0)


def _zero_starts(display: HistoryDisplay) -> int:
    return sum(1 for line in display.lines if display.log_y and line.y.size and line.t[0] == 0
               and np.isfinite(line.y[0]) and line.y[0] <= 0)


def _in_window(display: HistoryDisplay, line: Line) -> np.ndarray:
    return line.y[line.t <= display.x_window[1]]


def _mark_exits(display: HistoryDisplay) -> None:
    """The first point where each line leaves the y view (a diverged run: where it left)."""
    if display.y_range is None:
        return
    for line in display.lines:
        index, side = _first_exit(display, line)
        if index is None:
            line.exit = dp.divergence_point(line.t, line.y) if line.diverged else None
            continue
        edge = display.y_range[1] if side == "above" else display.y_range[0]
        line.exit_side = side
        line.exit = (int(line.t[index]), 10 ** edge if display.log_y else edge)


def _first_exit(display: HistoryDisplay, line: Line) -> tuple[int | None, str]:
    low, high = display.y_range
    with np.errstate(divide="ignore", invalid="ignore"):
        units = np.log10(line.y) if display.log_y else line.y
    in_window = line.t <= display.x_window[1]
    gone = ~np.isfinite(line.y) if line.diverged else np.zeros(len(line.y), bool)
    under = _off_log_axis(line) if display.log_y else np.zeros(len(line.y), bool)
    above = np.flatnonzero(in_window & ((units > high) | gone))
    below = np.flatnonzero(in_window & ((np.isfinite(units) & (units < low)) | under))
    if above.size and (not below.size or above[0] < below[0]):
        return int(above[0]), "above"
    if below.size:
        return int(below[0]), "below"
    return None, ""


def _events(display: HistoryDisplay) -> list[int]:
    return [t for line in display.live for t in (line.solved_at, line.diverged_at)
            if t is not None and t >= 1] or [1]


def _lowest_below(display: HistoryDisplay, lines: list[Line]) -> float | None:
    """The smallest finite value of ``lines`` (runs that fall below the view): 0 on a log
    axis when one of them reaches a value ≤ 0 (a loss that underflows to 0 falls to 0, not
    to its smallest positive value, which may lie inside the view)."""
    values = [line.y[np.isfinite(line.y) & (line.t > 0)] for line in lines]     # not a start at 0
    values = [v for v in values if v.size]
    if not values:
        return None
    if display.log_y:
        if any(np.any(v <= 0) for v in values):
            return 0.0
    return float(min(v.min() for v in values))


def _below_note(display: HistoryDisplay, count: int) -> str:
    """'3 runs fall below the view (▼, down to 0; 1 diverged: ×)': a diverged run is drawn
    as × where it left, so it is not counted among the ▼ nor in how far they fall."""
    below = [line for line in display.lines if line.exit_side == "below"]
    falling = [line for line in below if not line.diverged]
    marks = []
    if falling:
        lowest = _lowest_below(display, falling)
        marks.append("▼" + (f", down to {dp.human_number(lowest)}" if lowest is not None else ""))
    if len(below) > len(falling):
        marks.append(f"{len(below) - len(falling)} diverged: ×")
    return f"{dp.plural(count, 'run')} {_verb(count, 'fall')} below the view ({'; '.join(marks)})"


def _verb(count: int, verb: str) -> str:
    return verb + ("s" if count == 1 else "")


def _notes(display: HistoryDisplay) -> list[str]:
    notes = []
    counts = display.out_of_view
    if counts["above"]:
        notes.append(f"{dp.plural(counts['above'], 'run')} {_verb(counts['above'], 'leave')} the view upwards (▲ where they leave"
                     + (", × diverged)" if display.diverged else ")"))
    if counts["below"]:
        notes.append(_below_note(display, counts["below"]))
    if display.zeros:
        notes.append(f"{dp.plural(display.zeros, 'value')} ≤ 0 not on a log axis")
    if display.zero_starts:
        notes.append(("every run starts" if display.zero_starts == len(display.lines) else
                      f"{dp.plural(display.zero_starts, 'run')} {_verb(display.zero_starts, 'start')}")
                     + " at 0 (t = 0), off the log axis")
    if display.log_x:
        notes.append("log t axis (the runs solve or diverge between t = "
                     f"{min(_events(display))} and {max(_events(display))}; t = 0 not drawn)")
    if display.x_window != display.x_full:
        notes.append(f"t ≤ {dp.human_count(int(display.x_window[1]))} shown, where the runs differ "
                     f"(all {dp.human_count(int(display.x_full[1]))}: “all iterations” or ⤢ autoscale)")
    if display.budget is not None:
        notes.append(dp.thinning_note(display.budget))
    return [n for n in notes if n]


# ---------------------------------------------------------------------- facts and captions
def history_facts(display: HistoryDisplay) -> dict[str, Any]:
    live = display.live
    return {
        "runs": len(live),
        "solved": sum(line.solved_at is not None for line in live),
        "diverged": len(display.diverged),
        "diverged_steps": sorted({line.step_size for line in display.diverged}),
        "first_divergence": min((line.diverged_at for line in display.diverged), default=None),
        "x_window": display.x_window,
        "x_full": display.x_full,
        "y_range": display.y_range,
        "out_of_view": display.out_of_view,
        "algorithms": list(dict.fromkeys(line.algorithm for line in live)),
    }


def _label(line: Line) -> str:
    return line.name.split(" γ=")[0]


def _run_name(line: Line) -> str:
    """One run's name: its legend name, with its own seed in place of its γ's seed list
    ('GD γ=10 seed 2', not 'GD γ=10 (seeds 0–2)', which reads as every seed)."""
    if line.shades <= 1:
        return line.name
    return f"{line.name.rsplit(' (seeds ', 1)[0]} seed {line.seed}"


def _gamma(step: float) -> str:
    return f"γ = {dp.human_step(step)}"


def solve_sentence(display: HistoryDisplay, what: str = "solves") -> str:
    """Per algorithm: how the largest solved γ compares with the smallest solved γ (a γ
    counts when every one of its seeds solved, at its slowest seed), and the γ where only
    some seeds solved, counted apart (an "only γ = 0.1 solves" must not hide them)."""
    sentences = []
    for algorithm in display.facts["algorithms"]:
        lines = [l for l in display.live if l.algorithm == algorithm]
        if lines:
            sentences.append(_solve_words(display, algorithm, lines, what))
    return " ".join(sentences)


def _solve_words(display: HistoryDisplay, algorithm: str, lines: list[Line], what: str) -> str:
    times = display.solve_times(algorithm)
    seeds = any(l.shades > 1 for l in lines)
    label = _label(lines[0]) + (" (slowest seed of each γ)" if len(times) >= 2 and seeds else "")
    partial = _partial_words(lines, what)
    every = " with every seed" if partial else ""
    if len(times) >= 2:
        small, large = min(times), max(times)
        if times[large] < times[small]:
            text = dp.ratio_sentence((_gamma(large), times[large]), (_gamma(small), times[small]), what)
        elif times[large] == times[small]:
            text = (f"every γ whose seeds all {_plural_verb(what)} does so at t = {times[small]}."
                    if partial else f"every solving γ {what} at t = {times[small]}.")
        else:
            text = (f"larger γ {what} later here ({_gamma(large)} at t = {times[large]}, "
                    f"{_gamma(small)} at t = {times[small]}).")
    elif len(times) == 1:
        (gamma, t), = times.items()
        text = f"only {_gamma(gamma)} {what}{every} (t = {t}{', its slowest seed' if seeds else ''})."
    else:
        text = (f"no {'γ' if partial else 'run'} {what}{every} within "
                f"{dp.plural(display.budget_iterations, 'iteration')}.")
    return f"{label}: {text}" + (f" {partial}" if partial else "")


def _plural_verb(what: str) -> str:
    """'solves' -> 'solve', 'reaches 100 %' -> 'reach 100 %'."""
    return what.replace("solves", "solve").replace("reaches", "reach")


def _partial_words(lines: list[Line], what: str) -> str:
    """'At γ = 10 and 1000 only 2 of 6 seed runs solve.': the γ where some, not all, of the
    seeds solved ('' when there is none)."""
    runs: dict[float, list[bool]] = {}
    for line in lines:
        runs.setdefault(line.step_size, []).append(line.solved_at is not None)
    partial = sorted(g for g, solved in runs.items() if 0 < sum(solved) < len(solved))
    if not partial:
        return ""
    solved = sum(sum(runs[g]) for g in partial)
    total = sum(len(runs[g]) for g in partial)
    verb = what if solved == 1 else _plural_verb(what)
    return (f"At γ = {dp.joined([dp.human_step(g) for g in partial])} only {solved} of {total} "
            f"seed runs {verb}.")


def divergence_sentence(display: HistoryDisplay) -> str:
    """Which runs diverged, per algorithm: "γ ≥ 10" only when every run from that γ up
    diverged (else the step sizes that did), and the largest step below them that stayed
    finite."""
    by_algorithm: dict[str, list[Line]] = {}
    for line in display.diverged:
        by_algorithm.setdefault(line.algorithm, []).append(line)
    if not by_algorithm:
        return ""
    parts, advice = [], []
    for algorithm, lines in by_algorithm.items():
        part, stable = _diverged_part([l for l in display.live if l.algorithm == algorithm], lines)
        parts.append(part)
        if stable is not None:
            advice.append(f"{_label(lines[0])} needs γ ≲ {dp.human_step(stable)}")
    if len(advice) == 1 and len(by_algorithm) == 1:
        tail = "; on this model and data it needs" + advice[0].split(" needs", 1)[1]
    else:
        tail = "; on this model and data " + dp.joined(advice) if advice else ""
    return (dp.joined(parts) + tail + ". × marks where each left the chart; the y axis covers "
            "the runs that stayed finite.")


def _diverged_part(runs: list[Line], lines: list[Line]) -> tuple[str, float | None]:
    """'2 of 4 GD runs diverged (γ ≥ 10, the first at t = 5)' and the largest stable step
    below the divergences (None unless every run from the smallest diverged γ up diverged)."""
    steps = sorted({l.step_size for l in lines})
    upward = all(l.diverged for l in runs if l.step_size >= steps[0])
    which = (f"γ ≥ {dp.human_step(steps[0])}" if upward else
             "γ = " + ", ".join(dp.human_step(g) for g in steps))
    first = min(l.diverged_at for l in lines)
    below = [l.step_size for l in runs if not l.diverged and l.step_size < steps[0]]
    part = (f"{len(lines)} of {len(runs)} {_label(lines[0])} runs diverged ({which}, the first "
            f"at t = {first})")
    return part, (max(below) if upward and below else None)


def rise_sentence(display: HistoryDisplay) -> str:
    """Loss only: which runs' loss rose at some recorded step and fell below that peak later
    (measured), named by algorithm when several are drawn; runs whose loss rose and never came
    back down are counted apart."""
    finite = [l for l in display.live if not l.diverged]
    if not finite:
        return ""
    rising = [l for l in finite if _rises(l.y)]
    if not rising:
        return "Every finite run's loss falls at each recorded step."
    named = len({l.algorithm for l in finite}) > 1
    back = [l for l in rising if _falls_after_rising(l.y)]
    stays = [l for l in rising if not _falls_after_rising(l.y)]
    sentence = ""
    if back:
        sentence = (f"The loss rises before it falls in {len(back)} of {len(finite)} finite runs "
                    f"({_run_words(back, named)}).")
    if stays:
        sentence += (f" The loss rises and has not come back down by the end in "
                     f"{len(stays)} of {len(finite)} finite runs ({_run_words(stays, named)}).")
    return sentence.strip()


def _run_words(lines: list[Line], named: bool) -> str:
    """'γ = 10, 1000' or, when several algorithms are drawn, 'GD γ = 10; normalized GD γ = 1'."""
    groups: dict[str, list[float]] = {}
    for line in lines:
        groups.setdefault(_label(line) if named else "", []).append(line.step_size)
    parts = []
    for label, steps in groups.items():
        steps = sorted(set(steps))
        words = "γ = " + ", ".join(dp.human_step(s) for s in steps[:6]) + ("…" if len(steps) > 6 else "")
        parts.append(f"{label} {words}".strip())
    return "; ".join(parts)


def _rises(values: np.ndarray) -> bool:
    values = values[np.isfinite(values)]
    return bool(values.size > 1 and np.any(np.diff(values) > 1e-12 * np.abs(values[:-1])))


def _falls_after_rising(values: np.ndarray) -> bool:
    """After its first rise, the loss comes down below the highest value it rose to."""
    values = values[np.isfinite(values)]
    up = np.flatnonzero(np.diff(values) > 1e-12 * np.abs(values[:-1]))
    if not up.size:
        return False
    after = values[up[0] + 1:]
    peak = int(np.argmax(after))
    return bool(peak + 1 < after.size and after[peak + 1:].min() < after[peak])


def accuracy_sentence(display: HistoryDisplay) -> str:
    text = solve_sentence(display, "reaches 100 %")
    stuck = [_stuck_words(display, algorithm) for algorithm in display.facts["algorithms"]]
    stuck = [words for words in stuck if words]
    return text + (" " + dp.joined(stuck) + "." if stuck else "")


def _stuck_words(display: HistoryDisplay, algorithm: str) -> str:
    """'generalized perceptron ends between 49 % and 51 % (best 71 %)' when no finite run
    of ``algorithm`` reaches 100 %."""
    lines = [l for l in display.live if l.algorithm == algorithm and not l.diverged
             and np.isfinite(l.y).any()]
    if not lines or any(l.solved_at is not None for l in lines):
        return ""
    best = max(float(np.nanmax(l.y)) for l in lines)
    last = [float(l.y[np.isfinite(l.y)][-1]) for l in lines]
    where = (f"at {_percent(min(last))}" if _percent(min(last)) == _percent(max(last)) else
             f"between {_percent(min(last))} and {_percent(max(last))}")
    return f"{_label(lines[0])} ends {where} (best {_percent(best)})"


def _percent(value: float) -> str:
    return f"{value:.0%}".replace("%", " %")


def margin_sentence(display: HistoryDisplay) -> str:
    crossed = [l for l in display.live if l.solved_at is not None]
    if not crossed:
        return "No run's smallest margin crosses 0: no run is solved."
    first = min(crossed, key=lambda l: l.solved_at)
    return (f"A run is solved when its smallest margin crosses 0: {len(crossed)} of "
            f"{len(display.live)} runs {'does' if len(crossed) == 1 else 'do'}, first "
            f"{_run_name(first)} at t = {first.solved_at}.")


def spread_sentence(display: HistoryDisplay) -> str:
    """Gradient norm: how many decades each γ spans (measured), largest first."""
    spans = []
    for line in display.live:
        if line.diverged:
            continue
        finite = line.y[np.isfinite(line.y) & (line.y > 0)]
        if finite.size > 1:         # log10 of each: max/min of 1e-316 overflows to inf
            spans.append((math.log10(finite.max()) - math.log10(finite.min()), line))
    if not spans:
        return ""
    widest = max(spans, key=lambda s: s[0])
    narrowest = min(spans, key=lambda s: s[0])
    if widest[1] is narrowest[1]:
        return f"The gradient norm of {_run_name(widest[1])} spans {widest[0]:.1f} decades."
    return (f"The gradient norm of {_run_name(widest[1])} spans {widest[0]:.1f} decades, "
            f"that of {_run_name(narrowest[1])} {narrowest[0]:.1f}.")


def gap_sentence(display: HistoryDisplay) -> str:
    """Distance to the perceptron, per algorithm (each has its own matching perceptron): its
    final value per γ, and whether it falls as γ grows."""
    algorithms = [a for a in display.facts["algorithms"] if len(_last_gaps(display, a)) >= 2]
    return " ".join(_gap_words(display, a, named=len(algorithms) > 1) for a in algorithms)


def _last_gaps(display: HistoryDisplay, algorithm: str) -> dict[float, float]:
    """γ -> the largest last finite distance over its seeds, for the finite runs of ``algorithm``."""
    finals: dict[float, float] = {}
    for line in display.live:
        if line.diverged or line.algorithm != algorithm:
            continue
        finite = line.y[np.isfinite(line.y)]
        if finite.size:
            finals[line.step_size] = max(finals.get(line.step_size, 0.0), float(finite[-1]))
    return finals


def _gap_words(display: HistoryDisplay, algorithm: str, named: bool) -> str:
    finals = _last_gaps(display, algorithm)
    label = _label(next(l for l in display.live if l.algorithm == algorithm))
    steps = sorted(finals)
    values = [finals[s] for s in steps]
    trend = "falls" if all(b <= a for a, b in zip(values, values[1:])) and values[-1] < values[0] \
        else "does not fall steadily"
    if trend != "falls":
        ending = "."
    elif values[-1] <= PERCEPTRON_CLOSE * values[0]:
        ending = f" — {label} turns into the perceptron."
    else:       # 187 -> 53.9: closer, but not the perceptron
        ending = f" — {label} comes closer to the perceptron but does not reach it here."
    head = f"{label}: the last distance" if named else "The last distance"
    return (f"{head} {trend} as γ grows: {dp.human_number(values[0])} at "
            f"{_gamma(steps[0])}, {dp.human_number(values[-1])} at {_gamma(steps[-1])}{ending}")


SENTENCES = {
    "loss": (solve_sentence, rise_sentence),
    "accuracy": (accuracy_sentence,),
    "min_margin": (margin_sentence,),
    "grad_norm": (spread_sentence,),
    "perceptron_gap": (gap_sentence,),
}


def history_sentences(display: HistoryDisplay, labels: dict[str, str]) -> list[str]:
    sentences = [rule(display) for rule in SENTENCES.get(display.metric, ())]
    sentences.append(divergence_sentence(display))
    return [s for s in sentences if s]


# ---------------------------------------------------------------------- drawing
def _draw(display: HistoryDisplay, height: int, legend: bool, font_size: int) -> go.Figure:
    if not display.lines:
        why = ("no run records it: these runs carry no perceptron twins (the link's "
               "perceptron_gap=0)" if display.metric == "perceptron_gap" else
               f"no run records {display.metric.replace('_', ' ')}")
        return empty_figure(display.y_title, why, height)
    figure = base_figure(display.title or display.y_title, "iteration t", display.y_title,
                         log_y=display.log_y,
                         height=height)
    colors = _colors(display)
    kind = go.Scattergl if display.budget and display.budget.points_per_trace > dp.GL_POINTS \
        and len(display.lines) > 20 else go.Scatter
    shown: set[str] = set()
    for line in display.lines:
        figure.add_trace(kind(**_line_trace(display, line, colors, line.group not in shown)))
        shown.add(line.group)
    _draw_exits(figure, display)
    _axes(figure, display)
    if display.note:
        add_subtitle(figure, display.note)
    legend_entries = len({line.group for line in display.lines})
    figure.update_layout(showlegend=legend and legend_entries <= MAX_LEGEND, font=dict(size=font_size),
                         title=dict(font=dict(size=font_size + 3)))
    if legend and legend_entries > MAX_LEGEND:
        add_subtitle(figure, f"Colour is γ ({legend_entries} lines, no legend: hover a line for its name)")
    figure.update_layout(margin=dict(t=_top_margin(figure, font_size)))
    room_for_legend(figure, font_size)
    return figure


def _top_margin(figure: go.Figure, font_size: int) -> int:
    """Room for the title and its subtitle lines (two or more: 12 px more), and at least
    what plotly's centred title needs for its last subtitle line to clear the plot frame,
    plus EDGE_GAP: the ▲/× marks on the top edge stand half their size above the frame
    (they sat on the last subtitle line, 5 px above it)."""
    subtitle = figure.layout.title.subtitle.text if figure.layout.title.subtitle else None
    lines = subtitle.count("<br>") + 1 if subtitle else 0
    return max(int(font_size * 2.4 + lines * (font_size - 1) * 1.25) + (12 if lines > 1 else 0),
               title_room(lines, font_size + 3) + (EDGE_GAP if lines else 0))


def _colors(display: HistoryDisplay) -> dict[float, str]:
    return step_colors(line.step_size for line in display.lines)


def _line_trace(display: HistoryDisplay, line: Line, colors: dict, show: bool) -> dict:
    y = line.y.astype(float).copy()
    if display.log_y:
        y[~(y > 0)] = np.nan
    if line.exit is not None and line.exit_side == "above":
        y[line.t > line.exit[0]] = np.nan         # the part above the view is not sent
    x = line.t
    if display.log_x:                             # t = 0 has no place on a log axis
        x, y = x[line.t >= 1], y[line.t >= 1]
    dash = PIN_DASHES[line.pin_index % len(PIN_DASHES)] if line.pin else \
        ALGORITHM_DASH.get(line.algorithm, "solid")
    return dict(
        x=x.tolist(), y=[float(v) if math.isfinite(v) else None for v in y], mode="lines",
        name=line.name, legendgroup=line.group, showlegend=show,
        opacity=0.75 if line.pin else 1.0,
        line=dict(color=shade(colors[line.step_size], line.shade, line.shades), dash=dash,
                  width=2.5 if line.algorithm in PERCEPTRONS else 2),
        hovertemplate=f"{line.name}<br>t=%{{x}}<br>value=%{{y:.4g}}<extra></extra>")


def _draw_exits(figure: go.Figure, display: HistoryDisplay) -> None:
    groups = {"×": [], "▲": [], "▼": []}
    for line in display.lines:
        if line.exit is None:
            continue
        symbol = "×" if line.diverged else ("▲" if line.exit_side == "above" else "▼")
        what = (f"diverged at t = {line.diverged_at}" if line.diverged else
                f"leaves the view at t = {line.exit[0]}")
        groups[symbol].append((line.exit[0], line.exit[1], f"{line.name}: {what}"))
    styles = {"×": ("x", DIVERGED_COLOR, "diverged"),
              "▲": ("triangle-up", "#444", "leaves the view (▲)"),
              "▼": ("triangle-down", "#444",
                    "≤ 0 or below the view (▼)" if display.log_y else "below the view (▼)")}
    for symbol, points in groups.items():
        if not points:
            continue
        marker, color, name = styles[symbol]
        figure.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name=name,
            cliponaxis=False, meta="edge",
            marker=dict(symbol=marker, size=12, color=color, line=dict(width=1)),
            text=[p[2] for p in points], hovertemplate="%{text}<extra></extra>"))


def _axes(figure: go.Figure, display: HistoryDisplay) -> None:
    if display.log_x:
        figure.update_xaxes(type="log", range=[-0.05, math.log10(max(display.x_window[1], 2))],
                            autorange=False)
    else:
        figure.update_xaxes(range=list(display.x_window), autorange=False)
    if display.y_range is not None:
        figure.update_yaxes(range=list(display.y_range), autorange=False)
        if display.log_y:
            tidy_log_axis(figure, values=[10 ** display.y_range[0], 10 ** display.y_range[1]])
    if display.metric == "accuracy" and not display.per_norm:
        figure.update_yaxes(tickformat=".0%")


# ---------------------------------------------------------------------- the trajectory view
JUMP_DEGREES = 30.0          # a turn of θₜ/‖θₜ‖ this large between recorded iterations: a jump


def largest_turn(params: np.ndarray) -> float:
    """The largest angle (degrees) between θₜ/‖θₜ‖ at consecutive recorded iterations (0 for
    fewer than two non-zero finite θₜ)."""
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.max(np.abs(params), axis=1)        # scale first: ‖θ‖² of a blow-up overflows
        units = params / np.where(scale > 0, scale, 1)[:, None]
        norms = np.linalg.norm(units, axis=1)
    keep = np.isfinite(norms) & (norms > 0)
    directions = units[keep] / norms[keep, None]
    if len(directions) < 2:
        return 0.0
    cosines = np.clip(np.sum(directions[1:] * directions[:-1], axis=1), -1.0, 1.0)
    return float(np.degrees(np.arccos(cosines)).max())


def direction_sentence(results: Sequence[SweepResult]) -> str:
    """How far the direction of each algorithm's largest and smallest γ turns between recorded
    iterations, measured: "large γ runs jump between directions" only where they do and the
    small γ do not (a perceptron's direction does not depend on γ)."""
    turns: dict[str, dict[float, float]] = {}
    for result in results:
        for record in result.runs:
            if record.params is not None:
                mine = turns.setdefault(algorithm_label(result.spec.algorithm), {})
                mine[record.step_size] = max(mine.get(record.step_size, 0.0),
                                             largest_turn(np.asarray(record.params, dtype=float)))
    if not turns:
        return ""
    ends = {label: (steps[max(steps)], steps[min(steps)], max(steps), min(steps))
            for label, steps in turns.items()}
    if any(large >= JUMP_DEGREES > small for large, small, *_ in ends.values()):
        head = "Large γ runs jump between directions"
    elif any(large >= JUMP_DEGREES for large, *_ in ends.values()):
        head = "Runs jump between directions at the smallest γ as well as the largest"
    else:
        head = "No run jumps between directions here"
    words = [(f"{label} " if len(ends) > 1 else "") + f"γ = {dp.human_step(high)} {large:.0f}°"
             + ("" if high == low else f", γ = {dp.human_step(low)} {small:.0f}°")
             for label, (large, small, high, low) in ends.items()]
    return f"{head} (largest turn between recorded iterations: {'; '.join(words)})."
