"""Shallow linear networks a·b: GD against gradient flow (Beneventano & Woodworth, science.md §3).

L(a, b) = ½ (aᵀb − Φ)², residual ε = aᵀb − Φ, norm λ = ‖a‖² + ‖b‖², imbalance
Q_i = a_i² − b_i², invariant C = ‖a+b‖² ‖a−b‖². GD runs batched over (step size x init) like
the rest of the engine; gradient flow is integrated with scipy's DOP853 and reported at the
times t = kη that match GD step k.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from core.engine.loop import Progress, resolve_device, torch_dtype
from core.engine.results import RunRecord, SweepResult
from core.algorithms.builtin import algorithm
from core.kernel.spec import RunSpec, SpecError
from core.kernel.lazy import lazy_module

torch = lazy_module("torch", globals())
integrate = lazy_module("scipy.integrate", globals())     # solve_ivp, for gradient flow only

SHALLOW_KEYS = ("loss", "residual", "norm", "imbalance", "invariant", "sharpness", "gf_sharpness",
                "imbalance_ratio")
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
    scale = math.hypot(lam0, 2 * phi)                  # √(λ(0)² + 4Φ²) without overflow
    return min(first, 2 / scale if scale else math.inf)


def gf_time_of_residual(m: float, phi: float, c0: float) -> float:
    """An antiderivative F with F'(m) = 1/((m − Φ) sqrt(4m² + C_0)); along gradient flow
    m = aᵀb obeys ṁ = −(m − Φ) sqrt(4m² + C_0), so t = F(m(0)) − F(m(t))."""
    return _gf_antiderivative(m - phi, phi, c0)


def _gf_antiderivative(eps: float, phi: float, c0: float) -> float:
    """F of :func:`gf_time_of_residual` at m = Φ + ε, taking ε itself: near the minimum
    m − Φ computed from m would lose the digits that decide the log."""
    m = phi + eps
    root = math.sqrt(4 * phi**2 + c0)
    inner = 4 * phi * m + c0 + root * math.sqrt(4 * m * m + c0)
    return math.log(abs(eps) / abs(inner)) / root


def reference_coordinate(a0: np.ndarray, b0: np.ndarray) -> tuple[int, float]:
    """The coordinate i with the largest |Q_i(0)| and that Q_i(0). Every Q_i is multiplied by
    the same S each step, so S is read where it is best conditioned; the total Q(0) can be 0
    (e.g. ‖a₀‖ = ‖b₀‖) while the coordinates are not balanced."""
    q0 = np.asarray(a0, dtype=float) ** 2 - np.asarray(b0, dtype=float) ** 2
    index = int(np.argmax(np.abs(q0)))
    return index, float(q0[index])


def imbalance_ratio(a0: np.ndarray, b0: np.ndarray, a: np.ndarray, b: np.ndarray) -> float | None:
    """S = Q_i(T)/Q_i(0) at the reference coordinate; None when every Q_i(0) = 0 or the run
    left the floats."""
    index, q0 = reference_coordinate(a0, b0)
    if q0 == 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = float((a[index] ** 2 - b[index] ** 2) / q0)
    return ratio if math.isfinite(ratio) else None


def gf_time_to_tol(a0: np.ndarray, b0: np.ndarray, phi: float, tol: float) -> float | None:
    """The gradient-flow time at which |ε| first reaches tol, from the closed form of m = aᵀb.

    ε keeps its sign along the flow (ṁ = 0 at m = Φ), so m reaches Φ + sign(ε₀)·tol at
    t = F(m₀) − F(Φ + sign(ε₀)·tol). None where the closed form does not apply (C₀ = 0 with
    m crossing 0, a stationary start) or is not finite: the caller then keeps the ODE's event."""
    m0 = float(np.dot(a0, b0))
    eps0 = float(np.dot(a0, b0) - phi)
    if abs(eps0) <= tol:
        return 0.0
    c0 = float(invariant(np.asarray(a0), np.asarray(b0)))
    target = math.copysign(tol, eps0)
    if c0 <= 0 and (m0 <= 0 or phi + target <= 0):
        return None
    try:
        t = _gf_antiderivative(eps0, phi, c0) - _gf_antiderivative(target, phi, c0)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return t if math.isfinite(t) and t >= 0 else None


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


def reference_columns(a0: np.ndarray, b0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the reference coordinate and its Q_i(0) (NaN where every Q_i(0) = 0)."""
    pairs = [reference_coordinate(a, b) for a, b in zip(a0, b0)]
    index = np.array([i for i, _ in pairs], dtype=np.int64)
    q0 = np.array([q if q != 0 else np.nan for _, q in pairs])
    return index, q0


# Figure 3 inits, per unit scale s (docs/science.md, "Figure 3"). "axes": a₀ = s e₁,
# b₀ = (s/2) e₂, the project's original choice: aᵀb = 0, so ε(0) = −Φ at every scale, but
# then a₁ᵀb₁ = ηΦλ(0) and GD lands exactly on the minimum in one step at ηλ(0) = 1.
# "generic": a₀ = s(1, 0.2), b₀ = s(0.3, 0.5), with aᵀb ≠ 0, unbalanced coordinates of both
# signs and C₀ > 0, so no step size is special.
FIG3_GENERIC = ((1.0, 0.2), (0.3, 0.5))
FIG3_INITS = ("axes", "generic")


def figure3_spec_fields(kind: str, scale: float) -> dict:
    """The spec fields of a Figure-3 initial point at scale s."""
    if kind == "axes":
        return {"init": "fig3", "init_scale": float(scale), "d": 2}
    a, b = FIG3_GENERIC
    return {"init": "explicit", "a": tuple(scale * x for x in a), "b": tuple(scale * x for x in b)}


def _metrics(a: torch.Tensor, b: torch.Tensor, phi: float, ref_index: torch.Tensor,
             ref_q0: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    eps = (a * b).sum(1) - phi
    aa, bb = (a * a).sum(1), (b * b).sum(1)
    norm = aa + bb
    c = ((a + b) ** 2).sum(1) * ((a - b) ** 2).sum(1)
    sharp = (norm + torch.sqrt(norm * norm + 4 * eps * (2 * phi + 3 * eps))) / 2
    a_ref = a.gather(1, ref_index[:, None])[:, 0]
    b_ref = b.gather(1, ref_index[:, None])[:, 0]
    ratio = (a_ref * a_ref - b_ref * b_ref) / ref_q0
    columns = [eps * eps / 2, eps, norm, aa - bb, c, sharp, torch.sqrt(4 * phi * phi + c), ratio]
    return torch.stack(columns, dim=1) if out is None else torch.stack(columns, dim=1, out=out)


# ---------------------------------------------------------------------- gradient descent
@dataclass
class Observed:
    """One iteration of the a·b network: the residual ε per run and whether the run is finite."""

    a: torch.Tensor
    b: torch.Tensor
    eps: torch.Tensor
    finite: torch.Tensor


class ShallowDynamics:
    """GD on L = ½(aᵀb − Φ)² (and GD's gradient through a stateful transform: momentum,
    Adam), batched over (step size x init), for the one loop of core.engine.batched. θ is the pair
    (a, b); converged when |ε| ≤ tol (from t = 0), diverged when ε² or λ² would overflow.
    GD also keeps S = Π(1 − η²ε²) per run."""

    keys = SHALLOW_KEYS
    kept_keys = SHALLOW_KEYS
    meter = None
    known_length = False
    keeps_solve_point = False
    last_from_final = False

    def __init__(self, spec: RunSpec):
        self.spec = spec
        self.device = resolve_device(spec.device)
        self.dtype = dtype = torch_dtype(spec.dtype)
        self.a0, self.b0 = a0, b0 = initial_points(spec)
        a = torch.as_tensor(a0, dtype=dtype, device=self.device).clone()
        b = torch.as_tensor(b0, dtype=dtype, device=self.device).clone()
        self.theta0 = (a, b)
        self.phi = float(spec.phi)
        self.batch = rows = a.shape[0]
        self.params = 2 * spec.d
        index_np, q0_np = reference_columns(a0, b0)
        self.ref_index = torch.as_tensor(index_np, device=self.device)
        self.ref_q0 = torch.as_tensor(q0_np, dtype=dtype, device=self.device)
        self.steps = torch.tensor([g for g in spec.step_sizes for _ in spec.seeds], dtype=dtype,
                                  device=self.device)
        self.step_list = [float(g) for g in self.steps]
        self.seed_list = [int(spec.seeds[row % len(spec.seeds)]) for row in range(rows)]
        self.log_contraction = torch.zeros(rows, dtype=dtype, device=self.device)
        self.contraction_sign = torch.ones(rows, dtype=dtype, device=self.device)
        self.blow_up = math.sqrt(torch.finfo(dtype).max) / 16
        make_transform = algorithm(spec.algorithm).transform      # momentum, Adam: core.algorithms.builtin
        self.transform = make_transform(spec) if make_transform is not None else None
        self.transform_state = (self.transform.init(torch.cat([a, b], dim=1))
                                if self.transform is not None else None)

    def main(self, theta):
        return torch.cat(theta, dim=1)

    def observe(self, theta, t):
        a, b = theta
        eps = (a * b).sum(1) - self.phi
        # Diverged: a non-finite value, or one so large that ε² or λ² would overflow.
        finite = ((eps.abs() < self.blow_up) & ((a * a).sum(1) + (b * b).sum(1) < self.blow_up)
                  & torch.isfinite(a).all(1) & torch.isfinite(b).all(1))
        return Observed(a, b, eps, finite)

    def event(self, observed, book, t):
        return True

    def status(self, observed, t):
        return observed.finite, observed.eps.abs() <= self.spec.tol

    def gap(self, theta, observed):
        return None

    def measure(self, observed, gap, out=None):
        return _metrics(observed.a, observed.b, self.phi, self.ref_index, self.ref_q0, out=out)

    def running(self, observed, book):
        return book.active

    def retired(self, book):
        pass

    def step(self, theta, observed, active, t):
        a, b = theta
        eps = observed.eps
        if self.transform is not None:
            # u = −∇L = −(εb, εa) through the rule's transform; S = Π(1 − η²ε²) is GD's only
            direction = torch.cat([-eps[:, None] * b, -eps[:, None] * a], dim=1)
            update, self.transform_state = self.transform.update(direction, self.transform_state, t)
            joined = torch.cat([a, b], dim=1)
            moved = torch.where(active[:, None], joined + self.steps[:, None] * update, joined)
            a, b = moved[:, :self.spec.d], moved[:, self.spec.d:]
        else:
            step = torch.where(active, self.steps * eps, torch.zeros_like(eps))
            factor = 1 - step * step
            # S = Π(1 − η²ε²) may underflow or change sign: keep it as sign · exp(log|S|).
            self.log_contraction = self.log_contraction + torch.log(torch.abs(factor))
            self.contraction_sign = self.contraction_sign * torch.sign(factor)
            a, b = a - step[:, None] * b, b - step[:, None] * a
        return a, b

    def final(self, theta, book):
        a, b = theta
        return {"last": _metrics(a, b, self.phi, self.ref_index, self.ref_q0), "solve": None,
                "last_theta": torch.cat([a, b], dim=1)}


def run_gd(spec: RunSpec, progress: Progress | None = None) -> SweepResult:
    from core.engine.batched import assemble, run_loop     # the one loop (loads torch: not at import)

    started = time.perf_counter()
    dynamics = ShallowDynamics(spec)
    theta, _, book, recorder = run_loop(dynamics, spec, progress)
    final = dynamics.final(theta, book)
    final_values, final_params = final["last"].cpu().numpy(), final["last_theta"].cpu().numpy()
    contraction = (dynamics.contraction_sign * torch.exp(dynamics.log_contraction)).cpu().numpy()
    if dynamics.transform is not None:
        contraction = np.full(dynamics.batch, np.nan)
    records = assemble(dynamics, book, recorder, final)
    for row, record in enumerate(records):
        extras = _run_extras(dynamics.a0[row], dynamics.b0[row], dynamics.phi, final_values[row],
                             final_params[row], float(contraction[row]), record.step_size)
        record.extras = dict(extras, steps_to_tol=record.iterations_to_solve)
    meta = {"device": str(dynamics.device), "dtype": spec.dtype, "d": spec.d,
            "model": "L = ½(aᵀb − Φ)²", "seconds": time.perf_counter() - started,
            "phi": dynamics.phi}
    return SweepResult(spec, records, meta)


def _run_extras(a0, b0, phi, final_values, final_params, contraction, step) -> dict:
    c0 = float(invariant(a0, b0))
    lam0 = float(a0 @ a0 + b0 @ b0)
    d = a0.shape[0]
    ratio = imbalance_ratio(a0, b0, final_params[:d], final_params[d:])
    return {
        "imbalance_ratio": ratio,
        # |S measured − S = Π(1 − η²ε²)| / |S|: the two agree to rounding when the run is exact
        "imbalance_ratio_error": (abs(ratio - contraction) / max(abs(contraction), 1e-300)
                                  if ratio is not None and math.isfinite(contraction) else None),
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


def flow_is_stiff(spec: RunSpec) -> bool:
    """Whether any run of a gradient-flow spec is integrated with Radau (flow_method), for
    the memory guard (Radau holds dense 2d × 2d matrices)."""
    if spec.init != "explicit" and 2 * spec.batch_size * spec.d * 8 > 2**31:
        return True           # too big to draw just to find out; the states refuse it anyway
    a0s, b0s = initial_points(spec)
    steps = [g for g in spec.step_sizes for _ in spec.seeds]
    return any(flow_method(a0, b0, float(spec.phi), spec.max_iters * step) == "Radau"
               for a0, b0, step in zip(a0s, b0s, steps))


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
    try:
        solution = integrate.solve_ivp(_flow(d, phi), (0.0, float(times[-1])),
                                       np.concatenate([a0, b0]), method=method, t_eval=times,
                                       rtol=GF_RTOL, atol=GF_ATOL, events=reaches_tol, **extra)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        # The integrator itself failed (an overflowing Jacobian, say): a result that ends at
        # the start and says why, like divergence, not an exception.
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        return (np.concatenate([a0, b0])[None], 0.0 if abs(eps0) <= tol else None,
                f"{method} stopped at t = 0: {reason}")
    if not solution.success:
        method = f"{method} stopped at t = {solution.t[-1]:.6g}: {solution.message}"
    hit = solution.t_events[0]
    first = 0.0 if abs(eps0) <= tol else (float(hit[0]) if len(hit) else None)
    if first is not None:
        # The integrator's event is only as good as its tolerances (2e-4 relative seen with
        # Radau); the closed form gives the same crossing to rounding.
        exact = gf_time_to_tol(a0, b0, phi, tol)
        first = exact if exact is not None else first
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
        index, q0 = reference_columns(a0s[row: row + 1], b0s[row: row + 1])
        values = _metrics(a, b, phi, torch.as_tensor(np.repeat(index, len(states))),
                          torch.as_tensor(np.repeat(q0, len(states)))).numpy()
        history = {"iteration": reached.copy()}
        history.update({key: values[:, k] for k, key in enumerate(SHALLOW_KEYS)})
        record = RunRecord(float(step), int(spec.seeds[row % len(spec.seeds)]), steps_to_tol,
                           False, None, int(reached[-1]), history, states)
        record.extras = dict(_run_extras(a0s[row], b0s[row], phi, values[-1], states[-1], 1.0,
                                         float(step)),
                             steps_to_tol=steps_to_tol, gf_time_to_tol=t_tol, integrator=method)
        records.append(record)
        if progress is not None:
            progress((row + 1) / len(step_list))
    meta = {"device": "cpu (scipy solve_ivp)", "dtype": "float64", "d": spec.d,
            "model": "L = ½(aᵀb − Φ)², gradient flow", "seconds": time.perf_counter() - started,
            "phi": phi, "rtol": GF_RTOL}
    return SweepResult(spec, records, meta)


def run_shallow(spec: RunSpec, progress: Progress | None = None) -> SweepResult:
    """The shallow family's algorithms (core.algorithms.builtin): a continuous-time entry (gradient
    flow) is integrated, GD is stepped in closed form, and a rule with a transform (momentum,
    Adam) steps GD's gradient through it."""
    entry = algorithm(spec.algorithm)
    if entry.continuous:
        return run_flow(spec, progress)
    if "shallow" not in entry.families:
        raise SpecError("algorithm", f"{spec.algorithm!r} does not run on the a·b network")
    return run_gd(spec, progress)
