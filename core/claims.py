"""Every checkable claim of science.md as a small declarative entry: what the paper says,
the spec that measures it, how to read the measurement, and the tolerance.

``python -m core reproduce`` and the "Paper checks" page are both generated from ``CLAIMS``.
To add a claim: write its spec and a ``judge`` that turns the outcome into a Measurement.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import shallow, theory
from .api import run_spec
from .results import SweepResult
from .spec import RunSpec, make_spec


@dataclass
class Measurement:
    measured: str          # what we measure, as shown
    passed: bool
    detail: str = ""

    def __post_init__(self):
        self.passed = bool(self.passed)


@dataclass(frozen=True)
class Claim:
    name: str
    paper: str             # paper and section
    statement: str         # what the paper says
    expected: str          # the value or relation expected
    tolerance: str
    specs: tuple[RunSpec, ...]
    judge: Callable[[list[SweepResult]], Measurement]
    page: str              # dashboard page (url path) that shows the first spec
    fast: bool = True      # part of the quick subset CI runs
    view: str = ""         # the page's query string when the claim has no spec of its own

    def link(self, base: str = "") -> str:
        """The dashboard view that shows the claim (its first spec, or ``view``)."""
        query = self.view or (self.specs[0].canonical() if self.specs else "")
        return f"{base}/{self.page}" + (f"?{query}" if query else "")


@dataclass
class Verdict:
    claim: Claim
    measurement: Measurement
    seconds: float
    cached: bool

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.claim.name, "paper": self.claim.paper,
                "statement": self.claim.statement, "expected": self.claim.expected,
                "measured": self.measurement.measured, "tolerance": self.claim.tolerance,
                "passed": self.measurement.passed, "detail": self.measurement.detail,
                "link": self.claim.link(), "seconds": round(self.seconds, 3),
                "cached": self.cached}


TYURIN_LR = "Tyurin 2025, From Logistic Regression to the Perceptron (arXiv 2412.08424)"
TYURIN_GD = "Tyurin 2025, GD as a Perceptron Algorithm (arXiv 2512.11587)"
BW = "Beneventano & Woodworth 2025 (arXiv 2501.09137)"


def _solves(result: SweepResult) -> list[int | None]:
    return [run.iterations_to_solve for run in result.runs]


def _fmt(values) -> str:
    return ", ".join("—" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


# ---------------------------------------------------------------------- §1
def _table1(results):
    normalized, plain = results
    got = _solves(normalized) + _solves(plain)
    return Measurement(f"normalized: {_fmt(got[:4])}; LR+GD γ=100: {got[4]}",
                       got == [2, 2, 16, 157, 308])


def _perceptron_limit(results):
    (result,) = results
    gaps = {}
    for run in result.runs:
        early = run.history["iteration"] <= 5
        gaps[run.step_size] = float(np.nanmax(run.history["perceptron_gap"][early]))
    ordered = [gaps[g] for g in sorted(gaps)]
    # shrinking with γ until it reaches rounding level (~1e-16), where it can only wobble
    shrinking = all(b <= a or max(a, b) < 1e-13 for a, b in zip(ordered, ordered[1:]))
    return Measurement("max gap over t ≤ 5: " + ", ".join(f"γ={g:g}: {v:.1e}" for g, v in sorted(gaps.items())),
                       shrinking and gaps[max(gaps)] < 1e-9)


def _two_point(results):
    (result,) = results
    losses, solved = [], []
    for run in result.runs:
        losses.append(float(run.history["loss"][list(run.history["iteration"]).index(1)]))
        solved.append(run.iterations_to_solve)
    growing = all(b > 10 * a for a, b in zip(losses, losses[1:]))
    return Measurement(f"f(θ_1) = {', '.join(f'{v:.3g}' for v in losses)}; solved at t = {_fmt(solved)}",
                       growing and losses[0] > 10 and all(s == 2 for s in solved))


def _normalized_bound(results):
    (result,) = results
    checks = []
    for run in result.runs:
        bound = theory.normalized_gd_bound(math.sqrt(1.25), 0.5, run.step_size, 1000)
        checks.append((run.step_size, run.iterations_to_solve, bound))
    return Measurement("; ".join(f"γ={g:g}: {k} ≤ {b:.1f}" for g, k, b in checks),
                       all(k is not None and k <= b for _, k, b in checks))


# ---------------------------------------------------------------------- §2
def _generalized(results):
    gd, perceptron = results
    gap = max(float(np.nanmax(run.history["perceptron_gap"])) for run in gd.runs)
    same = _solves(gd) == _solves(perceptron)
    return Measurement(f"max direction gap {gap:.1e}; solve counts GD {_fmt(_solves(gd))} vs "
                       f"perceptron {_fmt(_solves(perceptron))}", gap < 1e-8 and same)


def _eigenvalues(_results):
    rng = np.random.default_rng(0)
    worst = 0.0
    for d in (2, 5, 16, 64):
        a = rng.standard_normal(d)
        numeric = np.linalg.eigvalsh(theory.conv_hessian(a))
        nonzero = np.sort(numeric[np.abs(numeric) > 1e-9])
        worst = max(worst, float(np.max(np.abs(nonzero - theory.conv_hessian_eigenvalues(a)))))
    d, mu = 64, 0.7
    top_ones = float(np.linalg.eigvalsh(theory.conv_hessian(np.ones(d)))[-1])
    a2 = np.ones(d)
    a2[0] += mu
    pair = theory.conv_hessian_eigenvalues(a2)
    ok = (worst < 1e-10 and abs(top_ones - math.sqrt(2 * d)) < 1e-10
          and abs(pair[-1] - theory.minimal_lambda2(d, mu)) < 1e-10 and abs(pair[-2] - mu) < 1e-10)
    return Measurement(f"max error {worst:.1e}; A(1) top {top_ones:.6f} vs √(2d) {math.sqrt(2 * d):.6f}; "
                       f"A2: ±{pair[-1]:.6f}, ±{pair[-2]:.3f}", ok)


def _scaling(curve: str, low: float, high: float):
    def judge(_results):
        from .scaling import parse_curves, sweep_dimensions

        curves = parse_curves(curve, "gd", "scaled")
        base = make_spec(dataset="minimal", d=16, mu=0.7, seeds=tuple(range(64)), max_iters=5000,
                         history_points=16)
        result = sweep_dimensions(base, curves, [16, 32, 64, 128, 256, 512, 1024])
        fit = result.fits[curves[0]]
        if fit is None:
            return Measurement("no fit (unsolved medians)", False)
        return Measurement(f"slope {fit.slope:.3f} (95 % CI {fit.ci_low:.2f}–{fit.ci_high:.2f})",
                           low <= fit.slope <= high)
    return judge


# ---------------------------------------------------------------------- §3
SHALLOW = dict(model="shallow_linear", phi=1.0, a=(1.0, 0.5, -0.2), b=(0.3, -0.4, 0.6))


def _q_contraction(results):
    (result,) = results
    worst = 0.0
    for run in result.runs:
        a, b = run.params[:, :3], run.params[:, 3:]
        q = a**2 - b**2
        factor = 1 - run.step_size**2 * run.history["residual"][:-1] ** 2
        steps = min(50, len(factor))
        predicted = q[:steps] * factor[:steps, None]
        worst = max(worst, float(np.max(np.abs(q[1:steps + 1] - predicted) / np.maximum(np.abs(predicted), 1e-300))))
    return Measurement(f"max relative error {worst:.1e}", worst < 1e-9)


def _gf_conservation(results):
    (result,) = results
    run = result.runs[0]
    a, b = run.params[:, :3], run.params[:, 3:]
    q = a**2 - b**2
    drift = float(np.max(np.abs(q - q[0])))
    final, expected = float(run.history["norm"][-1]), run.extras["gf_sharpness"]
    return Measurement(f"max |Q_i(t) − Q_i(0)| = {drift:.1e}; λ_∞ = {final:.8f} vs √(4Φ²+C₀) = {expected:.8f}",
                       drift < 1e-8 and abs(final - expected) < 1e-8 * expected)


def _flatter(results):
    (result,) = results
    rows, ok = [], True
    for run in result.runs:
        lam_gd, lam_gf = run.extras["final_sharpness"], run.extras["gf_sharpness"]
        predicted = run.extras["gd_limit_sharpness"]
        ok &= lam_gd is not None and 2 <= lam_gd < lam_gf and abs(lam_gd - predicted) < 1e-7 * lam_gf
        rows.append(f"η={run.step_size:g}: {lam_gd:.5f}")
    return Measurement("; ".join(rows) + f" < λ_GF = {result.runs[0].extras['gf_sharpness']:.5f}", ok)


def _theorem1(results):
    (result,) = results
    worst = max(float(np.max(np.diff(np.abs(run.history["residual"])))) for run in result.runs)
    converged = all(run.iterations_to_solve is not None for run in result.runs)
    return Measurement(f"largest step-to-step change of |ε|: {worst:.1e}", worst <= 1e-15 and converged)


def _figure3(results):
    (result,) = results
    ratios = [run.extras["imbalance_ratio"] for run in result.runs]
    steps = [run.iterations_to_solve for run in result.runs]
    falling = all(x is not None for x in ratios) and all(x > y for x, y in zip(ratios, ratios[1:]))
    slowest = int(np.argmax([-1 if s is None else s for s in steps]))
    return Measurement(f"ηλ(0) = {_fmt(_FIG3_FRACTIONS)}: Q(T)/Q(0) = "
                       f"{_fmt([round(r, 4) for r in ratios])}; steps = {_fmt(steps)}",
                       falling and 1.8 <= _FIG3_FRACTIONS[slowest] < 2.1)


def _period_doubling(results):
    (result,) = results
    periods = [len(np.unique(np.round(run.tail["residual"], 8))) for run in result.runs]
    return Measurement(f"distinct values in the last 64 steps: {_fmt(periods)}",
                       periods[:3] == [1, 2, 4] and periods[3] > 16)


def _catapult(results):
    (result,) = results
    spike, beyond = result.runs
    peak = float(spike.history["loss"].max() / spike.history["loss"][0])
    flat = spike.extras["final_sharpness"]
    ok = peak > 2 and spike.iterations_to_solve is not None and flat < 2 / spike.step_size and beyond.diverged
    return Measurement(f"ηλ₀=3: loss ×{peak:.2f} then λ_∞ = {flat:.3f} < 2/η = {2 / spike.step_size:.3f}; "
                       f"ηλ₀=4.5: {'diverged' if beyond.diverged else 'did not diverge'}", ok)


# ---------------------------------------------------------------------- §4 edge of stability
def _edge_of_stability(results):
    (result,) = results
    rows, ok = [], True
    for run in result.runs:
        measured = ~np.isnan(run.history["sharpness"])
        late = run.history["sharpness"][measured][len(run.history["sharpness"][measured]) // 2:]
        ratio = float(np.median(late)) * run.step_size / 2
        ok &= 0.7 <= ratio <= 1.3
        rows.append(f"η={run.step_size:g}: median late sharpness ×η/2 = {ratio:.2f}")
    return Measurement("; ".join(rows), ok)


_CATAPULT_A, _CATAPULT_B = (1.0, 0.3), (0.2, 0.9)
_CATAPULT_LAMBDA = sum(v * v for v in _CATAPULT_A + _CATAPULT_B)
_FIG3_SCALE = 8.0
_FIG3_LAMBDA = _FIG3_SCALE**2 * 1.25           # λ(0) of the fig3 init a0 = s e1, b0 = (s/2) e2
_FIG3_FRACTIONS = (0.5, 1.5, 1.9, 1.99, 2.5)
_THEOREM1_BOUND = shallow.theorem1_step_bound(np.array(SHALLOW["a"]), np.array(SHALLOW["b"]), SHALLOW["phi"])

CLAIMS: tuple[Claim, ...] = (
    Claim("table1", f"{TYURIN_LR}, Table 1",
          "Worst-case dataset, n = 1000: normalized LR+GD needs 2 / 2 / 16 / 157 iterations at "
          "γ = 100 / 10 / 1 / 0.1; LR+GD at γ = 100 needs 308", "2, 2, 16, 157; 308", "exact",
          (make_spec(dataset="worst_case", n=1000, algorithm="normalized_gd",
                     step_sizes=(100, 10, 1, 0.1), max_iters=5000),
           make_spec(dataset="worst_case", n=1000, algorithm="gd", step_sizes=(100,), max_iters=5000)),
          _table1, "dynamics"),
    Claim("normalized_bound", f"{TYURIN_LR}, §1",
          "Normalized LR+GD solves within R²/μ² + 2 log(2n−1)/(γμ²) iterations",
          "iterations ≤ bound (R² = 1.25, μ = 0.5)", "inequality",
          (make_spec(dataset="worst_case", n=1000, algorithm="normalized_gd",
                     step_sizes=(100, 10, 1, 0.1), max_iters=5000),), _normalized_bound, "dynamics"),
    Claim("perceptron_limit", f"{TYURIN_LR}, §1",
          "θ_t/γ → θ̂_t (batch perceptron) as γ grows, to machine precision at γ ≥ 1e6",
          "gap shrinks with γ; < 1e-9 at γ = 1e8", "1e-9",
          (make_spec(dataset="gaussian", n=60, d=5, margin=0.05, data_seed=3, algorithm="gd",
                     step_sizes=(1.0, 1e2, 1e4, 1e6, 1e8), max_iters=30, run_to_max=True,
                     history_points=64),), _perceptron_limit, "dynamics"),
    Claim("two_point_loss", f"{TYURIN_LR}, §1",
          "Two-point dataset: f(θ_1) → ∞ as γ → ∞, yet θ_2 already separates: loss is an "
          "unreliable progress measure", "f(θ_1) grows ×10 per ×100 in γ; solved at t = 2",
          "relation", (make_spec(dataset="two_point", algorithm="gd", step_sizes=(1e2, 1e4, 1e6),
                                 max_iters=10),), _two_point, "dynamics"),
    Claim("gd_generalized_perceptron", f"{TYURIN_GD}, §2",
          "GD on a 2-homogeneous two-layer model is the generalized perceptron when margins are large",
          "same iterations to solve; direction gap ≈ 0", "gap < 1e-8",
          (make_spec(model="two_layer_conv", dataset="minimal", d=32, seeds=(0, 1, 2, 3), init_scale=1e3,
                     max_iters=200, algorithm="gd", step_sizes=(theory.minimal_step_size(32, 0.7, 1.0),)),
           make_spec(model="two_layer_conv", dataset="minimal", d=32, seeds=(0, 1, 2, 3), init_scale=1e3,
                     max_iters=200, algorithm="generalized_perceptron",
                     step_sizes=(theory.minimal_step_size(32, 0.7, 1.0),))),
          _generalized, "dynamics"),
    Claim("conv_hessian_eigenvalues", f"{TYURIN_GD}, appendix (reconstructed)",
          "A(a) has eigenvalues ±√(‖a‖² ± aᵀPa); A(1) tops at √(2d); A(1+μe1) has ±λ2, ±μ",
          "closed form = eigh", "1e-10", (), _eigenvalues, "complexity"),
    Claim("minimal_linear_slope", f"{TYURIN_GD}, §2 (minimal example)",
          "The linear batch perceptron needs Ω(d) iterations on minimal(d, μ=0.7)",
          "log–log slope ≈ 1", "[0.9, 1.1]", (), _scaling("linear:batch_perceptron", 0.9, 1.1),
          "complexity"),
    Claim("minimal_two_layer_slope", f"{TYURIN_GD}, §2 (minimal example)",
          "Two-layer GD (γ = c·n/λ2, c = 1, init norm 1) needs Õ(√d) iterations",
          "log–log slope of the median ≈ 0.5 (0.24–0.57 measured depending on conventions)",
          "≤ 0.75", (), _scaling("two_layer_conv:gd:scaled", 0.2, 0.75), "complexity", fast=False),
    Claim("q_contraction", f"{BW}, §3",
          "GD multiplies every Q_i = a_i² − b_i² by (1 − η²ε²) each step",
          "Q_i(t+1) = (1 − η²ε_t²) Q_i(t)", "1e-9 relative",
          (make_spec(**SHALLOW, step_sizes=(0.05, 0.3), max_iters=200, history_points=256,
                     run_to_max=True),), _q_contraction, "shallow"),
    Claim("gf_conservation", f"{BW}, §3",
          "Gradient flow conserves every Q_i and C and ends at λ_GF = √(4Φ² + C₀)",
          "Q_i constant; λ_∞ = √(4Φ² + C₀)", "1e-8",
          (make_spec(**SHALLOW, algorithm="gradient_flow", step_sizes=(0.01,), max_iters=5000,
                     tol=1e-12),), _gf_conservation, "shallow"),
    Claim("gd_flatter_than_gf", f"{BW}, §3",
          "GD converges to λ_GD = √(4Φ² + S²C₀) with 2|Φ| ≤ λ_GD < λ_GF: flatter than gradient flow",
          "2 ≤ λ_GD = predicted < λ_GF", "1e-7 relative",
          (make_spec(**SHALLOW, step_sizes=(0.01, 0.1, 0.3, 0.45), max_iters=100000, tol=1e-12),),
          _flatter, "shallow"),
    Claim("theorem1_monotone", f"{BW}, Theorem 1",
          "For 0 < η < min{1/(2|ε(0)|), 2/√(λ(0)² + 4Φ²)} GD converges linearly",
          "|ε| decreases every step", "exact",
          (make_spec(**SHALLOW, step_sizes=(0.99 * _THEOREM1_BOUND, 0.5 * _THEOREM1_BOUND), max_iters=20000,
                     tol=1e-11, history_points=30000),), _theorem1, "shallow"),
    Claim("figure3_trends", f"{BW}, Figure 3",
          "Larger ηλ(0): smaller Q(T)/Q(0) (more regularization) and slow convergence near ηλ(0) ≈ 2",
          "Q(T)/Q(0) falls with ηλ(0); the slowest run is near ηλ(0) = 2 (init scale 8)", "relation",
          (make_spec(model="shallow_linear", phi=1.0, init="fig3", init_scale=_FIG3_SCALE,
                     step_sizes=tuple(f / _FIG3_LAMBDA for f in _FIG3_FRACTIONS),
                     max_iters=200000, tol=1e-8),), _figure3, "shallow"),
    Claim("period_doubling", f"{BW}, §3 (chaos)",
          "For η|Φ| > 1 the balanced dynamics period-double (2, 4, 8, …) and then become chaotic",
          "periods 1, 2, 4 at η|Φ| = 0.9, 1.1, 1.25; many values at 1.4", "exact periods",
          (make_spec(model="shallow_linear", phi=1.0, a=(0.7,), b=(0.7,), step_sizes=(0.9, 1.1, 1.25, 1.4),
                     max_iters=4000, run_to_max=True, tail_points=64, history_points=16),),
          _period_doubling, "shallow"),
    Claim("catapult", "Lewkowycz et al. 2020 (science.md §4)",
          "Φ = 0, 2 < ηλ₀ < 4: a loss spike, then convergence with λ_∞ < 2/η; ηλ₀ > 4 diverges",
          "spike, λ_∞ < 2/η; divergence past 4", "relation",
          (make_spec(model="shallow_linear", phi=0.0, a=_CATAPULT_A, b=_CATAPULT_B,
                     step_sizes=(3.0 / _CATAPULT_LAMBDA, 4.5 / _CATAPULT_LAMBDA), max_iters=5000,
                     tol=1e-10),), _catapult, "shallow"),
    Claim("edge_of_stability", "Cohen et al. 2021 (science.md §4)",
          "Under full-batch GD the sharpness rises to 2/η and hovers there (CNN on digits)",
          "late sharpness ≈ 2/η", "±30 %",
          (make_spec(model="cnn", dataset="digits", classes=(3, 8), n=300, kernel_size=3,
                     step_sizes=(2.0, 8.0), max_iters=800, sharpness_every=50, run_to_max=True,
                     dtype="float32", perceptron_gap=False),), _edge_of_stability, "images",
          fast=False),
)

CLAIMS_BY_NAME = {claim.name: claim for claim in CLAIMS}


def check(claim: Claim, use_cache: bool = True,
          progress: Callable[[float], None] | None = None) -> Verdict:
    """Run a claim's specs (cached like any other run) and judge the measurement.
    A failure to run is a failed verdict with the reason, never an exception."""
    started = time.perf_counter()
    results, cached = [], True
    try:
        for index, spec in enumerate(claim.specs):
            outcome = run_spec(spec, use_cache=use_cache, progress=None if progress is None else
                               (lambda f, i=index: progress((i + f) / max(1, len(claim.specs)))))
            results.append(outcome.result)
            cached &= outcome.cached
        measurement = claim.judge(results)
    except Exception as error:   # a claim that cannot run is reported as failed, with why
        measurement = Measurement(f"could not run: {type(error).__name__}: {error}", False)
    return Verdict(claim, measurement, time.perf_counter() - started, cached and bool(claim.specs))


def select(names: list[str] | None, include_slow: bool) -> list[Claim]:
    from .spec import SpecError

    if names:
        unknown = [name for name in names if name not in CLAIMS_BY_NAME]
        if unknown:
            raise SpecError("claim", f"unknown claim {unknown[0]!r}; known: {', '.join(CLAIMS_BY_NAME)}")
        return [CLAIMS_BY_NAME[name] for name in names]
    return [claim for claim in CLAIMS if include_slow or claim.fast]


def format_text(verdicts: list[Verdict]) -> str:
    lines = []
    for verdict in verdicts:
        claim = verdict.claim
        mark = "PASS" if verdict.measurement.passed else "FAIL"
        lines += [f"[{mark}] {claim.name} — {claim.paper}",
                  f"    paper:    {claim.statement}",
                  f"    expected: {claim.expected}   (tolerance: {claim.tolerance})",
                  f"    measured: {verdict.measurement.measured}",
                  f"    view:     {claim.link()}   ({verdict.seconds:.1f} s"
                  f"{', cached' if verdict.cached else ''})"]
    passed = sum(v.measurement.passed for v in verdicts)
    lines.append(f"{passed} passed, {len(verdicts) - passed} failed")
    return "\n".join(lines)
