"""The CNN on images, batching across step sizes, and the sharpness (top Hessian eigenvalue)."""
import json

import numpy as np
import pytest
import torch

from core.datasets import builtin as datasets
from core.api import run_spec
from core.analysis.sharpness import top_hessian_eigenvalue
from core.models.builtin import build
from core.kernel.spec import SpecError, make_spec


def prepared(spec, dtype=torch.float64):
    model = build(spec)
    data = datasets.load(spec)
    shared = model.prepare(torch.as_tensor(data.features, dtype=dtype),
                           torch.as_tensor(data.labels, dtype=dtype))
    return model, data, shared


@pytest.mark.parametrize("layers, readout, kernel", [(1, "avg", 3), (2, "linear", 3), (1, "linear", 4),
                                                    (2, "avg", 2)])
def test_cnn_is_a_standard_conv_net_and_batched_equals_the_loop(layers, readout, kernel):
    spec = make_spec(model="cnn", dataset="digits", classes=(3, 8), n=20, kernel_size=kernel, channels=4,
                     conv_layers=layers, readout=readout, seeds=(0, 1))
    model, data, shared = prepared(spec)
    theta = torch.as_tensor(np.stack([model.init(64, 0), model.init(64, 1)]))
    outputs, saved = model.outputs(theta, shared)

    # the same network written with torch.nn
    images = shared.stacked
    for row in range(2):
        params = {name: value[row] for name, value in model._split(theta).items()}
        hidden = images
        for layer in range(1, layers + 1):
            conv = torch.nn.Conv2d(hidden.shape[1], 4, kernel, padding="same").double()
            conv.weight.data, conv.bias.data = params[f"conv{layer}.weight"], params[f"conv{layer}.bias"]
            hidden = torch.relu(conv(hidden))
        pooled = hidden.mean(dim=(2, 3)) if readout == "avg" else hidden.flatten(1)
        expected = pooled @ params["readout.weight"] + params["readout.bias"]
        np.testing.assert_allclose(outputs[row].numpy(), expected.detach().numpy(), rtol=1e-12)

    coef = torch.randn(2, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    pulled = model.pullback(theta, shared, saved, coef)
    model.batched = False
    outputs_loop, saved_loop = model.outputs(theta, shared)
    np.testing.assert_allclose(outputs_loop.numpy(), outputs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(model.pullback(theta, shared, saved_loop, coef).numpy(), pulled.numpy(),
                               rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("activation", ["identity", "relu", "leaky_relu", "tanh"])
def test_pooled_cnn_closed_form_gradient_equals_autograd(activation):
    """One convolution + average pool runs on hand-written gradients; autograd on the plain
    network (``batched = False``) must give the same outputs and pullback for every activation."""
    spec = make_spec(model="cnn", dataset="digits", classes=(0, 7), n=24, kernel_size=3, channels=5,
                     activation=activation, leak=0.2, seeds=(0, 1, 2))
    model, _, shared = prepared(spec)
    theta = torch.as_tensor(np.stack([model.init(64, seed) for seed in (0, 1, 2)]))
    theta[:, 45:50] = 0.3   # non-zero biases, so the bias gradient is exercised off zero
    coef = torch.randn(3, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert model._closed_form()
    outputs, saved = model.outputs(theta, shared)
    pulled = model.pullback(theta, shared, saved, coef)
    model.batched = False
    reference, saved_reference = model.outputs(theta, shared)
    np.testing.assert_allclose(outputs.numpy(), reference.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pulled.numpy(), model.pullback(theta, shared, saved_reference, coef).numpy(),
                               rtol=1e-10, atol=1e-13)


def test_lanczos_sharpness_matches_dense_eigh():
    spec = make_spec(model="cnn", dataset="digits", classes=(0, 1), n=40, kernel_size=3, channels=4)
    model, _, shared = prepared(spec)
    theta = torch.as_tensor(model.init(64, 3))
    lanczos = top_hessian_eigenvalue(model, shared, theta, exact=False)
    dense = top_hessian_eigenvalue(model, shared, theta, exact=True)
    assert lanczos == pytest.approx(dense, rel=1e-6)
    two_layer = make_spec(model="two_layer_conv", dataset="gaussian", n=30, d=6, activation="tanh")
    model, _, shared = prepared(two_layer)
    theta = torch.as_tensor(model.init(6, 1))
    assert top_hessian_eigenvalue(model, shared, theta, exact=False) == pytest.approx(
        top_hessian_eigenvalue(model, shared, theta, exact=True), rel=1e-6)


def test_linear_sharpness_closed_form():
    """For a linear model H = (1/n) Σ σ(m_i) σ(−m_i) b_i b_iᵀ."""
    spec = make_spec(dataset="breast_cancer", n=80)
    model, data, shared = prepared(spec)
    theta = np.random.default_rng(0).standard_normal(30) * 0.1
    margins = data.labels * (data.features @ theta)
    weights = 1 / (1 + np.exp(-margins)) / (1 + np.exp(margins))
    hessian = (data.features * weights[:, None]).T @ data.features / len(margins)
    expected = np.linalg.eigvalsh(hessian)[-1]
    assert top_hessian_eigenvalue(model, shared, torch.as_tensor(theta)) == pytest.approx(expected, rel=1e-9)
    assert top_hessian_eigenvalue(model, shared, torch.as_tensor(theta), exact=False) == pytest.approx(
        expected, rel=1e-6)


def test_sharpness_history_and_step_size_batching():
    spec = make_spec(model="cnn", dataset="digits", classes=(3, 8), n=60, kernel_size=3, channels=4,
                     step_sizes=(0.5, 2.0, 8.0), max_iters=40, sharpness_every=10, run_to_max=True,
                     dtype="float32")
    result = run_spec(spec, use_cache=False).result
    for run in result.runs:
        measured = ~np.isnan(run.history["sharpness"])
        assert list(run.history["iteration"][measured]) == [0, 10, 20, 30, 40]
        assert np.all(run.history["sharpness"][measured] > 0)
    # one batched sweep equals the separate runs
    alone = run_spec(spec.single(2.0, 0), use_cache=False).result.runs[0]
    np.testing.assert_allclose(alone.history["loss"], result.runs[1].history["loss"], rtol=1e-4)
    document = json.loads(result.to_json())
    assert None in document["runs"][0]["history"]["sharpness"]       # NaN where not measured


def test_cnn_needs_images():
    with pytest.raises(SpecError) as error:
        make_spec(model="cnn", dataset="gaussian")
    assert error.value.field == "dataset"
    with pytest.raises(SpecError) as error:
        make_spec(model="cnn", dataset="digits", kernel_size=0)
    assert error.value.field == "kernel_size"


def test_cli_cnn_example(capsys):
    from core.cli import main

    code = main(["run", "--model", "cnn", "--dataset", "digits", "--classes", "3,8", "--n", "60",
                 "--kernel-size", "3", "--channels", "4", "--step-size", "0.5,2,8", "--max-iters", "20",
                 "--sharpness-every", "10", "--dtype", "float32", "--format", "json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["runs"]) == 3 and "sharpness" in document["runs"][0]["history"]
    assert document["spec"]["kernel_size"] == 3
