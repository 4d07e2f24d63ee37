"""The memory guard: what a spec needs, the budget, and a refusal naming the field to lower."""
from __future__ import annotations

import torch

from .algorithms import algorithm
from .errors import SpecError
from .models import build
from .registry import model_family
from .results import HISTORY_KEYS
from .spec import RunSpec

from .history import PARAM_HISTORY_LIMIT   # values of θ kept per sweep, by every dynamics


def estimate_memory(spec: RunSpec, n: int, d: int) -> int:
    """Bytes a (resolved) spec needs: data, parameters, the (B, n) work arrays, activations
    and the history, with room for temporaries."""
    bytes_per = 8 if spec.dtype == "float64" else 4
    history = (spec.history_points + 2 + spec.tail_points) * spec.batch_size * len(HISTORY_KEYS)
    state = algorithm(spec.algorithm).state_copies          # a stateful update rule's tensors
    if model_family(spec.model) == "shallow":
        rows = spec.batch_size
        params = rows * 2 * d
        return int(bytes_per * (params * (12 + state) + history * 2
                                + min(PARAM_HISTORY_LIMIT, (spec.history_points + 1) * params)))
    model = build(spec)
    p = model.num_params(d)
    batch = 2 * spec.batch_size                     # with perceptron companions at most
    width = model.work_width()
    data = model.data_values(n, d)
    params = batch * p * 4 + spec.batch_size * p * state   # theta, pullback, update, temporaries
    work = batch * n * width * 6                    # outputs, activations, slopes, coefficients
    param_history = min(PARAM_HISTORY_LIMIT, (spec.history_points + 1) * spec.batch_size * p)
    return int(bytes_per * (data + params + work + history + param_history))


def memory_budget(device: torch.device) -> int:
    import os

    from .settings import env_number

    fraction = env_number("GDX_MEMORY_FRACTION")
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.8)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(total * fraction)


def check_memory(spec: RunSpec, n: int, d: int, device: torch.device) -> None:
    """Refuse, naming the largest size parameter, a spec over the memory budget
    (``GDX_MEMORY_FRACTION`` of RAM, default 25 %; 80 % of free GPU memory on CUDA)."""
    need, budget = estimate_memory(spec, n, d), memory_budget(device)
    if need > budget:
        sizes = [("d", d), ("n", n), ("step_size", spec.batch_size)]
        if model_family(spec.model) != "shallow":
            sizes.extend(build(spec).size_fields())
        biggest = max(sizes, key=lambda item: item[1])[0]
        raise SpecError(biggest, f"this spec needs about {_gib(need)} on {device.type}, over the "
                        f"budget of {_gib(budget)}; lower {biggest} (the sizes that count: n, d, "
                        "step sizes x seeds)")


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB" if size >= 2**27 else f"{size / 2**20:.1f} MiB"
