"""The batched engine: every (step size x seed) run of a spec in one set of tensor ops.

Rows of a (B, p) parameter tensor are the runs; the data is stored once on the device.
Runs stop at their solve (or go on to ``max_iters`` with ``run_to_max``) by masking their
updates, so one run's solve or divergence never disturbs another. Histories are kept on an
evenly spaced grid whose stride doubles when it fills (first, solve and last iterations are
kept exactly), so a result stays small however long the run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .datasets import Dataset
from .models import Model, build
from .results import HISTORY_KEYS, RunRecord, SweepResult
from .spec import RunSpec, SpecError

PARAM_HISTORY_LIMIT = 2_000_000   # values of theta kept per sweep (for trajectory views)
DEFAULT_MEMORY_FRACTION = 0.25

Progress = Callable[[float], None]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpecError("device", "cuda was asked for but no CUDA GPU is available; use auto or cpu")
    return torch.device(name)


def torch_dtype(name: str) -> torch.dtype:
    return {"float64": torch.float64, "float32": torch.float32}[name]


# ---------------------------------------------------------------------- algorithms
def perceptron_weights(margins: torch.Tensor, t: int) -> torch.Tensor:
    """1[m <= 0] for t >= 1. At t = 0 the sigmoid limit: 1[m < 0] + ½·1[m = 0] — which gives the
    batch perceptron's θ̂_1 = (1/(2n)) Σ y_i b_i from θ_0 = 0 (science.md §1)."""
    if t == 0:
        return (margins < 0).to(margins.dtype) + 0.5 * (margins == 0).to(margins.dtype)
    return (margins <= 0).to(margins.dtype)


def coefficients(algorithm: str, margins: torch.Tensor, labels: torch.Tensor,
                 t: int) -> tuple[torch.Tensor, torch.Tensor | float]:
    """Coefficients c (B x n) of the update θ += γ Σ_i c_i ∇g(b_i), and the factor that turns
    ‖Σ_i c_i ∇g(b_i)‖ into the reported gradient norm."""
    n = margins.shape[1]
    if algorithm == "gd":
        return torch.sigmoid(-margins) * labels / n, 1.0
    if algorithm == "normalized_gd":
        # w_i / Σ w with w = σ(−m), in the log domain: σ(−m) underflows for m > ~745.
        log_w = -F.softplus(margins)
        log_total = torch.logsumexp(log_w, dim=1, keepdim=True)
        return torch.exp(log_w - log_total) * labels, torch.exp(log_total[:, 0]) / n
    weights = perceptron_weights(margins, t)
    if algorithm in ("batch_perceptron", "generalized_perceptron"):
        return weights * labels / n, 1.0
    if algorithm == "normalized_batch_perceptron":
        count = weights.sum(dim=1, keepdim=True)
        return weights * labels / torch.clamp(count, min=1.0), 1.0
    raise SpecError("algorithm", f"unknown algorithm {algorithm!r}")


@dataclass(frozen=True)
class Companion:
    """Perceptron runs carried in the same batch as GD runs, for the perceptron gap."""

    algorithm: str
    rows_of_main: torch.Tensor     # companion row index for each main row
    steps: torch.Tensor            # (C,)
    theta0: np.ndarray             # (C, p)
    linear: bool                   # gap ‖θ/γ − θ̂‖ (linear) or direction gap (nonlinear)


def plan_companion(spec: RunSpec, model: Model, theta0: np.ndarray, device) -> Companion | None:
    if not spec.perceptron_gap:
        return None
    batch = spec.batch_size
    if spec.model == "linear" and spec.algorithm in ("gd", "normalized_gd"):
        algorithm = "batch_perceptron" if spec.algorithm == "gd" else "normalized_batch_perceptron"
        return Companion(algorithm, torch.zeros(batch, dtype=torch.long, device=device),
                         torch.ones(1, dtype=torch.float64), theta0[:1].copy(), True)
    if spec.model != "linear" and spec.algorithm == "gd":
        steps = torch.tensor([g for g in spec.step_sizes for _ in spec.seeds], dtype=torch.float64)
        return Companion("generalized_perceptron", torch.arange(batch, device=device), steps,
                         theta0.copy(), False)
    return None


# ---------------------------------------------------------------------- history grid
class HistoryGrid:
    """Keeps rows recorded at t = 0, s, 2s, ...; when full, drops every other and doubles s."""

    def __init__(self, capacity: int, shape: tuple[int, ...], dtype, device):
        self.capacity = capacity + (capacity % 2)
        self.buffer = torch.empty((self.capacity + 1,) + shape, dtype=dtype, device=device)
        self.iterations: list[int] = []
        self.stride = 1

    def maybe_record(self, t: int, values: torch.Tensor) -> None:
        if t % self.stride:
            return
        if len(self.iterations) == self.capacity + 1:
            keep = self.buffer[::2].clone()
            self.buffer[: keep.shape[0]] = keep
            self.iterations = self.iterations[::2]
            self.stride *= 2
            if t % self.stride:
                return
        self.buffer[len(self.iterations)] = values
        self.iterations.append(t)

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        count = len(self.iterations)
        return np.asarray(self.iterations, dtype=np.int64), self.buffer[:count].cpu().numpy()


# ---------------------------------------------------------------------- memory
def estimate_memory(spec: RunSpec, n: int, d: int) -> int:
    """Bytes the engine needs for a (resolved) spec: data, parameters, the (B, n) work arrays
    and the history, with room for temporaries."""
    bytes_per = 8 if spec.dtype == "float64" else 4
    model = build(spec)
    p = model.num_params(d)
    batch = 2 * spec.batch_size                     # with perceptron companions at most
    width = spec.width if spec.model == "mlp" else (2 if spec.model == "two_layer_conv" else 1)
    data = n * d * (3 if spec.model == "two_layer_conv" else 1)
    params = batch * p * 4                          # theta, pullback, update, temporaries
    work = batch * n * width * 6                    # outputs, activations, slopes, coefficients
    history = (spec.history_points + 2) * spec.batch_size * len(HISTORY_KEYS)
    param_history = min(PARAM_HISTORY_LIMIT, (spec.history_points + 1) * spec.batch_size * p)
    return int(bytes_per * (data + params + work + history + param_history))


def memory_budget(device: torch.device) -> int:
    import os

    fraction = float(os.environ.get("GDX_MEMORY_FRACTION", DEFAULT_MEMORY_FRACTION))
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.8)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(total * fraction)


def check_memory(spec: RunSpec, n: int, d: int, device: torch.device) -> None:
    need, budget = estimate_memory(spec, n, d), memory_budget(device)
    if need > budget:
        biggest = max((("d", d), ("n", n), ("width" if spec.model == "mlp" else "step_size",
                                             spec.width if spec.model == "mlp" else spec.batch_size)),
                      key=lambda item: item[1])[0]
        raise SpecError(biggest, f"this spec needs about {need / 2**30:.1f} GiB on {device.type}, "
                        f"over the budget of {budget / 2**30:.1f} GiB; lower {biggest}, n, d or "
                        "the number of step sizes x seeds")


# ---------------------------------------------------------------------- the loop
def run_sweep(spec: RunSpec, dataset: Dataset, progress: Progress | None = None) -> SweepResult:
    """Run every (step size x seed) configuration of ``spec`` on ``dataset`` in one batch."""
    started = time.perf_counter()
    device = resolve_device(spec.device)
    check_memory(spec, dataset.n, dataset.d, device)
    dtype = torch_dtype(spec.dtype)
    model = build(spec)
    features = torch.as_tensor(dataset.features, dtype=dtype, device=device)
    labels = torch.as_tensor(dataset.labels, dtype=dtype, device=device)
    shared = model.prepare(features, labels)

    batch = spec.batch_size
    step_list = [g for g in spec.step_sizes for _ in spec.seeds]
    seed_list = [s for _ in spec.step_sizes for s in spec.seeds]
    theta0 = np.stack([model.init(dataset.d, seed) for seed in seed_list])
    companion = plan_companion(spec, model, theta0, device)

    steps = torch.tensor(step_list, dtype=dtype, device=device)
    all_theta0 = theta0 if companion is None else np.concatenate([theta0, companion.theta0])
    theta = torch.as_tensor(all_theta0, dtype=dtype, device=device).clone()
    all_steps = steps if companion is None else torch.cat([steps, companion.steps.to(device, dtype)])
    rows = theta.shape[0]

    homogeneous_map = model.homogeneity() == 2
    renormalize = torch.zeros(rows, dtype=torch.bool, device=device)
    if homogeneous_map and spec.algorithm == "generalized_perceptron":
        renormalize[:batch] = True
    if homogeneous_map and companion is not None and companion.algorithm == "generalized_perceptron":
        renormalize[batch:] = True
    target_norm = theta.norm(dim=1)
    renormalize_all = bool(renormalize.all())
    renormalize_some = bool(renormalize.any()) and not renormalize_all

    metric_count = len(HISTORY_KEYS)
    active = torch.ones(batch, dtype=torch.bool, device=device)
    solve_iter = torch.full((batch,), -1, dtype=torch.long, device=device)
    diverged_at = torch.full((batch,), -1, dtype=torch.long, device=device)
    last_iter = torch.zeros(batch, dtype=torch.long, device=device)
    nan = torch.tensor(float("nan"), dtype=dtype, device=device)
    last_values = torch.full((batch, metric_count), float("nan"), dtype=dtype, device=device)
    solve_values = last_values.clone()
    grid = HistoryGrid(spec.history_points, (batch, metric_count), dtype, device)

    p = theta.shape[1]
    keep_params = (spec.history_points + 1) * batch * p <= PARAM_HISTORY_LIMIT
    param_grid = HistoryGrid(spec.history_points, (batch, p), dtype, device) if keep_params else None
    last_params = theta[:batch].clone() if keep_params else None
    solve_params = theta[:batch].clone() if keep_params else None

    tail_size = spec.tail_points
    tail_buffer = (torch.full((tail_size, batch, metric_count), float("nan"), dtype=dtype,
                              device=device) if tail_size else None)

    check_every = 1 if device.type == "cpu" else 16
    report_every = max(1, spec.max_iters // 100)
    for t in range(spec.max_iters + 1):
        outputs, saved = model.outputs(theta, shared)
        margins = outputs * labels
        main_margins = margins[:batch]
        coef, grad_scale = coefficients(spec.algorithm, main_margins, labels, t)
        if companion is not None:
            companion_coef, _ = coefficients(companion.algorithm, margins[batch:], labels, t)
            coef = torch.cat([coef, companion_coef])
        pulled = model.pullback(theta, shared, saved, coef)

        main_theta = theta[:batch]
        row_norms = theta.norm(dim=1)
        param_norm = row_norms[:batch]
        if companion is None:
            gap = nan.expand(batch)
        else:
            reference = theta[batch:][companion.rows_of_main]
            if companion.linear:
                gap = (main_theta / steps[:, None] - reference).norm(dim=1)
            else:
                reference_norm = row_norms[batch:][companion.rows_of_main]
                gap = (main_theta / param_norm[:, None]
                       - reference / reference_norm[:, None]).norm(dim=1)
        current = torch.stack([
            F.softplus(-main_margins).mean(dim=1),
            (main_margins > 0).to(dtype).mean(dim=1),
            main_margins.amin(dim=1),
            pulled[:batch].norm(dim=1) * grad_scale,
            param_norm,
            gap,
        ], dim=1)

        # ‖θ‖ overflowing counts as divergence, as does any non-finite metric.
        finite = torch.isfinite(current[:, :5]).all(dim=1)
        newly_diverged = active & ~finite
        diverged_at = torch.where(newly_diverged, t, diverged_at)
        last_values = torch.where(active[:, None], current, last_values)
        last_iter = torch.where(active, t, last_iter)
        if keep_params:
            last_params = torch.where(active[:, None], main_theta, last_params)
        if t >= 1:
            newly_solved = active & finite & (current[:, 2] > 0) & (solve_iter < 0)
            solve_iter = torch.where(newly_solved, t, solve_iter)
            solve_values = torch.where(newly_solved[:, None], current, solve_values)
            if keep_params:
                solve_params = torch.where(newly_solved[:, None], main_theta, solve_params)
        if tail_buffer is not None:
            slot = t % tail_size
            tail_buffer[slot] = torch.where(active[:, None], current, tail_buffer[slot])
        active = active & finite
        if not spec.run_to_max:
            active = active & (solve_iter < 0)
        grid.maybe_record(t, current)
        if param_grid is not None:
            param_grid.maybe_record(t, main_theta)

        if t == spec.max_iters:
            break
        if progress is not None and t % report_every == 0:
            progress(t / spec.max_iters)
        if t % check_every == 0 and not bool(active.any()):
            break
        # Rows never mix (every op is row-wise), so a non-finite row cannot spoil another;
        # a stopped row gets a zero step and keeps its θ.
        moving = active if companion is None else torch.cat([active, torch.isfinite(row_norms[batch:])])
        theta = theta + (all_steps * moving)[:, None] * pulled
        if renormalize_all:
            theta = theta * (target_norm / theta.norm(dim=1))[:, None]
        elif renormalize_some:
            scale = torch.where(renormalize, target_norm / theta.norm(dim=1), torch.ones_like(target_norm))
            theta = theta * scale[:, None]

    if progress is not None:
        progress(1.0)
    records = _assemble(spec, step_list, seed_list, grid, param_grid, solve_iter, diverged_at,
                        last_iter, solve_values, last_values, solve_params, last_params,
                        companion is not None, tail_buffer)
    meta = {"device": str(device), "dtype": spec.dtype, "n": dataset.n, "d": dataset.d,
            "model": model.describe(), "seconds": time.perf_counter() - started,
            "dataset_fingerprint": dataset.fingerprint, "param_count": p}
    return SweepResult(spec, records, meta)


def _assemble(spec, step_list, seed_list, grid, param_grid, solve_iter, diverged_at, last_iter,
              solve_values, last_values, solve_params, last_params, has_gap,
              tail_buffer=None) -> list[RunRecord]:
    grid_iters, grid_values = grid.numpy()
    if param_grid is not None:
        _, grid_params = param_grid.numpy()
        solve_params, last_params = solve_params.cpu().numpy(), last_params.cpu().numpy()
    solve_iter, diverged_at = solve_iter.cpu().numpy(), diverged_at.cpu().numpy()
    last_iter = last_iter.cpu().numpy()
    solve_values, last_values = solve_values.cpu().numpy(), last_values.cpu().numpy()
    keys = [k for k in HISTORY_KEYS if has_gap or k != "perceptron_gap"]
    columns = [HISTORY_KEYS.index(k) for k in keys]
    tail_values = tail_buffer.cpu().numpy() if tail_buffer is not None else None

    records = []
    for row, (gamma, seed) in enumerate(zip(step_list, seed_list)):
        last = int(last_iter[row])
        points: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for index, t in enumerate(grid_iters):
            if t > last:
                break
            points[int(t)] = (grid_values[index, row],
                              grid_params[index, row] if param_grid is not None else None)
        solved = int(solve_iter[row]) if solve_iter[row] >= 0 else None
        if solved is not None:
            points[solved] = (solve_values[row],
                              solve_params[row] if param_grid is not None else None)
        points[last] = (last_values[row], last_params[row] if param_grid is not None else None)
        iterations = sorted(points)
        values = np.stack([points[t][0] for t in iterations])
        history = {"iteration": np.asarray(iterations, dtype=np.int64)}
        for key, column in zip(keys, columns):
            history[key] = values[:, column].astype(np.float64)
        params = (np.stack([points[t][1] for t in iterations]).astype(np.float64)
                  if param_grid is not None else None)
        diverged = int(diverged_at[row]) if diverged_at[row] >= 0 else None
        tail = None
        if tail_values is not None:
            size = tail_values.shape[0]
            tail_iters = np.arange(max(0, last - size + 1), last + 1)
            rows_at = tail_values[tail_iters % size, row]
            tail = {"iteration": tail_iters}
            tail.update({key: rows_at[:, column].astype(np.float64)
                         for key, column in zip(keys, columns)})
        records.append(RunRecord(float(gamma), int(seed), solved, diverged is not None, diverged,
                                 last, history, params, tail))
    return records
