"""The memory guard's size estimates against the measured peak (issue 20 §3): every model and
solver is checked against the budget before it starts, and its estimate is at least the
resident memory the run then takes, and at most 4x of it.

The peak is measured in a fresh process: after a tiny warm-up run of the same kind (imports,
allocator pools), the kernel's high-water mark is reset (/proc/self/clear_refs) and the
growth of VmHWM over VmRSS during the real run is the measured peak."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.engine import memory
from core.api import run_spec
from core.kernel.errors import SpecError
from core.kernel.spec import make_spec, validate
from tests.browser_helpers import ROOT

MEASURE = r"""
import json, os, sys
import torch
torch.set_num_threads(1)
from core.api import run_spec
from core.engine.memory import estimate_memory
from core.kernel.spec import make_spec, validate

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(field))

fields = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(sys.argv[1]).items()}
small = dict(fields, max_iters=3, **{k: v for k, v in (("n", 20), ("d", 4), ("width", 2))
                                     if k in fields})
run_spec(validate(make_spec(**small)), use_cache=False)
spec = validate(make_spec(**fields))
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")                      # reset the high-water mark
before = status("VmRSS:")
estimate = estimate_memory(spec, spec.n or 0, spec.d) if spec.d is not None else None
outcome = run_spec(spec, use_cache=False)
if estimate is None:
    from core.datasets import builtin as datasets
    dataset = datasets.load(spec)
    estimate = estimate_memory(spec, dataset.n, dataset.d)
print(json.dumps({"estimate": estimate, "peak": status("VmHWM:") - before}))
"""

# One spec per model and solver, each large enough (tens to hundreds of MB) that the
# interpreter's own noise does not count.
CASES = {
    "gd_linear": {"dataset": "gaussian", "n": 20000, "d": 500, "step_sizes": [1, 2, 3, 4],
                  "max_iters": 20},
    "gd_float32": {"dataset": "gaussian", "n": 20000, "d": 500, "step_sizes": [1, 2, 3, 4],
                   "max_iters": 20, "dtype": "float32"},
    "two_layer_conv": {"model": "two_layer_conv", "dataset": "gaussian", "n": 5000, "d": 1000,
                       "step_sizes": [1, 2, 3, 4, 5, 6, 7, 8], "max_iters": 10},
    "mlp": {"model": "mlp", "dataset": "gaussian", "n": 2000, "d": 200, "width": 64,
            "step_sizes": [1, 2], "max_iters": 20},
    "mlp_sharpness": {"model": "mlp", "dataset": "gaussian", "n": 2000, "d": 100, "width": 256,
                      "step_sizes": [1, 2], "max_iters": 10, "sharpness_every": 5},
    "cnn": {"model": "cnn", "dataset": "digits", "classes": [3, 8], "n": 300, "channels": 16,
            "step_sizes": [1, 2], "max_iters": 20},
    "cnn_two_layers": {"model": "cnn", "dataset": "digits", "classes": [3, 8], "n": 300,
                       "channels": 16, "conv_layers": 2, "readout": "linear",
                       "step_sizes": [1, 2], "max_iters": 10},
    "shallow_gd_orbit": {"model": "shallow_linear", "init": "random", "d": 50000,
                         "step_sizes": [0.001, 0.002], "seeds": [0, 1], "max_iters": 100,
                         "phi": 1, "tail_points": 50},
    "gradient_flow": {"model": "shallow_linear", "algorithm": "gradient_flow", "init": "random",
                      "d": 20000, "step_sizes": [0.001, 0.002], "seeds": [0, 1],
                      "max_iters": 1000, "phi": 1, "history_points": 256},
}


def measure(fields: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), GDX_MALLOC_TUNING="1")
    done = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(fields)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_estimate_covers_the_measured_peak_within_4x(name):
    numbers = measure(CASES[name])
    estimate, peak = numbers["estimate"], numbers["peak"]
    print(f"{name}: estimate {estimate / 2**20:.0f} MiB, measured peak {peak / 2**20:.0f} MiB "
          f"({estimate / peak:.2f}x)")
    assert peak > 8 * 2**20, "the case is too small to measure"
    assert peak <= estimate <= 4 * peak, (name, estimate, peak)


def test_gradient_flow_at_d_100000_is_refused_by_name_on_a_240_mb_budget(monkeypatch):
    monkeypatch.setattr(memory, "memory_budget", lambda device: 240 * 2**20)
    spec = make_spec(model="shallow_linear", algorithm="gradient_flow", init="random", d=100_000,
                     step_sizes=(0.05,), max_iters=1000, history_points=2048, phi=1.0)
    with pytest.raises(SpecError) as refused:
        run_spec(spec, use_cache=False)
    message = str(refused.value)
    assert message.startswith("d: ") and "GiB" in message and "budget of 0.23 GiB" in message, message
    # Negative control: the same flow at d = 100 fits and runs.
    small = run_spec(spec.replace(d=100), use_cache=False).result
    assert small.runs[0].params.shape[1] == 200


def test_the_flow_estimate_counts_every_kept_state():
    """The states every run keeps (rows x points x 2d float64) are a lower bound of the
    estimate, which was 6 MiB for 3.3 GB of states before."""
    spec = validate(make_spec(model="shallow_linear", algorithm="gradient_flow", init="random",
                              d=100_000, step_sizes=(0.05,), max_iters=1000, history_points=2048))
    states = 1001 * 2 * 100_000 * 8
    assert memory.estimate_memory(spec, 0, 100_000) >= states


def test_the_shallow_history_limit_is_the_guards_number(monkeypatch):
    """The a·b network keeps (a, b) per recorded step only up to the limit the guard assumes
    (one declared number, core.engine.history.PARAM_HISTORY_LIMIT): a sweep just under it keeps
    them, the same sweep under a lower limit keeps none."""
    import core.engine.batched
    import core.engine.history

    limit = core.engine.history.PARAM_HISTORY_LIMIT
    assert memory.PARAM_HISTORY_LIMIT is limit and core.engine.batched.PARAM_HISTORY_LIMIT is limit
    d = 1000
    points = limit // (2 * d) - 1                     # (points + 1) * 2d <= limit
    under = make_spec(model="shallow_linear", init="random", d=d, step_sizes=(0.01,),
                      max_iters=points, history_points=points)
    assert run_spec(under, use_cache=False).result.runs[0].params is not None
    monkeypatch.setattr(core.engine.batched, "PARAM_HISTORY_LIMIT", limit // 2)
    assert run_spec(under, use_cache=False).result.runs[0].params is None


def test_a_data_set_of_fixed_shape_is_checked_before_any_backend_runs(monkeypatch):
    """digits has no n/d in the spec: the guard runs once the data is loaded, for every
    backend (a Ray shard never starts for a refused spec)."""
    import core.api

    monkeypatch.setattr(memory, "memory_budget", lambda device: 1000)
    started = []
    monkeypatch.setattr(core.api, "compute", lambda *a, **k: started.append(1))
    with pytest.raises(SpecError):
        run_spec(make_spec(model="cnn", dataset="digits", classes=(3, 8), n=40), use_cache=False)
    assert not started


def test_a_stiff_flow_counts_radaus_dense_matrices():
    """Radau holds dense 2d x 2d matrices (about 12 of them measured at d = 1000: 392 MB);
    the guard learns from core.engine.shallow which integrator the runs get."""
    from core.engine.shallow import flow_is_stiff

    stiff = validate(make_spec(model="shallow_linear", algorithm="gradient_flow", init="random",
                               d=1000, step_sizes=(1e-3,), max_iters=200, phi=1e5,
                               history_points=100))
    mild = stiff.replace(phi=1.0)
    assert flow_is_stiff(stiff) and not flow_is_stiff(mild)
    dense = 12 * (2 * 1000) ** 2 * 8
    assert memory.estimate_memory(stiff, 0, 1000, True) >= dense + memory.estimate_memory(
        mild, 0, 1000, False)
