"""core.analysis: numbers read off finished sweeps (orbit periods of the a·b network)."""
from __future__ import annotations

from core.analysis import orbit_periods
from core.api import run_spec
from core.spec import make_spec


def test_orbit_periods_follow_period_doubling():
    """a = b = x₀ on the scalar a·b network: η|Φ| = 0.9 / 1.1 / 1.25 settle on a fixed point,
    a 2-cycle and a 4-cycle (science.md §3, the orbit diagram)."""
    spec = make_spec(model="shallow_linear", phi=1.0, a=(0.7,), b=(0.7,),
                     step_sizes=(0.9, 1.1, 1.25), max_iters=4000, tail_points=64, run_to_max=True)
    rows = orbit_periods(run_spec(spec, use_cache=False).result)
    assert [row["distinct values"] for row in rows] == [1, 2, 4]
    assert [round(row["η|Φ|"], 6) for row in rows] == [0.9, 1.1, 1.25]
