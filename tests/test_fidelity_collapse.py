"""A network whose output no longer depends on its input is reported as
collapsed, per run, distinct from "not solved yet"."""
import math

import numpy as np
import pytest
import torch

from core.api import run_spec
from core.datasets.builtin import load
from core.models.builtin import build, collapsed_rows
from core.kernel.spec import make_spec, validate


def cnn_parts(**fields):
    spec = validate(make_spec(model="cnn", dataset="digits", classes=(1, 7), n=60, kernel_size=3,
                              channels=4, **fields))
    data = load(spec)
    model = build(spec)
    shared = model.prepare(torch.as_tensor(data.features), torch.as_tensor(data.labels))
    return spec, model, shared


def test_dead_relu_units_and_constant_outputs_are_collapse_live_ones_are_not():
    spec, model, shared = cnn_parts()
    live = torch.as_tensor(np.stack([model.init(64, seed) for seed in (0, 1)]))
    dead = live.clone()
    offset = 0
    for name, shape in model.shapes():
        size = math.prod(shape)
        if name == "conv1.bias":
            dead[:, offset:offset + size] = -1e3        # every ReLU unit off on every input
        offset += size
    assert collapsed_rows(model, torch.cat([live, dead]), shared).tolist() == [False, False, True, True]
    # the readout at 0 gives a constant output (the bias) even with live units
    silent = live.clone()
    silent[:, offset - 1 - spec.channels: offset - 1] = 0.0
    assert collapsed_rows(model, silent, shared).tolist() == [True, True]


def test_mlp_with_dead_hidden_layer_is_collapsed():
    spec = validate(make_spec(model="mlp", dataset="gaussian", n=40, d=5, width=6, activation="relu"))
    data = load(spec)
    model = build(spec)
    shared = model.prepare(torch.as_tensor(data.features), torch.as_tensor(data.labels))
    theta = torch.as_tensor(model.init(5, 0))[None]
    assert collapsed_rows(model, theta, shared).tolist() == [False]
    assert collapsed_rows(model, torch.zeros_like(theta), shared).tolist() == [True]


@pytest.mark.slow
def test_large_step_relu_cnn_on_digits_collapses_to_ln2_and_says_so_in_the_json():
    """η = 4, ReLU CNN on digits 1/7, n = 200, k = 5: every output equal, loss ln 2."""
    spec = make_spec(model="cnn", dataset="digits", classes=(1, 7), n=200, kernel_size=5,
                     step_sizes=(0.5, 4.0), max_iters=300, perceptron_gap=False, dtype="float32")
    result = run_spec(spec, use_cache=False).result
    small, large = result.runs
    assert large.extras["collapsed"] is True and large.iterations_to_solve is None
    assert large.final_loss == pytest.approx(math.log(2), abs=1e-3)
    assert small.extras["collapsed"] is False and small.final_loss < 0.5
    rows = {row["step_size"]: row for row in result.to_dict()["runs"]}
    assert rows[4.0]["collapsed"] is True and rows[0.5]["collapsed"] is False
