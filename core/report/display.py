"""Display objects: what a chart shows, computed apart from drawing it.

In the style of scikit-learn's ``RocCurveDisplay``: a display is a plain object built from
results. It holds the numbers that are drawn, the window where the runs differ, what lies
out of view or was thinned, and the *facts* its caption states; ``to_plotly()`` only draws.
Pages, claims, exports and tests read the same object, so a caption can never state what
the numbers contradict, and tests assert on numbers rather than on plotly JSON.

The helpers below are shared by every display:

* the payload bound (issue 20 §1): :data:`PAYLOAD_BYTES` is what one page may send, and
  :func:`point_budget` / :func:`thin_indices` / :func:`frame_stride` work out *before* a
  figure is built how many points a trace, how many traces and how many animation frames
  are drawn; :func:`thinning_note` says so on the chart (the downloads keep everything);
* numbers for people (:func:`human_number`, :func:`human_count`, :func:`human_step`,
  :func:`run_status`): never ``None``, ``nan`` or ``1.7262351180813079e+112``;
* axis windows from the data: :func:`finite_span` (the y range of the runs that stayed
  finite), :func:`divergence_point` (where a diverged run left the chart).

Nothing here imports streamlit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

# ---------------------------------------------------------------------- payload bound
PAYLOAD_BYTES = 10 * 2**20          # what one page may send to the browser, all charts together
BYTES_PER_POINT = 24                # one (x, y) pair in plotly JSON, measured ~18–22 bytes
BYTES_PER_TRACE = 600               # a trace's own keys (name, line, hovertemplate, …)
FIGURE_POINTS = 60_000              # points one chart draws at most (≈ 1.5 MB of JSON)
MAX_TRACES = 240                    # lines one chart draws at most
MIN_TRACE_POINTS = 32               # a line thinner than this no longer shows its shape
MAX_FRAMES = 24                     # frames of one animation at most (each costs the browser ~1.5 ms at every redraw)
MAX_SCATTER_POINTS = 3_000          # data points one scatter chart shows at most
GL_POINTS = 1_500                   # longer traces are drawn with WebGL (scattergl)


@dataclass(frozen=True)
class Budget:
    """How a chart of ``traces`` lines of ``points`` points each is drawn within the
    bound: which traces (``trace_stride``: every k-th) and how many points each."""

    traces: int
    points: int
    drawn_traces: int
    points_per_trace: int

    @property
    def thinned_traces(self) -> bool:
        return self.drawn_traces < self.traces

    @property
    def thinned_points(self) -> bool:
        return self.points_per_trace < self.points

    @property
    def estimated_bytes(self) -> int:
        return self.drawn_traces * (BYTES_PER_TRACE + BYTES_PER_POINT * min(self.points, self.points_per_trace))


def point_budget(traces: int, points: int, total: int = FIGURE_POINTS,
                 max_traces: int = MAX_TRACES) -> Budget:
    """The drawing plan for ``traces`` series of at most ``points`` points each, worked out
    from the counts alone (before anything is built): at most ``max_traces`` lines and at
    most ``total`` points altogether, each line keeping at least MIN_TRACE_POINTS."""
    traces, points = max(int(traces), 0), max(int(points), 0)
    drawn = min(traces, max_traces, max(total // MIN_TRACE_POINTS, 1))
    per_trace = points if drawn == 0 else min(points, max(total // drawn, MIN_TRACE_POINTS))
    return Budget(traces, points, drawn, per_trace)


def thin_indices(count: int, keep_at_most: int, always: Iterable[int] = ()) -> np.ndarray:
    """Indices of at most ``keep_at_most`` (+ len(always)) evenly spaced points of a series of
    ``count``, the first and the last included, plus the ``always`` indices (a solve, the
    last finite value before a divergence)."""
    if count <= keep_at_most:
        return np.arange(count)
    picked = np.unique(np.linspace(0, count - 1, max(keep_at_most, 2)).round().astype(int))
    extra = np.asarray([i for i in always if 0 <= i < count], dtype=int)
    return np.union1d(picked, extra)


def spread_indices(count: int, keep_at_most: int) -> list[int]:
    """``keep_at_most`` of ``count`` items, evenly spread (which runs get drawn)."""
    if count <= keep_at_most:
        return list(range(count))
    return sorted(set(np.linspace(0, count - 1, keep_at_most).round().astype(int).tolist()))


def frame_stride(count: int, max_frames: int = MAX_FRAMES) -> int:
    """Every k-th frame of ``count`` so that at most ``max_frames`` are sent."""
    return max(1, math.ceil(count / max(max_frames, 1)))


def thinning_note(budget: Budget, what: str = "runs") -> str:
    """The line a thinned chart carries ('' when nothing was thinned)."""
    parts = []
    if budget.thinned_traces:
        parts.append(f"{human_count(budget.drawn_traces)} of {human_count(budget.traces)} {what} drawn")
    if budget.thinned_points:
        parts.append(f"every line thinned to ≤ {human_count(budget.points_per_trace)} of its "
                     f"{human_count(budget.points)} points")
    return ("Thinned to stay light: " + "; ".join(parts) + " (the downloads hold all)") if parts else ""


def estimated_json_bytes(points: int, traces: int = 1) -> int:
    return traces * BYTES_PER_TRACE + points * BYTES_PER_POINT


# ---------------------------------------------------------------------- numbers for people
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def human_number(value: Any, digits: int = 3, missing: str = "—") -> str:
    """A number as a person reads it: 0.05, 1 200, 3.4·10⁶, 1.7·10¹¹²; ∞, "not a number" and
    ``missing`` (for None) instead of inf/nan/None."""
    if value is None:
        return missing
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return human_count(int(value))
    value = float(value)
    if math.isnan(value):
        return "not a number"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"
    value = float(f"{value:.{digits}g}")            # round first: 99 999.9 -> 10⁵
    if 1e-3 <= abs(value) < 1e5:
        text = np.format_float_positional(float(f"{value:.{digits}g}"), trim="-")
        return text.replace("-", "−")
    exponent = math.floor(math.log10(abs(value)))
    mantissa = float(f"{value / 10**exponent:.{digits}g}")
    if abs(mantissa) >= 10:                      # 9.999 rounded up to 10
        mantissa, exponent = mantissa / 10, exponent + 1
    power = "10" + str(exponent).translate(SUPERSCRIPTS)
    if mantissa == 1:
        return power
    if mantissa == -1:
        return "−" + power
    text = np.format_float_positional(mantissa, trim="-").replace("-", "−")
    return f"{text}·{power}"


def human_count(count: int) -> str:
    """1 152 -> '1 152' (thin space groups), 12 -> '12'."""
    return f"{int(count):,}".replace(",", "\u202f")


def human_step(step: float) -> str:
    return human_number(step, 3)


def plural(count: int, noun: str, many: str | None = None) -> str:
    return f"{human_count(count)} {noun if count == 1 else (many or noun + 's')}"


def human_ratio(ratio: float) -> str:
    """3.4× / 12× / 1 200×."""
    return f"{human_number(ratio, 2 if ratio < 10 else 3)}×"


def run_status(solved_at: int | None, diverged_at: int | None, budget: int | None = None) -> str:
    """'solved at t = 12', 'diverged at t = 12', 'not solved within 400 iterations'."""
    if diverged_at is not None:
        return f"diverged at t = {human_count(diverged_at)}"
    if solved_at is not None:
        return f"solved at t = {human_count(solved_at)}"
    return "not solved" + (f" within {human_count(budget)} iterations" if budget else "")


# ---------------------------------------------------------------------- windows from the data
def finite_span(series: Iterable[np.ndarray], log: bool, pad: float | None = None,
                ) -> tuple[float, float] | None:
    """The y range (axis units: log10 on a log axis) covering every finite value of the
    given series — pass the series of the runs that stayed finite, so a diverged run
    cannot stretch the axis. None when there is nothing to show."""
    low, high = math.inf, -math.inf
    for values in series:
        array = np.asarray(values, dtype=float)
        array = array[np.isfinite(array)]
        if log:
            array = array[array > 0]
        if array.size == 0:
            continue
        low, high = min(low, float(array.min())), max(high, float(array.max()))
    if not math.isfinite(low):
        return None
    if log:
        low, high = math.log10(low), math.log10(high)
        margin = pad if pad is not None else (0.25 if high - low < 0.5 else 0.06 * (high - low) + 0.05)
    else:
        margin = pad if pad is not None else (0.05 * (high - low) if high > low else max(0.1 * abs(high), 0.5))
    return low - margin, high + margin


def divergence_point(iterations: np.ndarray, values: np.ndarray) -> tuple[int, float] | None:
    """(t, value) of the last finite value of a run that diverged: where it leaves the chart."""
    values = np.asarray(values, dtype=float)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        return None
    last = int(finite[-1])
    return int(np.asarray(iterations)[last]), float(values[last])


# ---------------------------------------------------------------------- the base class
@dataclass
class Display:
    """Base of every display object: ``facts`` (named numbers a caption may state),
    ``notes`` (what the chart says about itself: thinned, out of view), ``sentences`` (the
    caption, each sentence built from ``facts``). Subclasses add their numbers and a
    ``to_plotly()`` that only draws."""

    title: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)

    @property
    def caption(self) -> str:
        return " ".join(s for s in self.sentences if s)

    @property
    def note(self) -> str:
        return "<br>".join(n for n in self.notes if n)

    def to_plotly(self, **options):
        """Draw the numbers as a plotly figure. Each display object defines its own; the
        base class holds only the shared caption and note, so it draws nothing."""
        raise TypeError(f"{type(self).__name__} does not define to_plotly()")


def ratio_sentence(fast: tuple[str, float], slow: tuple[str, float], what: str = "solves") -> str:
    """'γ = 1000 solves 3.4× sooner than γ = 1' (or 'as soon as' when equal)."""
    (fast_name, fast_t), (slow_name, slow_t) = fast, slow
    if fast_t <= 0 or slow_t <= 0:
        return ""
    if fast_t == slow_t:
        return f"{fast_name} {what} as soon as {slow_name} (t = {human_count(int(fast_t))})."
    ratio = slow_t / fast_t
    if ratio < 1.1:
        return (f"{fast_name} {what} about as soon as {slow_name} (t = {human_count(int(fast_t))} "
                f"against {human_count(int(slow_t))}).")
    return (f"{fast_name} {what} {human_ratio(ratio)} sooner than {slow_name} "
            f"(t = {human_count(int(fast_t))} against {human_count(int(slow_t))}).")


def joined(items: Sequence[str], last: str = "and") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def seed_words(seeds: Sequence[int]) -> str:
    """'seeds 0–7' for a run of consecutive seeds, else 'seeds 0, 3, 9'."""
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}–{seeds[-1]}"
    return "seeds " + ", ".join(str(s) for s in seeds)


def page_figure_memory() -> int:
    """What one page load's figures hold at most, from the display plan's limits: the figures
    are built one after another, so the largest one the plan allows (a chart of FIGURE_POINTS
    points in MAX_TRACES lines, or an animation of MAX_FRAMES frames of MAX_SCATTER_POINTS
    points) being built, beside the page's payload bound (PAYLOAD_BYTES) already drawn and
    waiting to be sent."""
    from core.engine.memory import SENT_COPIES, figure_memory

    largest = max(estimated_json_bytes(FIGURE_POINTS, MAX_TRACES),
                  estimated_json_bytes(MAX_FRAMES * MAX_SCATTER_POINTS, 2 * MAX_FRAMES))
    return figure_memory(largest) + SENT_COPIES * PAYLOAD_BYTES
