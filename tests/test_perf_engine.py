"""Performance work must not change results: the CPU fast path of the engine equals
the per-step bookkeeping a GPU uses, bit for bit; the benchmarks print one JSON object each; the
README table is generated from those objects. No test here asserts a wall-clock time."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import core.engine.batched as engine
from core.datasets import builtin as datasets
from core.engine.history import HistoryGrid
from core.kernel.spec import make_spec

from .conftest import ROOT

SPECS = [
    dict(dataset="gaussian", n=120, d=10, step_sizes=(0.1, 3.0, 1e4), seeds=(0, 1), max_iters=150,
         tail_points=8),
    dict(dataset="gaussian", n=120, d=10, step_sizes=(0.5, 50.0), max_iters=200, run_to_max=True,
         history_points=16, algorithm="normalized_batch_perceptron"),
    dict(dataset="gaussian", n=60, d=6, model="two_layer_conv", activation="relu",
         step_sizes=(0.1, 5.0, 1e3), max_iters=150, algorithm="generalized_perceptron"),
]


def runs(result):
    return [(r.iterations_to_solve, r.diverged_at, r.last_iteration, r.history, r.params, r.tail)
            for r in result.runs]


def assert_same(first, second):
    for a, b in zip(runs(first), runs(second)):
        assert a[:3] == b[:3]
        assert a[3].keys() == b[3].keys()
        for key in a[3]:
            np.testing.assert_array_equal(a[3][key], b[3][key])
        for x, y in ((a[4], b[4]),) + tuple((a[5][k], b[5][k]) for k in (a[5] or {})):
            np.testing.assert_array_equal(x, y)


@pytest.mark.slow
@pytest.mark.parametrize("fields", SPECS, ids=range(len(SPECS)))
def test_host_side_checks_equal_the_per_step_device_bookkeeping(fields, monkeypatch):
    spec = make_spec(**fields)
    data = datasets.load(spec)
    fast = engine.run_sweep(spec, data)
    original = engine.ClassifierDynamics.__init__

    def device_like(self, sweep):
        original(self, sweep)
        self.host_checks = False          # what a GPU does: no host test, tensors every step
        self.everyone_moves = False

    monkeypatch.setattr(engine.ClassifierDynamics, "__init__", device_like)
    assert_same(fast, engine.run_sweep(spec, data))


def test_history_slot_keeps_the_grid_of_maybe_record():
    written, recorded = HistoryGrid(8, (2,), torch.float64, "cpu"), HistoryGrid(8, (2,), torch.float64, "cpu")
    for t in range(100):
        values = torch.tensor([t, -t], dtype=torch.float64)
        recorded.maybe_record(t, values)
        row = written.slot(t) if written.due(t) else None
        if row is not None:
            row.copy_(values)
    assert written.iterations == recorded.iterations
    np.testing.assert_array_equal(written.numpy()[1], recorded.numpy()[1])


def test_readme_table_from_benchmark_objects(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import readme_table
    finally:
        sys.path.pop(0)
    objects = [
        {"benchmark": "engine", "seconds": {"engine": 1.0, "bare": 0.8},
         "ratios": {"engine_share_of_bare_speed": 0.8, "gap_companion_overhead": 0.1},
         "device": "cpu", "threads": 2, "torch": "2.x", "date": "2026-11-30"},
        {"benchmark": "pages", "seconds": {"home": 0.01, "dynamics": 0.4}, "ratios": {},
         "device": "cpu", "threads": 1, "torch": "2.x", "date": "2026-11-30"},
    ]
    source = tmp_path / "results.json"
    source.write_text("\n".join(json.dumps(o) for o in objects))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- benchmarks:start -->\nold\n<!-- benchmarks:end -->\nrest\n")
    readme_table.main(["--update", str(readme), str(source)])
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro") and text.endswith("rest\n")
    assert "| 0.80 | >= 0.85 | not met |" in text and "| 0.10 | <= 0.30 | met |" in text
    assert "`dynamics`" in text and "| 400 | <= 150 | not met |" in text


@pytest.mark.slow
def test_every_benchmark_prints_one_json_object():
    tiny = {
        "bench_engine.py": ["--steps", "2", "--iters", "5", "--n", "50", "--d", "5", "--repeat", "1",
                            "--no-per-run"],
        "bench_cnn.py": ["--steps", "2", "--iters", "5", "--n", "20", "--repeat", "1", "--no-sequential",
                         "--sharpness-every", "2", "--sharpness-samples", "1"],
        "bench_scaling.py": ["--dims", "16,32", "--seeds", "2", "--max-iters", "200"],
        "profile_engine.py": ["--steps", "2", "--iters", "5", "--n", "50", "--d", "5", "--repeat", "1"],
        "profile_sharpness.py": ["--n", "20", "--steps", "2", "--iters", "6", "--every", "2", "--repeat", "1"],
    }
    for script, arguments in tiny.items():
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--format", "json",
                              *arguments], capture_output=True, text=True, check=True, cwd=ROOT).stdout
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1, (script, out)
        document = json.loads(lines[0])
        for key in ("benchmark", "seconds", "ratios", "device", "threads", "torch"):
            assert key in document, (script, key)
        assert all(isinstance(v, float) for v in document["seconds"].values())
