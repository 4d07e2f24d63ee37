"""Robustness: fuzzed specs, degenerate data, memory refusals, cache faults and concurrency,
determinism. A summary of the fuzzing goes to artifacts/fuzz_summary.json."""
import collections
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.api import run_spec
from core.store.cache import ResultCache, encode
from core.kernel.registry import dataset_kind
from core.kernel.spec import SpecError, make_spec, parse_field
from core.kernel.fields import ACTIVATIONS, ALGORITHMS, DATASETS, MODELS

from .conftest import ROOT

DEGENERATE_CSV = {
    "single_class": "x,y,label\n1,2,a\n3,4,a\n",
    "duplicates": "x,y,label\n1,1,a\n1,1,b\n1,1,a\n1,1,b\n",
    "all_zero": "x,y,label\n0,0,a\n0,0,b\n0,0,a\n",
    "origin_point": "x,y,label\n0,0,a\n1,2,b\n-1,-2,a\n",
    "huge_values": "x,y,label\n1e300,-1e300,a\n-1e300,1e300,b\n1e299,1e300,a\n",
    "nan_cell": "x,y,label\n1,nan,a\n2,3,b\n",
    "text_cell": "x,y,label\n1,two,a\n2,3,b\n",
    "three_classes": "x,label\n1,a\n2,b\n3,c\n",
    "empty": "",
    "ok": "x,y,label\n1,2,a\n-1,-2,b\n2,1,a\n-2,-1,b\n",
}
SUMMARY = {"specs": 0, "ran": 0, "refused": collections.Counter(), "diverged_runs": 0, "crashes": 0,
           "example_messages": {}}


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv")
    paths = {}
    for name, text in DEGENERATE_CSV.items():
        path = folder / f"{name}.csv"
        path.write_text(text)
        paths[name] = str(path)
    return paths


CORRUPTIONS = {
    "model": ["bogus"], "dataset": ["mnist"], "algorithm": ["adam"], "dtype": ["float16"],
    "step_sizes": [(), (0.0,), (-1.0,), (math.nan,), (math.inf,), (1e13,), (1e-13,)],
    "seeds": [(-1,), (2**33,)], "max_iters": [0, -5, 2_000_000], "init_scale": [0.0, -1.0, 1e8],
    "history_points": [4], "n": [0, 1], "d": [0, -3], "tail_points": [-1, 20_000],
    "classes": [(3,), (3, 3), (-1, 2), (1, 10)], "width": [0], "kernel_size": [0, 16],
    "phi": [math.nan], "tol": [-1.0], "activation": ["softmax"], "mu": [0.0, -1.0],
    "margin": [-0.5], "leak": [2.0],
}


@st.composite
def raw_specs(draw, csv_names):
    """A valid-looking spec over every model, dataset and algorithm, with a third of them
    given one bad field; sizes from tiny to far over the memory budget."""
    model = draw(st.sampled_from(MODELS))
    fitting = {"shallow_linear": ("gd", "gradient_flow"), "linear": ALGORITHMS[:5]}.get(
        model, ("gd", "normalized_gd", "generalized_perceptron"))
    datasets = ("digits", "cifar10") if model == "cnn" else DATASETS
    fields = {
        "model": model,
        "dataset": draw(st.sampled_from(datasets)),
        "algorithm": draw(st.sampled_from(fitting)),
        "step_sizes": tuple(draw(st.lists(st.floats(min_value=-12, max_value=12).map(lambda e: 10.0**e),
                                          min_size=1, max_size=3))),
        "seeds": tuple(draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=2))),
        "max_iters": draw(st.integers(1, 25)),
        "dtype": draw(st.sampled_from(["float64", "float32"])),
        "init_scale": draw(st.sampled_from([1.0, 1e-3, 30.0, 1e5])),
        "activation": draw(st.sampled_from(("",) + ACTIVATIONS)),
        "run_to_max": draw(st.booleans()),
        "tail_points": draw(st.sampled_from([0, 0, 3])),
        "history_points": draw(st.sampled_from([8, 512])),
        "mu": draw(st.sampled_from([0.7, 1.0, 1e-6])),
        "margin": draw(st.sampled_from([0.1, 0.0, 100.0])),
    }
    size = draw(st.sampled_from(["small", "small", "small", "small", "huge", "none"]))
    if size == "small":
        fields["d"] = draw(st.integers(1, 12)) if dataset_kind(fields["dataset"]).fixed_shape == (None, None) else None
        fields["n"] = draw(st.integers(3, 24))
    elif size == "huge":
        fields["d"] = draw(st.sampled_from([200_000, 1_000_000]))
        fields["n"] = draw(st.sampled_from([5000, 200_000]))
    if fields["dataset"] == "csv":
        fields["path"] = csv_names[draw(st.sampled_from(sorted(csv_names)))]
        fields.pop("n", None), fields.pop("d", None)
    if fields["dataset"] == "cifar10":
        fields["path"] = "/nonexistent-cifar"
    if fields["dataset"] in ("digits", "cifar10"):
        fields["classes"] = tuple(draw(st.lists(st.integers(0, 9), min_size=2, max_size=2, unique=True)))
    if fields["model"] == "mlp":
        fields["width"] = draw(st.integers(1, 6))
    if fields["model"] == "cnn":
        fields["kernel_size"] = draw(st.integers(1, 5))
        fields["channels"] = draw(st.integers(1, 3))
        fields["n"] = draw(st.integers(2, 12))
        fields.pop("d", None)
    if fields["model"] == "shallow_linear":
        fields["phi"] = draw(st.sampled_from([1.0, -2.0, 0.0, 1e5]))
        fields["init"] = draw(st.sampled_from(["", "explicit", "random", "fig3"]))
        fields["tol"] = draw(st.sampled_from([1e-10, 0.0, 1.0]))
        if fields["init"] in ("", "explicit"):
            length = draw(st.integers(1, 3))
            floats = st.floats(-3, 3, allow_nan=False)
            fields["a"] = tuple(draw(st.lists(floats, min_size=length, max_size=length)))
            fields["b"] = tuple(draw(st.lists(floats, min_size=length, max_size=length)))
            fields.pop("d", None)
    if fields["model"] != "cnn" and draw(st.integers(0, 9)) == 0:
        fields["sharpness_every"] = 5
    if draw(st.integers(0, 2)) == 0:
        name = draw(st.sampled_from(sorted(CORRUPTIONS)))
        fields[name] = draw(st.sampled_from(CORRUPTIONS[name]))
    return fields


def outcome_is_clean(result):
    text = result.to_json()                       # allow_nan=False: no NaN/inf tokens
    document = json.loads(text)
    csv_text = result.to_csv()
    assert "nan" not in csv_text.lower().replace("nan_", "") and "inf" not in csv_text.split("\n", 1)[-1]
    return document


LIST_STRINGS = st.one_of(
    st.sampled_from(["1:inf:x2", "1:1e12:x1.0000000001", "1,2,...,1e12", "0,1,...,1e15",
                     "0:100000000", "1:10:x1", "1:10:xnan", "１,2", "0.1,1,10", "1e-3:1e2:log5",
                     "1,2,...,16", "0:3", "-1:5", "", "1;2", "x", "1e400"]),
    st.builds(lambda a, b, r: f"{a}:{b}:{r}", st.integers(-5, 10**6), st.integers(-5, 10**15),
              st.sampled_from(["x2", "x1.5", "x1.0000000001", "log3", "log100000", "xinf"])),
    st.text(alphabet="0123456789.,:x-e ", max_size=16),
)


@st.composite
def specs_with_list_strings(draw, csv_names):
    """raw_specs, with step sizes or seeds often given as the list/range text of a URL."""
    fields = draw(raw_specs(csv_names))
    if draw(st.integers(0, 2)) == 0:
        fields[draw(st.sampled_from(["step_sizes", "seeds"]))] = draw(LIST_STRINGS)
    return fields


@pytest.mark.slow
def test_fuzzed_specs_run_or_are_refused_in_one_line(csv_files, monkeypatch, tmp_path):
    monkeypatch.setenv("GDX_MEMORY_FRACTION", "0.01")       # ~240 MiB here: exercise the guard

    @settings(suppress_health_check=list(HealthCheck))   # budget: the dev/ci profile (conftest)
    @given(specs_with_list_strings(csv_files))
    def check(fields):
        SUMMARY["specs"] += 1
        started = time.process_time()      # CPU seconds: a loaded machine does not count
        try:
            for name in ("step_sizes", "seeds"):
                if isinstance(fields.get(name), str):         # as a URL or a text box gives it
                    fields[name] = parse_field(name, fields[name])
            spec = make_spec(**fields)
            outcome = run_spec(spec, use_cache=False)
        except SpecError as error:
            message = str(error)
            assert "\n" not in message and error.field and message.startswith(error.field)
            SUMMARY["refused"][error.field] += 1
            SUMMARY["example_messages"].setdefault(error.field, message)
            return
        except Exception:
            SUMMARY["crashes"] += 1
            raise
        finally:
            assert time.process_time() - started < 10, fields      # no runaway loops
        SUMMARY["ran"] += 1
        document = outcome_is_clean(outcome.result)
        assert len(document["runs"]) == spec.batch_size
        for run in outcome.result.runs:
            SUMMARY["diverged_runs"] += int(run.diverged)
            if not run.diverged and "loss" in run.history:
                assert np.isfinite(run.history["loss"]).all()

    check()
    summary = dict(SUMMARY, refused=dict(SUMMARY["refused"].most_common()))
    (tmp_path / "fuzz_summary.json").write_text(json.dumps(summary, indent=1))
    print("fuzz summary:", json.dumps(summary))
    budget = settings().max_examples                  # the dev or ci profile (conftest)
    assert SUMMARY["specs"] >= budget and SUMMARY["crashes"] == 0
    assert SUMMARY["ran"] >= budget // 10 and sum(SUMMARY["refused"].values()) >= budget // 10


@pytest.mark.slow
def test_huge_step_sizes_diverge_as_results_not_errors():
    spec = make_spec(model="mlp", dataset="gaussian", n=20, d=4, width=4, activation="relu",
                     step_sizes=(1e-3, 1e12), max_iters=200, run_to_max=True)
    calm, wild = run_spec(spec, use_cache=False).result.runs
    assert wild.diverged and not calm.diverged
    document = json.loads(run_spec(spec, use_cache=False).result.to_json())
    assert document["runs"][1]["diverged"] is True


def test_shallow_run_at_the_origin_exports_its_infinite_bound_as_null():
    """Found by the fuzzer: a = b = 0 with Φ = 0 sits at a minimum, so Theorem 1 bounds no
    step size (η* = ∞). The export must stay valid JSON and say null, the cache keeps ∞."""
    spec = make_spec(model="shallow_linear", algorithm="gd", step_sizes=(1.0,), max_iters=1,
                     phi=0.0, a=(0.0,), b=(0.0,), sharpness_every=5)
    outcome = run_spec(spec, use_cache=True)
    assert math.isinf(outcome.result.runs[0].extras["theorem1_step_bound"])
    document = json.loads(outcome.result.to_json())
    assert document["runs"][0]["theorem1_step_bound"] is None
    again = run_spec(spec, use_cache=True)
    assert again.cached and math.isinf(again.result.runs[0].extras["theorem1_step_bound"])


# ---------------------------------------------------------------- cache faults and concurrency
def _hammer(directory, worker, rounds, queue):
    """Write and read shared and private keys; report any wrong or lost value."""
    from core.store.cache import ResultCache

    cache = ResultCache(directory)
    specs = [make_spec(dataset="two_point", step_sizes=(float(k + 1),), max_iters=3) for k in range(4)]
    results = [run_spec(spec, use_cache=False).result for spec in specs]
    problems, operations = [], 0
    for round_ in range(rounds):
        for index, result in enumerate(results):
            shared_key = f"shared-{index}"
            private_key = f"private-{worker}-{round_}-{index}"
            for key in (shared_key, private_key):
                cache.put(key, result)
                back = cache.get(key)
                operations += 2
                if back is None or back.runs[0].step_size != result.runs[0].step_size:
                    problems.append(key)
    for round_ in range(rounds):
        for index in range(len(results)):
            back = cache.get(f"private-{worker}-{round_}-{index}")
            operations += 1
            if back is None or back.runs[0].step_size != float(index + 1):
                problems.append(f"lost private-{worker}-{round_}-{index}")
    queue.put((problems, operations))


@pytest.mark.slow
def test_two_processes_hammering_the_cache_lose_nothing(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_hammer, args=(str(tmp_path), w, 20, queue)) for w in range(2)]
    for worker in workers:
        worker.start()
    reports = [queue.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    problems = [p for report in reports for p in report[0]]
    operations = sum(report[1] for report in reports)
    assert operations >= 600 and problems == []
    assert len(ResultCache(str(tmp_path))) == 4 + 2 * 20 * 4


def test_cache_size_limit_evicts_old_entries(tmp_path):
    cache = ResultCache(str(tmp_path), size_limit=200_000)
    spec = make_spec(dataset="gaussian", n=50, d=5, step_sizes=(1.0,), max_iters=50, run_to_max=True)
    result = run_spec(spec, use_cache=False).result
    size = len(encode(result))
    for index in range(60):
        cache.put(f"k{index}", result)
    assert cache.volume() < 200_000 + 10 * size
    assert len(cache) < 60
    assert cache.get("k59") is not None          # the newest survive, intact
    assert cache.get("k59").runs[0].summary() == result.runs[0].summary()


# ---------------------------------------------------------------- determinism across processes
@pytest.mark.slow
def test_same_spec_in_two_processes_is_bit_identical(tmp_path):
    args = [sys.executable, "-m", "core", "run", "--model", "two_layer_conv", "--dataset", "gaussian",
            "--n", "40", "--d", "6", "--step-size", "0.1,3", "--seed", "0,1", "--max-iters", "60",
            "--run-to-max", "--format", "json", "--no-cache"]
    outputs = []
    for _ in range(2):
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, GDX_CACHE_DIR=str(tmp_path)))
        assert done.returncode == 0, done.stderr
        outputs.append(json.loads(done.stdout)["runs"])
    assert outputs[0] == outputs[1]
