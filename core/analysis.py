"""Analysis of finished sweeps: numbers read off results, kept apart from the plot builders
(which take results and numbers and return figures) and from the pages (which show them)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .results import SweepResult


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
