"""core.analysis.sweeps: numbers read off finished sweeps (orbit periods of the a·b network)."""
from __future__ import annotations

from core.analysis.sweeps import orbit_periods
from core.api import run_spec
from core.kernel.spec import make_spec


def test_orbit_periods_follow_period_doubling():
    """a = b = x₀ on the scalar a·b network: η|Φ| = 0.9 / 1.1 / 1.25 settle on a fixed point,
    a 2-cycle and a 4-cycle (science.md §3, the orbit diagram)."""
    spec = make_spec(model="shallow_linear", phi=1.0, a=(0.7,), b=(0.7,),
                     step_sizes=(0.9, 1.1, 1.25), max_iters=4000, tail_points=64, run_to_max=True)
    rows = orbit_periods(run_spec(spec, use_cache=False).result)
    assert [row["distinct values"] for row in rows] == [1, 2, 4]
    assert [round(row["η|Φ|"], 6) for row in rows] == [0.9, 1.1, 1.25]


def test_the_batched_bootstrap_slope_equals_a_fit_per_resample():
    import numpy as np

    from core.analysis.scaling import _row_slopes, fit_curve, fit_loglog

    rng = np.random.default_rng(1)
    dims = np.array([16, 32, 64, 128, 256, 512, 1024], dtype=float)
    rows = rng.lognormal(0, 1, (50, 7))
    rows[3, :6] = np.inf                          # one finite value: no slope
    rows[5, 2] = np.inf                           # an unsolved median is left out of the fit
    expected = [fit[0] for fit in (fit_loglog(dims, row) for row in rows) if fit is not None]
    assert np.allclose(_row_slopes(np.log(dims), rows), expected)
    per_d = [rng.lognormal(0.5 * np.log(d), 0.2, 64) for d in dims]        # iterations ∝ √d
    fit = fit_curve(list(dims.astype(int)), per_d)
    assert 0.45 < fit.slope < 0.55 and fit.ci_low < fit.slope < fit.ci_high
