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
import torch

from core.engine import memory
from core.report import display as dp
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


# ---------------------------------------------------------------------- figures
# Building and sending figures happens in the same process and budget as the computation, so
# the guard counts a page load's figures too (core.report.display.page_figure_memory, from the display
# plan's limits). Measured like the runs above: the growth of VmHWM while the figures are
# built, serialised by plotly and put into Streamlit's message.
MEASURE_FIGURES = r"""
import gc, json, sys
import numpy as np
import plotly.io as pio
from streamlit.proto.PlotlyChart_pb2 import PlotlyChart
from core.engine import memory
from core.report import display as dp, plots
from core.report import plots_shallow as ps
from core.api import run_spec
from core.kernel.spec import make_spec

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(field))

def lines_chart(plan):
    rng = np.random.default_rng(0)
    figure = plots.base_figure("plan", "t", "loss")
    for index in range(plan.drawn_traces):
        y = np.cumsum(rng.normal(size=plan.points_per_trace))
        figure.add_trace(plots._line(np.arange(plan.points_per_trace, dtype=float), y,
                                     name=f"run {index}"))
    return figure

def sent(figure):
    return PlotlyChart(spec=pio.to_json(figure, validate=False)).SerializeToString()

def orbit():
    steps = tuple(float(x) for x in np.linspace(0.5, 3.0, 512))
    result = run_spec(make_spec(model="shallow_linear", phi=1.0, a=(0.3,), b=(0.3,),
                                step_sizes=steps, max_iters=300, run_to_max=True,
                                tail_points=100, history_points=16), use_cache=False).result
    return lambda: [sent(ps.orbit_diagram(result).to_plotly(520))]

def animation():
    from core.datasets import builtin as datasets
    spec = make_spec(dataset="gaussian", n=100_000, d=2, step_sizes=(1.0,), max_iters=400,
                     history_points=400)
    result = run_spec(spec, use_cache=False).result
    data = datasets.load(spec)
    return lambda: [sent(plots.boundary_animation(result.spec, data.features, data.labels,
                                                  result.runs[0], "gd"))]

MANY, LONG = dp.point_budget(1000, 5000), dp.point_budget(2, 10**6)
CASES = {
    "chart_of_many_lines": (lambda: lambda: [sent(lines_chart(MANY))],
                            memory.figure_memory(MANY.estimated_bytes)),
    "chart_of_long_lines": (lambda: lambda: [sent(lines_chart(LONG))],
                            memory.figure_memory(LONG.estimated_bytes)),
    # a page drawing charts at the plan's limit up to its payload bound, one after another,
    # each sent message kept (Streamlit's queue holds them until they are flushed)
    "page_at_the_payload_bound": (lambda: lambda: [sent(lines_chart(MANY)) for _ in range(
        dp.PAYLOAD_BYTES // MANY.estimated_bytes)], dp.page_figure_memory()),
    "orbit_density_image": (orbit, dp.page_figure_memory()),
    "boundary_animation": (animation, dp.page_figure_memory()),
}
prepare, estimate = CASES[sys.argv[1]]
build = prepare()
sent(lines_chart(dp.point_budget(2, 10)))            # warm-up: plotly's validators, templates
gc.collect()
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")
before = status("VmRSS:")
messages = build()
print(json.dumps({"estimate": estimate, "peak": status("VmHWM:") - before,
                  "sent": sum(map(len, messages))}))
"""


def measure_figures(case: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), GDX_MALLOC_TUNING="1")
    done = subprocess.run([sys.executable, "-c", MEASURE_FIGURES, case], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
@pytest.mark.parametrize("case", [
    "page_at_the_payload_bound",                     # the guard's number
    pytest.param("chart_of_many_lines", marks=pytest.mark.heavy),
    pytest.param("chart_of_long_lines", marks=pytest.mark.heavy)])
def test_the_figure_estimate_covers_the_measured_peak_within_4x(case):
    numbers = measure_figures(case)
    estimate, peak = numbers["estimate"], numbers["peak"]
    print(f"{case}: estimate {estimate / 2**20:.1f} MiB, measured peak {peak / 2**20:.1f} MiB "
          f"({estimate / peak:.2f}x), {numbers['sent'] / 2**20:.2f} MiB sent")
    assert peak > 4 * 2**20, "the case is too small to measure"
    assert peak <= estimate <= 4 * peak, (case, estimate, peak)


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
@pytest.mark.parametrize("case", ["orbit_density_image", "boundary_animation"])
def test_the_page_estimate_covers_the_other_figures_at_their_limits(case):
    """The orbit's density image (DENSITY_CELLS) and the boundary animation (MAX_FRAMES
    frames) plan less JSON than the largest chart the page estimate assumes."""
    numbers = measure_figures(case)
    print(f"{case}: page estimate {numbers['estimate'] / 2**20:.1f} MiB, measured peak "
          f"{numbers['peak'] / 2**20:.1f} MiB")
    assert numbers["peak"] <= numbers["estimate"], numbers


def test_a_page_loads_figures_count_in_the_guard(monkeypatch):
    """Inside a page load (ui.compute.page_load sets it) the guard adds the figures to the
    run's own estimate; outside (the CLI) it does not."""
    spec = validate(make_spec(dataset="gaussian", n=1000, d=50, step_sizes=(1.0, 2.0)))
    run = memory.estimate_memory(spec, 1000, 50)
    figures = dp.page_figure_memory()
    monkeypatch.setattr(memory, "memory_budget", lambda device: run + figures // 2)
    cpu = torch.device("cpu")
    memory.check_memory(spec, 1000, 50, cpu)                      # the run alone fits
    with memory.figures_to_draw(figures):
        with pytest.raises(SpecError) as refused:
            memory.check_memory(spec, 1000, 50, cpu)
    assert "figures" in str(refused.value) and str(refused.value).startswith(("n:", "d:", "step_size:"))


def test_the_dashboards_page_load_declares_its_figures():
    from ui import compute

    seen = []
    real = memory.check_memory.__globals__["_PAGE_FIGURES"]
    with compute.page_load():
        seen.append(real.get())
    seen.append(real.get())
    assert seen == [dp.page_figure_memory(), 0]
