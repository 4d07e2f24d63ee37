"""What a shallow chart or an orbit diagram may send to the browser, on top of the shared
plan of :mod:`core.report.display` (``PAYLOAD_BYTES``, ``point_budget``, ``spread_indices``,
``frame_stride``): issue 20 §1, every page at every value its controls allow sends at most
10 MB, worked out before a figure is built.

A scatter of more than :data:`SCATTER_POINTS` dots becomes a density image of at most
:data:`DENSITY_CELLS` cells; a long line keeps its envelope (:func:`envelope_indices`);
numbers travel as typed arrays (:func:`compact`). The downloads keep every value.
"""
from __future__ import annotations

import numpy as np

SCATTER_POINTS = 20_000        # more dots than this are drawn as a density image
DENSITY_COLUMNS = 480          # cells of a density image across …
DENSITY_ROWS = 320             # … and up
DENSITY_CELLS = DENSITY_COLUMNS * DENSITY_ROWS
TABLE_ROWS = 2_000             # rows of one on-page table (the downloads hold every row)


def envelope_indices(values: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` indices of a series that keep its shape: the series is cut into
    buckets and each keeps its smallest and largest finite value (in order), plus the first
    and last point and the first non-finite one (where a run diverged). Taking every k-th
    point instead would alias a period-2 oscillation into a flat line."""
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


def compact(values, single: bool = False) -> np.ndarray:
    """A float numpy array for plotly, which sends it as a typed array (base64: 10.7 bytes a
    float64 against ~19 as decimal text, and no per-value Python work); ``single`` halves that
    again (float32, 7 digits: density images) when every finite value fits. inf/NaN become
    NaN, a gap."""
    array = np.asarray(values, dtype=float)
    array = np.where(np.isfinite(array), array, np.nan)
    finite = array[np.isfinite(array)]
    if not single or (finite.size and float(np.abs(finite).max()) > 1e38):
        return array
    with np.errstate(under="ignore"):
        return array.astype(np.float32)
