"""Cheap sharpness: closed-form and torch.func Hessian-vector products, batched over
runs, against autograd (the oracle); batched, warm-started Lanczos against ARPACK / dense eigh."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.datasets import builtin as datasets
from core.models.builtin import build
from core.analysis.sharpness import (SharpnessMeter, _functional_hvp, hvp_at, top_eigenvalues,
                                     top_hessian_eigenvalue)
from core.kernel.spec import make_spec

CASES = [
    dict(model="linear", dataset="gaussian", n=40, d=20, bias=True),
    dict(model="two_layer_conv", dataset="gaussian", n=30, d=20, activation="tanh"),
    dict(model="mlp", dataset="gaussian", n=30, d=6, width=5, activation="tanh"),
    dict(model="cnn", dataset="digits", classes=(0, 1), n=30, kernel_size=3, channels=3),
    dict(model="cnn", dataset="digits", classes=(0, 1), n=30, kernel_size=3, channels=3, activation="tanh"),
    dict(model="cnn", dataset="digits", classes=(0, 1), n=30, kernel_size=2, channels=3,
         activation="leaky_relu", leak=0.2),
    dict(model="cnn", dataset="digits", classes=(0, 1), n=20, kernel_size=3, channels=2, conv_layers=2),
]


def setting(fields, dtype=torch.float64, rows=3):
    spec = make_spec(**fields)
    model, data = build(spec), datasets.load(spec)
    shared = model.prepare(torch.as_tensor(data.features, dtype=dtype),
                           torch.as_tensor(data.labels, dtype=dtype))
    p = model.num_params(data.d)
    generator = torch.Generator().manual_seed(5)
    theta = torch.stack([torch.as_tensor(model.init(data.d, seed))
                         + 0.3 * torch.randn(p, dtype=torch.float64, generator=generator)
                         for seed in range(rows)]).to(dtype)
    return model, shared, theta


def autograd_hvp(model, shared, theta_row, vector):
    theta = theta_row.detach().clone().requires_grad_(True)
    loss = F.softplus(-model.differentiable_margins(theta[None], shared)[0]).mean()
    (grad,) = torch.autograd.grad(loss, theta, create_graph=True)
    (product,) = torch.autograd.grad(grad, theta, vector)
    return product


@pytest.mark.parametrize("fields", CASES, ids=lambda f: "-".join(map(str, f.values())))
def test_batched_hessian_vector_products_equal_autograd(fields):
    model, shared, theta = setting(fields)
    vectors = torch.randn(theta.shape, dtype=theta.dtype, generator=torch.Generator().manual_seed(2))
    batched = hvp_at(model, shared, theta)(vectors)
    for row in range(theta.shape[0]):
        expected = autograd_hvp(model, shared, theta[row], vectors[row])
        np.testing.assert_allclose(batched[row].numpy(), expected.numpy(), rtol=1e-9,
                                   atol=1e-12 * float(expected.abs().max()))
    np.testing.assert_allclose(_functional_hvp(model, shared, theta)(vectors).numpy(), batched.numpy(),
                               rtol=1e-9, atol=1e-12 * float(batched.abs().max()))


@pytest.mark.parametrize("fields", CASES[:5], ids=lambda f: "-".join(map(str, f.values())))
def test_batched_lanczos_equals_the_arpack_oracle(fields):
    model, shared, theta = setting(fields)
    values, vectors = top_eigenvalues(model, shared, theta)
    oracle = [top_hessian_eigenvalue(model, shared, row) for row in theta]
    np.testing.assert_allclose(values.numpy(), oracle, rtol=1e-7)
    # the returned vectors are unit eigenvectors: H v = λ v
    products = hvp_at(model, shared, theta)(vectors)
    np.testing.assert_allclose(products.numpy(), (values[:, None] * vectors).numpy(),
                               atol=1e-4 * float(values.abs().max()))


def test_small_models_use_the_dense_hessian():
    model, shared, theta = setting(dict(model="linear", dataset="gaussian", n=20, d=5))
    values, _ = top_eigenvalues(model, shared, theta)
    oracle = [top_hessian_eigenvalue(model, shared, row, exact=True) for row in theta]
    np.testing.assert_allclose(values.numpy(), oracle, rtol=1e-12)


def test_meter_in_float32_is_warm_started_and_agrees_with_float64():
    fields = dict(model="cnn", dataset="digits", classes=(3, 8), n=40, kernel_size=3, channels=4)
    model, shared32, theta = setting(fields, torch.float32, rows=4)
    _, shared64, _ = setting(fields)
    calls = []
    meter = SharpnessMeter(model, shared32)
    running = torch.tensor([True, True, False, True])
    first = meter.measure(theta, running, 0)
    assert np.isnan(first[2]) and not np.isnan(first[[0, 1, 3]]).any()
    oracle = [top_hessian_eigenvalue(model, shared64, theta[row].double()) for row in (0, 1, 3)]
    np.testing.assert_allclose(first[[0, 1, 3]], oracle, rtol=1e-4)

    import core.analysis.sharpness as sharpness

    original = sharpness.hvp_at

    def counting(*args):
        product = original(*args)
        return lambda vectors: calls.append(1) or product(vectors)

    sharpness.hvp_at = counting
    try:
        moved = theta + 1e-3 * torch.randn(theta.shape, generator=torch.Generator().manual_seed(1))
        again = meter.measure(moved, running, 20)           # warm: starts at the last eigenvectors
        warm = len(calls)
        calls.clear()
        SharpnessMeter(model, shared32).measure(moved, running, 20)   # cold
        cold = len(calls)
    finally:
        sharpness.hvp_at = original
    assert warm < cold
    oracle = [top_hessian_eigenvalue(model, shared64, moved[row].double()) for row in (0, 1, 3)]
    np.testing.assert_allclose(again[[0, 1, 3]], oracle, rtol=1e-4)


def test_sweep_sharpness_reuses_the_forward_pass_and_matches_the_oracle():
    """The engine hands the meter its own activations (with the perceptron companions' columns
    beside the main runs'); every measured value still equals the autograd + ARPACK oracle at
    the recorded θ."""
    from core.api import run_spec

    spec = make_spec(model="cnn", dataset="digits", classes=(3, 8), n=30, kernel_size=3, channels=3,
                     step_sizes=(0.5, 4.0), seeds=(0, 1), max_iters=20, sharpness_every=10,
                     run_to_max=True, perceptron_gap=True)
    result = run_spec(spec, use_cache=False).result
    model, shared, _ = setting(dict(model="cnn", dataset="digits", classes=(3, 8), n=30, kernel_size=3,
                                    channels=3))
    checked = 0
    for run in result.runs:
        for index, value in enumerate(run.history["sharpness"]):
            if np.isnan(value):
                continue
            theta = torch.as_tensor(run.params[index])
            assert value == pytest.approx(top_hessian_eigenvalue(model, shared, theta), rel=1e-4)
            checked += 1
    assert checked == 4 * 3
