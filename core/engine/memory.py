"""The memory guard: what a spec needs, the budget, and a refusal naming the field to lower."""
from __future__ import annotations

import contextlib
import contextvars

import torch

from core.algorithms.builtin import algorithm
from core.kernel.errors import SpecError
from core.models.builtin import build
from core.kernel.registry import model_family
from core.engine.results import HISTORY_KEYS
from core.kernel.spec import RunSpec

from core.engine.history import PARAM_HISTORY_LIMIT   # values of θ kept per sweep, by every dynamics

LANCZOS_STEPS = 40              # core.analysis.sharpness.SharpnessMeter's max_steps
RUNTIME_OVERHEAD = 8 * 2**20    # torch/numpy work areas and small temporaries of any run


def estimate_memory(spec: RunSpec, n: int, d: int, stiff: bool | None = None) -> int:
    """Bytes a (resolved) spec needs: data, parameters, the (B, n) work arrays, activations
    and the history, with room for temporaries."""
    bytes_per = 8 if spec.dtype == "float64" else 4
    history = (spec.history_points + 2 + spec.tail_points) * spec.batch_size * len(HISTORY_KEYS)
    state = algorithm(spec.algorithm).state_copies          # a stateful update rule's tensors
    if model_family(spec.model) == "shallow":
        if algorithm(spec.algorithm).continuous:
            return estimate_flow_memory(spec, d, stiff)
        rows = spec.batch_size
        params = rows * 2 * d
        return RUNTIME_OVERHEAD + int(bytes_per * (
            params * (12 + state) + history * 2
            + min(PARAM_HISTORY_LIMIT, (spec.history_points + 1) * params)))
    model = build(spec)
    p = model.num_params(d)
    batch = 2 * spec.batch_size                     # with perceptron companions at most
    width = model.work_width()
    data = model.data_values(n, d)
    loading = 2 * n * d * 8 // bytes_per            # the float64 data set (and a temporary of its size while made)
    params = batch * p * 4 + spec.batch_size * p * state   # theta, pullback, update, temporaries
    work = batch * n * width * 8                    # outputs, activations, slopes, coefficients (measured: tests/test_memory_estimates.py)
    param_history = min(PARAM_HISTORY_LIMIT, (spec.history_points + 1) * spec.batch_size * p)
    # sharpness: the Lanczos basis of every run (core.analysis.sharpness.SharpnessMeter, 40 steps at most)
    krylov = spec.batch_size * p * (LANCZOS_STEPS + 2) if spec.sharpness_every else 0
    return RUNTIME_OVERHEAD + int(bytes_per * (data + loading + params + work + history
                                               + param_history + krylov))


FLOW_BYTES = 8                   # gradient flow is integrated in float64 (scipy)
FLOW_TRANSIENT_COPIES = 4        # integrator's list of states, their stacked copy, metric temporaries
FLOW_STAGES = 16                 # DOP853's stage vectors (and Radau's) of one state
RADAU_MATRICES = 16              # Radau: the Jacobian, I/h − J and its LU, the complex system and its LU, temporaries (measured ≈ 12)


def flow_points(spec: RunSpec) -> int:
    """States gradient flow keeps per run: one per distinct reporting time t = kη."""
    return min(spec.history_points, spec.max_iters) + 1


def estimate_flow_memory(spec: RunSpec, d: int, stiff: bool | None = None) -> int:
    """Bytes gradient flow needs: every run's states at the reporting times stay in the
    result (rows × points × 2d values); one run at a time also holds the integrator's copies
    and the metrics' temporaries; a stiff run (Radau, core.engine.shallow.flow_method) holds dense
    2d × 2d matrices. ``stiff``: whether any run is integrated with Radau, which depends on
    the initial points (core.engine.shallow.flow_is_stiff; core.api passes it); None counts none."""
    state = 2 * d * FLOW_BYTES
    points = flow_points(spec)
    kept = spec.batch_size * points * state
    transient = FLOW_TRANSIENT_COPIES * points * state + FLOW_STAGES * state
    dense = RADAU_MATRICES * (2 * d) ** 2 * FLOW_BYTES if stiff else 0
    return RUNTIME_OVERHEAD + kept + transient + dense


# ---------------------------------------------------------------------- figures
# What building and serialising a figure holds at its peak, per byte of its planned JSON (the
# display plan bounds the JSON before anything is built: core.report.display.Budget.estimated_bytes;
# a page load's worth is core.report.display.page_figure_memory):
# plotly's trace objects and validated lists, the JSON text, Streamlit's message and its
# serialised copy. Measured peak / JSON: about 12 (tests/test_memory_estimates.py).
FIGURE_BYTES_PER_JSON_BYTE = 16
FIGURE_BASE_BYTES = 2 * 2**20       # a figure's layout, template and serialiser work areas
SENT_COPIES = 2                     # charts already drawn: their message, and its sent frame
_PAGE_FIGURES = contextvars.ContextVar("gdx_page_figure_bytes", default=0)


def figure_memory(json_bytes: int) -> int:
    """Bytes one figure of ``json_bytes`` planned JSON holds while it is built and sent (an
    upper bound: tests/test_memory_estimates.py measures it)."""
    return FIGURE_BASE_BYTES + FIGURE_BYTES_PER_JSON_BYTE * max(int(json_bytes), 0)


@contextlib.contextmanager
def figures_to_draw(nbytes: int):
    """Within this block (one page load of the dashboard) every spec is checked against the
    budget with ``nbytes`` of figures on top of its own estimate: the figures are built from
    the result after it is computed, in the same process and budget."""
    token = _PAGE_FIGURES.set(int(nbytes))
    try:
        yield
    finally:
        _PAGE_FIGURES.reset(token)


def memory_budget(device: torch.device) -> int:
    import os

    from core.kernel.settings import env_number

    fraction = env_number("GDX_MEMORY_FRACTION")
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.8)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(total * fraction)


def check_memory(spec: RunSpec, n: int, d: int, device: torch.device,
                 stiff: bool | None = None) -> None:
    """Refuse, naming the largest size parameter, a spec over the memory budget
    (``GDX_MEMORY_FRACTION`` of RAM, default 25 %; 80 % of free GPU memory on CUDA). Inside a
    dashboard page load the figures it will draw count too (:func:`figures_to_draw`)."""
    figures = _PAGE_FIGURES.get()
    need = estimate_memory(spec, n, d, stiff) + (figures if device.type == "cpu" else 0)
    budget = memory_budget(device)
    if need > budget:
        sizes = [("d", d), ("n", n), ("step_size", spec.batch_size)]
        if model_family(spec.model) != "shallow":
            sizes.extend(build(spec).size_fields())
        biggest = max(sizes, key=lambda item: item[1])[0]
        drawn = f" (its figures {_gib(figures)} included)" if figures and device.type == "cpu" else ""
        raise SpecError(biggest, f"this spec needs about {_gib(need)} on {device.type}{drawn}, "
                        f"over the budget of {_gib(budget)}; lower {biggest} (the sizes that "
                        "count: n, d, step sizes x seeds)")


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**27 else f"{size / 2**20:.1f} MiB"
