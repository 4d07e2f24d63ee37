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
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from core.algorithms.builtin import MarginRule, Step
from core.algorithms.builtin import algorithm as algorithm_entry
from core.datasets.builtin import Dataset
from core.engine.history import PARAM_HISTORY_LIMIT, HistoryGrid, TailBuffer
from core.engine.loop import LoopControl, Progress, resolve_device, torch_dtype
from core.engine.memory import check_memory
from core.models.builtin import COLLAPSE_MODELS, Model, SharedData, build, collapsed_rows
from core.kernel.registry import model_family
from core.engine.results import HISTORY_KEYS, RunRecord, SweepResult
from core.engine.runtime import tune_allocator
from core.analysis.sharpness import SharpnessMeter
from core.kernel.spec import RunSpec, SpecError

NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}


# ---------------------------------------------------------------------- algorithms
def coefficients(algorithm: str, margins: torch.Tensor, t: int,
                 out: torch.Tensor | None = None) -> Step:
    """The step of ``algorithm`` at margins (B, n) and iteration t, from its registry entry's
    closed form (core.algorithms.builtin). ``out``: a buffer the coefficients may be written into
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
    """Per-run status of the main runs of any dynamics: which still move, when each solved or
    diverged, and θ and the perceptron gap at the solve and at the last active iteration. The
    dynamics says, at each iteration, which runs are finite and which have solved."""

    def __init__(self, dynamics: "Dynamics", run_to_max: bool):
        batch, dtype, device = dynamics.batch, dynamics.dtype, dynamics.device
        self.run_to_max = run_to_max
        self.active = torch.ones(batch, dtype=torch.bool, device=device)
        self.solve_iter = torch.full((batch,), -1, dtype=torch.long, device=device)
        self.diverged_at = torch.full((batch,), -1, dtype=torch.long, device=device)
        self.last_iter = torch.zeros(batch, dtype=torch.long, device=device)
        self.solve_theta = dynamics.main(dynamics.theta0).clone()
        nan = torch.full((batch,), float("nan"), dtype=dtype, device=device)
        self.last_gap, self.solve_gap = nan.clone(), nan.clone()
        self.never = torch.zeros(batch, dtype=torch.bool, device=device)
        self.finite: torch.Tensor | None = None

    def mark(self, t: int, finite: torch.Tensor, solved: torch.Tensor | None,
             main_theta: torch.Tensor, gap: torch.Tensor | None) -> None:
        """Record the solves (``solved``: None for none at t) and divergences (not ``finite``)
        at t; the runs stop moving at ``retire``."""
        active = self.active
        self.finite = finite
        newly_diverged = active & ~finite
        newly_solved = (active & finite & solved & (self.solve_iter < 0)) if solved is not None else self.never
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
    iterations where the sharpness was measured (dynamics with a Hessian meter)."""

    def __init__(self, dynamics: "Dynamics", spec: RunSpec):
        batch, dtype, device = dynamics.batch, dynamics.dtype, dynamics.device
        known_length = spec.max_iters if spec.run_to_max and dynamics.known_length else 0
        keys, params = len(dynamics.keys), dynamics.params
        self.grid = HistoryGrid(spec.history_points, (batch, keys), dtype, device, known_length)
        self.keep_params = (spec.history_points + 1) * batch * params <= PARAM_HISTORY_LIMIT
        self.param_grid = (HistoryGrid(spec.history_points, (batch, params), dtype, device,
                                       known_length) if self.keep_params else None)
        self.tail = TailBuffer(spec.tail_points, batch, keys, dtype, device) if spec.tail_points else None
        self.meter = dynamics.meter
        self.sharpness_every = spec.sharpness_every if self.meter is not None else 0
        self.extra_points: list = []          # (t, metrics, measured rows, θ) at sharpness points
        self.sharpness: dict[int, np.ndarray] = {}

    def due(self, t: int) -> bool:
        return self.grid.due(t) or self.tail is not None or bool(
            self.sharpness_every and t % self.sharpness_every == 0)

    def record(self, t: int, metrics: Callable[..., torch.Tensor], main_theta: torch.Tensor,
               running: Callable[[], torch.Tensor], active: torch.Tensor, saved=None) -> None:
        """Keep what iteration t contributes; ``metrics(out=None)`` computes the (B, K) metrics,
        ``running()`` the runs whose sharpness is measured, ``saved`` is the forward pass at t
        (the sharpness may reuse it)."""
        if self.sharpness_every and t % self.sharpness_every == 0:
            measured = running()
            self.sharpness[t] = self.meter.measure(main_theta, measured, t, saved)
            self.extra_points.append((t, metrics().cpu().numpy(), measured.cpu().numpy(),
                                      main_theta.cpu().numpy() if self.keep_params else None))
        row = self.grid.slot(t) if self.grid.due(t) else None
        if row is None and self.tail is None:
            return
        current = metrics(out=row)
        if row is not None and self.param_grid is not None:
            self.param_grid.maybe_record(t, main_theta)
        if self.tail is not None:
            self.tail.record(t, current, active)


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


# ---------------------------------------------------------------------- the one loop
class Dynamics(Protocol):
    """What the one loop (:func:`run_loop`) needs of a dynamics: its rows and how to start,
    observe, measure, judge and step them. The classifiers (:class:`ClassifierDynamics`) and
    the a·b network (``core.engine.shallow.ShallowDynamics``) implement it; the loop, the run book,
    the recorder and the result assembly exist once, here."""

    batch: int                          # the main runs, in (step size, seed) order
    step_list: list[float]
    seed_list: list[int]
    theta0: Any                         # the rows' start (whatever ``step`` takes)
    params: int                         # values of θ per run (the θ history)
    dtype: torch.dtype
    device: torch.device
    keys: tuple[str, ...]               # what the history records, in order
    kept_keys: tuple[str, ...]          # the keys a run record shows
    meter: SharpnessMeter | None        # the Hessian meter (sharpness_every), if any
    known_length: bool                  # run_to_max: start the history grid at its final stride
    keeps_solve_point: bool             # the solve iteration is a history point
    last_from_final: bool               # the last point is recomputed even when on the grid

    def main(self, theta) -> torch.Tensor:
        """The main runs' θ, (batch, params)."""

    def observe(self, theta, t: int) -> Any:
        """Everything of θ_t that the judging, the metrics and the step read."""

    def event(self, observed, book: RunBook, t: int) -> bool:
        """Whether a run may have solved or diverged at t (True: ``status`` is asked)."""

    def status(self, observed, t: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(finite, solved) per main run at t (solved None: no run can solve at t)."""

    def gap(self, theta, observed) -> torch.Tensor | None:
        """The perceptron gap per main run, or None."""

    def measure(self, observed, gap, out: torch.Tensor | None = None) -> torch.Tensor:
        """The (batch, len(keys)) history values at t, into ``out`` when given."""

    def running(self, observed, book: RunBook) -> torch.Tensor:
        """The runs whose sharpness is measured at t."""

    def retired(self, book: RunBook) -> None:
        """The run book changed which runs are active."""

    def step(self, theta, observed, active: torch.Tensor, t: int) -> Any:
        """θ_{t+1}; a run that is not active keeps its θ."""

    def final(self, theta, book: RunBook) -> dict[str, torch.Tensor | None]:
        """The (batch, K) values at each run's last iteration ("last") and solve ("solve", or
        None), and "last_theta" (batch, params)."""


def run_loop(dynamics: Dynamics, spec: RunSpec, progress: Progress | None = None):
    """The loop of every stepped dynamics: observe θ_t, judge the runs (solved, diverged,
    stopped), record the history, step the runs that still move. Returns the last θ, the
    last iteration, the run book and the recorder."""
    book, recorder = RunBook(dynamics, spec.run_to_max), Recorder(dynamics, spec)
    control = LoopControl(spec, dynamics.device, progress)
    theta = dynamics.theta0
    for t in range(spec.max_iters + 1):
        observed = dynamics.observe(theta, t)
        changed = dynamics.event(observed, book, t)
        recording = recorder.due(t)
        gap = dynamics.gap(theta, observed) if changed or recording else None
        main_theta = dynamics.main(theta)
        if changed:
            finite, solved = dynamics.status(observed, t)
            book.mark(t, finite, solved, main_theta, gap)
        if recording:
            recorder.record(t, partial(dynamics.measure, observed, gap), main_theta,
                            partial(dynamics.running, observed, book), book.active,
                            getattr(observed, "saved", None))
        if changed:
            book.retire()
            dynamics.retired(book)
        if control.done(t, book.active, changed):
            break
        theta = dynamics.step(theta, observed, book.active, t)
    control.finish()
    book.close(t, dynamics.gap(theta, None))
    return theta, t, book, recorder


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
    dynamics = ClassifierDynamics(sweep)
    theta, _, book, recorder = run_loop(dynamics, spec, progress)
    records = assemble(dynamics, book, recorder, dynamics.final(theta, book))
    # collapse: the output no longer depends on the input (models.collapsed_rows)
    if spec.model in COLLAPSE_MODELS:
        for record, flag in zip(records, collapsed_rows(sweep.model, theta[:sweep.batch], sweep.shared)):
            record.extras["collapsed"] = bool(flag)
    meta = {"device": str(sweep.device), "dtype": spec.dtype, "n": dataset.n, "d": dataset.d,
            "model": sweep.model.describe(), "seconds": time.perf_counter() - started,
            "dataset_fingerprint": dataset.fingerprint, "param_count": sweep.params}
    return SweepResult(spec, records, meta)


@dataclass
class Observed:
    """One classifier iteration: the margins and forward pass, the step's coefficients and
    the pullback (every row), and the main runs' smallest margins."""

    margins: torch.Tensor
    saved: object
    step: Step
    scale: torch.Tensor | float
    pulled: torch.Tensor
    min_margin: torch.Tensor
    main_theta: torch.Tensor
    t: int


class ClassifierDynamics:
    """The logistic classifiers (linear, two-layer, MLP, CNN) with their perceptron
    companions: θ_{t+1} = θ_t + γ·scale·Σᵢ coefᵢ∇mᵢ, solved when every margin is > 0.

    On the CPU the "did any run solve or diverge?" test reads the minimum margins through a
    zero-copy numpy view (no tensor ops) and the run book is touched only at such an event; on
    a GPU that test would be a device sync per step, so the book is updated every step."""

    known_length = True
    keeps_solve_point = True
    last_from_final = True

    def __init__(self, sweep: Sweep):
        self.sweep, self.spec = sweep, sweep.spec
        self.batch, self.step_list, self.seed_list = sweep.batch, sweep.step_list, sweep.seed_list
        self.theta0, self.params = sweep.theta0, sweep.params
        self.dtype, self.device = sweep.dtype, sweep.device
        self.keys = HISTORY_KEYS
        self.kept_keys = tuple(k for k in HISTORY_KEYS
                               if sweep.companion is not None or k != "perceptron_gap")
        self.meter = SharpnessMeter(sweep.model, sweep.shared) if sweep.spec.sharpness_every else None
        self.updater = Updater(sweep)
        # Reused every step: fresh (B, n) results each step cost page faults that make the two
        # matmuls markedly slower on the CPU.
        self.margin_buffer = torch.empty((sweep.rows, sweep.n), dtype=sweep.dtype, device=sweep.device)
        self.coef_buffer = torch.empty_like(self.margin_buffer)
        self.pulled_buffer = torch.empty((sweep.rows, sweep.params), dtype=sweep.dtype,
                                         device=sweep.device)
        self.nan_gap = torch.full((sweep.batch,), float("nan"), dtype=sweep.dtype, device=sweep.device)
        # Diverged: non-finite margins (θ overflowed), or margins so negative that the mean
        # loss would overflow.
        self.loss_limit = -torch.finfo(sweep.dtype).max / (4 * sweep.n)
        self.host_checks = sweep.device.type == "cpu"
        self._limit = np.asarray(self.loss_limit, dtype=NUMPY_DTYPES[sweep.dtype])
        self.everyone_moves = self.host_checks and sweep.companion is None  # every run starts active

    def main(self, theta):
        return theta[:self.batch]

    def observe(self, theta, t):
        sweep = self.sweep
        margins, saved = sweep.model.margins(theta, sweep.shared, out=self.margin_buffer)
        step, coef, scale = _coefficients(sweep, margins, t, self.coef_buffer)
        pulled = sweep.model.margin_pullback(theta, sweep.shared, saved, coef, out=self.pulled_buffer)
        # The coefficients are spent: their buffer is the metrics' scratch space from here on.
        return Observed(margins, saved, step, scale, pulled, margins[:self.batch].amin(dim=1),
                        theta[:self.batch], t)

    def event(self, observed, book, t):
        if not self.host_checks:
            return True
        margin, active = observed.min_margin.numpy(), book.active.numpy()
        if (active & ~(np.isfinite(margin) & (margin > self._limit))).any():
            return True
        return t >= 1 and bool((active & (margin > 0) & (book.solve_iter.numpy() < 0)).any())

    def status(self, observed, t):
        min_margin = observed.min_margin
        finite = torch.isfinite(min_margin) & (min_margin > self.loss_limit)
        return finite, (min_margin > 0) if t >= 1 else None

    def gap(self, theta, observed):
        return _sweep_gap(self.sweep, theta)

    def measure(self, observed, gap, out=None):
        sweep, batch = self.sweep, self.batch
        main_margins, main_theta = observed.margins[:batch], observed.main_theta
        pulled, grad_scale = observed.pulled[:batch], observed.step.grad_scale
        if sweep.margin_rule is not None:      # the full-batch gradient, as for every rule
            full = coefficients(self.spec.algorithm, main_margins, observed.t)
            pulled = sweep.model.margin_pullback(main_theta, sweep.shared, observed.saved, full.coef)
            grad_scale = full.grad_scale
        return _metrics(main_margins, pulled, grad_scale, main_theta,
                        self.nan_gap if gap is None else gap, observed.min_margin,
                        self.coef_buffer[:batch], out=out)

    def running(self, observed, book):
        min_margin = observed.min_margin
        return book.active & torch.isfinite(min_margin) & (min_margin > self.loss_limit)

    def retired(self, book):
        self.everyone_moves = (self.host_checks and self.sweep.companion is None
                               and bool(book.active.all()))

    def step(self, theta, observed, active, t):
        return self.updater.step(theta, observed.pulled, observed.scale, observed.margins, active,
                                 self.everyone_moves, t)

    def final(self, theta, book):
        return _final_metrics(self.sweep, book, theta)


def _sweep_gap(sweep: Sweep, theta: torch.Tensor) -> torch.Tensor | None:
    companion = sweep.companion
    if companion is None:
        return None
    return _gap(companion, theta[:sweep.batch], theta[sweep.batch:][companion.rows_of_main],
                sweep.steps)


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


def assemble(dynamics: Dynamics, book: RunBook, recorder: Recorder,
             final: dict[str, torch.Tensor | None]) -> list[RunRecord]:
    """One record per main run: its history (the grid up to its last iteration, its solve
    and last iterations, the sharpness points), θ where kept, the tail, solve and divergence."""
    grid_iters, grid_values = recorder.grid.numpy()
    keep_params = recorder.param_grid is not None
    if keep_params:
        _, grid_params = recorder.param_grid.numpy()
        solve_params, last_params = book.solve_theta.cpu().numpy(), final["last_theta"].cpu().numpy()
    solve_iter, diverged_at = book.solve_iter.cpu().numpy(), book.diverged_at.cpu().numpy()
    last_iter = book.last_iter.cpu().numpy()
    last_values = final["last"].cpu().numpy()
    solve_values = final["solve"].cpu().numpy() if dynamics.keeps_solve_point else None
    keys = list(dynamics.kept_keys)
    columns = [dynamics.keys.index(k) for k in keys]
    sharpness = recorder.sharpness if recorder.sharpness_every else None
    tail_buffer = recorder.tail

    records = []
    for row, (gamma, seed) in enumerate(zip(dynamics.step_list, dynamics.seed_list)):
        last = int(last_iter[row])
        points: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for index, t in enumerate(grid_iters):
            if t > last:
                break
            points[int(t)] = (grid_values[index, row], grid_params[index, row] if keep_params else None)
        solved = int(solve_iter[row]) if solve_iter[row] >= 0 else None
        if solved is not None and solve_values is not None:
            points[solved] = (solve_values[row], solve_params[row] if keep_params else None)
        if dynamics.last_from_final or last not in points:
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
