"""Shallow linear networks a·b: GD against gradient flow (Beneventano & Woodworth, science.md §3).

L(a, b) = ½ (aᵀb − Φ)², residual ε = aᵀb − Φ, norm λ = ‖a‖² + ‖b‖², imbalance
Q_i = a_i² − b_i², invariant C = ‖a+b‖² ‖a−b‖². GD runs batched over (step size x init) like
the rest of the engine; gradient flow is integrated with scipy's DOP853 and reported at the
times t = kη that match GD step k.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy.integrate import solve_ivp

from .engine import HistoryGrid, LoopControl, Progress, TailBuffer, resolve_device, torch_dtype
from .results import RunRecord, SweepResult
from .spec import RunSpec

SHALLOW_KEYS = ("loss", "residual", "norm", "imbalance", "invariant", "sharpness", "gf_sharpness")
GF_RTOL, GF_ATOL = 1e-11, 1e-14


# ---------------------------------------------------------------------- closed forms
def residual(a, b, phi):
    return (a * b).sum(-1) - phi


def invariant(a, b):
    """C computed as ‖a+b‖²‖a−b‖² (not λ² − 4(aᵀb)², which cancels catastrophically)."""
    return ((a + b) ** 2).sum(-1) * ((a - b) ** 2).sum(-1)


def sharpness(norm, eps, phi):
    """Top Hessian eigenvalue of L at a point with norm λ and residual ε."""
    return (norm + np.sqrt(norm**2 + 4 * eps * (2 * phi + 3 * eps))) / 2


def gf_limit_sharpness(phi: float, c0: float) -> float:
    """λ_GF = sqrt(4Φ² + C_0) (inf when it overflows)."""
    with np.errstate(over="ignore"):
        return float(np.sqrt(4 * np.float64(phi) ** 2 + c0))


def gd_limit_sharpness(phi: float, c0: float, contraction: float) -> float:
    """λ_GD = sqrt(4Φ² + S² C_0), S = Π_t (1 − η²ε_t²) (inf when it overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(4 * np.float64(phi) ** 2 + np.float64(contraction) ** 2 * c0))


def theorem1_step_bound(a0: np.ndarray, b0: np.ndarray, phi: float) -> float:
    """η below min{1/(2|ε(0)|), 2/sqrt(λ(0)² + 4Φ²)} converges linearly (needs C_0 > 0)."""
    eps0 = abs(float(a0 @ b0) - phi)
    lam0 = float(a0 @ a0 + b0 @ b0)
    first = math.inf if eps0 == 0 else 1 / (2 * eps0)
    with np.errstate(over="ignore", divide="ignore"):
        return min(first, float(2 / np.sqrt(np.float64(lam0) ** 2 + 4 * np.float64(phi) ** 2)))


def gf_time_of_residual(m: float, phi: float, c0: float) -> float:
    """An antiderivative F with F'(m) = 1/((m − Φ) sqrt(4m² + C_0)); along gradient flow
    m = aᵀb obeys ṁ = −(m − Φ) sqrt(4m² + C_0), so t = F(m(0)) − F(m(t))."""
    root = math.sqrt(4 * phi**2 + c0)
    inner = 4 * phi * m + c0 + root * math.sqrt(4 * m * m + c0)
    return math.log(abs(m - phi) / abs(inner)) / root


# ---------------------------------------------------------------------- initialisation
def initial_points(spec: RunSpec) -> tuple[np.ndarray, np.ndarray]:
    """(a0, b0) per row, rows ordered (step size, seed) like the engine."""
    d, scale = spec.d, spec.init_scale
    if spec.init == "explicit":
        a0, b0 = np.array(spec.a), np.array(spec.b)
        pairs = [(a0, b0)] * len(spec.seeds)
    elif spec.init == "fig3":
        a0, b0 = np.zeros(d), np.zeros(d)
        a0[0], b0[1] = scale, scale / 2
        pairs = [(a0, b0)] * len(spec.seeds)
    else:
        pairs = []
        for seed in spec.seeds:
            rng = np.random.default_rng(seed)
            a0, b0 = rng.standard_normal(d), rng.standard_normal(d)
            pairs.append((scale * a0 / np.linalg.norm(a0), scale * b0 / np.linalg.norm(b0)))
    rows = [pair for _ in spec.step_sizes for pair in pairs]
    return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])


def _metrics(a: torch.Tensor, b: torch.Tensor, phi: float) -> torch.Tensor:
    eps = (a * b).sum(1) - phi
    aa, bb = (a * a).sum(1), (b * b).sum(1)
    norm = aa + bb
    c = ((a + b) ** 2).sum(1) * ((a - b) ** 2).sum(1)
    sharp = (norm + torch.sqrt(norm * norm + 4 * eps * (2 * phi + 3 * eps))) / 2
    return torch.stack([eps * eps / 2, eps, norm, aa - bb, c, sharp,
                        torch.sqrt(4 * phi * phi + c)], dim=1)


# ---------------------------------------------------------------------- gradient descent
def run_gd(spec: RunSpec, progress: Progress | None = None) -> SweepResult:
    started = time.perf_counter()
    device = resolve_device(spec.device)
    dtype = torch_dtype(spec.dtype)
    a0, b0 = initial_points(spec)
    a = torch.as_tensor(a0, dtype=dtype, device=device).clone()
    b = torch.as_tensor(b0, dtype=dtype, device=device).clone()
    phi = float(spec.phi)
    rows = a.shape[0]
    steps = torch.tensor([g for g in spec.step_sizes for _ in spec.seeds], dtype=dtype, device=device)

    active = torch.ones(rows, dtype=torch.bool, device=device)
    converged_at = torch.full((rows,), -1, dtype=torch.long, device=device)
    diverged_at = torch.full((rows,), -1, dtype=torch.long, device=device)
    last_iter = torch.zeros(rows, dtype=torch.long, device=device)
    log_contraction = torch.zeros(rows, dtype=dtype, device=device)
    contraction_sign = torch.ones(rows, dtype=dtype, device=device)
    keys = len(SHALLOW_KEYS)
    grid = HistoryGrid(spec.history_points, (rows, keys), dtype, device)
    keep_params = (spec.history_points + 1) * rows * 2 * spec.d <= 2_000_000
    param_grid = HistoryGrid(spec.history_points, (rows, 2 * spec.d), dtype, device) if keep_params else None
    tail = TailBuffer(spec.tail_points, rows, keys, dtype, device) if spec.tail_points else None
    control = LoopControl(spec, device, progress)
    blow_up = math.sqrt(torch.finfo(dtype).max) / 16

    for t in range(spec.max_iters + 1):
        eps = (a * b).sum(1) - phi
        # Diverged: a non-finite value, or one so large that ε² or λ² would overflow.
        finite = ((eps.abs() < blow_up) & ((a * a).sum(1) + (b * b).sum(1) < blow_up)
                  & torch.isfinite(a).all(1) & torch.isfinite(b).all(1))
        diverged_at = torch.where(active & ~finite, t, diverged_at)
        newly = active & finite & (eps.abs() <= spec.tol) & (converged_at < 0)
        converged_at = torch.where(newly, t, converged_at)
        last_iter = torch.where(active, t, last_iter)
        if t % grid.stride == 0 or tail is not None:
            current = _metrics(a, b, phi)
            grid.maybe_record(t, current)
            if param_grid is not None:
                param_grid.maybe_record(t, torch.cat([a, b], dim=1))
            if tail is not None:
                tail.record(t, current, active)
        active = active & finite
        if not spec.run_to_max:
            active = active & (converged_at < 0)
        if control.done(t, active):
            break
        step = torch.where(active, steps * eps, torch.zeros_like(eps))
        factor = 1 - step * step
        # S = Π(1 − η²ε²) may underflow or change sign: keep it as sign · exp(log|S|).
        log_contraction = log_contraction + torch.log(torch.abs(factor))
        contraction_sign = contraction_sign * torch.sign(factor)
        a, b = a - step[:, None] * b, b - step[:, None] * a

    control.finish()
    final = _metrics(a, b, phi).cpu().numpy()
    contraction = (contraction_sign * torch.exp(log_contraction)).cpu().numpy()
    records = []
    grid_iters, grid_values = grid.numpy()
    grid_params = param_grid.numpy()[1] if param_grid is not None else None
    last_iter, converged_at = last_iter.cpu().numpy(), converged_at.cpu().numpy()
    diverged_at = diverged_at.cpu().numpy()
    final_params = torch.cat([a, b], dim=1).cpu().numpy()
    for row in range(rows):
        last = int(last_iter[row])
        keep = grid_iters <= last
        iterations = list(grid_iters[keep])
        values = list(grid_values[keep, row])
        params = list(grid_params[keep, row]) if grid_params is not None else None
        if not iterations or iterations[-1] != last:
            iterations.append(last)
            values.append(final[row])
            if params is not None:
                params.append(final_params[row])
        values = np.stack(values)
        history = {"iteration": np.asarray(iterations, dtype=np.int64)}
        history.update({key: values[:, k].astype(np.float64) for k, key in enumerate(SHALLOW_KEYS)})
        tail_dict = (tail.for_row(row, last, list(SHALLOW_KEYS), list(range(len(SHALLOW_KEYS))))
                     if tail is not None else None)
        extras = _run_extras(a0[row], b0[row], phi, final[row], float(contraction[row]),
                             float(steps[row]))
        converged = int(converged_at[row]) if converged_at[row] >= 0 else None
        diverged = int(diverged_at[row]) if diverged_at[row] >= 0 else None
        record = RunRecord(float(steps[row]), int(spec.seeds[row % len(spec.seeds)]), converged,
                           diverged is not None, diverged, last, history,
                           np.stack(params) if params is not None else None, tail_dict)
        record.extras = dict(extras, steps_to_tol=converged)
        records.append(record)
    meta = {"device": str(device), "dtype": spec.dtype, "d": spec.d, "model": "L = ½(aᵀb − Φ)²",
            "seconds": time.perf_counter() - started, "phi": phi}
    return SweepResult(spec, records, meta)


def _run_extras(a0, b0, phi, final_values, contraction, step) -> dict:
    c0 = float(invariant(a0, b0))
    q0 = float(a0 @ a0 - b0 @ b0)
    final_q = float(final_values[SHALLOW_KEYS.index("imbalance")])
    lam0 = float(a0 @ a0 + b0 @ b0)
    return {
        "imbalance_ratio": final_q / q0 if q0 != 0 and math.isfinite(final_q) else None,
        "final_sharpness": _finite_or_none(final_values[SHALLOW_KEYS.index("sharpness")]),
        "gf_sharpness": _finite_or_none(gf_limit_sharpness(phi, c0)),
        "gd_limit_sharpness": _finite_or_none(gd_limit_sharpness(phi, c0, contraction))
        if math.isfinite(contraction) else None,
        "contraction": _finite_or_none(contraction),
        "theorem1_step_bound": theorem1_step_bound(a0, b0, phi),
        "eta_lambda0": step * lam0,
        "initial_norm": lam0,
    }


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- gradient flow
def _flow(d: int, phi: float):
    def field(_, state):
        a, b = state[:d], state[d:]
        eps = a @ b - phi
        return np.concatenate([-eps * b, -eps * a])
    return field


def _flow_jacobian(d: int, phi: float):
    def jacobian(_, state):
        a, b = state[:d], state[d:]
        eps = a @ b - phi
        matrix = np.empty((2 * d, 2 * d))
        matrix[:d, :d] = -np.outer(b, b)
        matrix[:d, d:] = -eps * np.eye(d) - np.outer(b, a)
        matrix[d:, :d] = -eps * np.eye(d) - np.outer(a, b)
        matrix[d:, d:] = -np.outer(a, a)
        return matrix
    return jacobian


STIFF_STEPS = 20_000


def flow_method(a0: np.ndarray, b0: np.ndarray, phi: float, horizon: float) -> str:
    """DOP853, unless the flow is stiff over the horizon (its fastest rate, about the largest
    Hessian eigenvalue on the way, times the horizon is large): then Radau with the exact
    Jacobian, which meets the same tolerances in far fewer steps."""
    rate = float(a0 @ a0 + b0 @ b0) + 2 * abs(phi) + math.sqrt(float(invariant(a0, b0)))
    return "Radau" if rate * horizon > STIFF_STEPS else "DOP853"


def integrate_flow(a0: np.ndarray, b0: np.ndarray, phi: float, times: np.ndarray, tol: float):
    """Gradient flow from (a0, b0): states at ``times``, the first time |ε| = tol (or None),
    and the integrator used (with its message if it gave up early)."""
    d = a0.shape[0]
    eps0 = float(a0 @ b0 - phi)
    method = flow_method(a0, b0, phi, float(times[-1]))
    extra = {"jac": _flow_jacobian(d, phi)} if method == "Radau" else {}

    def reaches_tol(_, state):
        return abs(state[:d] @ state[d:] - phi) - tol
    reaches_tol.direction = -1
    solution = solve_ivp(_flow(d, phi), (0.0, float(times[-1])), np.concatenate([a0, b0]),
                         method=method, t_eval=times, rtol=GF_RTOL, atol=GF_ATOL,
                         events=reaches_tol, **extra)
    if not solution.success:
        method = f"{method} stopped at t = {solution.t[-1]:.6g}: {solution.message}"
    hit = solution.t_events[0]
    first = 0.0 if abs(eps0) <= tol else (float(hit[0]) if len(hit) else None)
    return solution.y.T, first, method


def flow_history(a0: np.ndarray, b0: np.ndarray, phi: float, step: float, max_iters: int,
                 points: int, tol: float, stop_at_tol: bool):
    """GF sampled at GD-step times t = kη on an even grid of k. With ``stop_at_tol`` the grid
    ends at the first k whose time is past |ε| = tol (found by a first integration), so a GF
    run stops like a GD run does."""
    grid = np.unique(np.linspace(0, max_iters, points + 1).round().astype(np.int64))
    states, first, method = integrate_flow(a0, b0, phi, grid * step, tol)
    if stop_at_tol and first is not None:
        stop = max(int(math.ceil(first / step - 1e-9)), 0)
        grid = np.unique(np.linspace(0, stop, min(points, stop) + 1).round().astype(np.int64))
        if stop == 0:
            return grid, states[:1], first, method
        states, _, method = integrate_flow(a0, b0, phi, grid * step, tol)
    return grid[: states.shape[0]], states, first, method


def run_flow(spec: RunSpec, progress: Progress | None = None) -> SweepResult:
    started = time.perf_counter()
    a0s, b0s = initial_points(spec)
    phi = float(spec.phi)
    step_list = [g for g in spec.step_sizes for _ in spec.seeds]
    records = []
    for row, step in enumerate(step_list):
        reached, states, t_tol, method = flow_history(a0s[row], b0s[row], phi, step, spec.max_iters,
                                                      spec.history_points, spec.tol,
                                                      stop_at_tol=not spec.run_to_max)
        steps_to_tol = None if t_tol is None else int(math.ceil(t_tol / step - 1e-9))
        a = torch.as_tensor(states[:, : spec.d])
        b = torch.as_tensor(states[:, spec.d:])
        values = _metrics(a, b, phi).numpy()
        history = {"iteration": reached.copy()}
        history.update({key: values[:, k] for k, key in enumerate(SHALLOW_KEYS)})
        record = RunRecord(float(step), int(spec.seeds[row % len(spec.seeds)]), steps_to_tol,
                           False, None, int(reached[-1]), history, states)
        record.extras = dict(_run_extras(a0s[row], b0s[row], phi, values[-1], 1.0, float(step)),
                             steps_to_tol=steps_to_tol, gf_time_to_tol=t_tol, integrator=method)
        records.append(record)
        if progress is not None:
            progress((row + 1) / len(step_list))
    meta = {"device": "cpu (scipy solve_ivp)", "dtype": "float64", "d": spec.d,
            "model": "L = ½(aᵀb − Φ)², gradient flow", "seconds": time.perf_counter() - started,
            "phi": phi, "rtol": GF_RTOL}
    return SweepResult(spec, records, meta)


def run_shallow(spec: RunSpec, progress: Progress | None = None) -> SweepResult:
    if spec.algorithm == "gradient_flow":
        return run_flow(spec, progress)
    return run_gd(spec, progress)
