"""The step-size map as a display object: per γ of the grid, whether and when the run
solved, whether it diverged, how its last K losses behave (settled, still falling, or
oscillating) and whether its loss ever rose; the captions of the page's charts are built
from these counts, so they hold at any setting (see core/report/display.py for the pattern)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from core.report import display as dp
from core.report.display_orbit import OrbitColumn, OrbitDiagram
from core.analysis.sweeps import loss_increase_fraction
from core.engine.results import SweepResult

if TYPE_CHECKING:
    import plotly.graph_objects as go


# ---------------------------------------------------------------------- the orbit diagram
def orbit_figure(result: SweepResult, selected: float | None = None,
                 height: int = 480) -> "go.Figure":
    """Bifurcation diagram: the last K losses of each run against its step size (log–log),
    drawn by the shared :class:`core.report.display_orbit.OrbitDiagram` (a density image when the
    dots would be too many to send; diverged runs as crosses on the top edge; the selected
    step size a vertical line)."""
    return orbit_diagram(result, selected).to_plotly(height)


def orbit_diagram(result: SweepResult, selected: float | None = None):
    """The numbers of the step-size map's orbit diagram (see :func:`orbit_figure`)."""
    columns = [OrbitColumn(r.step_size, np.asarray(r.tail["loss"] if r.tail else [], dtype=float),
                           np.asarray(r.tail["iteration"] if r.tail else [], dtype=int),
                           r.diverged, r.diverged_at) for r in result.runs]
    return OrbitDiagram.build(columns, title="orbit diagram: the last K losses of each run "
                              "against its step size", x_title="step size γ",
                              y_title="loss f(θₜ), last K iterations", x_name="γ", log_x=True,
                              log_y=True, selected=selected)

SETTLED_DECADES = 0.3        # last K losses within this many decades: one dot on the diagram
GROWING_TREND = 0.9          # last K losses that climb this share of their span, first to last: growing
GROWING_POINTS = 3           # ... over at least this many of them (one step up is no trend)


BEHAVIOURS = ("settled", "falls", "oscillates", "grows", "diverged", "no tail")


@dataclass
class StepRow:
    step_size: float
    solved_at: int | None
    diverged_at: int | None
    tail_rises: float            # share of the last K steps that raised the loss (NaN: no tail)
    ever_rose: bool              # the recorded loss rose at some step
    tail_decades: float          # log10(max/min) of the positive finite last K losses (NaN: none)
    tail_trend: float = 0.0      # log10(last/first) of those losses, as a share of tail_decades

    @property
    def behaviour(self) -> str:
        if self.diverged_at is not None:
            return "diverged"
        if not math.isfinite(self.tail_decades):
            return "no tail"
        if self.tail_rises > 0:
            # Climbing from its lowest to its highest through the last K (1e62 -> 1e92): a
            # blow-up not yet overflowed at T, not an oscillation around a level.
            growing = self.tail_decades > SETTLED_DECADES and self.tail_trend >= GROWING_TREND
            return "grows" if growing else "oscillates"
        return "settled" if self.tail_decades <= SETTLED_DECADES else "falls"


@dataclass
class StepMapDisplay(dp.Display):
    rows: list[StepRow] = field(default_factory=list)
    budget_iterations: int = 0
    tail_points: int = 0

    def count(self, behaviour: str) -> int:
        return sum(row.behaviour == behaviour for row in self.rows)

    def steps(self, behaviour: str) -> list[float]:
        return [row.step_size for row in self.rows if row.behaviour == behaviour]

    @property
    def solved(self) -> list[StepRow]:
        return [row for row in self.rows if row.solved_at is not None]

    def caption_for(self, view: str) -> str:
        return {"orbit": orbit_sentence, "solve": solve_sentence, "nonmonotone": rise_sentence,
                "loss": lambda d: ""}.get(view, lambda d: "")(self)


def build_step_map(result: SweepResult) -> StepMapDisplay:
    display = StepMapDisplay(budget_iterations=result.spec.max_iters,
                             tail_points=result.spec.tail_points)
    for record in result.runs:
        tail = np.asarray((record.tail or {}).get("loss", np.array([])), dtype=float)
        positive = tail[np.isfinite(tail) & (tail > 0)]
        # log10 of each: max/min of losses near 1e-316 overflows to inf (read as 'no tail')
        decades = float(np.log10(positive.max()) - np.log10(positive.min())) if positive.size else math.nan
        trend = (float(np.log10(positive[-1]) - np.log10(positive[0])) / decades
                 if positive.size >= GROWING_POINTS and decades > 0 else 0.0)
        display.rows.append(StepRow(
            record.step_size, record.iterations_to_solve,
            record.diverged_at if record.diverged else None,
            loss_increase_fraction(tail), bool(loss_increase_fraction(
                np.asarray(record.history["loss"], dtype=float)) > 0), decades, trend))
    display.rows.sort(key=lambda row: row.step_size)
    display.facts = {
        "step_sizes": len(display.rows), "solved": len(display.solved),
        **{b: display.count(b) for b in BEHAVIOURS},
        "ever_rose": sum(row.ever_rose for row in display.rows)}
    display.sentences = [solve_sentence(display)]
    return display


def ranges(steps: list[float], grid: list[float]) -> str:
    """'γ 1–4.6 and 300–10⁴': the runs of consecutive grid points among ``steps``."""
    chosen, parts, start, previous = set(steps), [], None, None
    for step in grid:
        if step in chosen:
            start = step if start is None else start
            previous = step
        elif start is not None:
            parts.append((start, previous))
            start = None
    if start is not None:
        parts.append((start, previous))
    text = [dp.human_step(a) if a == b else f"{dp.human_step(a)}–{dp.human_step(b)}" for a, b in parts[:3]]
    return "γ " + dp.joined(text) + (" …" if len(parts) > 3 else "")


def _grid(display: StepMapDisplay) -> list[float]:
    return [row.step_size for row in display.rows]


def _nothing_solves(display: StepMapDisplay, budget: str) -> str:
    diverged = [row.step_size for row in display.rows if row.diverged_at is not None]
    return (f"No step size solves within T = {budget} iterations"
            + (f"; {ranges(diverged, _grid(display))} diverged" if diverged else "")
            + ": more iterations or other step sizes may, unless the data are not separable.")


def _solve_head(display: StepMapDisplay, budget: str) -> str:
    """How many step sizes solve, which do not, and which solved and diverged later."""
    total, solved = len(display.rows), display.solved
    unsolved = [row.step_size for row in display.rows if row.solved_at is None]
    head = (f"All {total} step sizes solve within T = {budget}." if not unsolved else
            f"{len(solved)} of {total} step sizes solve within T = {budget}; "
            f"{ranges(unsolved, _grid(display))} do not (▲/× on the top line).")
    later = [row for row in solved if row.diverged_at is not None]
    if later:
        head += (f" {len(later)} of them diverged after solving ({ranges([r.step_size for r in later], _grid(display))}"
                 f", the first at t = {dp.human_count(min(r.diverged_at for r in later))}).")
    return head


def _solve_trend(display: StepMapDisplay) -> str:
    """Whether the largest solving γ is faster than the smallest, and the fastest in between
    (all of them where several tie)."""
    solved = display.solved
    first, last = solved[0], solved[-1]
    if last.solved_at < first.solved_at:
        trend = dp.ratio_sentence((f"γ = {dp.human_step(last.step_size)}", last.solved_at),
                                  (f"γ = {dp.human_step(first.step_size)}", first.solved_at))
    else:
        trend = (f"Larger γ is not faster here: γ = {dp.human_step(last.step_size)} solves at "
                 f"t = {last.solved_at}, γ = {dp.human_step(first.step_size)} at t = {first.solved_at}.")
    best = min(row.solved_at for row in solved)
    fastest = [row.step_size for row in solved if row.solved_at == best]
    if len(fastest) > 1:
        trend += (f" Fastest: t = {dp.human_count(best)}, at {len(fastest)} step sizes "
                  f"({ranges(fastest, _grid(display))}).")
    elif fastest[0] not in (first.step_size, last.step_size):
        trend += f" Fastest: γ = {dp.human_step(fastest[0])} at t = {dp.human_count(best)}."
    return trend


def solve_sentence(display: StepMapDisplay) -> str:
    solved = display.solved
    budget = dp.human_count(display.budget_iterations)
    if not solved:
        return _nothing_solves(display, budget)
    head = _solve_head(display, budget)
    return head if solved[0] is solved[-1] else f"{head} {_solve_trend(display)}"


ORBIT_WORDS = (   # behaviour, verb for one step size, for several, what the diagram shows
    ("settled", "settles", "settle", " (one dot)"),
    ("falls", "still falls", "still fall", " through the last K (a short vertical trail, monotone)"),
    ("oscillates", "oscillates", "oscillate", ": the loss rises within the last K steps (a smear)"),
    ("grows", "grows", "grow", ": the last K losses climb, ending far above where they start "
                               "(still finite at T; a tall trail, not a smear)"),
    ("diverged", "diverged", "diverged", " (× along the top)"),
    ("no tail", "ends", "end", " with every last-K loss at exactly 0 (underflow: no dot on a log axis)"),
)


def orbit_sentence(display: StepMapDisplay) -> str:
    if display.tail_points == 0:      # no last losses kept: nothing underflowed, nothing drawn
        return "No last-K losses were kept (K = 0): set K > 0 to draw the orbit diagram."
    grid = _grid(display)
    parts = []
    for behaviour, one, many, words in ORBIT_WORDS:
        steps = display.steps(behaviour)
        if steps:
            parts.append(f"{len(steps)} {one if len(steps) == 1 else many}{words}, {ranges(steps, grid)}")
    return f"Of {len(display.rows)} step sizes, " + "; ".join(parts) + "." if parts else ""


def rise_sentence(display: StepMapDisplay) -> str:
    grid = _grid(display)
    rising = [row for row in display.rows if row.tail_rises > 0]
    rose = [row.step_size for row in display.rows if row.ever_rose]
    if rising:
        most = max(row.tail_rises for row in rising)
        tied = [row.step_size for row in rising if row.tail_rises == most]
        where = (f"γ = {dp.human_step(tied[0])}" if len(tied) == 1 else
                 f"{len(tied)} step sizes ({ranges(tied, grid)})")
        head = (f"The loss rises in the last K steps for {len(rising)} of {len(display.rows)} "
                f"step sizes ({ranges([r.step_size for r in rising], grid)}), most often at "
                f"{where} ({most:.0%} of the steps).".replace("%", " %"))
    else:
        head = "At no step size does the loss rise in the last K steps (the line stays at 0 %)."
    if rose:
        return head + (f" Earlier, the recorded loss rose at some step for {len(rose)} step sizes "
                       f"({ranges(rose, grid)}, orange ticks).")
    return head + " The recorded loss never rose at any γ."


def loss_sentence(record) -> str:
    """The chosen γ's whole loss curve, in words measured from it."""
    loss = np.asarray(record.history["loss"], dtype=float)
    finite = loss[np.isfinite(loss)]
    steps = np.diff(finite)
    rises = int(np.sum(steps > 1e-12 * np.abs(finite[:-1]))) if finite.size > 1 else 0
    status = dp.run_status(record.iterations_to_solve,
                           record.diverged_at if record.diverged else None)
    head = f"γ = {dp.human_step(record.step_size)}: {status}"
    if record.iterations_to_solve is not None:
        head += " (green line)"
    if finite.size > 1:
        rose = (f"the loss rose at {dp.plural(rises, 'recorded step')} of {dp.human_count(finite.size - 1)}"
                if rises else "the loss fell at every recorded step")
        head += (f"; {rose} and went from {dp.human_number(finite[0])} to {dp.human_number(finite[-1])}.")
    return head
