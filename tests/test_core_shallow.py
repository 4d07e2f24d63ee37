"""Shallow linear networks: the closed forms of science.md §3 against the batched GD and the ODE."""
import math

import numpy as np
import pytest
import torch

from core.engine import shallow
from core.api import run_spec
from core.kernel.spec import SpecError, make_spec

A0 = (1.0, 0.5, -0.2)
B0 = (0.3, -0.4, 0.6)


def gd(**fields):
    fields.setdefault("model", "shallow_linear")
    return run_spec(make_spec(**fields), use_cache=False).result


def test_every_q_i_contracts_by_one_minus_eta2_eps2_and_c_by_its_square():
    result = gd(phi=1.0, a=A0, b=B0, step_sizes=(0.05, 0.3), max_iters=200, history_points=256,
                run_to_max=True)
    for run in result.runs:
        eta = run.step_size
        a, b = run.params[:, :3], run.params[:, 3:]
        assert list(run.history["iteration"][:50]) == list(range(50))
        q = a**2 - b**2
        eps = run.history["residual"]
        factor = 1 - eta**2 * eps[:-1] ** 2
        np.testing.assert_allclose(q[1:50], q[:49] * factor[:49, None], rtol=1e-10, atol=1e-14)
        c = run.history["invariant"]
        np.testing.assert_allclose(c[1:50], c[:49] * factor[:49] ** 2, rtol=1e-10)
        np.testing.assert_allclose(c, shallow.invariant(a, b), rtol=1e-12)


def test_gradient_flow_conserves_q_and_c_and_ends_at_lambda_gf():
    result = gd(phi=1.0, a=A0, b=B0, algorithm="gradient_flow", step_sizes=(0.01,), max_iters=5000,
                tol=1e-12)
    run = result.runs[0]
    a, b = run.params[:, :3], run.params[:, 3:]
    q = a**2 - b**2
    np.testing.assert_allclose(q, np.broadcast_to(q[0], q.shape), atol=1e-9)
    np.testing.assert_allclose(run.history["invariant"], run.history["invariant"][0], rtol=1e-8)
    c0 = shallow.invariant(np.array(A0), np.array(B0))
    assert run.history["norm"][-1] == pytest.approx(math.sqrt(4 + c0), rel=1e-9)
    assert run.history["sharpness"][-1] == pytest.approx(run.extras["gf_sharpness"], rel=1e-9)
    assert run.iterations_to_solve is not None


def test_gradient_flow_matches_the_closed_form_of_m():
    a0, b0, phi = np.array(A0), np.array(B0), 1.0
    c0 = shallow.invariant(a0, b0)
    times = np.linspace(0, 6, 25)
    states, _, method = shallow.integrate_flow(a0, b0, phi, times, 1e-12)
    assert method == "DOP853"
    m = (states[:, :3] * states[:, 3:]).sum(1)
    start = shallow.gf_time_of_residual(float(a0 @ b0), phi, c0)
    for t, value in zip(times, m):
        if abs(value - phi) > 1e-7:     # the closed form is ill-conditioned at the minimum
            assert start - shallow.gf_time_of_residual(value, phi, c0) == pytest.approx(t, abs=1e-6)


def test_stiff_flow_switches_to_radau_and_still_conserves_q():
    a0, b0 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.5, 0.0])
    states, t_tol, method = shallow.integrate_flow(a0, b0, 1e5, np.linspace(0, 1, 9), 1e-6)
    assert method == "Radau" and t_tol is not None
    a, b = states[:, :3], states[:, 3:]
    np.testing.assert_allclose(a**2 - b**2, np.broadcast_to(a0**2 - b0**2, a.shape), atol=1e-6)
    assert abs(a[-1] @ b[-1] - 1e5) < 1e-3


def test_gd_ends_flatter_than_gradient_flow_at_the_predicted_sharpness():
    result = gd(phi=1.0, a=A0, b=B0, step_sizes=(0.01, 0.1, 0.3, 0.45), max_iters=100000, tol=1e-12)
    c0 = shallow.invariant(np.array(A0), np.array(B0))
    lambda_gf = math.sqrt(4 + c0)
    previous = lambda_gf
    for run in result.runs:
        assert not run.diverged and run.iterations_to_solve is not None
        predicted = run.extras["gd_limit_sharpness"]
        assert run.extras["final_sharpness"] == pytest.approx(predicted, rel=1e-8)
        assert 2 <= predicted < lambda_gf
        assert run.extras["imbalance_ratio"] == pytest.approx(run.extras["contraction"], rel=1e-8)
        assert predicted < previous                   # larger steps: flatter
        previous = predicted


def test_theorem1_step_gives_monotone_residual():
    rng = np.random.default_rng(5)
    for trial in range(6):
        a0, b0 = rng.standard_normal(4), rng.standard_normal(4)
        phi = float(rng.uniform(-2, 2))
        bound = shallow.theorem1_step_bound(a0, b0, phi)
        assert shallow.invariant(a0, b0) > 0
        result = gd(phi=phi, a=tuple(a0), b=tuple(b0), step_sizes=(0.99 * bound, 0.5 * bound),
                    max_iters=20000, tol=1e-11, history_points=30000)
        for run in result.runs:
            assert not run.diverged and run.iterations_to_solve is not None
            residual = np.abs(run.history["residual"])
            assert np.all(np.diff(residual) <= 1e-15), f"trial {trial}"


def test_sharpness_formula_is_the_top_hessian_eigenvalue():
    rng = np.random.default_rng(1)
    for _ in range(10):
        d = int(rng.integers(1, 5))
        a, b, phi = rng.standard_normal(d), rng.standard_normal(d), float(rng.normal())

        def loss(theta):
            return 0.5 * (theta[:d] @ theta[d:] - phi) ** 2
        hessian = torch.autograd.functional.hessian(loss, torch.as_tensor(np.concatenate([a, b])))
        top = float(torch.linalg.eigvalsh(hessian)[-1])
        norm, eps = a @ a + b @ b, a @ b - phi
        assert shallow.sharpness(norm, eps, phi) == pytest.approx(top, rel=1e-10)


def test_figure3_trends_more_regularisation_with_larger_steps():
    scale = 8.0
    lam0 = scale**2 * 1.25                       # fig3 init: a0 = s e1, b0 = (s/2) e2
    fractions = (0.5, 1.5, 1.9, 1.99, 2.5)
    result = gd(phi=1.0, init="fig3", init_scale=scale, step_sizes=tuple(f / lam0 for f in fractions),
                max_iters=200000, tol=1e-8)
    ratios = [run.extras["imbalance_ratio"] for run in result.runs]
    steps = [run.iterations_to_solve for run in result.runs]
    assert all(r is not None for r in ratios) and all(s is not None for s in steps)
    assert all(x > y for x, y in zip(ratios, ratios[1:]))         # Q(T)/Q(0) falls with ηλ(0)
    assert max(steps) == steps[3] > 10 * steps[0]                 # slowest right below ηλ(0) = 2


@pytest.mark.slow
def test_period_doubling_beyond_eta_phi_one():
    """a = b, d = 1: x ← x − η(x² − Φ)x; periods 1, 2, 4, then many values (chaos)."""
    etas = (0.9, 1.1, 1.25, 1.4)
    result = gd(phi=1.0, a=(0.7,), b=(0.7,), step_sizes=etas, max_iters=4000, run_to_max=True,
                tail_points=64, history_points=16)
    periods = [len(np.unique(np.round(run.tail["residual"], 8))) for run in result.runs]
    assert periods[:3] == [1, 2, 4]
    assert periods[3] > 16
    assert not any(run.diverged for run in result.runs)


def test_catapult_spike_then_flat_minimum_and_divergence_past_four():
    a0, b0 = np.array([1.0, 0.3]), np.array([0.2, 0.9])
    lam0 = float(a0 @ a0 + b0 @ b0)
    result = gd(phi=0.0, a=tuple(a0), b=tuple(b0), step_sizes=(3.0 / lam0, 4.5 / lam0),
                max_iters=5000, tol=1e-10)
    catapult, beyond = result.runs
    assert catapult.history["loss"].max() > 2 * catapult.history["loss"][0]
    assert catapult.iterations_to_solve is not None
    assert catapult.extras["final_sharpness"] < 2 / catapult.step_size
    assert beyond.diverged and beyond.iterations_to_solve is None
    document = result.to_dict()
    assert document["runs"][1]["diverged"] is True


def test_random_init_batches_over_seeds_and_round_trips_the_cache(tmp_path):
    spec = make_spec(model="shallow_linear", init="random", d=5, init_scale=1.5, seeds=(0, 1, 2),
                     step_sizes=(0.05, 0.2), phi=-1.0, max_iters=3000)
    first = run_spec(spec, cache_dir=str(tmp_path))
    second = run_spec(spec, cache_dir=str(tmp_path))
    assert second.cached and len(second.result.runs) == 6
    for x, y in zip(first.result.runs, second.result.runs):
        assert x.summary() == y.summary()
        np.testing.assert_array_equal(x.history["sharpness"], y.history["sharpness"])
    norms = {round(float(np.linalg.norm(r.params[0, :5])), 12) for r in first.result.runs}
    assert norms == {1.5}


@pytest.mark.parametrize("fields, field", [
    (dict(a=(1.0, 2.0), b=(1.0,)), "b"), (dict(a=(1.0,)), "b"), (dict(algorithm="normalized_gd"), "algorithm"),
    (dict(init="fig3", d=1), "d"), (dict(init="random", a=(1.0,), b=(1.0,)), "init"),
    (dict(tol=-1.0), "tol"), (dict(a=(1.0, 2.0), b=(1.0, 2.0), d=3), "d"),
])
def test_invalid_shallow_specs(fields, field):
    with pytest.raises(SpecError) as error:
        make_spec(model="shallow_linear", **fields)
    assert error.value.field == field


def test_cli_shallow_run(capsys):
    from core.cli import main
    import json

    code = main(["run", "--model", "shallow_linear", "--d", "3", "--phi", "1", "--a", "1,0.5,-0.2",
                 "--b", "0.3,-0.4,0.6", "--algorithm", "gd", "--step-size", "0.01,0.1",
                 "--max-iters", "100000", "--tol", "1e-12", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    run = document["runs"][0]
    assert set(run["history"]) >= {"loss", "residual", "norm", "imbalance", "sharpness"}
    assert set(run) >= {"steps_to_tol", "imbalance_ratio", "final_sharpness", "gf_sharpness", "diverged"}
    code = main(["run", "--model", "shallow_linear", "--init", "fig3", "--scale", "4",
                 "--algorithm", "gradient_flow", "--step-size", "0.01", "--format", "json"])
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert code == 0 and run["steps_to_tol"] == math.ceil(run["gf_time_to_tol"] / 0.01 - 1e-9)
