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

import numpy as np
import torch
import torch.nn.functional as F

from .datasets import Dataset
from .history import HistoryGrid, TailBuffer
from .loop import LoopControl, Progress, resolve_device, torch_dtype
from .memory import PARAM_HISTORY_LIMIT, check_memory
from .models import COLLAPSE_MODELS, Model, build, collapsed_rows
from .results import HISTORY_KEYS, RunRecord, SweepResult
from .runtime import tune_allocator
from .sharpness import top_hessian_eigenvalue
from .spec import RunSpec, SpecError

# Moved to their own modules; importable from here as before.
__all__ = ["run_sweep", "coefficients", "perceptron_weights", "plan_companion", "Step", "Companion",
           "HistoryGrid", "TailBuffer", "LoopControl", "Progress", "resolve_device", "torch_dtype",
           "check_memory", "top_hessian_eigenvalue"]


# ---------------------------------------------------------------------- algorithms
def perceptron_weights(margins: torch.Tensor, t: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """1[m <= 0] for t >= 1. At t = 0 the sigmoid limit: 1[m < 0] + ½·1[m = 0] — which gives the
    batch perceptron's θ̂_1 = (1/(2n)) Σ y_i b_i from θ_0 = 0 (science.md §1)."""
    if t == 0:
        return (margins < 0).to(margins.dtype) + 0.5 * (margins == 0).to(margins.dtype)
    if out is not None and out.shape == margins.shape:
        return torch.le(margins, 0, out=out)
    return (margins <= 0).to(margins.dtype)


@dataclass(frozen=True)
class Step:
    """The update θ += γ · scale · Σ_i coef_i ∇m_i, and the factor turning
    ‖Σ_i coef_i ∇m_i‖ into the reported gradient norm."""

    coef: torch.Tensor                 # (B, n)
    scale: torch.Tensor | float        # scalar or (B, 1)
    grad_scale: torch.Tensor | float   # scalar or (B,)


def coefficients(algorithm: str, margins: torch.Tensor, t: int,
                 out: torch.Tensor | None = None) -> Step:
    """GD is θ += (γ/n) Σ σ(−m_i) ∇m_i (∇m_i = y_i ∇g(b_i)); the perceptrons replace σ(−m)
    by the indicator of the misclassified set (science.md §1–2). ``out``: a buffer the
    coefficients may be written into (``step.coef`` is then ``out``; not for every algorithm)."""
    n = margins.shape[1]
    if algorithm == "gd":
        if out is None or out.shape != margins.shape:
            return Step(torch.sigmoid(-margins), 1.0 / n, 1.0 / n)
        return Step(torch.neg(margins, out=out).sigmoid_(), 1.0 / n, 1.0 / n)
    if algorithm == "normalized_gd":
        # w_i / Σ w with w = σ(−m), in the log domain: σ(−m) underflows for m > ~745.
        log_w = -F.softplus(margins)
        log_total = torch.logsumexp(log_w, dim=1, keepdim=True)
        return Step(torch.exp(log_w - log_total), 1.0, torch.exp(log_total[:, 0]) / n)
    weights = perceptron_weights(margins, t, out)
    if algorithm in ("batch_perceptron", "generalized_perceptron"):
        return Step(weights, 1.0 / n, 1.0 / n)
    if algorithm == "normalized_batch_perceptron":
        scale = 1.0 / torch.clamp(weights.sum(dim=1, keepdim=True), min=1.0)
        return Step(weights, scale, scale[:, 0])
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



# ---------------------------------------------------------------------- the loop
def _metrics(margins: torch.Tensor, pulled: torch.Tensor, grad_scale, theta: torch.Tensor,
             gap: torch.Tensor, min_margin: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 6) in HISTORY_KEYS order."""
    n = margins.shape[1]
    return torch.stack([
        # softplus(−m) = −softplus(m, β = −1), without allocating −m; 0 − x keeps 0 as +0.
        0.0 - F.softplus(margins, beta=-1).mean(dim=1),
        (margins > 0).sum(dim=1).to(margins.dtype) / n,
        margins.amin(dim=1) if min_margin is None else min_margin,
        pulled.norm(dim=1) * grad_scale,
        theta.norm(dim=1),
        gap,
    ], dim=1)


def _gap(companion: Companion | None, main: torch.Tensor, reference: torch.Tensor | None,
         steps: torch.Tensor) -> torch.Tensor:
    if companion is None:
        return torch.full((main.shape[0],), float("nan"), dtype=main.dtype, device=main.device)
    if companion.linear:
        return (main / steps[:, None] - reference).norm(dim=1)
    return (main / main.norm(dim=1, keepdim=True)
            - reference / reference.norm(dim=1, keepdim=True)).norm(dim=1)


def run_sweep(spec: RunSpec, dataset: Dataset, progress: Progress | None = None) -> SweepResult:
    """Run every (step size x seed) configuration of ``spec`` on ``dataset`` in one batch.

    Per iteration only what decides the dynamics touches the (B, n) arrays: the margins, their
    minimum (solve and divergence checks), the coefficients and two matmuls. The full metric
    set is computed at the recorded iterations; a stopped run keeps its θ, so its solve and
    last values are recomputed from the stored θ at the end.
    """
    started = time.perf_counter()
    tune_allocator()
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
    solve_theta = theta[:batch].clone()
    nan_gap = torch.full((batch,), float("nan"), dtype=dtype, device=device)
    last_gap, solve_gap = nan_gap.clone(), nan_gap.clone()
    known_length = spec.max_iters if spec.run_to_max else 0
    grid = HistoryGrid(spec.history_points, (batch, metric_count), dtype, device, known_length)
    p = theta.shape[1]
    keep_params = (spec.history_points + 1) * batch * p <= PARAM_HISTORY_LIMIT
    param_grid = (HistoryGrid(spec.history_points, (batch, p), dtype, device, known_length)
                  if keep_params else None)
    tail_buffer = (TailBuffer(spec.tail_points, batch, metric_count, dtype, device)
                   if spec.tail_points else None)

    extra_points: list = []
    sharpness: dict[int, np.ndarray] = {}
    # Hessian-vector products in float32 are too noisy for Lanczos: measure in float64.
    sharp_shared = shared if dtype == torch.float64 or not spec.sharpness_every else model.prepare(
        features.double(), labels.double())

    control = LoopControl(spec, device, progress)
    loss_limit = -torch.finfo(dtype).max / (4 * dataset.n)
    # On the CPU a host-side "did any run solve or diverge?" test is almost free and lets the
    # usual step skip the per-run bookkeeping; on a GPU it would be a device sync per step.
    host_checks = device.type == "cpu"
    # Reused every step: fresh (B, n) results each step cost page faults that make the two
    # matmuls markedly slower on the CPU.
    margin_buffer = torch.empty((rows, dataset.n), dtype=dtype, device=device)
    coef_buffer = torch.empty((rows, dataset.n), dtype=dtype, device=device)
    pulled_buffer = torch.empty((rows, p), dtype=dtype, device=device)
    never = torch.zeros(batch, dtype=torch.bool, device=device)
    everyone_moves = host_checks and companion is None   # every run starts active
    for t in range(spec.max_iters + 1):
        margins, saved = model.margins(theta, shared, out=margin_buffer)
        main_margins = margins[:batch]
        step = coefficients(spec.algorithm, main_margins, t, out=coef_buffer[:batch])
        coef, scale = step.coef, step.scale
        if companion is not None:
            other = coefficients(companion.algorithm, margins[batch:], t, out=coef_buffer[batch:])
            _fill(coef_buffer[:batch], step.coef)
            _fill(coef_buffer[batch:], other.coef)
            coef = coef_buffer
            if not (isinstance(scale, float) and isinstance(other.scale, float)
                    and scale == other.scale):
                scale = torch.cat([_as_column(step.scale, batch, dtype, device),
                                   _as_column(other.scale, rows - batch, dtype, device)])
        pulled = model.margin_pullback(theta, shared, saved, coef, out=pulled_buffer)

        main_theta = theta[:batch]
        min_margin = main_margins.amin(dim=1)
        # Diverged: non-finite margins (θ overflowed), or margins so negative that the mean
        # loss would overflow.
        finite = torch.isfinite(min_margin) & (min_margin > loss_limit)
        gap = None
        if companion is not None:
            gap = _gap(companion, main_theta, theta[batch:][companion.rows_of_main], steps)
            last_gap = torch.where(active, gap, last_gap)
        newly_diverged = active & ~finite
        newly_solved = (active & finite & (min_margin > 0) & (solve_iter < 0)) if t >= 1 else never
        changed = not host_checks or bool((newly_diverged | newly_solved).any())
        if changed:
            diverged_at = torch.where(newly_diverged, t, diverged_at)
            last_iter = torch.where(active, t, last_iter)
            solve_iter = torch.where(newly_solved, t, solve_iter)
            solve_theta = torch.where(newly_solved[:, None], main_theta, solve_theta)
            if gap is not None:
                solve_gap = torch.where(newly_solved, gap, solve_gap)
        recording = t % grid.stride == 0
        measuring = spec.sharpness_every > 0 and t % spec.sharpness_every == 0
        if measuring:
            values = _metrics(main_margins, pulled[:batch], step.grad_scale, main_theta,
                              nan_gap if gap is None else gap)
            sharp = np.full(batch, np.nan)
            running = (active & finite).cpu().numpy()
            for row in np.flatnonzero(running):
                sharp[row] = top_hessian_eigenvalue(model, sharp_shared, main_theta[row].double(),
                                                    seed=t)
            extra_points.append((t, values.cpu().numpy(), running,
                                 main_theta.cpu().numpy() if keep_params else None))
            sharpness[t] = sharp
        if recording or tail_buffer is not None:
            current = _metrics(main_margins, pulled[:batch], step.grad_scale, main_theta,
                               nan_gap if gap is None else gap, min_margin)
            if recording:
                grid.maybe_record(t, current)
                if param_grid is not None:
                    param_grid.maybe_record(t, main_theta)
            if tail_buffer is not None:
                tail_buffer.record(t, current, active)
        if changed:
            active = active & finite
            if not spec.run_to_max:
                active = active & (solve_iter < 0)
            everyone_moves = host_checks and companion is None and bool(active.all())

        if control.done(t, active, changed):
            break
        increment = (all_steps[:, None] * scale) * pulled
        if everyone_moves:
            moving = active
            theta = theta + increment
        else:
            moving = active if companion is None else torch.cat(
                [active, torch.isfinite(margins[batch:].amin(dim=1))])
            # A stopped run keeps its θ exactly (a where, not a zero step: 0·NaN would be NaN).
            theta = torch.where(moving[:, None], theta + increment, theta)
        if renormalize_all:
            theta = theta * (target_norm / theta.norm(dim=1))[:, None]
        elif renormalize_some:
            factor = torch.where(renormalize, target_norm / theta.norm(dim=1), torch.ones_like(target_norm))
            theta = torch.where(moving[:, None], theta * factor[:, None], theta)

    control.finish()
    last_iter = torch.where(active, t, last_iter)
    last_theta = theta[:batch]
    final = {}
    for name, rows_theta, rows_gap in (("last", last_theta, last_gap), ("solve", solve_theta, solve_gap)):
        margins, saved = model.margins(rows_theta, shared)
        step = coefficients(spec.algorithm, margins, 1)
        pulled = model.margin_pullback(rows_theta, shared, saved, step.coef)
        final[name] = _metrics(margins, pulled, step.grad_scale, rows_theta, rows_gap)
    records = _assemble(spec, step_list, seed_list, grid, param_grid, solve_iter, diverged_at,
                        last_iter, final["solve"], final["last"],
                        solve_theta if keep_params else None, last_theta if keep_params else None,
                        companion is not None, tail_buffer, extra_points,
                        sharpness if spec.sharpness_every else None)
    # collapse (issue 12 §5): the output no longer depends on the input (models.collapsed_rows)
    if spec.model in COLLAPSE_MODELS:
        for record, flag in zip(records, collapsed_rows(model, last_theta, shared)):
            record.extras["collapsed"] = bool(flag)
    meta = {"device": str(device), "dtype": spec.dtype, "n": dataset.n, "d": dataset.d,
            "model": model.describe(), "seconds": time.perf_counter() - started,
            "dataset_fingerprint": dataset.fingerprint, "param_count": p}
    return SweepResult(spec, records, meta)


def _fill(buffer: torch.Tensor, values: torch.Tensor) -> None:
    """Put ``values`` into ``buffer`` unless they were computed there already."""
    if values.data_ptr() != buffer.data_ptr():
        buffer.copy_(values)


def _as_column(value, count: int, dtype, device) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.reshape(count, 1)
    return torch.full((count, 1), float(value), dtype=dtype, device=device)


def _assemble(spec, step_list, seed_list, grid, param_grid, solve_iter, diverged_at, last_iter,
              solve_values, last_values, solve_params, last_params, has_gap,
              tail_buffer=None, extra_points=(), sharpness=None) -> list[RunRecord]:
    grid_iters, grid_values = grid.numpy()
    if param_grid is not None:
        _, grid_params = param_grid.numpy()
        solve_params, last_params = solve_params.cpu().numpy(), last_params.cpu().numpy()
    solve_iter, diverged_at = solve_iter.cpu().numpy(), diverged_at.cpu().numpy()
    last_iter = last_iter.cpu().numpy()
    solve_values, last_values = solve_values.cpu().numpy(), last_values.cpu().numpy()
    keys = [k for k in HISTORY_KEYS if has_gap or k != "perceptron_gap"]
    columns = [HISTORY_KEYS.index(k) for k in keys]

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
        for t, values_at, running, params_at in extra_points:
            if running[row] and t <= last:
                points[t] = (values_at[row], params_at[row] if params_at is not None else None)
        iterations = sorted(points)
        values = np.stack([points[t][0] for t in iterations])
        history = {"iteration": np.asarray(iterations, dtype=np.int64)}
        for key, column in zip(keys, columns):
            history[key] = values[:, column].astype(np.float64)
        if sharpness is not None:
            history["sharpness"] = np.array([sharpness[t][row] if t in sharpness else np.nan
                                             for t in iterations])
        params = (np.stack([points[t][1] for t in iterations]).astype(np.float64)
                  if param_grid is not None else None)
        diverged = int(diverged_at[row]) if diverged_at[row] >= 0 else None
        tail = tail_buffer.for_row(row, last, keys, columns) if tail_buffer is not None else None
        records.append(RunRecord(float(gamma), int(seed), solved, diverged is not None, diverged,
                                 last, history, params, tail))
    return records
