"""What one chart may send to the browser, declared once and worked out before a figure is
built (issue 20 §1: every page, at every value its controls allow, sends at most 10 MB).

A chart draws at most :data:`RUNS_PER_CHART` runs (evenly chosen, first and last always),
at most :data:`POINTS_PER_TRACE` points per trace (min/max per bucket, so an oscillation keeps
its envelope instead of aliasing), and a scatter of more than :data:`SCATTER_POINTS` points
becomes a density image of at most :data:`DENSITY_CELLS` cells. The chart says what was
thinned; the downloads keep every value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PAGE_BYTES = 10_000_000        # what one page load may send (the browser test's bound)
POINTS_PER_TRACE = 2_000       # points of one drawn line
RUNS_PER_CHART = 16            # runs drawn in one chart (the table lists them all)
SCATTER_POINTS = 20_000        # more dots than this are drawn as a density image
DENSITY_COLUMNS = 480          # cells of a density image across …
DENSITY_ROWS = 320             # … and up
DENSITY_CELLS = DENSITY_COLUMNS * DENSITY_ROWS
TABLE_ROWS = 2_000             # rows of one on-page table (the downloads hold every row)
ANIMATION_FRAMES = 60          # frames of one play/step animation (every k-th iterate)
ANIMATION_POINTS = 150_000     # points summed over all frames of one animation


@dataclass(frozen=True)
class Thinning:
    """How many of ``total`` items a chart draws (``kept``) and what it calls them."""
    total: int
    kept: int
    noun: str

    @property
    def thinned(self) -> bool:
        return self.kept < self.total

    def note(self) -> str:
        return f"{self.kept:,} of {self.total:,} {self.noun} drawn" if self.thinned else ""


def even_indices(total: int, limit: int) -> np.ndarray:
    """At most ``limit`` indices of ``range(total)``, evenly spread, first and last kept."""
    if total <= limit:
        return np.arange(total)
    return np.round(np.linspace(0, total - 1, max(limit, 2))).astype(int)   # distinct: limit < total


def envelope_indices(values: np.ndarray, limit: int = POINTS_PER_TRACE) -> np.ndarray:
    """At most ``limit`` indices of a series that keep its shape: the series is cut into
    ``limit // 2`` buckets and each keeps its smallest and largest finite value (in order),
    plus the first and last point and the first non-finite point (where a run diverged).
    Taking every k-th point instead would alias a period-2 oscillation into a flat line."""
    values = np.asarray(values, dtype=float)
    total = values.size
    if total <= limit:
        return np.arange(total)
    buckets = max(limit // 2 - 2, 1)
    edges = np.linspace(0, total, buckets + 1).astype(int)
    keep = {0, total - 1}
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        keep.add(int(bad[0]))
    for start, stop in zip(edges[:-1], edges[1:]):
        chunk = values[start:stop]
        finite = np.flatnonzero(np.isfinite(chunk))
        if finite.size:
            keep.add(start + int(finite[np.argmin(chunk[finite])]))
            keep.add(start + int(finite[np.argmax(chunk[finite])]))
    return np.array(sorted(keep))


def compact(values) -> np.ndarray:
    """A numpy array for plotly, which sends it as a typed array (base64): float32 (7 digits,
    more than a screen shows; 5.3 bytes a value instead of ~19 as decimal text) when every
    finite value fits, float64 otherwise (S = −2.4e292 must not become inf). inf/NaN
    become NaN, a gap."""
    array = np.asarray(values, dtype=float)
    array = np.where(np.isfinite(array), array, np.nan)
    finite = array[np.isfinite(array)]
    if finite.size and float(np.abs(finite).max()) > 1e38:
        return array
    with np.errstate(under="ignore"):
        return array.astype(np.float32)
