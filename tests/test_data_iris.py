"""The iris data set: registered in one file (core/datasets/iris.py), and the CLI, the schema and
the dashboard follow from its registry entry."""
from __future__ import annotations

import numpy as np
import pytest

from core.datasets import builtin as datasets
from core.api import run_spec
from core.cli import main
from core.kernel.fields import json_schema
from core.kernel.spec import SpecError, make_spec
from tests.app_helpers import errors, open_page


def batch_perceptron_steps(b, y, limit=10_000):
    """An independent numpy batch perceptron (½ first step, ≤ 0 counts as wrong)."""
    theta = (y[:, None] * b).mean(axis=0) / 2
    for t in range(1, limit):
        margins = y * (b @ theta)
        if (margins > 0).all():
            return t
        wrong = margins <= 0
        theta = theta + (y[wrong, None] * b[wrong]).sum(axis=0) / len(y)
    return None


def test_setosa_against_versicolor_is_separable_and_versicolor_against_virginica_is_not():
    data = datasets.load(make_spec(dataset="iris"))
    assert data.features.shape == (100, 2) and np.allclose(data.features.mean(axis=0), 0)
    assert sorted(np.unique(data.labels, return_counts=True)[1]) == [50, 50]
    steps = batch_perceptron_steps(data.features, data.labels)
    assert steps is not None
    engine = run_spec(make_spec(dataset="iris", algorithm="batch_perceptron", max_iters=1000),
                      use_cache=False).result.runs[0]
    assert engine.iterations_to_solve == steps
    hard = datasets.load(make_spec(dataset="iris", classes=(1, 2)))
    assert batch_perceptron_steps(hard.features, hard.labels) is None     # negative control


@pytest.mark.slow
def test_gd_at_a_large_step_is_the_batch_perceptron_on_iris():
    spec = make_spec(dataset="iris", step_sizes=(1e6,), max_iters=1000)
    gd = run_spec(spec, use_cache=False).result.runs[0]
    perceptron = run_spec(spec.replace(algorithm="batch_perceptron"), use_cache=False).result.runs[0]
    small = run_spec(spec.replace(step_sizes=(0.01,)), use_cache=False).result.runs[0]
    assert gd.iterations_to_solve == perceptron.iterations_to_solve
    assert small.iterations_to_solve != perceptron.iterations_to_solve       # the γ matters


def test_iris_classes_are_checked_and_reach_the_cli_schema_and_dashboard(capsys):
    with pytest.raises(SpecError, match="classes"):
        datasets.load(make_spec(dataset="iris", classes=(0, 5)))
    assert "iris" in json_schema()["properties"]["dataset"]["enum"]
    assert main(["run", "--dataset", "iris", "--classes", "0,7", "--no-cache"]) == 2
    assert capsys.readouterr().err.startswith("error: --classes:")
    at = open_page("dynamics", {"max_iters": "50", "step_size": "1,1000", "algorithm": "gd"})
    at.selectbox(key="dynamics.dataset").set_value("iris").run()          # a visitor picks it
    assert not at.exception and not errors(at)
    assert at.text_input(key="dynamics.classes").value == "0,1"          # its own default
