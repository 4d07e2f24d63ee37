"""The stateful update rules (core.algorithms.builtin: heavy_ball, nesterov, adam, minibatch_gd), each
against an independent numpy loop and, where it has the same rule, torch.optim, to 1e-12 in
float64, on the linear model, a nonlinear network and the a·b network; each with a wrong
variant the comparison rejects (negative controls)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.datasets import builtin as datasets
from core.algorithms.builtin import algorithm, algorithms_on
from core.engine.batched import run_sweep
from core.kernel.fields import ALGORITHM_FIELDS, BY_NAME, json_schema
from core.engine.shallow import run_shallow
from core.kernel.spec import SpecError, make_spec

ITERS = 40
TOL = 1e-12
STEPS = (0.05, 0.5)


def thetas(spec):
    """Every θ_t, t = 0..ITERS, of each run (rows (step size, seed)): run to the end, each
    iteration kept."""
    result = (run_shallow(spec) if spec.model == "shallow_linear"
              else run_sweep(spec, datasets.load(spec)))
    for run in result.runs:
        assert list(run.history["iteration"]) == list(range(spec.max_iters + 1))
    return [run.params for run in result.runs]


def linear_spec(algorithm_name, **fields):
    return make_spec(model="linear", dataset="gaussian", n=30, d=4, margin=0.0,
                     algorithm=algorithm_name, step_sizes=STEPS, seeds=(0, 3),
                     max_iters=ITERS, run_to_max=True, history_points=ITERS, **fields)


def logistic_gradient(b, y):
    def gradient(theta):
        margins = y * (b @ theta)
        return -(b.T @ (y / (1 + np.exp(margins)))) / len(y)
    return gradient


def numpy_heavy_ball(gradient, theta0, step, beta, iterations, lag=1):
    """θₜ₊₁ = θₜ − η∇f(θₜ) + β(θₜ − θₜ₋₁) as written (``lag=2``: a wrong variant with
    β(θₜ₋₁ − θₜ₋₂))."""
    history = [theta0.copy()]
    for t in range(iterations):
        theta = history[-1]
        before = history[t - lag] if t - lag >= 0 else history[0]
        after = history[t - lag + 1] if t - lag + 1 >= 0 else history[0]
        history.append(theta - step * gradient(theta) + beta * (after - before))
    return np.array(history)


def numpy_nesterov(gradient, theta0, step, beta, iterations):
    theta, velocity, history = theta0.copy(), None, [theta0.copy()]
    for _ in range(iterations):
        g = gradient(theta)
        velocity = g.copy() if velocity is None else beta * velocity + g
        theta = theta - step * (g + beta * velocity)
        history.append(theta.copy())
    return np.array(history)


def numpy_adam(gradient, theta0, step, beta1, beta2, eps, iterations, corrected=True):
    theta, first, second = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0)
    history = [theta0.copy()]
    for t in range(1, iterations + 1):
        g = gradient(theta)
        first = beta1 * first + (1 - beta1) * g
        second = beta2 * second + (1 - beta2) * g * g
        m_hat = first / (1 - beta1 ** t) if corrected else first
        v_hat = second / (1 - beta2 ** t) if corrected else second
        theta = theta - step * m_hat / (np.sqrt(v_hat) + eps)
        history.append(theta.copy())
    return np.array(history)


def torch_loop(loss_of, theta0, make_optimizer, iterations):
    """θ_t of a torch.optim optimizer on ``loss_of(θ)`` (autograd), float64."""
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([theta])
    history = [theta0.copy()]
    for _ in range(iterations):
        optimizer.zero_grad()
        loss_of(theta).backward()
        optimizer.step()
        history.append(theta.detach().numpy().copy())
    return np.array(history)


def logistic_loss(b, y):
    features, labels = torch.tensor(b), torch.tensor(y)
    return lambda theta: torch.nn.functional.softplus(-labels * (features @ theta)).mean()


def data(spec):
    dataset = datasets.load(spec)
    return dataset.features, dataset.labels


def close(a, b) -> bool:
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) <= TOL * max(1.0, np.max(np.abs(b)))


# ---------------------------------------------------------------------- linear model
def test_heavy_ball_is_the_written_recursion_and_torch_sgd_momentum():
    spec = linear_spec("heavy_ball", momentum=0.8)
    b, y = data(spec)
    runs = thetas(spec)
    gradient = logistic_gradient(b, y)
    for row, step in enumerate(g for g in STEPS for _ in spec.seeds):
        reference = numpy_heavy_ball(gradient, np.zeros(4), step, 0.8, ITERS)
        assert close(runs[row], reference)
        optim = torch_loop(logistic_loss(b, y), np.zeros(4),
                           lambda p, step=step: torch.optim.SGD(p, lr=step, momentum=0.8), ITERS)
        assert close(runs[row], optim)
        assert not close(runs[row], numpy_heavy_ball(gradient, np.zeros(4), step, 0.8, ITERS, lag=2))


def test_nesterov_is_torch_sgd_nesterov():
    spec = linear_spec("nesterov", momentum=0.7)
    b, y = data(spec)
    runs = thetas(spec)
    gradient = logistic_gradient(b, y)
    for row, step in enumerate(g for g in STEPS for _ in spec.seeds):
        assert close(runs[row], numpy_nesterov(gradient, np.zeros(4), step, 0.7, ITERS))
        optim = torch_loop(logistic_loss(b, y), np.zeros(4), lambda p, step=step: torch.optim.SGD(
            p, lr=step, momentum=0.7, nesterov=True), ITERS)
        assert close(runs[row], optim)
        # heavy-ball is not Nesterov
        assert not close(runs[row], numpy_heavy_ball(gradient, np.zeros(4), step, 0.7, ITERS))


def test_adam_is_torch_adam_with_bias_correction():
    spec = linear_spec("adam", beta1=0.8, beta2=0.99, adam_eps=1e-6)
    b, y = data(spec)
    runs = thetas(spec)
    gradient = logistic_gradient(b, y)
    for row, step in enumerate(g for g in STEPS for _ in spec.seeds):
        assert close(runs[row], numpy_adam(gradient, np.zeros(4), step, 0.8, 0.99, 1e-6, ITERS))
        optim = torch_loop(logistic_loss(b, y), np.zeros(4), lambda p, step=step: torch.optim.Adam(
            p, lr=step, betas=(0.8, 0.99), eps=1e-6), ITERS)
        assert close(runs[row], optim)
        assert not close(runs[row], numpy_adam(gradient, np.zeros(4), step, 0.8, 0.99, 1e-6, ITERS,
                                               corrected=False))


def numpy_minibatch(b, y, seed, step, batch, iterations, fresh=True):
    """GD on batches taken in order from a permutation drawn per epoch from default_rng(seed)
    (``fresh=False``: a wrong variant reusing the first epoch's permutation)."""
    n = len(y)
    rng = np.random.default_rng(seed)
    per_epoch = -(-n // batch)
    theta, history, order = np.zeros(b.shape[1]), [np.zeros(b.shape[1])], None
    for t in range(iterations):
        epoch, index = divmod(t, per_epoch)
        if index == 0 and (fresh or order is None):
            order = rng.permutation(n)
        chosen = order[index * batch:(index + 1) * batch]
        theta = theta - step * logistic_gradient(b[chosen], y[chosen])(theta)
        history.append(theta.copy())
    return np.array(history)


def test_minibatch_gd_draws_a_fresh_permutation_per_epoch_from_the_runs_seed():
    spec = linear_spec("minibatch_gd", minibatch_size=7)      # 30 points: 5 batches, the last of 2
    b, y = data(spec)
    runs = thetas(spec)
    rows = [(g, s) for g in STEPS for s in spec.seeds]
    for row, (step, seed) in enumerate(rows):
        reference = numpy_minibatch(b, y, seed, step, 7, ITERS)
        assert close(runs[row], reference)
        assert not close(runs[row], numpy_minibatch(b, y, seed, step, 7, ITERS, fresh=False))
        # torch.optim.SGD on the same batches' mean loss
        rng, order = np.random.default_rng(seed), None
        theta = torch.zeros(4, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.SGD([theta], lr=step)
        for t in range(ITERS):
            epoch, index = divmod(t, 5)
            if index == 0:
                order = rng.permutation(30)
            chosen = order[index * 7:(index + 1) * 7]
            optimizer.zero_grad()
            logistic_loss(b[chosen], y[chosen])(theta).backward()
            optimizer.step()
        assert close(runs[row][-1], theta.detach().numpy())
    # the seeds give different runs, the same seed at another step size the same batches
    assert not close(runs[0], runs[1])


def test_a_full_batch_is_gd_exactly():
    full = thetas(linear_spec("minibatch_gd", minibatch_size=30))
    plain = thetas(linear_spec("gd", perceptron_gap=False))
    for ours, gd in zip(full, plain):
        assert np.array_equal(ours, gd)


# ---------------------------------------------------------------------- a nonlinear network
def test_adam_and_nesterov_on_the_two_layer_network_match_torch_optim():
    for name, make in (("adam", lambda p, g: torch.optim.Adam(p, lr=g)),
                       ("nesterov", lambda p, g: torch.optim.SGD(p, lr=g, momentum=0.9, nesterov=True))):
        spec = make_spec(model="two_layer_conv", activation="tanh", dataset="gaussian", n=20,
                         d=3, algorithm=name, step_sizes=(0.1,), seeds=(1,), max_iters=25,
                         run_to_max=True, history_points=25)
        b, y = data(spec)
        (run,) = thetas(spec)
        features, labels = torch.tensor(b), torch.tensor(y)
        shifted = torch.roll(features, 1, dims=1)

        def loss(theta):
            g = theta[0] * torch.tanh(features @ theta[2:]) + theta[1] * torch.tanh(shifted @ theta[2:])
            return torch.nn.functional.softplus(-labels * g).mean()
        optim = torch_loop(loss, run[0], lambda p: make(p, 0.1), 25)
        assert close(run, optim), name


# ---------------------------------------------------------------------- the a·b network
@pytest.mark.parametrize("name,make", [
    ("heavy_ball", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("nesterov", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.05)),
])
def test_momentum_and_adam_on_the_shallow_network_match_torch_optim(name, make):
    spec = make_spec(model="shallow_linear", algorithm=name, a=(1.0, 0.2), b=(0.3, 0.5), phi=2.0,
                     step_sizes=(0.05,), max_iters=ITERS, run_to_max=True, history_points=ITERS)
    (run,) = thetas(spec)

    def loss(theta):
        return 0.5 * (theta[:2] @ theta[2:] - 2.0) ** 2
    assert close(run, torch_loop(loss, run[0], make, ITERS))
    gd = make_spec(model="shallow_linear", algorithm="gd", a=(1.0, 0.2), b=(0.3, 0.5), phi=2.0,
                   step_sizes=(0.05,), max_iters=ITERS, run_to_max=True, history_points=ITERS)
    assert not close(run, thetas(gd)[0])                 # the rule changes the run


# ---------------------------------------------------------------------- declared once
def test_hyper_parameters_are_fields_that_matter_only_for_their_rule():
    assert set(ALGORITHM_FIELDS) == {"momentum", "beta1", "beta2", "adam_eps", "minibatch_size"}
    assert BY_NAME["minibatch_size"].url_name == "batch_size"
    schema = json_schema()["properties"]
    for name in ("momentum", "beta1", "beta2", "adam_eps", "batch_size"):
        assert name in schema
    for name in ("heavy_ball", "nesterov", "adam", "minibatch_gd"):
        assert name in schema["algorithm"]["enum"]
    assert "momentum" in linear_spec("heavy_ball").canonical()
    assert "momentum" not in linear_spec("adam").canonical()
    assert "batch_size" not in linear_spec("gd").canonical()
    with pytest.raises(SpecError, match="momentum"):
        linear_spec("heavy_ball", momentum=1.5)
    with pytest.raises(SpecError, match="algorithm"):
        make_spec(model="shallow_linear", algorithm="minibatch_gd")
    assert "adam" in algorithms_on("shallow") and "minibatch_gd" not in algorithms_on("shallow")
    assert algorithm("heavy_ball").transform is not None


# ---------------------------------------------------------------------- the dashboard
@pytest.mark.slow
def test_the_pages_draw_a_rules_hyper_parameters_only_when_it_reads_them():
    from tests.app_helpers import assert_clean, open_page

    at = open_page("dynamics", {"dataset": "gaussian", "n": "40", "d": "2",
                                "algorithm": "gd,heavy_ball", "momentum": "0.5",
                                "step_size": "0.1", "max_iters": "30"})
    assert_clean(at)
    labels = [w.label for w in at.number_input]
    assert "Momentum β" in labels and "Adam β₁" not in labels
    assert at.query_params.get("momentum") in ("0.5", ["0.5"])
    at = open_page("step_size_map", {"dataset": "gaussian", "n": "40", "d": "2",
                                     "algorithm": "minibatch_gd", "batch_size": "8",
                                     "step_count": "200", "max_iters": "10"})
    assert_clean(at)
    labels = [w.label for w in at.number_input]
    assert "Mini-batch size" in labels and "Momentum β" not in labels
    plain = open_page("step_size_map", {"dataset": "gaussian", "n": "40", "d": "2",
                                        "step_count": "200", "max_iters": "10"})
    assert_clean(plain)
    assert "Mini-batch size" not in [w.label for w in plain.number_input]
