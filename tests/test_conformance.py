"""The conformance suite (like scikit-learn's check_estimator): every REGISTERED model, data set
and update rule — read from the registries, never a hand list — passes the same checks: the
gradient equals autograd's, the Hessian-vector product equals autograd's, the memory estimate is
at least the measured peak and within 4x of it, a batched run equals the same runs alone, and
the spec round-trips through its canonical string. A plug-in registered later gets the suite
for free; tiny sizes keep it fast."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from core.datasets import builtin as datasets
from core.algorithms.builtin import algorithms
from core.engine.batched import run_sweep
from core.engine.memory import RUNTIME_OVERHEAD, estimate_memory
from core.models.builtin import build
from core.kernel.registry import dataset_kind, model_kind, models, models_of
from core.kernel.registry import datasets as registered_datasets
from core.engine.shallow import run_shallow
from core.analysis.sharpness import hvp_at
from core.kernel.spec import RunSpec, make_spec

MODELS = list(models())
CLASSIFIERS = [name for name in MODELS if model_kind(name).build is not None]
DATASETS = list(registered_datasets())
RULES = [(name, family) for name, entry in algorithms().items() for family in entry.families
         if models_of(family)]
PEAK_RATIO = 4.0


# ---------------------------------------------------------------------- tiny specs
def data_for(model: str) -> str:
    """The first registered data set the model can run on without a file."""
    kind = model_kind(model)
    for name, data in registered_datasets().items():
        if not data.needs_path and (data.image_shape is not None) == kind.needs_images:
            return name
    pytest.skip(f"no registered data set without a file fits {model}")


def tiny_spec(model: str, algorithm: str = "gd", dataset: str | None = None, **fields) -> RunSpec:
    kind = model_kind(model)
    base = dict(model=model, algorithm=algorithm, step_sizes=(0.05, 0.5), seeds=(0, 1),
                max_iters=12, run_to_max=True, history_points=16)
    if kind.build is None:                   # the a·b network: a random start of dimension 3
        return make_spec(**base, init="random", d=3, **fields)
    dataset = dataset or data_for(model)
    data = dataset_kind(dataset)
    fixed_n, fixed_d = data.fixed_shape
    n = None if fixed_n is not None else max(data.min_n, min(24, data.max_n or 24))
    d = None if fixed_d is not None or data.image_shape or data.needs_path else max(kind.min_d, 4)
    extra = {"channels": 2} if "channels" in kind.fields else {}
    extra.update({"width": 4} if "width" in kind.fields else {})
    return make_spec(**base, dataset=dataset, n=n, d=d, **{**extra, **fields})


def run(spec: RunSpec):
    if model_kind(spec.model).build is None:
        return run_shallow(spec)
    return run_sweep(spec, datasets.load(spec))


def measured_peak(work) -> int:
    """The most bytes of torch tensors alive at once while ``work()`` runs (torch's profiler:
    allocations on their ops, frees as [memory] events, in time order)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        work()
    changes = sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events()
                     if e.self_cpu_memory_usage)
    alive = peak = 0
    for _, change in changes:
        alive += change
        peak = max(peak, alive)
    return peak


def check_batched_equals_alone(spec: RunSpec) -> None:
    batched = run(spec)
    assert len(batched.runs) == spec.batch_size
    for record in batched.runs:
        (alone,) = run(spec.single(record.step_size, record.seed)).runs
        assert alone.iterations_to_solve == record.iterations_to_solve
        assert alone.diverged == record.diverged
        np.testing.assert_allclose(alone.history["loss"], record.history["loss"], rtol=1e-10,
                                   atol=1e-300)
        if record.params is not None:
            np.testing.assert_allclose(alone.params, record.params, rtol=1e-10, atol=1e-12)


def check_round_trip(spec: RunSpec) -> None:
    again = RunSpec.from_query(spec.canonical())
    assert again.canonical() == spec.canonical()
    assert again == spec


def check_memory(spec: RunSpec) -> None:
    if model_kind(spec.model).build is None:
        n, d = 0, spec.d
        work = lambda: run_shallow(spec)        # noqa: E731
    else:
        data = datasets.load(spec)
        n, d = data.n, data.d
        work = lambda: run_sweep(spec, data)    # noqa: E731
    work()                                      # first-call set-up is not the run's
    # The guard adds a fixed allowance for the runtime's own work areas (core.engine.memory), which the
    # profiler of these tiny runs does not see; the bound is on what the run itself allocates.
    peak, estimate = measured_peak(work), estimate_memory(spec, n, d) - RUNTIME_OVERHEAD
    assert peak <= estimate <= PEAK_RATIO * peak, (spec.canonical(), peak, estimate)


# ---------------------------------------------------------------------- models
def classifier_at_random_rows(name: str):
    spec = tiny_spec(name)
    dataset = datasets.load(spec)
    model = build(spec)
    features = torch.as_tensor(dataset.features, dtype=torch.float64)
    labels = torch.as_tensor(dataset.labels, dtype=torch.float64)
    shared = model.prepare(features, labels)
    generator = torch.Generator().manual_seed(7)
    theta = torch.randn(3, model.num_params(dataset.d), generator=generator, dtype=torch.float64)
    return model, shared, theta, generator


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_model_gradient_is_autograd(name):
    model, shared, theta, generator = classifier_at_random_rows(name)
    margins, saved = model.margins(theta, shared)
    coef = torch.randn(margins.shape, generator=generator, dtype=torch.float64)
    pulled = model.margin_pullback(theta, shared, saved, coef)
    variable = theta.clone().requires_grad_(True)
    tracked = model.differentiable_margins(variable, shared)
    (reference,) = torch.autograd.grad((coef * tracked).sum(), variable)
    torch.testing.assert_close(margins, tracked.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(pulled, reference, rtol=1e-10, atol=1e-10)
    # negative control: a wrong coefficient row changes the pullback
    assert not torch.allclose(model.margin_pullback(theta, shared, saved, coef.flip(0)), reference)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_model_hessian_vector_product_is_autograd(name):
    model, shared, theta, generator = classifier_at_random_rows(name)
    vectors = torch.randn(theta.shape, generator=generator, dtype=torch.float64)
    products = hvp_at(model, shared, theta)(vectors)
    variable = theta.clone().requires_grad_(True)
    loss = F.softplus(-model.differentiable_margins(variable, shared)).mean(dim=1).sum()
    (gradient,) = torch.autograd.grad(loss, variable, create_graph=True)
    (reference,) = torch.autograd.grad((gradient * vectors).sum(), variable)
    torch.testing.assert_close(products, reference, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", [m for m in MODELS if m not in CLASSIFIERS])
def test_unbatched_model_gradient_and_hessian_are_autograd(name):
    """The a·b network (stepped by core/engine/shallow.py): one GD step is θ − η∇L, and the closed-form
    top Hessian eigenvalue is autograd's."""
    from core.engine.shallow import sharpness

    spec = tiny_spec(name).replace(step_sizes=(0.3,), seeds=(0,), max_iters=1, history_points=8)
    (record,) = run(spec).runs
    start = torch.tensor(record.params[0], requires_grad=True)
    d = spec.d

    def loss(theta):
        return 0.5 * (theta[:d] @ theta[d:] - spec.phi) ** 2
    (gradient,) = torch.autograd.grad(loss(start), start)
    np.testing.assert_allclose(record.params[1], (start - 0.3 * gradient).detach().numpy(),
                               rtol=1e-13, atol=1e-15)
    hessian = torch.autograd.functional.hessian(loss, start.detach())
    a, b = start[:d].detach().numpy(), start[d:].detach().numpy()
    closed = sharpness(a @ a + b @ b, a @ b - spec.phi, spec.phi)
    assert closed == pytest.approx(float(torch.linalg.eigvalsh(hessian)[-1]), rel=1e-12)


@pytest.mark.slow          # torch's profiler: a second or two per check
@pytest.mark.parametrize("name", MODELS)
def test_model_memory_estimate_bounds_the_measured_peak(name):
    check_memory(tiny_spec(name).replace(max_iters=4))


@pytest.mark.parametrize("name", MODELS)
def test_model_batched_run_equals_the_runs_alone(name):
    check_batched_equals_alone(tiny_spec(name))


@pytest.mark.parametrize("name", MODELS)
def test_model_spec_round_trips(name):
    check_round_trip(tiny_spec(name))


# ---------------------------------------------------------------------- data sets
def data_spec(name: str, tmp_path) -> RunSpec:
    kind = dataset_kind(name)
    model = next(m for m in CLASSIFIERS if model_kind(m).needs_images == bool(kind.image_shape)
                 or not model_kind(m).needs_images)
    fields = {}
    if kind.needs_path:
        if not kind.upload:
            pytest.skip(f"{name} reads a folder of files this suite does not generate")
        from core.store.uploads import save_upload
        rows = ["x1,x2,label"] + [f"{i % 5},{(3 * i) % 7},{i % 2}" for i in range(30)]
        fields["path"] = save_upload("\n".join(rows).encode())
    return tiny_spec(model, dataset=name, **fields)


@pytest.mark.parametrize("name", DATASETS)
def test_data_set_loads_labelled_finite_points_and_runs(name, tmp_path):
    spec = data_spec(name, tmp_path)
    dataset = datasets.load(spec)
    assert dataset.features.shape == (dataset.n, dataset.d) and dataset.labels.shape == (dataset.n,)
    assert set(np.unique(dataset.labels)) <= {-1.0, 1.0} and np.isfinite(dataset.features).all()
    assert datasets.load(spec).fingerprint == dataset.fingerprint
    check_round_trip(spec)
    check_batched_equals_alone(spec)


# ---------------------------------------------------------------------- update rules
def rule_spec(name: str, family: str) -> RunSpec:
    return tiny_spec(models_of(family)[0], algorithm=name)


@pytest.mark.parametrize("name,family", RULES, ids=[f"{a}-{f}" for a, f in RULES])
def test_update_rule_batched_run_equals_the_runs_alone(name, family):
    check_batched_equals_alone(rule_spec(name, family))


@pytest.mark.parametrize("name,family", RULES, ids=[f"{a}-{f}" for a, f in RULES])
def test_update_rule_spec_round_trips(name, family):
    check_round_trip(rule_spec(name, family))


@pytest.mark.slow
@pytest.mark.parametrize("name,family", [r for r in RULES if not algorithms()[r[0]].continuous],
                         ids=[f"{a}-{f}" for a, f in RULES if not algorithms()[a].continuous])
def test_update_rule_memory_estimate_bounds_the_measured_peak(name, family):
    check_memory(rule_spec(name, family).replace(max_iters=4))


def test_the_suite_covers_every_registry_entry():
    """Negative control of the parametrisation: the lists are the registries."""
    assert set(MODELS) == set(models()) and set(DATASETS) == set(registered_datasets())
    assert {name for name, _ in RULES} == set(algorithms())
