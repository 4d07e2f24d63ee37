"""Analysis of finished sweeps: numbers read off results, kept apart from the plot builders
(which take results and numbers and return figures) and from the pages (which show them)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.engine.results import RunRecord, SweepResult


def orbit_periods(result: SweepResult, decimals: int = 8) -> list[dict[str, Any]]:
    """Distinct values among the last K residuals of each run (1: fixed point, 2: period 2…)."""
    rows = []
    phi = float(result.spec.phi)
    for record in result.runs:
        if not record.tail:
            continue
        eps = np.asarray(record.tail["residual"], dtype=float)
        distinct = len(np.unique(np.round(eps[np.isfinite(eps)], decimals)))
        rows.append({"η|Φ|": record.step_size * abs(phi), "distinct values": distinct,
                     "diverged": record.diverged})
    return rows


def status_text(record: RunRecord) -> str:
    """solved / not solved / diverged at t=k (tables use it)."""
    if record.diverged:
        return f"diverged at t={record.diverged_at}"
    if record.iterations_to_solve is not None:
        return "solved"
    return "not solved"


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
            "final loss": (record.final_loss if math.isfinite(record.final_loss) else None),
        })
    return rows
