"""S = Qᵢ(T)/Qᵢ(0) per coordinate (the total Q(0) can be 0 while the
coordinates are unbalanced), and the gradient flow's time to |ε| = tol from the closed form."""
import math

import numpy as np
import pytest
from scipy.integrate import quad

from core.engine import shallow
from core.api import run_spec
from core.kernel.spec import make_spec


def gd(**fields):
    fields.setdefault("model", "shallow_linear")
    return run_spec(make_spec(**fields), use_cache=False).result


def numpy_gd(a, b, phi, eta, steps):
    """An independent GD loop: the final (a, b) and the product Π(1 − η²ε²)."""
    a, b, product = np.array(a, float), np.array(b, float), 1.0
    for _ in range(steps):
        eps = a @ b - phi
        product *= 1 - eta**2 * eps**2
        a, b = a - eta * eps * b, b - eta * eps * a
    return a, b, product


@pytest.mark.parametrize("a0, b0", [
    ((1.0, 0.0), (0.0, 1.0)),                 # Q = (1, −1): total 0
    ((0.6, 0.8, 0.0), (0.0, 0.6, 0.8)),       # ‖a₀‖ = ‖b₀‖, Q = (0.36, 0.28, −0.64)
    ((0.3, -0.5), (0.5, 0.3)),                # Q = (−0.16, 0.16), aᵀb = 0
])
def test_unbalanced_coordinates_with_zero_total_q_give_the_product(a0, b0):
    assert sum(x * x for x in a0) == pytest.approx(sum(x * x for x in b0), abs=1e-15)
    steps = 40
    result = gd(phi=1.0, a=a0, b=b0, step_sizes=(0.3,), max_iters=steps, run_to_max=True)
    run = result.runs[0]
    a, b, product = numpy_gd(a0, b0, 1.0, 0.3, steps)
    q0, q = np.array(a0) ** 2 - np.array(b0) ** 2, a**2 - b**2
    assert abs(product) < 0.99                                 # GD did regularize
    np.testing.assert_allclose(q, product * q0, rtol=1e-10, atol=1e-14)
    assert run.extras["imbalance_ratio"] == pytest.approx(product, rel=1e-10)
    assert run.extras["contraction"] == pytest.approx(product, rel=1e-10)
    assert run.extras["imbalance_ratio_error"] < 1e-10
    # the recorded S(t) ends at S, starts at 1
    assert run.history["imbalance_ratio"][0] == 1.0
    assert run.history["imbalance_ratio"][-1] == pytest.approx(product, rel=1e-10)


def test_random_inits_report_the_per_coordinate_ratio_of_every_seed():
    """--init random --d 4 --phi 1.5 --step-size 0.6: ‖a₀‖ = ‖b₀‖, so Q(0) ≈ 0 by construction."""
    result = gd(init="random", d=4, phi=1.5, step_sizes=(0.6,), seeds=tuple(range(8)), max_iters=1000)
    for run in result.runs:
        a0, b0 = run.params[0, :4], run.params[0, 4:]
        assert abs(a0 @ a0 - b0 @ b0) < 1e-12
        a, b, product = numpy_gd(a0, b0, 1.5, 0.6, run.last_iteration)
        assert run.extras["imbalance_ratio"] == pytest.approx(product, rel=1e-9, abs=1e-15)
        q0 = a0**2 - b0**2
        k = int(np.argmax(np.abs(q0)))
        assert run.extras["imbalance_ratio"] == pytest.approx((a[k] ** 2 - b[k] ** 2) / q0[k], rel=1e-9)
    ratios = [run.extras["imbalance_ratio"] for run in result.runs]
    assert len({round(r, 6) for r in ratios}) == len(ratios)   # one S per init, none blown up
    assert all(-1 < r < 1 for r in ratios)


def test_ratio_is_null_only_when_every_coordinate_is_balanced():
    balanced = gd(phi=1.0, a=(0.5, -0.3), b=(0.5, -0.3), step_sizes=(0.2,), max_iters=200).runs[0]
    assert balanced.extras["imbalance_ratio"] is None
    assert np.isnan(balanced.history["imbalance_ratio"]).all()
    one_coordinate = gd(phi=1.0, a=(0.5, -0.3), b=(0.5, 0.2), step_sizes=(0.2,), max_iters=200).runs[0]
    assert one_coordinate.extras["imbalance_ratio"] is not None


def independent_time_to_tol(a0, b0, phi, tol):
    """∫ dm / ((Φ − m) √(4m² + C₀)) from m₀ to Φ ± tol, by quadrature (split near the end)."""
    m0 = float(np.dot(a0, b0))
    c0 = float(np.sum((np.add(a0, b0)) ** 2) * np.sum((np.subtract(a0, b0)) ** 2))
    # With m = Φ + (m₀ − Φ)·e^{−u} the integrand becomes 1/√(4m² + C₀) (no singularity),
    # and |m − Φ| = tol at u = log(|m₀ − Φ|/tol).
    span = m0 - phi
    upper = math.log(abs(span) / tol)
    value, _ = quad(lambda u: 1 / math.sqrt(4 * (phi + span * math.exp(-u)) ** 2 + c0), 0, upper,
                    epsabs=0, epsrel=1e-13, limit=500)
    return value


@pytest.mark.parametrize("a0, b0, phi, tol", [
    ((1.0, 0.5, -0.2), (0.3, -0.4, 0.6), 1.0, 1e-10),
    ((1.0, 0.0, 0.0), (0.0, 0.5, 0.0), 30.0, 1e-9),          # stiff: Radau
    ((2.0, 1.0), (-1.0, 0.5), -0.7, 1e-12),
    ((0.1, 0.05), (0.02, 0.1), 2.0, 1e-8),
])
def test_gradient_flow_time_to_tol_matches_the_closed_form(a0, b0, phi, tol):
    a0, b0 = np.array(a0), np.array(b0)
    expected = independent_time_to_tol(a0, b0, phi, tol)
    assert shallow.gf_time_to_tol(a0, b0, phi, tol) == pytest.approx(expected, rel=1e-9)
    horizon = 2 * expected
    _, first, method = shallow.integrate_flow(a0, b0, phi, np.linspace(0, horizon, 5), tol)
    assert first == pytest.approx(expected, rel=1e-6), method
    step = expected / 37.5
    flow = gd(phi=phi, a=tuple(a0), b=tuple(b0), algorithm="gradient_flow", step_sizes=(step,),
              max_iters=100, tol=tol).runs[0]
    assert flow.extras["gf_time_to_tol"] == pytest.approx(expected, rel=1e-6)
    assert flow.extras["steps_to_tol"] == 38
