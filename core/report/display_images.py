"""The image-classifier page's captions from its numbers: where each CNN's sharpness goes
against its 2/η, whether the loss rose, which runs reach 100 % and when (see
core/report/display.py for the pattern)."""
from __future__ import annotations

import numpy as np

from core.report import display as dp

MAX_STATEMENTS = 4           # runs named one by one at most; the rest are counted
EDGE_BAND = (0.85, 1.15)     # peak sharpness / (2/η) in this band: at the edge of stability


def _runs(series_list):
    for series in series_list:
        for record in series.result.runs:
            yield series, record


def _name(series, record) -> str:
    """'CNN k=3 η = 10⁵', with the run's seed when its sweep has several ('… seed 1')."""
    seeds = {run.seed for run in series.result.runs}
    return (f"{series.label} η = {dp.human_step(record.step_size)}"
            + (f" seed {record.seed}" if len(seeds) > 1 else ""))


def _peaks(series_list) -> list[tuple]:
    """(series, record, peak sharpness / (2/η)) of every run whose sharpness was measured."""
    out = []
    for series, record in _runs(series_list):
        values = np.asarray(record.history.get("sharpness", []), dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            out.append((series, record, float(values.max()) * record.step_size / 2))
    return out


def _verb(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def sharpness_sentence(series_list) -> str:
    measured = _peaks(series_list)
    if not measured:
        return "No sharpness was measured (set the interval K > 0)."
    edge = [m for m in measured if EDGE_BAND[0] <= m[2] <= EDGE_BAND[1]]
    below = [m for m in measured if m[2] < EDGE_BAND[0]]
    above = [m for m in measured if m[2] > EDGE_BAND[1]]
    parts = []
    if edge:
        parts.append(f"{dp.joined([_name(s, r) for s, r, _ in edge[:MAX_STATEMENTS]])} "
                     f"{_verb(len(edge), 'reaches', 'reach')} the edge of stability (peak "
                     "sharpness within 15 % of its 2/η)")
    if below:
        parts.append(f"{dp.plural(len(below), 'run')} {_verb(len(below), 'stays', 'stay')} "
                     f"below 2/η (highest {100 * max(m[2] for m in below):.0f} % of it)")
    if above:
        parts.append(f"{dp.plural(len(above), 'run')} {_verb(len(above), 'crosses', 'cross')} "
                     f"2/η (up to {dp.human_ratio(max(m[2] for m in above))} it)")
    return "; ".join(parts) + ". Dotted: 2/η in the run's colour."


def _some(names: list[str]) -> str:
    """'A, B and C', or 'A, B, C, D and 3 more' past MAX_STATEMENTS names."""
    if len(names) <= MAX_STATEMENTS:
        return dp.joined(names)
    return ", ".join(names[:MAX_STATEMENTS]) + f" and {len(names) - MAX_STATEMENTS} more"


def _every(count: int, some_diverged: bool) -> str:
    """"the 1 run", "both runs", "all 3 finite runs"."""
    noun = "finite run" if some_diverged else "run"
    if count == 2:
        return f"both {noun}s"
    return f"all {dp.plural(count, noun)}" if count > 2 else dp.plural(count, noun)


def loss_sentence(series_list) -> str:
    runs = list(_runs(series_list))
    rose, diverged = [], []
    for series, record in runs:
        loss = np.asarray(record.history["loss"], dtype=float)
        finite = loss[np.isfinite(loss)]
        if record.diverged:
            diverged.append(_name(series, record))
        elif finite.size > 1 and np.any(np.diff(finite) > 1e-12 * np.abs(finite[:-1])):
            rose.append(_name(series, record))
    finite = len(runs) - len(diverged)
    if not rose:
        parts = [f"The loss falls at every recorded step in {_every(finite, bool(diverged))}"] if finite else []
    else:
        others = "; the others fall at every recorded step" if len(rose) < finite else ""
        parts = [f"The loss rose at some recorded step in {len(rose)} of {len(runs)} runs"
                 f" ({_some(rose)})" + others]
    if diverged:
        parts.append(f"{dp.plural(len(diverged), 'run')} diverged ({_some(diverged)})")
    return ". ".join(parts) + "."


def solve_sentence(series_list) -> str:
    solved = [(record.iterations_to_solve, _name(series, record)) for series, record in _runs(series_list)
              if record.iterations_to_solve is not None]
    total = sum(1 for _ in _runs(series_list))
    budget = max(s.result.spec.max_iters for s in series_list)
    if not solved:
        return f"No run reaches 100 % training accuracy within {dp.human_count(budget)} iterations."
    solved.sort()
    fastest = ", ".join(f"{name} at t = {t}" for t, name in solved[:MAX_STATEMENTS])
    return (f"{len(solved)} of {total} runs reach 100 % training accuracy, first {fastest}"
            + (f"; {total - len(solved)} do not within {dp.human_count(budget)}" if len(solved) < total else "")
            + ".")


def solve_chart_sentence(series_list) -> str:
    """The iterations-to-100 % chart's caption: :func:`solve_sentence` and the marks that
    chart draws for these runs only (▲ for a CNN run not at 100 %, a dotted line per run of
    the linear model)."""
    missed = any(record.iterations_to_solve is None for series, record in _runs(series_list)
                 if series.kernel is not None)
    linear = any(series.kernel is None for series in series_list)
    marks = (["▲: not within the budget"] if missed else []) + \
        (["dotted horizontal lines: the linear model, same η"] if linear else [])
    return solve_sentence(series_list) + (" " + "; ".join(marks) + "." if marks else "")
