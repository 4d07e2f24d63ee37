"""Engine, models, specs, datasets and cache behaviour."""
import math
import os
import pickle
import re

import numpy as np
import pytest
import torch

from core.datasets import builtin as datasets
from core.api import run_spec
from core.store.cache import ResultCache, cache_key, code_version, decode, encode
from core.engine.batched import coefficients, run_sweep
from core.engine.history import HistoryGrid
from core.models.builtin import SharedData, build
from core.kernel.spec import RunSpec, SpecError, make_spec

from .conftest import ROOT


# ---------------------------------------------------------------- models: closed-form gradients
MODEL_CASES = [
    dict(model="linear"), dict(model="linear", bias=True),
    dict(model="two_layer_conv", activation="identity"),
    dict(model="two_layer_conv", activation="relu"),
    dict(model="two_layer_conv", activation="leaky_relu", leak=0.3),
    dict(model="two_layer_conv", activation="tanh"),
    dict(model="mlp", width=5, activation="tanh", train="both"),
    dict(model="mlp", width=4, activation="relu", train="hidden"),
    dict(model="mlp", width=3, activation="leaky_relu", train="output"),
]


@pytest.mark.parametrize("fields", MODEL_CASES, ids=lambda f: "-".join(map(str, f.values())))
def test_pullback_matches_autograd(fields):
    spec = make_spec(dataset="gaussian", n=7, d=6, **fields)
    model = build(spec)
    data = datasets.load(spec)
    features = torch.as_tensor(data.features)
    labels = torch.as_tensor(data.labels)
    shared = model.prepare(features, labels)
    generator = torch.Generator().manual_seed(1)
    theta = torch.randn(3, model.num_params(6), generator=generator, dtype=torch.float64)
    coef = torch.randn(3, 7, generator=generator, dtype=torch.float64)

    outputs, saved = model.outputs(theta, shared)
    pulled = model.pullback(theta, shared, saved, coef)

    theta_var = theta.clone().requires_grad_(True)
    autograd_outputs, _ = model.outputs(theta_var, shared)
    (autograd_outputs * coef).sum().backward()
    expected = theta_var.grad
    if spec.model == "mlp" and spec.train != "both":
        m = spec.width
        expected = expected.clone()
        if spec.train == "hidden":
            expected[:, -m:] = 0
        else:
            expected[:, :-m] = 0
    np.testing.assert_allclose(pulled.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outputs.numpy(), autograd_outputs.detach().numpy(), rtol=1e-13)


def test_two_layer_conv_output_is_the_paper_formula():
    spec = make_spec(model="two_layer_conv", dataset="gaussian", n=4, d=5, activation="identity")
    model = build(spec)
    data = datasets.load(spec)
    theta = np.random.default_rng(0).standard_normal(7)
    u1, u2, w = theta[0], theta[1], theta[2:]
    expected = [u1 * w @ b + u2 * w @ np.roll(b, 1) for b in data.features]
    shared = model.prepare(torch.as_tensor(data.features), torch.as_tensor(data.labels))
    outputs, _ = model.outputs(torch.as_tensor(theta)[None], shared)
    np.testing.assert_allclose(outputs[0].numpy(), expected, rtol=1e-13)


def test_coefficients_follow_science_md():
    margins = torch.tensor([[-3.0, 0.0, 800.0, -800.0]], dtype=torch.float64)
    step = coefficients("gd", margins, 3)
    np.testing.assert_allclose(step.coef.numpy(), np.exp(-np.logaddexp(0, margins.numpy())), rtol=1e-15)
    assert step.scale == 0.25
    normalized = coefficients("normalized_gd", margins * 10, 3)
    assert torch.isfinite(normalized.coef).all()
    assert float(normalized.coef.sum()) == pytest.approx(1.0)
    first = coefficients("batch_perceptron", torch.zeros(1, 4, dtype=torch.float64), 0)
    np.testing.assert_allclose(first.coef.numpy(), 0.5)          # θ̂_1 = (1/(2n)) Σ y_i b_i
    later = coefficients("batch_perceptron", torch.zeros(1, 4, dtype=torch.float64), 1)
    np.testing.assert_allclose(later.coef.numpy(), 1.0)          # m <= 0 counts as wrong
    counted = coefficients("normalized_batch_perceptron", margins, 2)
    np.testing.assert_allclose(counted.coef.numpy(), [[1, 1, 0, 1]])
    np.testing.assert_allclose(float(counted.scale), 1 / 3)


def test_margin_pullback_is_the_gradient_of_the_margins():
    for fields in (dict(model="linear", bias=True), dict(model="two_layer_conv", activation="tanh")):
        spec = make_spec(dataset="gaussian", n=6, d=4, **fields)
        model = build(spec)
        data = datasets.load(spec)
        shared = model.prepare(torch.as_tensor(data.features), torch.as_tensor(data.labels))
        theta = torch.randn(2, model.num_params(4), dtype=torch.float64,
                            generator=torch.Generator().manual_seed(3)).requires_grad_(True)
        coef = torch.rand(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
        margins, saved = model.margins(theta, shared)
        outputs, _ = model.outputs(theta, shared)
        np.testing.assert_allclose(margins.detach().numpy(),
                                   (outputs * shared.labels).detach().numpy(), rtol=1e-13)
        pulled = model.margin_pullback(theta.detach(), shared, saved, coef)
        (margins * coef).sum().backward()
        np.testing.assert_allclose(pulled.detach().numpy(), theta.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- engine
def test_batched_sweep_equals_separate_runs():
    spec = make_spec(model="two_layer_conv", dataset="gaussian", n=30, d=6, algorithm="gd",
                     step_sizes=(0.05, 0.5, 5.0), seeds=(0, 1), max_iters=60, run_to_max=True)
    batched = run_spec(spec, use_cache=False).result
    for record in batched.runs:
        alone = run_spec(spec.single(record.step_size, record.seed), use_cache=False).result.runs[0]
        assert alone.iterations_to_solve == record.iterations_to_solve
        np.testing.assert_allclose(alone.history["loss"], record.history["loss"], rtol=1e-10)
        np.testing.assert_allclose(alone.params, record.params, rtol=1e-10, atol=1e-12)


def test_divergent_runs_are_flagged_without_disturbing_the_others():
    spec = make_spec(model="two_layer_conv", dataset="gaussian", n=20, d=4, algorithm="gd",
                     step_sizes=(0.1, 1e12), seeds=(0,), max_iters=400, run_to_max=True,
                     dtype="float32")
    result = run_spec(spec, use_cache=False).result
    calm, wild = result.runs
    assert wild.diverged and wild.diverged_at is not None and wild.diverged_at <= 400
    assert not calm.diverged
    alone = run_spec(spec.single(0.1, 0), use_cache=False).result.runs[0]
    # float32 matmuls round differently with the batch size; the runs agree to float32 precision
    np.testing.assert_allclose(alone.history["loss"], calm.history["loss"], rtol=1e-5)
    document = result.to_dict()     # JSON: non-finite values become null, never NaN
    assert None in document["runs"][1]["history"]["loss"] or None in document["runs"][1]["history"]["param_norm"]
    result.to_json()                # allow_nan=False would raise on a NaN


def test_history_is_downsampled_evenly_and_keeps_first_solve_last():
    spec = make_spec(dataset="worst_case", n=1000, algorithm="gd", step_sizes=(100.0,),
                     max_iters=5000, history_points=32)
    run = run_spec(spec, use_cache=False).result.runs[0]
    iterations = run.history["iteration"]
    assert iterations[0] == 0 and iterations[-1] == run.last_iteration == run.iterations_to_solve == 308
    assert np.all(np.diff(iterations) > 0)
    assert len(iterations) <= 32 + 3
    gaps = np.diff(iterations[:-1])
    assert gaps.max() == gaps.min()          # evenly spaced apart from the appended last point


def test_run_to_max_continues_after_the_solve():
    spec = make_spec(dataset="two_point", algorithm="gd", step_sizes=(1.0,), max_iters=200,
                     run_to_max=True, tail_points=10)
    run = run_spec(spec, use_cache=False).result.runs[0]
    assert run.last_iteration == 200 and run.iterations_to_solve < 200
    assert run.history["iteration"][-1] == 200
    assert np.all(np.diff(run.history["loss"][-20:]) < 0)      # loss keeps falling after the solve
    np.testing.assert_array_equal(run.tail["iteration"], np.arange(191, 201))
    np.testing.assert_allclose(run.tail["loss"][-1], run.history["loss"][-1])


def test_history_grid_stride_doubling():
    grid = HistoryGrid(8, (1,), torch.float64, "cpu")
    for t in range(100):
        grid.maybe_record(t, torch.tensor([float(t)]))
    iterations, values = grid.numpy()
    assert list(iterations) == list(range(0, 100, 16))
    np.testing.assert_array_equal(values[:, 0], iterations)


def test_same_spec_twice_is_bit_identical():
    spec = make_spec(model="mlp", dataset="gaussian", n=40, d=5, width=6, activation="tanh",
                     step_sizes=(0.3, 3.0), seeds=(0, 7), max_iters=80, run_to_max=True)
    first = run_spec(spec, use_cache=False).result
    second = run_spec(spec, use_cache=False).result
    for a, b in zip(first.runs, second.runs):
        for key in a.history:
            np.testing.assert_array_equal(a.history[key], b.history[key])


def test_generalized_perceptron_on_two_homogeneous_model_keeps_the_init_norm():
    from core.analysis.theory import minimal_step_size
    spec = make_spec(model="two_layer_conv", dataset="minimal", d=64, algorithm="generalized_perceptron",
                     step_sizes=(minimal_step_size(64, 0.7, 1.0),), seeds=(0, 1, 2), init_scale=2.0,
                     max_iters=500)
    for run in run_spec(spec, use_cache=False).result.runs:
        assert run.iterations_to_solve is not None
        np.testing.assert_allclose(run.history["param_norm"][1:], run.history["param_norm"][0], rtol=1e-12)


def test_memory_guard_refuses_with_a_named_field(monkeypatch):
    from core.engine import memory

    monkeypatch.setattr(memory, "memory_budget", lambda device: 1000)
    spec = make_spec(dataset="gaussian", n=500, d=400, step_sizes=(1.0,))
    with pytest.raises(SpecError) as error:
        run_spec(spec, use_cache=False)
    assert "MiB" in str(error.value) and "budget" in str(error.value)
    assert error.value.field in ("d", "n", "step_size")


# ---------------------------------------------------------------- specs
def test_canonical_round_trip_and_ignored_fields():
    spec = make_spec(model="two_layer_conv", dataset="gaussian", n=50, d=8, algorithm="gd",
                     step_sizes=(0.1, 1e3, 2.5e-7), seeds=(0, 3), activation="leaky_relu", leak=0.2,
                     margin=0.3, data_seed=4, max_iters=123, init_scale=0.5)
    assert RunSpec.from_query(spec.canonical()) == spec
    assert RunSpec.from_query(spec.to_query()) == spec
    # a field that does not apply to the spec does not change its key
    assert spec.replace(width=99).canonical() == spec.canonical()
    assert spec.replace(margin=0.31).canonical() != spec.canonical()
    assert "step_size=0.1,1000,2.5e-07" in spec.canonical()
    worst = make_spec(dataset="worst_case", n=10)
    assert worst.d == 2 and RunSpec.from_query(worst.canonical()) == worst


@pytest.mark.parametrize("fields, field", [
    (dict(step_sizes=(-1.0,)), "step_size"), (dict(step_sizes=(0.0,)), "step_size"),
    (dict(step_sizes=(float("nan"),)), "step_size"), (dict(step_sizes=()), "step_size"),
    (dict(model="resnet"), "model"), (dict(dataset="worst_case", d=3), "d"),
    (dict(dataset="two_point", n=5), "n"), (dict(max_iters=0), "max_iters"),
    (dict(dataset="digits", classes=(3, 3)), "classes"), (dict(dataset="csv"), "path"),
    (dict(dataset="minimal", d=5, mu=0.0), "mu"), (dict(seeds=(-1,)), "seed"),
    (dict(model="two_layer_conv", algorithm="batch_perceptron"), "algorithm"),
    (dict(dataset="breast_cancer", n=600), "n"), (dict(step_sizes=tuple([1.0] * 5000)), "step_size"),
])
def test_invalid_specs_name_their_field(fields, field):
    with pytest.raises(SpecError) as error:
        make_spec(**fields)
    assert error.value.field == field
    assert "\n" not in str(error.value)


def test_from_query_rejects_unknown_and_malformed():
    with pytest.raises(SpecError, match="unknown field"):
        RunSpec.from_query("model=linear&colour=blue")
    with pytest.raises(SpecError, match="step_size"):
        RunSpec.from_query("step_size=1,abc")


# ---------------------------------------------------------------- datasets
def test_fixed_datasets_are_the_papers():
    b, y = datasets.worst_case(5)
    np.testing.assert_array_equal(b, [[0.5, -1]] + [[-0.5, -1]] * 4)
    np.testing.assert_array_equal(y, [1, -1, -1, -1, -1])
    b, y = datasets.two_point()
    np.testing.assert_array_equal(b, [[1, -1], [-1, -4]])
    b, y = datasets.minimal(4, 0.7)
    np.testing.assert_array_equal(b, [[1, 1, 1, 1], [1.7, 1, 1, 1]])
    np.testing.assert_array_equal(y, [1, -1])


def test_gaussian_has_the_requested_margin():
    b, y = datasets.gaussian(300, 10, 0.25, seed=2)
    rng = np.random.default_rng(2)
    direction = rng.standard_normal(10)
    direction /= np.linalg.norm(direction)
    assert np.min(y * (b @ direction)) >= 0.25 - 1e-12
    assert set(np.unique(y)) == {-1.0, 1.0}


def test_bundled_real_datasets():
    cancer = datasets.load(make_spec(dataset="breast_cancer", n=100))
    assert cancer.features.shape == (100, 30)
    np.testing.assert_allclose(datasets.breast_cancer(569)[0].mean(0), 0, atol=1e-12)
    digits = datasets.load(make_spec(dataset="digits", classes=(3, 8)))
    assert digits.d == 64 and 300 < digits.n < 400 and digits.features.max() <= 1.0
    with pytest.raises(SpecError, match="n:"):
        datasets.load(make_spec(dataset="digits", classes=(3, 8), n=5000))


def write_cifar_batch(path, images, labels):
    with open(path, "wb") as handle:
        pickle.dump({b"data": images, b"labels": list(labels), b"batch_label": b"x"}, handle)


def test_cifar10_loader_reads_python_batches(tmp_path):
    rng = np.random.default_rng(0)
    write_cifar_batch(tmp_path / "data_batch_1", rng.integers(0, 256, (20, 3072), dtype=np.uint8),
                      [0, 1, 2, 3] * 5)
    write_cifar_batch(tmp_path / "data_batch_2", rng.integers(0, 256, (20, 3072), dtype=np.uint8),
                      [1, 0, 5, 5] * 5)
    spec = make_spec(dataset="cifar10", path=str(tmp_path), classes=(0, 1), n=15)
    data = datasets.load(spec)
    assert data.features.shape == (15, 3072) and 0 <= data.features.min() and data.features.max() <= 1
    assert (data.labels == 1).sum() == 8 and data.fingerprint   # 5 + 3 of class 1
    result = run_spec(spec.replace(step_sizes=(1.0,), max_iters=5), use_cache=False).result
    assert len(result.runs) == 1


def test_cifar10_loader_refuses_code_in_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))
    with open(tmp_path / "data_batch_1", "wb") as handle:
        pickle.dump({b"data": Evil(), b"labels": []}, handle)
    with pytest.raises(SpecError, match="path: .*not a CIFAR-10"):
        datasets.load(make_spec(dataset="cifar10", path=str(tmp_path)))
    with pytest.raises(SpecError, match="path"):
        datasets.load(make_spec(dataset="cifar10", path=str(tmp_path / "missing")))


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"a,b,label\n", "no rows"), (b"a,label\n1,x\nnan,y\n", "'nan' .* not a finite"),
    (b"a,label\n1,x\nhello,y\n", "'hello' .* not a finite"), (b"a,label\n1,x\n2,x\n", "single class"),
    (b"a,label\n1,x\n2,y\n3,z\n", "3 classes"), (b"a,label\n1,x\ninf,y\n", "'inf' .* not a finite"),
    (b"a,label\n1,x\n,y\n", "missing value"),
    (b"\xff\xfe\x00a", "UTF-8"), (b"label\n1\n2\n", "feature column"),
])
def test_csv_errors_are_one_line(content, message):
    with pytest.raises(SpecError) as error:
        datasets.parse_csv(content)
    assert re.search(message, str(error.value)) and "\n" not in str(error.value)


def test_csv_dataset_runs(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("x1,x2,species\n1,2,cat\n-1,-2,dog\n2,1,cat\n-2,-1,dog\n")
    spec = make_spec(dataset="csv", path=str(path), label_column="species", step_sizes=(1.0,))
    data = datasets.load(spec)
    np.testing.assert_array_equal(data.labels, [-1, 1, -1, 1])        # sorted: cat -1, dog +1
    assert run_spec(spec, use_cache=False).result.runs[0].iterations_to_solve == 1
    with pytest.raises(SpecError, match="label_column"):
        datasets.load(spec.replace(label_column="kind"))


# ---------------------------------------------------------------- cache
def test_cache_hit_returns_identical_arrays(tmp_path):
    spec = make_spec(dataset="gaussian", n=50, d=5, step_sizes=(0.5, 50.0), max_iters=100,
                     tail_points=4, run_to_max=True)
    first = run_spec(spec, cache_dir=str(tmp_path))
    second = run_spec(spec, cache_dir=str(tmp_path))
    assert not first.cached and second.cached
    for a, b in zip(first.result.runs, second.result.runs):
        assert a.summary() == b.summary()
        for key in a.history:
            np.testing.assert_array_equal(a.history[key], b.history[key])
        np.testing.assert_array_equal(a.params, b.params)
        np.testing.assert_array_equal(a.tail["loss"], b.tail["loss"])


def test_corrupt_or_foreign_entries_are_recomputed(tmp_path):
    spec = make_spec(dataset="two_point", step_sizes=(1.0,), max_iters=20)
    first = run_spec(spec, cache_dir=str(tmp_path))
    cache = ResultCache(str(tmp_path))
    key = first.result.key
    for garbage in (b"not an npz", encode(first.result)[:50], {"a": 1}, 42):
        cache._store.set(key, garbage)
        again = run_spec(spec, cache_dir=str(tmp_path))
        assert not again.cached
        np.testing.assert_array_equal(again.result.runs[0].history["loss"],
                                      first.result.runs[0].history["loss"])
        assert run_spec(spec, cache_dir=str(tmp_path)).cached
    other = run_spec(spec.replace(step_sizes=(2.0,)), cache_dir=str(tmp_path)).result
    cache._store.set(key, encode(other))              # an entry stored under the wrong key
    assert not run_spec(spec, cache_dir=str(tmp_path)).cached


def test_cache_key_changes_with_code_version_device_and_data():
    spec = make_spec(dataset="two_point")
    base = cache_key(spec, "cpu", "", "v1")
    assert cache_key(spec, "cpu", "", "v2") != base
    assert cache_key(spec, "cuda", "", "v1") != base
    assert cache_key(spec, "cpu", "abc", "v1") != base
    assert cache_key(spec.replace(max_iters=7), "cpu", "", "v1") != base


def test_code_version_covers_the_compute_code_but_not_comments_or_docstrings(tmp_path):
    package = tmp_path / "pkg"
    for folder in ("engine", "models", "report", "sub"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "engine" / "batched.py").write_text("def run():\n    from pkg.a import f\n    return f()\n")
    (package / "a.py").write_text('"""Doc."""\nfrom pkg.sub import b\nX = 1  # a comment\n\n\n'
                                  'def f():\n    """Doc."""\n    return X\n')
    (package / "sub" / "b.py").write_text("Y = 2\n")
    (package / "report" / "plots.py").write_text("COLOUR = 'red'\n")
    base = code_version(package)
    (package / "a.py").write_text('"""Other doc."""\n# new comment\nfrom pkg.sub import b\nX = 1\n\n\n'
                                  'def f():\n    return X\n')
    assert code_version(package) == base
    (package / "report" / "plots.py").write_text("COLOUR = 'blue'\n")     # not compute code
    assert code_version(package) == base
    (package / "sub" / "b.py").write_text("Y = 3\n")                       # imported by what computes
    changed = code_version(package)
    assert changed != base
    (package / "models" / "new.py").write_text("Z = 0\n")                  # a plug-in counts, unlisted
    assert code_version(package) != changed


@pytest.mark.slow
def test_the_cache_key_ignores_a_plot_change_and_follows_an_engine_change(tmp_path):
    import shutil

    from tests.conftest import ROOT

    copy = tmp_path / "core"
    shutil.copytree(ROOT / "core", copy, ignore=shutil.ignore_patterns("__pycache__"))
    spec = make_spec(dataset="two_point")
    key = lambda: cache_key(spec, "cpu", "", code_version(copy))    # noqa: E731
    base = key()
    assert base == cache_key(spec, "cpu", "", code_version())
    for presentation in ("report/plots.py", "report/display.py", "claims/catalog.py", "cli.py"):
        path = copy / presentation
        path.write_text(path.read_text() + "\nEXTRA_COLOUR = '#123456'\n")
        assert key() == base, presentation
    for compute in ("engine/batched.py", "engine/shallow.py", "models/builtin.py", "algorithms/builtin.py",
                    "datasets/builtin.py", "kernel/spec.py"):
        path = copy / compute
        original = path.read_text()
        path.write_text(original + "\nEXTRA_CONSTANT = 1\n")
        assert key() != base, compute
        path.write_text(original)
    assert key() == base


def test_encode_decode_holds_no_pickles():
    spec = make_spec(dataset="two_point", step_sizes=(1.0,), max_iters=5)
    result = run_spec(spec, use_cache=False).result
    result.meta["key"] = "k"
    blob = encode(result)
    assert blob[:2] == b"PK"          # an npz (zip) archive
    assert decode(blob).runs[0].summary() == result.runs[0].summary()


def test_float32_runs_and_has_its_own_key():
    spec = make_spec(dataset="worst_case", n=100, algorithm="normalized_gd", step_sizes=(1.0,),
                     dtype="float32", max_iters=500)
    run = run_spec(spec, use_cache=False).result.runs[0]
    assert run.iterations_to_solve is not None and math.isfinite(run.final_loss)
    assert spec.canonical() != spec.replace(dtype="float64").canonical()


def test_allocator_tuning_is_on_by_default_and_can_be_turned_off():
    """glibc's mmap/trim thresholds are raised once per process (page faults per step would
    otherwise double the CNN sweep's time); GDX_MALLOC_TUNING=0 leaves the allocator alone."""
    import subprocess
    import sys

    code = "from core.engine.runtime import tune_allocator as t; print(t(), t())"
    for setting, expected in (("1", "True True"), ("0", "False False")):
        env = dict(os.environ, GDX_MALLOC_TUNING=setting)
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        assert out == expected
