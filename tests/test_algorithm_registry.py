"""Algorithms and models are registry entries (core/algorithms/builtin.py, core/kernel/registry.py): one
registered entry reaches validation, the engine, the field table, the schema, the plots and
the dashboard's lists. Entries registered here are removed again (fixtures), so nothing leaks
into other tests."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.datasets import builtin as datasets
from core.kernel import fields
from core.report import plots
from core.algorithms.builtin import (Algorithm, Step, algorithm, algorithms, algorithms_on,
                                     register_algorithm, unregister_algorithm)
from core.api import run_spec
from core.cli import build_parser
from core.engine.batched import coefficients, run_sweep
from core.kernel.fields import json_schema
from core.models.builtin import MODEL_CLASSES, Linear
from core.kernel.registry import (ModelKind, model_kind, models, register_model, unregister_model)
from core.kernel.spec import SpecError, make_spec

THRESHOLD = 1.0     # the margin perceptron's: points with margin ≤ 1 pull


def margin_perceptron(margins: torch.Tensor, t: int, out: torch.Tensor | None = None) -> Step:
    """θ += (γ/n) Σ 1[mᵢ ≤ 1] ∇mᵢ (a perceptron that keeps going until every margin is > 1)."""
    n = margins.shape[1]
    return Step((margins <= THRESHOLD).to(margins.dtype), 1.0 / n, 1.0 / n)


TOY = Algorithm("margin_perceptron", "margin perceptron", ("linear",), margin_perceptron,
                dash="longdash", perceptron=True, becomes=(("nonlinear", "generalized_perceptron"),),
                help="the batch perceptron with margin 1")


@pytest.fixture
def toy_algorithm():
    register_algorithm(TOY)
    try:
        yield TOY
    finally:
        unregister_algorithm(TOY.name)


@pytest.fixture
def toy_model():
    kind = register_model(ModelKind("linear_copy", "a second linear model", "linear", Linear,
                                    fields=("bias",), description="the linear model again"))
    try:
        yield kind
    finally:
        unregister_model(kind.name)


def numpy_margin_perceptron(b, y, step, iterations, threshold=THRESHOLD, scale=None):
    """θ_t of θ_{t+1} = θ_t + (γ/n) Σ 1[y_i b_iᵀθ_t ≤ threshold] y_i b_i from θ_0 = 0."""
    n = len(y)
    scale = 1.0 / n if scale is None else scale
    theta = np.zeros(b.shape[1])
    thetas = [theta]
    for _ in range(iterations):
        pull = (y * (b @ theta) <= threshold).astype(float)
        theta = theta + step * scale * ((pull * y) @ b)
        thetas.append(theta)
    return np.array(thetas)


def test_every_registered_algorithm_and_model_is_complete():
    assert tuple(fields.ALGORITHMS) == tuple(algorithms()) and tuple(fields.MODELS) == tuple(models())
    for name, entry in algorithms().items():
        assert entry.label and entry.help and entry.families
        assert entry.continuous or callable(entry.coefficients), name
        assert plots.algorithm_label(name) == entry.label
        for family, other in entry.companion + entry.becomes:
            assert family in entry.families or other in algorithms_on(family)
            assert other in algorithms()
    for name, kind in models().items():
        assert kind.label and kind.description and kind.family in ("linear", "nonlinear", "shallow")
        assert (kind.build is not None) == kind.classifier, name
    # every classifier algorithm's closed form runs on margins and fills a Step
    margins = torch.tensor([[-1.0, 0.0, 2.0]], dtype=torch.float64)
    for name in algorithms_on("linear"):
        step = coefficients(name, margins, 1)
        assert step.coef.shape == margins.shape
    with pytest.raises(SpecError, match="not run by the batched engine"):
        coefficients("gradient_flow", margins, 1)


def test_a_registered_algorithm_runs_and_matches_its_closed_form(toy_algorithm):
    spec = make_spec(dataset="gaussian", n=12, d=3, margin=0.2, algorithm="margin_perceptron",
                     step_sizes=(0.1, 2.0), max_iters=40, run_to_max=True)
    data = datasets.load(spec)
    engine = run_sweep(spec, data).runs
    outcome = run_spec(spec, use_cache=False).result.runs
    for run, again in zip(engine, outcome):
        assert run.last_iteration == 40 and run.params is not None
        np.testing.assert_array_equal(run.params, again.params)      # core.api runs the same
        thetas = numpy_margin_perceptron(data.features, data.labels, run.step_size, 40)
        np.testing.assert_allclose(run.params, thetas[run.history["iteration"]], rtol=1e-12, atol=1e-12)
        # negative controls: a wrong threshold or a wrong scale is caught by the comparison
        for wrong in (numpy_margin_perceptron(data.features, data.labels, run.step_size, 40, 0.0),
                      numpy_margin_perceptron(data.features, data.labels, run.step_size, 40,
                                              scale=0.5 / len(data.labels))):
            assert not np.allclose(run.params, wrong[run.history["iteration"]], rtol=1e-6, atol=1e-9)


def test_a_registered_algorithm_reaches_every_derived_view(toy_algorithm):
    from ui import controls

    name = toy_algorithm.name
    assert name in fields.ALGORITHMS and name in json_schema()["properties"]["algorithm"]["enum"]
    assert json_schema()["properties"]["algorithm"]["x-choice-descriptions"][name] == TOY.help
    assert plots.algorithm_label(name) == "margin perceptron"
    assert plots.ALGORITHM_DASH[name] == "longdash" and name in plots.PERCEPTRONS
    assert name in controls.LINEAR_ALGORITHMS and name not in controls.NONLINEAR_ALGORITHMS
    assert controls.algorithms_for("linear")[-1] == name
    assert controls.adapt_algorithms("mlp", ["gd", name]) == ["gd", "generalized_perceptron"]
    assert name in build_parser().parse_args(["run", "--algorithm", name]).algorithm
    with pytest.raises(SpecError, match="margin_perceptron is defined for the linear model; "
                                        "use generalized_perceptron for two_layer_conv"):
        make_spec(model="two_layer_conv", algorithm=name)
    # no companion: the perceptron gap does not apply
    assert "perceptron_gap" not in make_spec(algorithm=name).relevant_fields()


def test_registration_does_not_leak():
    assert "margin_perceptron" not in fields.ALGORITHMS and "linear_copy" not in fields.MODELS
    with pytest.raises(SpecError, match="algorithm"):
        make_spec(algorithm="margin_perceptron")
    with pytest.raises(SpecError, match="unknown algorithm"):
        algorithm("margin_perceptron")


def test_a_registered_model_is_a_choice_and_runs(toy_model):
    from ui import controls

    assert "linear_copy" in fields.MODELS and MODEL_CLASSES["linear_copy"] is Linear
    assert controls.MODEL_LABELS["linear_copy"] == "a second linear model"
    assert "linear_copy" in controls.CLASSIFIER_MODELS
    assert controls.algorithms_for("linear_copy") == controls.algorithms_for("linear")
    spec = make_spec(model="linear_copy", dataset="gaussian", n=10, d=3, step_sizes=(1.0, 50.0),
                     max_iters=30, bias=True)
    assert "bias" in spec.relevant_fields() and "activation" not in spec.relevant_fields()
    reference = make_spec(dataset="gaussian", n=10, d=3, step_sizes=(1.0, 50.0), max_iters=30,
                          bias=True)
    ours, theirs = run_spec(spec, use_cache=False).result, run_spec(reference, use_cache=False).result
    for a, b in zip(ours.runs, theirs.runs):       # the same model under another name
        assert a.iterations_to_solve == b.iterations_to_solve
        for key in b.history:
            np.testing.assert_array_equal(a.history[key], b.history[key])
    assert model_kind("linear_copy").family == "linear"


def test_registries_refuse_inconsistent_entries():
    with pytest.raises(ValueError, match="families"):
        register_algorithm(Algorithm("bad", "bad", ("quadratic",), margin_perceptron))
    with pytest.raises(ValueError, match="coefficients"):
        register_algorithm(Algorithm("bad", "bad", ("linear",)))
    with pytest.raises(ValueError, match="twice"):
        register_algorithm(Algorithm("gd", "another GD", ("linear",), margin_perceptron))
    with pytest.raises(ValueError, match="family"):
        register_model(ModelKind("bad", "bad", "quadratic"))
    assert "bad" not in algorithms() and "bad" not in models()


@pytest.mark.slow
def test_the_dashboard_draws_the_controls_a_registered_model_reads(toy_model):
    """A new model's controls follow its entry's fields: linear_copy reads only `bias`."""
    from tests.app_helpers import open_page

    at = open_page("dynamics", {"model": "linear_copy"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="dynamics.model").value == "linear_copy"
    assert at.checkbox(key="dynamics.bias") is not None
    shown = {widget.key for widget in at.selectbox} | {widget.key for widget in at.number_input}
    assert "dynamics.activation" not in shown and "dynamics.init_scale" not in shown
    # the model that reads the nonlinear fields gets them (a control for the rule above)
    mlp = open_page("dynamics", {"model": "mlp"})
    keys = {widget.key for widget in mlp.selectbox} | {widget.key for widget in mlp.number_input}
    assert {"dynamics.activation", "dynamics.width", "dynamics.train",
            "dynamics.init_scale"} <= keys


def test_a_data_set_registered_at_run_time_is_a_choice_at_once():
    from core.kernel.registry import DATASET_REGISTRY, DatasetKind, register_dataset

    def two_lines(spec):
        b = np.array([[1.0, 0.5], [1.0, -0.5], [-1.0, 0.5], [-1.0, -0.5]])
        return b, np.array([1.0, 1.0, -1.0, -1.0])

    with pytest.raises(SpecError, match="dataset"):
        make_spec(dataset="two_lines")
    register_dataset(DatasetKind("two_lines", "two lines", two_lines, fields=("margin",),
                                 fixed_shape=(4, 2), default_shape=(4, 2)))
    try:
        assert "two_lines" in fields.DATASETS
        spec = make_spec(dataset="two_lines", step_sizes=(1.0,), max_iters=20)
        assert "margin" in spec.relevant_fields()      # the entry says it reads it
        assert run_spec(spec, use_cache=False).result.runs[0].iterations_to_solve == 1
    finally:
        DATASET_REGISTRY.unregister("two_lines")
    assert "two_lines" not in fields.DATASETS


def test_the_shallow_runner_refuses_a_stepped_algorithm_it_cannot_run():
    with pytest.raises(ValueError, match="shallow runner"):
        register_algorithm(Algorithm("shallow_momentum", "momentum", ("shallow",), margin_perceptron))
    assert "shallow_momentum" not in algorithms()


class RandomStartLinear(Linear):
    """A linear model that starts at a random θ₀ (the classifier engine's generic init)."""

    name = "linear_random_start"

    def init(self, d, seed):
        return np.random.default_rng(seed).standard_normal(self.num_params(d))

    def starts_at_zero(self):
        return False


def test_the_perceptron_gap_of_a_linear_model_with_a_random_start_is_per_run():
    from core.engine.batched import plan_companion

    kind = register_model(ModelKind("linear_random_start", "linear, random start", "linear",
                                    RandomStartLinear, fields=("bias",)))
    try:
        for name, shared in (("linear", True), ("linear_random_start", False)):
            spec = make_spec(model=name, dataset="gaussian", n=10, d=3, step_sizes=(1.0, 10.0),
                             seeds=(0, 1), max_iters=5)
            model = MODEL_CLASSES[name](spec)
            theta0 = np.stack([model.init(3, s) for _ in spec.step_sizes for s in spec.seeds])
            companion = plan_companion(spec, model, theta0, torch.device("cpu"))
            assert companion.linear is shared
            assert len(set(companion.rows_of_main.tolist())) == (1 if shared else 4)
            result = run_spec(spec, use_cache=False).result
            assert all(np.isfinite(r.history["perceptron_gap"]).all() for r in result.runs)
    finally:
        unregister_model(kind.name)
