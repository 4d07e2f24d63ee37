"""The batched engine: every (step size x seed) run of a spec in one set of tensor ops.

Rows of a (B, p) parameter tensor are the runs; the data is stored once on the device.
Runs stop at their solve (or go on to ``max_iters`` with ``run_to_max``) by masking their
updates, so one run's solve or divergence never disturbs another. Histories are kept on an
evenly spaced grid whose stride doubles when it fills (first, solve and last iterations are
kept exactly), so a result stays small however long the run.

A sweep is a few small objects: ``Sweep`` (the spec, model, data on the device and the rows'
start), ``RunBook`` (which runs still move, their solve and divergence), ``Recorder`` (history,
tail, sharpness) and ``Updater`` (the masked step). History buffers, loop control, the memory
guard and the sharpness live in ``history``, ``loop``, ``memory`` and ``sharpness``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .algorithms import MarginRule, Step
from .algorithms import algorithm as algorithm_entry
from .datasets import Dataset
from .history import PARAM_HISTORY_LIMIT, HistoryGrid, TailBuffer
from .loop import LoopControl, Progress, resolve_device, torch_dtype
from .memory import check_memory
from .models import COLLAPSE_MODELS, Model, SharedData, build, collapsed_rows
from .registry import model_family
from .results import HISTORY_KEYS, RunRecord, SweepResult
from .runtime import tune_allocator
from .sharpness import SharpnessMeter
from .spec import RunSpec, SpecError

NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}


# ---------------------------------------------------------------------- algorithms
def coefficients(algorithm: str, margins: torch.Tensor, t: int,
                 out: torch.Tensor | None = None) -> Step:
    """The step of ``algorithm`` at margins (B, n) and iteration t, from its registry entry's
    closed form (core.algorithms). ``out``: a buffer the coefficients may be written into
    (``step.coef`` is then ``out``; not for every algorithm)."""
    entry = algorithm_entry(algorithm)
    if entry.coefficients is None:
        raise SpecError("algorithm", f"{algorithm} is not run by the batched engine")
    return entry.coefficients(margins, t, out)


@dataclass(frozen=True)
class Companion:
    """Perceptron runs carried in the same batch as GD runs, for the perceptron gap."""

    algorithm: str
    rows_of_main: torch.Tensor     # companion row index for each main row
    steps: torch.Tensor            # (C,)
    theta0: np.ndarray             # (C, p)
    linear: bool                   # gap ‖θ/γ − θ̂‖ (linear) or direction gap (nonlinear)


def plan_companion(spec: RunSpec, model: Model, theta0: np.ndarray, device) -> Companion | None:
    """The perceptron runs carried beside the main runs: the algorithm entry's companion for
    the model's family. On a linear model that starts at θ_0 = 0 one perceptron row at γ = 1
    serves every main row (gap ‖θ/γ − θ̂‖); otherwise each main row gets its own (direction
    gap)."""
    if not spec.perceptron_gap:
        return None
    family = model_family(spec.model)
    companion = algorithm_entry(spec.algorithm).companion_for(family)
    if companion is None:
        return None
    batch = spec.batch_size
    if family == "linear" and model.starts_at_zero():
        return Companion(companion, torch.zeros(batch, dtype=torch.long, device=device),
                         torch.ones(1, dtype=torch.float64), theta0[:1].copy(), True)
    steps = torch.tensor([g for g in spec.step_sizes for _ in spec.seeds], dtype=torch.float64)
    return Companion(companion, torch.arange(batch, device=device), steps, theta0.copy(), False)



# ---------------------------------------------------------------------- the loop
@dataclass
class Sweep:
    """One batched sweep: its spec, the model and data on the device, and its rows (the main
    runs in (step size, seed) order, then the perceptron companions)."""

    spec: RunSpec
    model: Model
    shared: SharedData
    device: torch.device
    dtype: torch.dtype
    step_list: list[float]
    seed_list: list[int]
    companion: Companion | None
    theta0: torch.Tensor         # (rows, p)
    steps: torch.Tensor          # (B,) the main runs' step sizes
    all_steps: torch.Tensor      # (rows,)
    n: int
    margin_rule: MarginRule | None = None    # the algorithm's stateful coefficients, if any
    margin_state: object = None

    @property
    def batch(self) -> int:
        return len(self.step_list)

    @property
    def rows(self) -> int:
        return self.theta0.shape[0]

    @property
    def params(self) -> int:
        return self.theta0.shape[1]


def prepare(spec: RunSpec, dataset: Dataset) -> Sweep:
    """Check the memory budget, build the model, put the data on the device, start every row."""
    device = resolve_device(spec.device)
    check_memory(spec, dataset.n, dataset.d, device)
    dtype = torch_dtype(spec.dtype)
    model = build(spec)
    features = torch.as_tensor(dataset.features, dtype=dtype, device=device)
    labels = torch.as_tensor(dataset.labels, dtype=dtype, device=device)
    shared = model.prepare(features, labels)
    step_list = [g for g in spec.step_sizes for _ in spec.seeds]
    seed_list = [s for _ in spec.step_sizes for s in spec.seeds]
    theta0 = np.stack([model.init(dataset.d, seed) for seed in seed_list])
    companion = plan_companion(spec, model, theta0, device)
    steps = torch.tensor(step_list, dtype=dtype, device=device)
    if companion is not None:
        theta0 = np.concatenate([theta0, companion.theta0])
        all_steps = torch.cat([steps, companion.steps.to(device, dtype)])
    else:
        all_steps = steps
    make_rule = algorithm_entry(spec.algorithm).margin_rule
    rule = make_rule(spec) if make_rule is not None else None
    return Sweep(spec, model, shared, device, dtype, step_list, seed_list, companion,
                 torch.as_tensor(theta0, dtype=dtype, device=device).clone(), steps, all_steps,
                 dataset.n, rule, rule.init(seed_list, dataset.n, device, dtype) if rule else None)


class RunBook:
    """Per-run status of the main runs: which still move, when each solved or diverged, and
    θ and the perceptron gap at the solve and at the last active iteration.

    On the CPU the "did any run solve or diverge?" test reads the minimum margins through a
    zero-copy numpy view (no tensor ops) and the per-run tensors are touched only at such an
    event; on a GPU that test would be a device sync per step, so the tensors are updated every
    step instead."""

    def __init__(self, sweep: Sweep):
        batch, dtype, device = sweep.batch, sweep.dtype, sweep.device
        self.run_to_max = sweep.spec.run_to_max
        self.host_checks = device.type == "cpu"
        self.active = torch.ones(batch, dtype=torch.bool, device=device)
        self.solve_iter = torch.full((batch,), -1, dtype=torch.long, device=device)
        self.diverged_at = torch.full((batch,), -1, dtype=torch.long, device=device)
        self.last_iter = torch.zeros(batch, dtype=torch.long, device=device)
        self.solve_theta = sweep.theta0[:batch].clone()
        nan = torch.full((batch,), float("nan"), dtype=dtype, device=device)
        self.last_gap, self.solve_gap = nan.clone(), nan.clone()
        # Diverged: non-finite margins (θ overflowed), or margins so negative that the mean
        # loss would overflow.
        self.loss_limit = -torch.finfo(dtype).max / (4 * sweep.n)
        self.never = torch.zeros(batch, dtype=torch.bool, device=device)
        self.finite: torch.Tensor | None = None
        if self.host_checks:       # views sharing memory with the tensors (kept in place)
            self._active_view, self._solve_view = self.active.numpy(), self.solve_iter.numpy()
            self._limit = np.asarray(self.loss_limit, dtype=NUMPY_DTYPES[dtype])

    def event(self, t: int, min_margin: torch.Tensor) -> bool:
        """Whether a run still active solves or diverges at t (always True off the CPU)."""
        if not self.host_checks:
            return True
        margin, active = min_margin.numpy(), self._active_view
        if (active & ~(np.isfinite(margin) & (margin > self._limit))).any():
            return True
        return t >= 1 and bool((active & (margin > 0) & (self._solve_view < 0)).any())

    def mark(self, t: int, min_margin: torch.Tensor, main_theta: torch.Tensor,
             gap: torch.Tensor | None) -> None:
        """Record the solves and divergences at t (the runs stop moving at ``retire``)."""
        active = self.active
        finite = self.finite = torch.isfinite(min_margin) & (min_margin > self.loss_limit)
        newly_diverged = active & ~finite
        newly_solved = (active & finite & (min_margin > 0) & (self.solve_iter < 0)) if t >= 1 else self.never
        self.diverged_at = torch.where(newly_diverged, t, self.diverged_at)
        self.last_iter = torch.where(active, t, self.last_iter)
        self.solve_iter.masked_fill_(newly_solved, t)
        self.solve_theta = torch.where(newly_solved[:, None], main_theta, self.solve_theta)
        if gap is not None:
            self.last_gap = torch.where(active, gap, self.last_gap)
            self.solve_gap = torch.where(newly_solved, gap, self.solve_gap)

    def retire(self) -> None:
        """Stop the runs that diverged (and, unless run_to_max, those that solved) at ``mark``."""
        self.active.logical_and_(self.finite)
        if not self.run_to_max:
            self.active.logical_and_(self.solve_iter < 0)

    def close(self, t: int, gap: torch.Tensor | None) -> None:
        """The runs still active at the end last ran at t."""
        self.last_iter = torch.where(self.active, t, self.last_iter)
        if gap is not None:
            self.last_gap = torch.where(self.active, gap, self.last_gap)


class Recorder:
    """What a sweep keeps: the metrics and θ on the history grid, the exact tail, and the
    iterations where the sharpness was measured."""

    def __init__(self, sweep: Sweep):
        spec, batch, dtype, device = sweep.spec, sweep.batch, sweep.dtype, sweep.device
        known_length = spec.max_iters if spec.run_to_max else 0
        keys = len(HISTORY_KEYS)
        self.grid = HistoryGrid(spec.history_points, (batch, keys), dtype, device, known_length)
        self.keep_params = (spec.history_points + 1) * batch * sweep.params <= PARAM_HISTORY_LIMIT
        self.param_grid = (HistoryGrid(spec.history_points, (batch, sweep.params), dtype, device,
                                       known_length) if self.keep_params else None)
        self.tail = TailBuffer(spec.tail_points, batch, keys, dtype, device) if spec.tail_points else None
        self.has_gap = sweep.companion is not None
        self.sharpness_every = spec.sharpness_every
        self.extra_points: list = []          # (t, metrics, measured rows, θ) at sharpness points
        self.sharpness: dict[int, np.ndarray] = {}
        self.meter = SharpnessMeter(sweep.model, sweep.shared) if spec.sharpness_every else None

    def record(self, t: int, metrics: Callable[..., torch.Tensor], main_theta: torch.Tensor,
               min_margin: torch.Tensor, book: RunBook, saved=None) -> None:
        """Keep what iteration t contributes; ``metrics(out=None)`` computes the (B, 6) metrics,
        ``saved`` is the model's forward pass at t (the sharpness may reuse it)."""
        if self.sharpness_every and t % self.sharpness_every == 0:
            running = book.active & torch.isfinite(min_margin) & (min_margin > book.loss_limit)
            self.sharpness[t] = self.meter.measure(main_theta, running, t, saved)
            self.extra_points.append((t, metrics().cpu().numpy(), running.cpu().numpy(),
                                      main_theta.cpu().numpy() if self.keep_params else None))
        row = self.grid.slot(t) if self.grid.due(t) else None
        if row is None and self.tail is None:
            return
        current = metrics(out=row)
        if row is not None and self.param_grid is not None:
            self.param_grid.maybe_record(t, main_theta)
        if self.tail is not None:
            self.tail.record(t, current, book.active)


def _metrics(margins: torch.Tensor, pulled: torch.Tensor, grad_scale, theta: torch.Tensor,
             gap: torch.Tensor, min_margin: torch.Tensor | None = None,
             scratch: torch.Tensor | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 6) in HISTORY_KEYS order, into ``out`` when given. ``scratch``: a free (B, n) buffer
    of the margins' dtype (the positive margins are counted in it: exact, and cheaper than
    summing a bool tensor)."""
    n = margins.shape[1]
    positive = (torch.gt(margins, 0, out=scratch) if scratch is not None
                else (margins > 0).to(margins.dtype))
    columns = [
        # softplus(−m) = −softplus(m, β = −1), without allocating −m; 0 − x keeps 0 as +0.
        0.0 - F.softplus(margins, beta=-1).mean(dim=1),
        positive.sum(dim=1) / n,
        margins.amin(dim=1) if min_margin is None else min_margin,
        pulled.norm(dim=1) * grad_scale,
        theta.norm(dim=1),
        gap,
    ]
    return torch.stack(columns, dim=1) if out is None else torch.stack(columns, dim=1, out=out)


def _gap(companion: Companion | None, main: torch.Tensor, reference: torch.Tensor | None,
         steps: torch.Tensor) -> torch.Tensor:
    if companion is None:
        return torch.full((main.shape[0],), float("nan"), dtype=main.dtype, device=main.device)
    if companion.linear:
        return (main / steps[:, None] - reference).norm(dim=1)
    return (main / main.norm(dim=1, keepdim=True)
            - reference / reference.norm(dim=1, keepdim=True)).norm(dim=1)


class Updater:
    """θ ← θ + γ·scale·pullback for the rows that move; the perceptron maps of 2-homogeneous
    models are then rescaled to ‖θ_0‖."""

    def __init__(self, sweep: Sweep):
        spec, batch, rows = sweep.spec, sweep.batch, sweep.rows
        self.batch, self.all_steps = batch, sweep.all_steps
        self.companion = sweep.companion is not None
        renormalize = torch.zeros(rows, dtype=torch.bool, device=sweep.device)
        if sweep.model.homogeneity() == 2:     # the entry's renormalize_homogeneous
            if algorithm_entry(spec.algorithm).renormalize_homogeneous:
                renormalize[:batch] = True
            if self.companion and algorithm_entry(sweep.companion.algorithm).renormalize_homogeneous:
                renormalize[batch:] = True
        self.renormalize = renormalize
        self.target_norm = sweep.theta0.norm(dim=1)
        self.renormalize_all = bool(renormalize.all())
        self.renormalize_some = bool(renormalize.any()) and not self.renormalize_all
        self._scale, self._rates = None, None
        make_transform = algorithm_entry(spec.algorithm).transform
        self.transform = make_transform(spec) if make_transform is not None else None
        self.transform_state = (self.transform.init(sweep.theta0[:batch])
                                if self.transform is not None else None)

    def rates(self, scale) -> torch.Tensor:
        """γ·scale per row (kept while scale is the same number)."""
        if not isinstance(scale, float):
            return self.all_steps[:, None] * scale
        if scale != self._scale:
            self._scale, self._rates = scale, self.all_steps[:, None] * scale
        return self._rates

    def step(self, theta: torch.Tensor, pulled: torch.Tensor, scale, margins: torch.Tensor,
             active: torch.Tensor, everyone_moves: bool, t: int = 0) -> torch.Tensor:
        if self.transform is None:
            increment = self.rates(scale) * pulled
        else:       # the main rows' direction through the rule's stateful transform
            direction = scale * pulled
            main, self.transform_state = self.transform.update(
                direction[:self.batch], self.transform_state, t)
            if self.companion:
                main = torch.cat([main, direction[self.batch:]])
            increment = self.all_steps[:, None] * main
        if everyone_moves:
            moving = active
            theta = theta + increment
        else:
            moving = active if not self.companion else torch.cat(
                [active, torch.isfinite(margins[self.batch:].amin(dim=1))])
            # A stopped run keeps its θ exactly (a where, not a zero step: 0·NaN would be NaN).
            theta = torch.where(moving[:, None], theta + increment, theta)
        if self.renormalize_all:
            theta = theta * (self.target_norm / theta.norm(dim=1))[:, None]
        elif self.renormalize_some:
            factor = torch.where(self.renormalize, self.target_norm / theta.norm(dim=1),
                                 torch.ones_like(self.target_norm))
            theta = torch.where(moving[:, None], theta * factor[:, None], theta)
        return theta


def run_sweep(spec: RunSpec, dataset: Dataset, progress: Progress | None = None) -> SweepResult:
    """Run every (step size x seed) configuration of ``spec`` on ``dataset`` in one batch.

    Per iteration only what decides the dynamics touches the (B, n) arrays: the margins, their
    minimum (solve and divergence checks), the coefficients and two matmuls. The full metric
    set is computed at the recorded iterations; a stopped run keeps its θ, so its solve and
    last values are recomputed from the stored θ at the end.
    """
    started = time.perf_counter()
    tune_allocator()
    sweep = prepare(spec, dataset)
    book, recorder, updater = RunBook(sweep), Recorder(sweep), Updater(sweep)
    control = LoopControl(spec, sweep.device, progress)
    theta, t = _iterate(sweep, book, recorder, updater, control)
    control.finish()
    book.close(t, _sweep_gap(sweep, theta))
    records = _assemble(sweep, book, recorder, _final_metrics(sweep, book, theta))
    # collapse: the output no longer depends on the input (models.collapsed_rows)
    if spec.model in COLLAPSE_MODELS:
        for record, flag in zip(records, collapsed_rows(sweep.model, theta[:sweep.batch], sweep.shared)):
            record.extras["collapsed"] = bool(flag)
    meta = {"device": str(sweep.device), "dtype": spec.dtype, "n": dataset.n, "d": dataset.d,
            "model": sweep.model.describe(), "seconds": time.perf_counter() - started,
            "dataset_fingerprint": dataset.fingerprint, "param_count": sweep.params}
    return SweepResult(spec, records, meta)


def _sweep_gap(sweep: Sweep, theta: torch.Tensor) -> torch.Tensor | None:
    companion = sweep.companion
    if companion is None:
        return None
    return _gap(companion, theta[:sweep.batch], theta[sweep.batch:][companion.rows_of_main],
                sweep.steps)


def _iterate(sweep: Sweep, book: RunBook, recorder: Recorder, updater: Updater,
             control: LoopControl) -> tuple[torch.Tensor, int]:
    """The batched loop; returns the last θ (all rows) and the last iteration."""
    spec, model, shared, batch = sweep.spec, sweep.model, sweep.shared, sweep.batch
    theta, companion = sweep.theta0, sweep.companion
    # Reused every step: fresh (B, n) results each step cost page faults that make the two
    # matmuls markedly slower on the CPU.
    margin_buffer = torch.empty((sweep.rows, sweep.n), dtype=sweep.dtype, device=sweep.device)
    coef_buffer = torch.empty_like(margin_buffer)
    pulled_buffer = torch.empty((sweep.rows, sweep.params), dtype=sweep.dtype, device=sweep.device)
    nan_gap = torch.full((batch,), float("nan"), dtype=sweep.dtype, device=sweep.device)
    everyone_moves = book.host_checks and companion is None     # every run starts active
    for t in range(spec.max_iters + 1):
        margins, saved = model.margins(theta, shared, out=margin_buffer)
        main_margins = margins[:batch]
        step, coef, scale = _coefficients(sweep, margins, t, coef_buffer)
        pulled = model.margin_pullback(theta, shared, saved, coef, out=pulled_buffer)
        # The coefficients are spent: their buffer is the metrics' scratch space from here on.
        main_theta = theta[:batch]
        min_margin = main_margins.amin(dim=1)
        changed = book.event(t, min_margin)
        recording = recorder.grid.due(t) or recorder.tail is not None or (
            recorder.sharpness_every and t % recorder.sharpness_every == 0)
        gap = None
        if companion is not None and (changed or recording):
            gap = _sweep_gap(sweep, theta)
        if changed:
            book.mark(t, min_margin, main_theta, gap)
        if recording:
            main_pulled, grad_scale = pulled[:batch], step.grad_scale
            if sweep.margin_rule is not None:      # the full-batch gradient, as for every rule
                full = coefficients(spec.algorithm, main_margins, t)
                main_pulled = model.margin_pullback(main_theta, shared, saved, full.coef)
                grad_scale = full.grad_scale
            metrics = partial(_metrics, main_margins, main_pulled, grad_scale, main_theta,
                              nan_gap if gap is None else gap, min_margin, coef_buffer[:batch])
            recorder.record(t, metrics, main_theta, min_margin, book, saved)
        if changed:
            book.retire()
            everyone_moves = book.host_checks and companion is None and bool(book.active.all())
        if control.done(t, book.active, changed):
            break
        theta = updater.step(theta, pulled, scale, margins, book.active, everyone_moves, t)
    return theta, t


def _coefficients(sweep: Sweep, margins: torch.Tensor, t: int,
                  buffer: torch.Tensor) -> tuple[Step, torch.Tensor, torch.Tensor | float]:
    """The main runs' step, and the coefficients and scale of every row (with the companions'
    written into the same buffer: one pullback for all rows)."""
    batch, companion = sweep.batch, sweep.companion
    if sweep.margin_rule is not None:
        step, sweep.margin_state = sweep.margin_rule.update(margins[:batch], sweep.margin_state, t,
                                                            buffer[:batch])
    else:
        step = coefficients(sweep.spec.algorithm, margins[:batch], t, out=buffer[:batch])
    if companion is None:
        return step, step.coef, step.scale
    other = coefficients(companion.algorithm, margins[batch:], t, out=buffer[batch:])
    _fill(buffer[:batch], step.coef)
    _fill(buffer[batch:], other.coef)
    scale = step.scale
    if not (isinstance(scale, float) and isinstance(other.scale, float) and scale == other.scale):
        scale = torch.cat([_as_column(step.scale, batch, sweep.dtype, sweep.device),
                           _as_column(other.scale, sweep.rows - batch, sweep.dtype, sweep.device)])
    return step, buffer, scale


def _final_metrics(sweep: Sweep, book: RunBook, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """The metrics at each run's solve and last iteration, recomputed from the stored θ (a
    stopped run keeps its θ)."""
    final = {"last_theta": theta[:sweep.batch]}
    for name, rows_theta, rows_gap in (("last", final["last_theta"], book.last_gap),
                                       ("solve", book.solve_theta, book.solve_gap)):
        margins, saved = sweep.model.margins(rows_theta, sweep.shared)
        step = coefficients(sweep.spec.algorithm, margins, 1)
        pulled = sweep.model.margin_pullback(rows_theta, sweep.shared, saved, step.coef)
        final[name] = _metrics(margins, pulled, step.grad_scale, rows_theta, rows_gap)
    return final


def _fill(buffer: torch.Tensor, values: torch.Tensor) -> None:
    """Put ``values`` into ``buffer`` unless they were computed there already."""
    if values.data_ptr() != buffer.data_ptr():
        buffer.copy_(values)


def _as_column(value, count: int, dtype, device) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.reshape(count, 1)
    return torch.full((count, 1), float(value), dtype=dtype, device=device)


def _assemble(sweep: Sweep, book: RunBook, recorder: Recorder,
              final: dict[str, torch.Tensor]) -> list[RunRecord]:
    grid_iters, grid_values = recorder.grid.numpy()
    keep_params = recorder.param_grid is not None
    if keep_params:
        _, grid_params = recorder.param_grid.numpy()
        solve_params, last_params = book.solve_theta.cpu().numpy(), final["last_theta"].cpu().numpy()
    solve_iter, diverged_at = book.solve_iter.cpu().numpy(), book.diverged_at.cpu().numpy()
    last_iter = book.last_iter.cpu().numpy()
    solve_values, last_values = final["solve"].cpu().numpy(), final["last"].cpu().numpy()
    keys = [k for k in HISTORY_KEYS if recorder.has_gap or k != "perceptron_gap"]
    columns = [HISTORY_KEYS.index(k) for k in keys]
    sharpness = recorder.sharpness if recorder.sharpness_every else None
    tail_buffer = recorder.tail

    records = []
    for row, (gamma, seed) in enumerate(zip(sweep.step_list, sweep.seed_list)):
        last = int(last_iter[row])
        points: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for index, t in enumerate(grid_iters):
            if t > last:
                break
            points[int(t)] = (grid_values[index, row], grid_params[index, row] if keep_params else None)
        solved = int(solve_iter[row]) if solve_iter[row] >= 0 else None
        if solved is not None:
            points[solved] = (solve_values[row], solve_params[row] if keep_params else None)
        points[last] = (last_values[row], last_params[row] if keep_params else None)
        for t, values_at, running, params_at in recorder.extra_points:
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
                  if keep_params else None)
        diverged = int(diverged_at[row]) if diverged_at[row] >= 0 else None
        tail = tail_buffer.for_row(row, last, keys, columns) if tail_buffer is not None else None
        records.append(RunRecord(float(gamma), int(seed), solved, diverged is not None, diverged,
                                 last, history, params, tail))
    return records
