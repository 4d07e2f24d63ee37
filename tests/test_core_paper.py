"""The claims of science.md and minimal_example.md, reproduced by the core."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from core.datasets import builtin as datasets
from core.analysis import theory
from core.api import run_spec
from core.engine.batched import run_sweep
from core.analysis.scaling import parse_curves, sweep_dimensions
from core.kernel.spec import make_spec

from .conftest import ROOT


def batch_perceptron_reference(b, y, iterations, normalized=False):
    """Plain-numpy θ̂_0..θ̂_T, written from science.md §1 independently of the engine."""
    theta = np.zeros(b.shape[1])
    out = [theta.copy()]
    for t in range(iterations):
        margins = y * (b @ theta)
        if normalized:
            wrong = margins <= 0
            step = (y[wrong, None] * b[wrong]).sum(0) / max(wrong.sum(), 1)
        elif t == 0:
            step = (y[:, None] * b).sum(0) / (2 * len(y))
        else:
            wrong = margins <= 0
            step = (y[wrong, None] * b[wrong]).sum(0) / len(y)
        theta = theta + step
        out.append(theta.copy())
    return np.stack(out)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_table1_through_the_cli():
    """Tyurin 2025, Table 1: worst-case dataset, n = 1000."""
    out = run_cli("run", "--model", "linear", "--dataset", "worst_case", "--n", "1000",
                  "--algorithm", "normalized_gd", "--step-size", "100,10,1,0.1",
                  "--max-iters", "5000", "--format", "json", "--no-cache")
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    assert [r["iterations_to_solve"] for r in document["runs"]] == [2, 2, 16, 157]
    assert [r["step_size"] for r in document["runs"]] == [100, 10, 1, 0.1]

    out = run_cli("run", "--dataset", "worst_case", "--n", "1000", "--algorithm", "gd",
                  "--step-size", "100", "--max-iters", "5000", "--format", "json", "--no-cache")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["runs"][0]["iterations_to_solve"] == 308


def test_normalized_gd_within_its_guarantee_on_worst_case():
    n = 1000
    spec = make_spec(dataset="worst_case", n=n, algorithm="normalized_gd",
                     step_sizes=(100, 10, 1, 0.1), max_iters=5000)
    result = run_spec(spec, use_cache=False).result
    radius, margin = math.sqrt(1.25), 0.5          # max-margin direction e1
    for run in result.runs:
        bound = theory.normalized_gd_bound(radius, margin, run.step_size, n)
        assert run.iterations_to_solve <= bound


def test_max_margin_and_radius_measured_on_the_data():
    b, y = datasets.worst_case(50)
    assert theory.max_margin(b, y) == pytest.approx(0.5, abs=1e-8)     # direction e1
    assert theory.data_radius(b) == pytest.approx(math.sqrt(1.25))
    b, y = datasets.two_point()
    assert theory.max_margin(b, y) == pytest.approx(1.0, abs=1e-8)     # direction e1
    # gaussian(margin = 0.1) is separable by its labelling direction with margin ≥ 0.1, and no
    # unit direction beats the reported μ
    b, y = datasets.gaussian(200, 20, 0.1, 0)
    mu = theory.max_margin(b, y)
    directions = np.random.default_rng(0).standard_normal((20000, 20))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    best_random = float(np.max(np.min((b * y[:, None]) @ directions.T, axis=0)))
    assert mu >= 0.1 and mu >= best_random
    # not separable through the origin: μ = 0
    assert theory.max_margin(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([1.0, -1.0])) == 0.0


def test_normalized_gd_within_its_guarantee_on_gaussian_data():
    spec = make_spec(dataset="gaussian", n=200, d=20, margin=0.1, algorithm="normalized_gd",
                     step_sizes=(10.0, 1.0, 0.1), max_iters=20000, perceptron_gap=False)
    result = run_spec(spec, use_cache=False).result
    b, y = datasets.gaussian(200, 20, 0.1, 0)
    radius, margin = theory.data_radius(b), theory.max_margin(b, y)
    for run in result.runs:
        assert run.iterations_to_solve is not None
        assert run.iterations_to_solve <= theory.normalized_gd_bound(radius, margin, run.step_size, 200)


def test_batch_perceptron_matches_reference_and_theta_over_gamma_converges():
    spec = make_spec(dataset="gaussian", n=60, d=5, margin=0.05, data_seed=3, algorithm="gd",
                     step_sizes=(1.0, 1e2, 1e4, 1e6, 1e8), max_iters=30, run_to_max=True,
                     history_points=64)
    data = datasets.load(spec)
    result = run_spec(spec, use_cache=False).result
    reference = batch_perceptron_reference(data.features, data.labels, 30)

    bp = run_spec(spec.replace(algorithm="batch_perceptron", step_sizes=(1.0,)),
                  use_cache=False).result.runs[0]
    np.testing.assert_allclose(bp.params, reference[bp.history["iteration"]], rtol=0, atol=1e-12)

    gaps = {}
    for run in result.runs:
        theta_over_gamma = run.params / run.step_size
        first = run.history["iteration"] <= 5
        direct = np.linalg.norm(theta_over_gamma[first] - reference[run.history["iteration"][first]], axis=1)
        np.testing.assert_allclose(run.history["perceptron_gap"][first], direct, atol=1e-12)
        gaps[run.step_size] = direct.max()
    # the gap shrinks as γ grows and reaches machine precision at γ >= 1e6
    assert gaps[1e2] < gaps[1.0]
    assert gaps[1e6] < 1e-9 and gaps[1e8] < 1e-9


def test_two_point_loss_is_unreliable():
    """Huge f(θ_1) that grows with γ, yet θ_2 already separates."""
    spec = make_spec(dataset="two_point", algorithm="gd", step_sizes=(1e2, 1e4, 1e6), max_iters=10)
    result = run_spec(spec, use_cache=False).result
    loss_at_1 = []
    for run in result.runs:
        assert run.iterations_to_solve == 2
        index = list(run.history["iteration"]).index(1)
        loss_at_1.append(run.history["loss"][index])
        assert run.history["accuracy"][index] < 1.0
    assert loss_at_1[0] > 10 and loss_at_1[1] > 10 * loss_at_1[0] and loss_at_1[2] > 10 * loss_at_1[1]


def test_two_layer_gd_follows_the_generalized_perceptron_when_margins_are_large():
    common = dict(model="two_layer_conv", dataset="minimal", d=32, seeds=(0, 1, 2, 3),
                  init_scale=1e3, max_iters=200, history_points=256)
    gamma = theory.minimal_step_size(32, 0.7, 1.0)
    gd = run_spec(make_spec(algorithm="gd", step_sizes=(gamma,), **common), use_cache=False).result
    gp = run_spec(make_spec(algorithm="generalized_perceptron", step_sizes=(gamma,), **common),
                  use_cache=False).result
    for run_gd, run_gp in zip(gd.runs, gp.runs):
        assert run_gd.iterations_to_solve == run_gp.iterations_to_solve
        assert np.nanmax(run_gd.history["perceptron_gap"]) < 1e-8


def test_conv_hessian_eigenvalues_closed_form():
    rng = np.random.default_rng(0)
    for d in (2, 3, 8, 17):
        a = rng.standard_normal(d)
        numeric = np.linalg.eigvalsh(theory.conv_hessian(a))
        nonzero = np.sort(numeric[np.abs(numeric) > 1e-10])
        np.testing.assert_allclose(nonzero, theory.conv_hessian_eigenvalues(a), atol=1e-10)
    d, mu = 64, 0.7
    assert np.linalg.eigvalsh(theory.conv_hessian(np.ones(d)))[-1] == pytest.approx(math.sqrt(2 * d))
    a2 = np.ones(d)
    a2[0] += mu
    eigen = theory.conv_hessian_eigenvalues(a2)
    np.testing.assert_allclose(eigen, [-theory.minimal_lambda2(d, mu), -mu, mu,
                                       theory.minimal_lambda2(d, mu)], atol=1e-12)


@pytest.mark.slow          # 7 dimensions x 64 seeds x 3 curves, uncached
def test_minimal_example_linear_theta_d_two_layer_much_faster():
    base = make_spec(dataset="minimal", d=16, mu=0.7, seeds=tuple(range(64)), init_scale=1.0,
                     max_iters=5000, history_points=16)
    curves = parse_curves("linear:batch_perceptron,linear:gd:1e6,two_layer_conv:gd:scaled", "gd",
                          "scaled")
    dims = [16, 32, 64, 128, 256, 512, 1024]
    result = sweep_dimensions(base, curves, dims, c=1.0, use_cache=False)
    linear, linear_gd, two_layer = curves
    for d in dims:
        counts = result.iterations[(linear, d)]
        assert np.all(counts == counts[0])                     # zero init: seeds do not matter
        assert counts[0] >= theory.minimal_linear_lower_bound(d, 0.7)
        # GD with γ = 1e6 is the batch perceptron (minimal_example.md, second measurement)
        np.testing.assert_array_equal(result.iterations[(linear_gd, d)], counts)
        assert result.stats(two_layer, d)["median"] < counts[0]
    assert result.iterations[(linear, 16)][0] == 30            # reference number, μ = 0.7
    assert 0.9 < result.fits[linear].slope < 1.1
    assert result.fits[two_layer].slope < 0.75
    assert result.fits[linear].slope - result.fits[two_layer].slope > 0.3
    assert result.fits[two_layer].ci_low <= result.fits[two_layer].slope <= result.fits[two_layer].ci_high


def test_linear_gd_with_small_d_tuned_step_solves_minimal_in_two_steps():
    """minimal_example.md's caveat: Ω(d) is about the perceptron regime, not every step size."""
    for d in (64, 256):
        spec = make_spec(dataset="minimal", d=d, algorithm="gd", step_sizes=(8 / d,), max_iters=100)
        assert run_spec(spec, use_cache=False).result.runs[0].iterations_to_solve == 2


def test_engine_direct_call_agrees_with_api():
    spec = make_spec(dataset="worst_case", n=50, algorithm="normalized_gd", step_sizes=(1.0,))
    direct = run_sweep(spec, datasets.load(spec))
    via_api = run_spec(spec, use_cache=False).result
    np.testing.assert_array_equal(direct.runs[0].history["loss"], via_api.runs[0].history["loss"])
