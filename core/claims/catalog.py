"""Every checkable claim of docs/science.md as a small declarative entry: what the paper says,
the spec that measures it, how to read the measurement, the tolerance, and negative controls.

``python -m core reproduce`` and the "Paper checks" page are both generated from ``CLAIMS``.
To add a claim: write its spec and a ``judge`` that turns the outcome into a Measurement, and at
least one :class:`Control`: a deliberately wrong variant (a wrong normalisation, step rule,
sign, shift, …) run through the same judge, which must reject it. A claim whose control passes
is reported *weak*: its judge could not tell a wrong implementation from the right one.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np

from core.engine import shallow
from core.analysis import theory
from core.engine.results import SweepResult
from core.kernel.settings import base_url
from core.kernel.spec import RunSpec, make_spec, validate

SCIENCE_DOC = "docs/science.md"


@dataclass
class Measurement:
    measured: str          # what we measure, as shown
    passed: bool
    detail: str = ""

    def __post_init__(self):
        self.passed = bool(self.passed)


@dataclass(frozen=True)
class Control:
    """A deliberately wrong variant: ``specs`` replace the claim's runs (None: the same runs),
    ``judge`` the claim's judge (None: the same judge; else the same judge function given a
    wrong ingredient, e.g. ``partial(judge, shift=identity)``)."""
    name: str
    specs: tuple[RunSpec, ...] | None = None
    judge: Callable[[list[SweepResult]], Measurement] | None = None


@dataclass
class ControlOutcome:
    name: str
    measured: str
    passed: bool           # True means the judge accepted the wrong variant: the claim is weak

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "measured": self.measured, "passed": self.passed}


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
    controls: tuple[Control, ...] = ()
    uses: tuple[str, ...] = ()   # model families, algorithms and data sets its judge runs itself (core.claims.mutants)
    unique_note: str = ""  # why no mutant is killed by this claim alone, where none is (core.claims.mutants)

    def link(self, base: str = "") -> str:
        """The dashboard view that shows the claim (its first spec, or ``view``)."""
        query = self.view or (self.specs[0].canonical() if self.specs else "")
        return f"{base}/{self.page}" + (f"?{query}" if query else "")


@dataclass
class Verdict:
    """``measurement.passed`` is the overall verdict (False for a weak claim, so every caller
    that reads it, the CLI's exit code included, treats weak as not passed); ``judged`` is
    what the judge said of the claim's own runs."""
    claim: Claim
    measurement: Measurement
    seconds: float
    cached: bool
    controls: list[ControlOutcome] = field(default_factory=list)
    judged: bool = False

    @property
    def weak(self) -> bool:
        return self.judged and (not self.controls or any(c.passed for c in self.controls))

    @property
    def status(self) -> str:
        return "weak" if self.weak else "pass" if self.measurement.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.claim.name, "paper": self.claim.paper,
                "statement": self.claim.statement, "expected": self.claim.expected,
                "measured": self.measurement.measured, "tolerance": self.claim.tolerance,
                "passed": self.measurement.passed, "status": self.status,
                "judge_passed": self.judged, "detail": self.measurement.detail,
                "controls": [c.to_dict() for c in self.controls],
                "link": self.claim.link(base_url()), "seconds": round(self.seconds, 3),
                "cached": self.cached}


TYURIN_LR = "Tyurin 2025, From Logistic Regression to the Perceptron (arXiv 2412.08424)"
TYURIN_GD = "Tyurin 2025, GD as a Perceptron Algorithm (arXiv 2512.11587)"
BW = "Beneventano & Woodworth 2025 (arXiv 2501.09137)"


def _solves(result: SweepResult) -> list[int | None]:
    return [run.iterations_to_solve for run in result.runs]


def _fmt(values) -> str:
    return ", ".join("—" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _dataset(spec: RunSpec):
    from core.datasets.builtin import load

    return load(validate(spec))


# ---------------------------------------------------------------------- §1
def _table1(results):
    normalized, plain = results
    got = _solves(normalized) + _solves(plain)
    return Measurement(f"normalized: {_fmt(got[:4])}; LR+GD γ=100: {got[4]}",
                       got == [2, 2, 16, 157, 308])


def batch_perceptron_reference(features: np.ndarray, labels: np.ndarray, steps: int,
                               first_factor: float = 0.5) -> np.ndarray:
    """θ̂_0 … θ̂_steps of the batch perceptron in numpy (independent of the engine):
    θ̂_1 = (first_factor/n) Σ y_i b_i, then θ̂_{t+1} = θ̂_t + (1/n) Σ_{m_i ≤ 0} y_i b_i."""
    signed = features * labels[:, None]
    n = len(labels)
    thetas = [np.zeros(features.shape[1]), first_factor * signed.sum(0) / n]
    for _ in range(steps - 1):
        wrong = signed @ thetas[-1] <= 0
        thetas.append(thetas[-1] + signed[wrong].sum(0) / n)
    return np.array(thetas)


def _perceptron_limit(results, first_factor: float = 0.5, early: int = 5):
    """max over 1 ≤ t ≤ early of ‖θ_t/γ − θ̂_t‖/‖θ̂_t‖, θ̂ from the numpy reference."""
    (result,) = results
    data = _dataset(result.spec)
    reference = batch_perceptron_reference(data.features, data.labels, early, first_factor)
    gaps, engine_error = {}, 0.0
    for run in result.runs:
        iterations = run.history["iteration"]
        worst = 0.0
        for t in range(1, early + 1):
            row = int(np.flatnonzero(iterations == t)[0])
            scaled = run.params[row] / run.step_size
            gap = float(np.linalg.norm(scaled - reference[t]))
            worst = max(worst, gap / float(np.linalg.norm(reference[t])))
            # the engine's own perceptron companion must be this reference too: its gap
            # ‖θ_t/γ − θ̂_t‖ (history) against the gap to the numpy θ̂_t
            engine_error = max(engine_error, abs(float(run.history["perceptron_gap"][row]) - gap)
                               / (1.0 + float(np.linalg.norm(reference[t]))))
        gaps[run.step_size] = worst
    ordered = [gaps[g] for g in sorted(gaps)]
    # shrinking with γ until it reaches rounding level (~1e-16), where it can only wobble
    shrinking = all(b <= a or max(a, b) < 1e-13 for a, b in zip(ordered, ordered[1:]))
    return Measurement(f"max gap over 1 ≤ t ≤ {early}: "
                       + ", ".join(f"γ={g:g}: {v:.1e}" for g, v in sorted(gaps.items()))
                       + f"; engine's perceptron gap vs the numpy one: {engine_error:.1e}",
                       shrinking and gaps[max(gaps)] < 1e-9 and engine_error < 1e-9)


def _two_point(results):
    """f(θ_1) against its closed form: θ_1 = (γ/(2n)) Σ y_i b_i from θ_0 = 0 (every σ(0) = ½),
    f(θ_1) = (1/n) Σ log(1 + exp(−y_i b_iᵀθ_1)); it grows ×100 per ×100 in γ (linearly: the
    misclassified point's margin is −γ·const); every run solved at t = 2."""
    (result,) = results
    data = _dataset(result.spec)
    signed = data.features * data.labels[:, None]
    losses, solved, worst = [], [], 0.0
    for run in result.runs:
        loss = float(run.history["loss"][list(run.history["iteration"]).index(1)])
        theta1 = run.step_size * signed.sum(0) / (2 * data.n)
        exact = float(np.mean(np.logaddexp(0.0, -signed @ theta1)))
        worst = max(worst, abs(loss - exact) / exact)
        losses.append(loss)
        solved.append(run.iterations_to_solve)
    ratios = [b / a for a, b in zip(losses, losses[1:])]
    steps = [b.step_size / a.step_size for a, b in zip(result.runs, result.runs[1:])]
    linear = all(0.9 * s <= r <= 1.1 * s for r, s in zip(ratios, steps))
    return Measurement(f"f(θ_1) = {', '.join(f'{v:.3g}' for v in losses)} (closed form to {worst:.1e}; "
                       f"×{', ×'.join(f'{r:.4g}' for r in ratios)} per step of γ); solved at t = {_fmt(solved)}",
                       worst < 1e-10 and linear and losses[0] > 10 and all(s == 2 for s in solved))


def _normalized_bound(results):
    """Iterations ≤ R²/μ² + 2 log(2n−1)/(γμ²) with R, μ and n measured on the run's dataset."""
    (result,) = results
    data = _dataset(result.spec)
    radius, margin = theory.data_radius(data.features), theory.max_margin(data.features, data.labels)
    if margin <= 0:
        return Measurement("the data are not separable through the origin (μ = 0)", False)
    checks = []
    for run in result.runs:
        bound = theory.normalized_gd_bound(radius, margin, run.step_size, data.n)
        checks.append((run.step_size, run.iterations_to_solve, bound))
    return Measurement(f"R = {radius:.4g}, μ = {margin:.4g}, n = {data.n}: "
                       + "; ".join(f"γ={g:g}: {_fmt([k])} ≤ {b:.1f}" for g, k, b in checks),
                       all(k is not None and k <= b for _, k, b in checks))


def perceptron_reference_count(features: np.ndarray, labels: np.ndarray, normalized: bool = False,
                               max_steps: int = 100_000) -> int | None:
    """Iterations to solve of the (normalized) batch perceptron in numpy, apart from the engine:
    θ̂_1 = ½·(1/n) Σ y_i b_i (normalized: (1/n) Σ y_i b_i, S_0 is every point), then
    θ̂ += Σ_{m_i ≤ 0} y_i b_i divided by n (or by |S_t|)."""
    signed = features * labels[:, None]
    n = len(labels)
    # at θ̂_0 = 0 every point is a tie, weighted ½ (the sigmoid's limit): the batch perceptron
    # moves by ½·mean, the normalized one by Σ(½ y_i b_i)/Σ ½ = mean
    theta = (1.0 if normalized else 0.5) * signed.sum(0) / n
    for t in range(1, max_steps + 1):
        margins = signed @ theta
        if margins.min() > 0:
            return t
        wrong = margins <= 0
        theta = theta + signed[wrong].sum(0) / (wrong.sum() if normalized else n)
    return None


def _theta_n(results, low: float = 0.9, high: float = 1.1):
    """Log–log slope of iterations to solve against n (one run per n), each count equal to the
    numpy batch perceptron's."""
    ns = np.array([result.spec.n for result in results], dtype=float)
    counts = np.array([math.inf if result.runs[0].iterations_to_solve is None
                       else result.runs[0].iterations_to_solve for result in results])
    reference = []
    for result in results:
        data = _dataset(result.spec)
        reference.append(perceptron_reference_count(data.features, data.labels))
    from core.analysis.scaling import fit_loglog

    fit = fit_loglog(ns, counts) if np.all(np.isfinite(counts)) else None
    same = [None if math.isinf(c) else int(c) for c in counts] == reference
    shown = (f"n = {_fmt([int(n) for n in ns])}: iterations {_fmt([None if math.isinf(c) else int(c) for c in counts])}"
             f" ({'=' if same else '≠'} numpy batch perceptron {_fmt(reference)})")
    if fit is None:
        return Measurement(shown + "; no fit (unsolved runs)", False)
    return Measurement(shown + f"; slope {fit[0]:.3f}", low <= fit[0] <= high and same)


def _lr_gd_against_n(results, low: float = 0.9, high: float = 1.1):
    """Per n: LR+GD at the largest γ solves in exactly the numpy batch perceptron's count, at the
    smaller γ within 5 % of it; the log–log slope of the counts against n in [low, high]."""
    ns, large, small, reference = [], [], [], []
    for result in results:
        data = _dataset(result.spec)
        runs = sorted(result.runs, key=lambda r: r.step_size)
        ns.append(data.n)
        small.append(runs[0].iterations_to_solve)
        large.append(runs[-1].iterations_to_solve)
        reference.append(perceptron_reference_count(data.features, data.labels))
    gammas = sorted(r.step_size for r in results[0].runs)
    shown = (f"n = {_fmt(ns)}: γ={gammas[-1]:g}: {_fmt(large)}; γ={gammas[0]:g}: {_fmt(small)}; "
             f"numpy batch perceptron {_fmt(reference)}")
    if None in large or None in small or None in reference:
        return Measurement(shown + " (unsolved runs)", False)
    from core.analysis.scaling import fit_loglog

    slope = fit_loglog(np.array(ns, float), np.array(large, float))[0]
    near = all(abs(s - r) <= 0.05 * r for s, r in zip(small, reference))
    return Measurement(shown + f"; slope {slope:.3f}", large == reference and near and low <= slope <= high)


def _perceptron_bounds(results, bound_of: dict | None = None):
    """Each count against its classical bound, with R = max‖b_i‖ and μ (max margin) measured on
    the data: batch perceptron ≤ n R²/μ², normalized batch perceptron ≤ R²/μ²; the normalized
    counts also equal the numpy normalized batch perceptron's."""
    bound_of = bound_of or {"batch_perceptron": lambda n: n, "normalized_batch_perceptron": lambda n: 1}
    rows, ok = [], True
    for result in results:
        data = _dataset(result.spec)
        radius, margin = theory.data_radius(data.features), theory.max_margin(data.features, data.labels)
        algorithm = result.spec.algorithm
        count = result.runs[0].iterations_to_solve
        bound = bound_of[algorithm](data.n) * radius**2 / margin**2
        ok &= count is not None and count <= bound
        if algorithm == "normalized_batch_perceptron":
            ok &= count == perceptron_reference_count(data.features, data.labels, normalized=True)
        rows.append(f"{result.spec.dataset} n={data.n} {algorithm}: {_fmt([count])} ≤ {bound:.4g}")
    return Measurement("; ".join(rows), ok)


def _loss_chaos(results, nudge: float = 1e-12):
    """Runs at γ and γ(1 + nudge) (θ_t/γ start 1e-16 apart), each twice (seeds 0 and 1: a linear
    model starts at 0 for every seed). Judged: at the largest γ the relative gap of θ_t/γ grows by
    ≥ 1e3 before the solve (sensitive dependence), at the smallest it stays ≤ 1e-11; the loss rises
    in some step before the solve at the largest γ and never at the smallest (core.analysis.sweeps);
    the repeated runs are bit-identical (deterministic)."""
    from core.analysis import sweeps as analysis

    (result,) = results
    runs = [r for r in result.runs if r.seed == result.spec.seeds[0]]
    repeats = [r for r in result.runs if r.seed != result.spec.seeds[0]]
    same = all(np.array_equal(a.history["loss"], b.history["loss"]) and np.array_equal(a.params, b.params)
               for a, b in zip(runs, repeats))
    base = sorted({r.step_size for r in runs})[::2]          # γ, then γ(1 + nudge) beside it
    rows, growth, largest, rising = [], {}, {}, {}
    for gamma in base:
        one, other = sorted((r for r in runs if abs(r.step_size / gamma - 1) < 10 * nudge),
                            key=lambda r: r.step_size)
        steps = min(len(one.history["iteration"]), len(other.history["iteration"]))
        first, second = one.params[:steps] / one.step_size, other.params[:steps] / other.step_size
        gap = np.linalg.norm(first - second, axis=1) / np.maximum(np.linalg.norm(first, axis=1), 1e-300)
        start = max(float(gap[1]), 1e-18)
        growth[gamma], largest[gamma] = float(gap.max()) / start, float(gap.max())
        end = one.iterations_to_solve or one.last_iteration
        rising[gamma] = analysis.loss_increase_fraction(one.history["loss"][one.history["iteration"] <= end])
        rows.append(f"γ={gamma:g}: gap {start:.1e} → max {gap.max():.1e}, rising steps {rising[gamma]:.2f}")
    small, large = base[0], base[-1]
    ok = (growth[large] >= 1e3 and largest[small] <= 1e-11 and same
          and rising[large] > 0 and rising[small] == 0)
    return Measurement("; ".join(rows) + f"; repeated runs {'bit-identical' if same else 'differ'}", ok)


def _large_step_real_data(results):
    """Per class pair (one result each, LR+GD at several γ): the largest γ against the smallest.
    Judged: fewer iterations to solve on every pair, and on at least one pair a loss that rises
    before the solve (oscillating) where the smallest γ's never does. Reported per pair, so it
    shows where the paper's picture holds: the rising steps and the peak loss after t = 1
    (both only on 3/8: on 1/7 and 4/9 γ = 100 solves before its loss can oscillate, with a lower
    peak) and the counts at every γ."""
    from core.analysis import sweeps as analysis

    rows, ok, oscillating = [], True, []
    for result in results:
        runs = sorted(result.runs, key=lambda r: r.step_size)
        small, large = runs[0], runs[-1]
        pair = "/".join(str(c) for c in result.spec.classes)
        if small.iterations_to_solve is None or large.iterations_to_solve is None:
            rows.append(f"{pair}: iterations {_fmt(_solves(result))} (not all solved)")
            ok = False
            continue

        def peak(run):
            return float(np.max(run.history["loss"][run.history["iteration"] >= 1]))

        def rises(run):
            before = run.history["loss"][run.history["iteration"] <= run.iterations_to_solve]
            return analysis.loss_increase_fraction(before)

        fewer = large.iterations_to_solve < small.iterations_to_solve
        ok &= fewer
        if rises(large) > 0 and rises(small) == 0:
            oscillating.append(pair)
        rows.append(f"{pair}: iterations {_fmt([r.iterations_to_solve for r in runs])}, rising steps "
                    f"{rises(large):.2f} vs {rises(small):.2f}, peak loss {peak(large):.3g} "
                    f"{'>' if peak(large) > peak(small) else '≤'} {peak(small):.3g}")
    return Measurement(f"γ = {_fmt([r.step_size for r in sorted(results[0].runs, key=lambda r: r.step_size)])}; "
                       + "; ".join(rows) + f"; oscillating at the largest γ on: {', '.join(oscillating) or 'none'}",
                       ok and bool(oscillating))



# Where [T2]'s "nonlinear models solve sooner" is checked: digit pairs and the other bundled
# two-class sets, each model at the same γ; the bilinear MLP from four random inits.
_NONLINEAR_SETS = (("digits", (3, 8)), ("digits", (4, 9)), ("digits", (5, 6)), ("digits", (2, 3)),
                   ("digits", (1, 7)), ("wine", (0, 1)), ("iris", (0, 1)))
_NONLINEAR_RUN = dict(algorithm="gd", max_iters=400, history_points=50, perceptron_gap=False)
_BILINEAR = dict(model="mlp", activation="identity", width=64, train="both", seeds=(0, 1, 2, 3))


def _nonlinear_specs(nonlinear: dict) -> tuple[RunSpec, ...]:
    """Per set: LR+GD at γ = 1 and 100 (from θ = 0), then ``nonlinear`` at γ = 1."""
    return tuple(spec for dataset, classes in _NONLINEAR_SETS for spec in (
        make_spec(model="linear", dataset=dataset, classes=classes, step_sizes=(1.0, 100.0),
                  **_NONLINEAR_RUN),
        make_spec(dataset=dataset, classes=classes, step_sizes=(1.0,), **nonlinear, **_NONLINEAR_RUN)))


def numpy_gd_counts(spec: RunSpec, train: str = "both") -> list[float]:
    """Iterations to 100 % training accuracy (inf: not within max_iters) of logistic GD on the
    spec's data, per (step size, seed) in the engine's order, written in numpy apart from the
    engine: the linear model from θ = 0, or the bilinear MLP g(b) = vᵀWb from the model's own
    init; ``train`` = "output" is a wrong variant (W frozen) for the control."""
    from core.models.builtin import build

    data = _dataset(spec)
    b, y = np.asarray(data.features, dtype=float), np.asarray(data.labels, dtype=float)
    n, d = b.shape
    bilinear = spec.model == "mlp"
    width = spec.width if bilinear else 0
    start = (np.stack([build(validate(spec)).init(d, seed) for seed in spec.seeds]) if bilinear
             else np.zeros((1, d)))
    counts = []
    for step in spec.step_sizes:
        theta = start.copy()
        solved = np.full(len(theta), np.inf)
        for t in range(spec.max_iters + 1):
            if bilinear:
                hidden_weights, out = theta[:, :width * d].reshape(-1, width, d), theta[:, width * d:]
                hidden = np.einsum("rmd,nd->rmn", hidden_weights, b)
                margins = y * np.einsum("rm,rmn->rn", out, hidden)
            else:
                margins = y * (theta @ b.T)
            if t >= 1:
                solved[(margins.min(1) > 0) & np.isinf(solved)] = t
            if np.all(np.isfinite(solved)):
                break
            coef = y / (1 + np.exp(margins)) / n
            if bilinear:
                grad_hidden = np.einsum("rn,rm,nd->rmd", coef, out, b).reshape(len(theta), -1)
                if train == "output":
                    grad_hidden = np.zeros_like(grad_hidden)
                grad = np.concatenate([grad_hidden, np.einsum("rn,rmn->rm", coef, hidden)], axis=1)
            else:
                grad = coef @ b
            theta = np.where(np.isinf(solved)[:, None], theta + step * grad, theta)
        counts += solved.tolist()
    return counts


def _nonlinear_faster(results, train: str = "both", most: float = 0.75):
    """Per set: the median iterations of the two-layer runs (γ = 1, four inits) against LR+GD's
    at the same γ (an unsolved run counts as censored at the budget: > max_iters). Judged: fewer
    on at least ``most`` of the sets, and every run's count equal to numpy's (the absolute
    part: a wrong gradient of either model changes the counts). LR+GD at γ = 100 is reported,
    not judged: tuned per model, the linear model often wins (docs/science.md §6)."""
    rows, faster, slower, mismatched = [], [], [], []
    for linear, nonlinear in zip(results[::2], results[1::2]):
        spec = nonlinear.spec
        name = spec.dataset if spec.dataset != "digits" else f"digits {'/'.join(map(str, spec.classes))}"
        for result in (linear, nonlinear):
            engine = [math.inf if r.iterations_to_solve is None else r.iterations_to_solve
                      for r in result.runs]
            if engine != numpy_gd_counts(result.spec, train):
                mismatched.append(f"{name} ({result.spec.model})")
        by_step = {r.step_size: r.iterations_to_solve for r in linear.runs}
        budget = spec.max_iters + 1
        base = by_step[1.0] if by_step[1.0] is not None else budget
        two_layer = float(np.median([budget if r.iterations_to_solve is None else r.iterations_to_solve
                                     for r in nonlinear.runs]))
        (faster if two_layer < base else slower).append(name)
        rows.append(f"{name}: {spec.model} median {two_layer:g} ({_fmt(_solves(nonlinear))}) vs LR+GD "
                    f"{_fmt([by_step[1.0]])} at γ = 1 (LR+GD at γ = 100: {_fmt([by_step[100.0]])})")
    share = len(faster) / max(len(faster) + len(slower), 1)
    return Measurement(f"two-layer sooner on {len(faster)} of {len(faster) + len(slower)} sets"
                       f"{'; not on ' + ', '.join(slower) if slower else ''}; "
                       + ("engine = numpy for every run" if not mismatched
                          else f"engine ≠ numpy on {', '.join(mismatched)}") + "; " + "; ".join(rows),
                       share >= most and not mismatched)



# [T2] §2: GD on the logistic loss for *any* model g. Each built-in model (all activations of the
# two-layer ones, every trained-layer choice of the MLP) against torch.autograd of the loss of a
# model written here, apart from core.models: every step of every run.
_ANY_MODEL_RUN = dict(dataset="gaussian", n=24, d=6, margin=0.0, algorithm="gd", step_sizes=(0.7,),
                      seeds=(0, 1), max_iters=8, run_to_max=True, history_points=8,
                      perceptron_gap=False, init_scale=1.5)
_ANY_MODEL_VARIANTS = (
    dict(model="linear"),
    *(dict(model="two_layer_conv", activation=a, leak=0.3)
      for a in ("identity", "relu", "leaky_relu", "tanh")),
    *(dict(model="mlp", width=5, activation=a, leak=0.3, train="both")
      for a in ("identity", "relu", "leaky_relu", "tanh")),
    dict(model="mlp", width=5, activation="relu", train="hidden"),
    dict(model="mlp", width=5, activation="tanh", train="output"),
)


def reference_output(spec: RunSpec, theta, b, shift: int = 1):
    """g(b; θ) (n,) in torch, written from docs/science.md §2, not from core.models: linear
    bᵀθ; two_layer_conv u1 s(wᵀb) + u2 s(wᵀPb), (Pb)_i = b_{i−shift}; mlp Σⱼ vⱼ s(Wⱼb)."""
    import torch

    def s(z):
        name = spec.activation or "identity"
        if name == "relu":
            return torch.clamp(z, min=0)
        if name == "leaky_relu":
            return torch.where(z > 0, z, spec.leak * z)
        return torch.tanh(z) if name == "tanh" else z
    if spec.model == "linear":
        return b @ theta
    if spec.model == "two_layer_conv":
        w = theta[2:]
        return theta[0] * s(b @ w) + theta[1] * s(torch.roll(b, shifts=shift, dims=1) @ w)
    width = spec.width
    hidden = theta[: width * b.shape[1]].reshape(width, b.shape[1])
    return s(b @ hidden.T) @ theta[width * b.shape[1]:]


def _any_model_steps(results, mean: bool = True, shift: int = 1):
    """Every θ_{t+1} of every run against θ_t − γ∇f(θ_t), f the mean logistic loss of
    ``reference_output`` and ∇ torch.autograd's (frozen layers' parts zeroed); ``mean=False``
    (the summed loss) and ``shift=0`` (P = I) are the wrong variants of the controls."""
    import torch

    worst, rows, ok = 0.0, [], True
    for result in results:
        spec = result.spec
        data = _dataset(spec)
        b = torch.as_tensor(np.asarray(data.features, dtype=float))
        y = torch.as_tensor(np.asarray(data.labels, dtype=float))
        errors = []
        for run in result.runs:
            if run.params is None or len(run.params) < 2:
                return Measurement(f"{spec.model}: no θ history recorded", False)
            steps = np.diff(np.asarray(run.history["iteration"]))
            ok &= bool(np.all(steps == 1))
            for before, after in zip(run.params[:-1], run.params[1:]):
                theta = torch.tensor(before, dtype=torch.float64, requires_grad=True)
                loss = torch.nn.functional.softplus(-y * reference_output(spec, theta, b, shift))
                (loss.mean() if mean else loss.sum()).backward()
                grad = theta.grad.numpy().copy()
                split = spec.width * b.shape[1] if spec.model == "mlp" else 0
                if spec.model == "mlp" and spec.train == "hidden":
                    grad[split:] = 0.0              # the output layer is frozen
                elif spec.model == "mlp" and spec.train == "output":
                    grad[:split] = 0.0              # the hidden layer is frozen
                expected = before - run.step_size * grad
                scale = max(1.0, float(np.max(np.abs(expected))))
                errors.append(float(np.max(np.abs(after - expected))) / scale)
        label = spec.model if spec.model == "linear" else f"{spec.model} {spec.activation}" + \
            (f" ({spec.train})" if spec.model == "mlp" else "")
        worst = max(worst, max(errors))
        rows.append(f"{label} {max(errors):.0e}")
    return Measurement(f"max |θ_t+1 − (θ_t − γ∇f(θ_t))| over {len(results)} model variants × 2 runs × "
                       f"8 steps: {worst:.1e} (relative); " + ", ".join(rows), ok and worst <= 1e-10)


# ---------------------------------------------------------------------- §2
def _generalized(results):
    gd, perceptron = results
    gap = max(float(np.nanmax(run.history["perceptron_gap"])) for run in gd.runs)
    same = _solves(gd) == _solves(perceptron)
    return Measurement(f"max direction gap {gap:.1e}; solve counts GD {_fmt(_solves(gd))} vs "
                       f"perceptron {_fmt(_solves(perceptron))}", gap < 1e-8 and same)


def _eigenvalues(_results, shift: Callable[[np.ndarray], np.ndarray] = theory.cyclic_shift):
    """eigh of A(a) (built with the cyclic shift) against the closed form ±√(‖a‖² ± aᵀPa)
    evaluated with ``shift``."""
    def closed_form(a):
        norm2, cross = float(a @ a), float(a @ shift(a))
        plus, minus = math.sqrt(max(norm2 + cross, 0.0)), math.sqrt(max(norm2 - cross, 0.0))
        return np.sort(np.array([-plus, -minus, minus, plus]))

    rng = np.random.default_rng(0)
    worst = 0.0
    for d in (2, 5, 16, 64):
        a = rng.standard_normal(d)
        numeric = np.linalg.eigvalsh(theory.conv_hessian(a))
        nonzero = np.sort(numeric[np.abs(numeric) > 1e-9])
        predicted = closed_form(a)
        predicted = np.sort(predicted[np.abs(predicted) > 1e-9])
        if len(predicted) != len(nonzero):
            return Measurement(f"d = {d}: {len(nonzero)} nonzero eigenvalues, closed form gives "
                               f"{len(predicted)}", False)
        worst = max(worst, float(np.max(np.abs(nonzero - predicted))))
    d, mu = 64, 0.7
    top_ones = float(np.linalg.eigvalsh(theory.conv_hessian(np.ones(d)))[-1])
    a2 = np.ones(d)
    a2[0] += mu
    pair = closed_form(a2)
    ok = (worst < 1e-10 and abs(top_ones - math.sqrt(2 * d)) < 1e-10
          and abs(pair[-1] - theory.minimal_lambda2(d, mu)) < 1e-10 and abs(pair[-2] - mu) < 1e-10)
    return Measurement(f"max error {worst:.1e}; A(1) top {top_ones:.6f} vs √(2d) {math.sqrt(2 * d):.6f}; "
                       f"A2: ±{pair[-1]:.6f}, ±{pair[-2]:.3f}", ok)


SCALING_DIMS = (16, 32, 64, 128, 256, 512, 1024)
SCALING_SEEDS = 64
# The accepted log–log slope of the two-layer model's 90th percentile (declared once: the claim,
# docs/science.md and the tests read it from here).
P90_SLOPE = (0.3, 0.6)
SCALING_BUDGET = 5000


def _slope_verdict(per_d: list[np.ndarray], statistic: str, low: float, high: float) -> Measurement:
    """The judge of the scaling claims: the log–log slope of ``statistic`` (median or p90 over
    the seeds) of iterations to solve against d, accepted in [low, high]."""
    from core.analysis.scaling import censored_quantile, fit_loglog

    quantile = {"median": 0.5, "p90": 0.9}[statistic]
    # unsolved seeds censored at the budget, as the complexity page draws them
    values = np.array([censored_quantile(v, quantile, SCALING_BUDGET) for v in per_d])
    if not np.all(np.isfinite(values)):
        return Measurement(f"no fit (unsolved {statistic}s)", False)
    fit = fit_loglog(np.array(SCALING_DIMS, dtype=float), values)
    return Measurement(f"{statistic} {values[0]:g} → {values[-1]:g} for d = {SCALING_DIMS[0]} → "
                       f"{SCALING_DIMS[-1]}: slope {fit[0]:.3f}", low <= fit[0] <= high)


def _scaling(curve: str, low: float, high: float, statistic: str = "median"):
    """Iterations on minimal(d, μ = 0.7) from the engine (one cached sweep per d), judged by
    :func:`_slope_verdict`."""
    def judge(_results):
        from core.analysis.scaling import parse_curves, sweep_dimensions

        curves = parse_curves(curve, "gd", "scaled")
        base = make_spec(dataset="minimal", d=16, mu=0.7, seeds=tuple(range(SCALING_SEEDS)),
                         max_iters=SCALING_BUDGET, history_points=16)
        result = sweep_dimensions(base, curves, list(SCALING_DIMS))
        return _slope_verdict([result.iterations[(curves[0], d)] for d in SCALING_DIMS], statistic, low, high)
    return judge


def numpy_two_layer_gd(d: int, shift: Callable[[np.ndarray], np.ndarray], seeds=range(SCALING_SEEDS),
                       scale: float = 1.0, c: float = 1.0, mu: float = 0.7,
                       max_iters: int = 5000) -> np.ndarray:
    """Iterations to solve of logistic GD on g(b) = u1 wᵀb + u2 wᵀ(shift b), minimal(d, μ),
    γ = c·n/λ2, the engine's init (per seed), written in numpy apart from the engine: with the
    cyclic shift it gives the engine's counts; with another shift it is a wrong variant."""
    from core.datasets.builtin import minimal
    from core.models.builtin import build

    features, labels = minimal(d, mu)
    shifted = shift(features)
    model = build(validate(make_spec(model="two_layer_conv", dataset="minimal", d=d, mu=mu,
                                     init_scale=scale)))
    theta = np.stack([model.init(d, seed) for seed in seeds])
    gamma = theory.minimal_step_size(d, mu, c)
    solved = np.full(len(theta), np.inf)
    for t in range(max_iters + 1):
        u1, u2, w = theta[:, :1], theta[:, 1:2], theta[:, 2:]
        plain, moved = w @ features.T, w @ shifted.T
        margins = labels * (u1 * plain + u2 * moved)
        if t >= 1:
            solved[(margins.min(1) > 0) & np.isinf(solved)] = t
        if np.all(np.isfinite(solved)):
            break
        coef = labels / (1 + np.exp(margins)) / len(labels)
        grad = np.concatenate([(coef * plain).sum(1, keepdims=True), (coef * moved).sum(1, keepdims=True),
                               u1 * (coef @ features) + u2 * (coef @ shifted)], axis=1)
        theta = np.where(np.isinf(solved)[:, None], theta + gamma * grad, theta)
    return solved


def _identity(a: np.ndarray) -> np.ndarray:
    return a


def _numpy_scaling(shift, low: float, high: float, statistic: str = "p90", **fields):
    def judge(_results):
        return _slope_verdict([numpy_two_layer_gd(d, shift, **fields) for d in SCALING_DIMS],
                              statistic, low, high)
    return judge


BOUND_DIMS = (16, 64, 256, 1024)
BOUND_SEEDS = 16
BOUND_CONSTANT = 4.0


def minimal_two_layer_bound(d: int, mu: float = 0.7, constant: float = BOUND_CONSTANT) -> float:
    """The project's per-seed bound on two-layer GD's iterations on minimal(d, μ) with γ = n/λ₂
    and init norm 1: C·(λ₂/μ)·(1 + log(λ₂/μ)), C = BOUND_CONSTANT. Õ(√d), since λ₂ ≈ √(2d).
    *Derived* (docs/science.md §2): the paper states the iterations as Õ(λ₂/μ) under γ ≤ 1/λ₂,
    γ ≤ 1/μ; its constant is not in the stored text, so C is the project's, set from the
    measured worst seed (ratio ≤ 2.6 at d = 16 … 1024) with room."""
    ratio = theory.minimal_lambda2(d, mu) / mu
    return constant * ratio * (1 + math.log(ratio))


def _bound_per_seed(curve: str, check_reference: bool = True):
    """Every seed's iterations (engine, one cached sweep per d) ≤ minimal_two_layer_bound(d); with
    ``check_reference`` each seed's count also equals the numpy two-layer GD's (cyclic shift)."""
    def judge(_results):
        from core.analysis.scaling import parse_curves, sweep_dimensions

        curves = parse_curves(curve, "gd", "scaled")
        base = make_spec(dataset="minimal", d=16, mu=0.7, seeds=tuple(range(BOUND_SEEDS)),
                         max_iters=5000, history_points=16)
        result = sweep_dimensions(base, curves, list(BOUND_DIMS))
        rows, ok, mismatched = [], True, []
        for d in BOUND_DIMS:
            counts = result.iterations[(curves[0], d)]
            bound = minimal_two_layer_bound(d)
            ok &= bool(np.all(counts <= bound))
            if check_reference:
                reference = numpy_two_layer_gd(d, theory.cyclic_shift, seeds=range(BOUND_SEEDS))
                if not np.array_equal(counts, reference):
                    mismatched.append(d)
            rows.append(f"d={d}: max {counts.max():g} ≤ {bound:.0f}")
        ok &= not mismatched
        return Measurement("; ".join(rows) + ("; engine = numpy per seed at every d" if check_reference and not mismatched
                                             else f"; engine ≠ numpy at d = {_fmt(mismatched)}" if mismatched else ""),
                           ok)
    return judge


# ---------------------------------------------------------------------- §3
SHALLOW = dict(model="shallow_linear", phi=1.0, a=(1.0, 0.5, -0.2), b=(0.3, -0.4, 0.6))


def _q_contraction(results, squared: bool = True):
    """Q_i(t+1) against (1 − η²ε_t²)·Q_i(t) (``squared=False``: the wrong factor 1 − ηε_t)."""
    (result,) = results
    worst = 0.0
    for run in result.runs:
        d = run.params.shape[1] // 2
        a, b = run.params[:, :d], run.params[:, d:]
        q = a**2 - b**2
        step = run.step_size * run.history["residual"][:-1]
        factor = 1 - step**2 if squared else 1 - step
        steps = min(50, len(factor))
        predicted = q[:steps] * factor[:steps, None]
        worst = max(worst, float(np.max(np.abs(q[1:steps + 1] - predicted) / np.maximum(np.abs(predicted), 1e-300))))
    return Measurement(f"max relative error {worst:.1e}", worst < 1e-9)


def _gf_time(eps: float, phi: float, c0: float) -> float:
    """F(ε) with F'(m) = 1/((m − Φ)√(4m² + C₀)), m = Φ + ε (docs/science.md §3), written here
    apart from core.engine.shallow: along the flow t = F(ε(0)) − F(ε(t))."""
    m, root = phi + eps, math.sqrt(4 * phi**2 + c0)
    return math.log(abs(eps) / abs(4 * phi * m + c0 + root * math.sqrt(4 * m * m + c0))) / root


def _gf_conservation(results):
    """Every Q_i constant, λ_∞ = √(4Φ² + C₀) (computed here from θ₀), and the flow on time:
    the state at GD-step k (time kη) has the residual the closed form gives at t = kη."""
    (result,) = results
    run = result.runs[0]
    phi = float(result.spec.phi)
    d = run.params.shape[1] // 2
    a, b = run.params[:, :d], run.params[:, d:]
    q = a**2 - b**2
    drift = float(np.max(np.abs(q - q[0])))
    c0 = float(np.sum((a[0] + b[0]) ** 2) * np.sum((a[0] - b[0]) ** 2))
    expected = math.sqrt(4 * phi**2 + c0)
    final = float(run.history["norm"][-1])
    eps = np.sum(a * b, axis=1) - phi
    clock = 0.0
    for k, e in zip(run.history["iteration"], eps):
        if k == 0 or abs(e) < 1e-5:     # below, the rounding of ε moves log|ε|
            continue
        time = k * run.step_size
        clock = max(clock, abs(_gf_time(eps[0], phi, c0) - _gf_time(e, phi, c0) - time) / max(time, 1.0))
    return Measurement(f"max |Q_i(t) − Q_i(0)| = {drift:.1e}; λ_∞ = {final:.8f} vs √(4Φ²+C₀) = {expected:.8f} "
                       f"(engine: {run.extras['gf_sharpness']:.8f}); time along the flow vs the closed "
                       f"form: {clock:.1e} relative",
                       drift < 1e-8 and abs(final - expected) < 1e-8 * expected
                       and abs(run.extras["gf_sharpness"] - expected) < 1e-12 * expected and clock < 1e-6)


def _flatter(results):
    """λ_GD read at the end point against √(4Φ² + S²C₀) with S = Q_i(T)/Q_i(0) and C₀ both
    computed here from the run's θ (not the engine's running product), and the engine's
    predicted λ_GD against the same; 2|Φ| ≤ λ_GD < λ_GF strictly."""
    (result,) = results
    phi = float(result.spec.phi)
    rows, ok = [], True
    for run in result.runs:
        d = run.params.shape[1] // 2
        a0, b0, a, b = run.params[0, :d], run.params[0, d:], run.params[-1, :d], run.params[-1, d:]
        q0 = a0**2 - b0**2
        i = int(np.argmax(np.abs(q0)))
        ratio = (a[i] ** 2 - b[i] ** 2) / q0[i]
        c0 = float(np.sum((a0 + b0) ** 2) * np.sum((a0 - b0) ** 2))
        predicted = math.sqrt(4 * phi**2 + ratio**2 * c0)
        lam_gf = math.sqrt(4 * phi**2 + c0)
        norm, eps = float(a @ a + b @ b), float(a @ b) - phi
        lam_gd = (norm + math.sqrt(norm**2 + 4 * eps * (2 * phi + 3 * eps))) / 2
        engine = run.extras["gd_limit_sharpness"]
        # strictly flatter: by more than the tolerance the run converged to
        ok &= (2 * abs(phi) <= lam_gd < lam_gf * (1 - 1e-7) and abs(lam_gd - predicted) < 1e-7 * lam_gf
               and engine is not None and abs(engine - predicted) < 1e-7 * lam_gf)
        rows.append(f"η={run.step_size:g}: {lam_gd:.6g} (√(4Φ²+S²C₀) {predicted:.6g}, engine "
                    f"{_fmt([engine])})")
    return Measurement("; ".join(rows) + f" < λ_GF = {result.runs[0].extras['gf_sharpness']:.5f}", ok)


def _theorem1(results):
    """Every run of every init converges and |ε| never grows (up to 1e-15)."""
    worst, converged = -math.inf, True
    for result in results:
        for run in result.runs:
            residual = np.abs(run.history["residual"])
            worst = max(worst, float(np.max(np.diff(residual))) if np.all(np.isfinite(residual)) else math.inf)
            converged &= run.iterations_to_solve is not None and not run.diverged
    runs = sum(len(r.runs) for r in results)
    return Measurement(f"{len(results)} inits, {runs} runs: largest step-to-step change of |ε| {worst:.1e}; "
                       f"{'all' if converged else 'not all'} converged", worst <= 1e-15 and converged)


def _theorem1_rate(results, limit_sharpness: bool = True):
    """Linear convergence at the rate |1 − ηλ_∞| (λ_∞ the end point's sharpness; the wrong
    variant uses λ(0)), and at the limit Q_i = S·Q_i(0) for every i with S = Π(1 − η²ε²)."""
    rate_error, q_error, rows = 0.0, 0.0, []
    for result in results:
        for run in result.runs:
            if run.iterations_to_solve is None:
                return Measurement(f"η = {run.step_size:.4g} did not converge", False)
            residual = np.abs(run.history["residual"])
            tail = residual[(residual < 1e-4) & (residual > 1e-9)]
            if len(tail) < 3:
                return Measurement(f"η = {run.step_size:.4g}: too few steps in the linear phase", False)
            measured = float(np.exp(np.mean(np.diff(np.log(tail)))))
            sharp = run.extras["final_sharpness"] if limit_sharpness else run.extras["initial_norm"]
            predicted = abs(1 - run.step_size * sharp)
            rate_error = max(rate_error, abs(measured - predicted))
            d = run.params.shape[1] // 2
            a0, b0, a, b = run.params[0, :d], run.params[0, d:], run.params[-1, :d], run.params[-1, d:]
            q0, q = a0**2 - b0**2, a**2 - b**2
            s_product = run.extras["contraction"]
            q_error = max(q_error, float(np.max(np.abs(q - s_product * q0)) / np.max(np.abs(q0))))
            rows.append(f"{measured:.4f}/{predicted:.4f}")
    return Measurement(f"rate measured/predicted per run: {', '.join(rows[:6])}{' …' if len(rows) > 6 else ''}; "
                       f"max rate error {rate_error:.1e}; max |Q_i(T) − S·Q_i(0)|/max|Q_i(0)| {q_error:.1e}",
                       rate_error < 2e-3 and q_error < 1e-9)


def _q_collapse(results):
    """For η|Φ| > 1 from an unbalanced start: every |Q_i(T)| ≤ 1e-10·max|Q_i(0)|, no divergence."""
    (result,) = results
    worst, rows = 0.0, []
    for run in result.runs:
        d = run.params.shape[1] // 2
        q0 = run.params[0, :d] ** 2 - run.params[0, d:] ** 2
        q = run.params[-1, :d] ** 2 - run.params[-1, d:] ** 2
        ratio = float(np.max(np.abs(q)) / np.max(np.abs(q0))) if not run.diverged else math.inf
        worst = max(worst, ratio)
        rows.append(f"η|Φ|={run.step_size * abs(result.spec.phi):g}: {ratio:.1e}")
    return Measurement("max|Q_i(T)|/max|Q_i(0)|: " + "; ".join(rows), worst <= 1e-10)


def _figure3(results, scales: tuple[float, ...] = ()):
    """Per scale: S = Q_i(T)/Q_i(0) falls with ηλ(0) (by ≥ 10 % over the sweep), and at the
    largest ηλ(0) a larger scale regularizes more."""
    rows, ok, last, worst = [], True, [], 0.0
    for scale, result in zip(scales, results):
        ratios = [run.extras["imbalance_ratio"] for run in result.runs]
        if any(r is None for r in ratios):
            return Measurement(f"s = {scale:g}: a run without S (diverged)", False)
        for run, ratio in zip(result.runs, ratios):   # S against Q_i(T)/Q_i(0) read off θ
            d = run.params.shape[1] // 2
            q0 = run.params[0, :d] ** 2 - run.params[0, d:] ** 2
            q = run.params[-1, :d] ** 2 - run.params[-1, d:] ** 2
            i = int(np.argmax(np.abs(q0)))
            worst = max(worst, abs(q[i] / q0[i] - ratio), abs(run.extras["contraction"] - ratio))
        ok &= all(x > y for x, y in zip(ratios, ratios[1:])) and ratios[-1] < 0.9 * ratios[0]
        last.append(ratios[-1])
        rows.append(f"s = {scale:g}: S = {_fmt([round(r, 4) for r in ratios])}")
    ok &= all(x > y for x, y in zip(last, last[1:])) and worst < 1e-9
    return Measurement(f"ηλ(0) = {_fmt(_FIG3_FRACTIONS)}; " + "; ".join(rows)
                       + f"; S vs Q_i(T)/Q_i(0) and Π(1 − η²ε²): {worst:.1e}", ok)


def _steps_blow_up(results, scales: tuple[float, ...] = ()):
    """Per scale: steps to |ε| ≤ tol grow with η|Φ| → 1, by ≥ 20× from the second to the last."""
    rows, ok = [], True
    for scale, result in zip(scales, results):
        steps = _solves(result)
        if any(s is None for s in steps):
            return Measurement(f"s = {scale:g}: steps {_fmt(steps)} (not all converged)", False)
        ok &= all(x < y for x, y in zip(steps, steps[1:])) and steps[-1] >= 20 * steps[1]
        rows.append(f"s = {scale:g}: {_fmt(steps)}")
    return Measurement(f"η|Φ| = {_fmt(_BLOW_UP_ETAS)}; steps " + "; ".join(rows), ok)


def _period_doubling(results):
    (result,) = results
    if any(not run.tail for run in result.runs):
        return Measurement("no tail kept", False)
    from core.analysis import sweeps as analysis

    periods = [row["distinct values"] for row in analysis.orbit_periods(result)]
    return Measurement(f"distinct values in the last 64 steps: {_fmt(periods)}",
                       periods[:3] == [1, 2, 4] and periods[3] > 16)


def _catapult(results):
    (result,) = results
    spike, beyond = result.runs
    peak = float(spike.history["loss"].max() / spike.history["loss"][0])
    flat = spike.extras["final_sharpness"]
    ok = (peak > 2 and spike.iterations_to_solve is not None and flat is not None
          and flat < 2 / spike.step_size and beyond.diverged)
    return Measurement(f"ηλ₀=3: loss ×{peak:.2f} then λ_∞ = {_fmt([flat])} < 2/η = {2 / spike.step_size:.3f}; "
                       f"ηλ₀=4.5: {'diverged' if beyond.diverged else 'did not diverge'}", ok)


def _every_step(run) -> bool:
    iterations = run.history["iteration"]
    return len(iterations) >= 2 and bool(np.all(np.diff(iterations) == 1))


def _theorem1_step_factor(results):
    """Theorem 1's linear rate, per step (derived from the update, docs/science.md §3): exactly
    ε_{t+1} = ρ_t ε_t with ρ_t = 1 − ηλ_t + η²ε_t(ε_t + Φ), and λ_{t+1} = (1 + η²ε_t²)λ_t −
    4ηε_t(ε_t + Φ); below η* every |ρ_t| < 1, so |ε_T| ≤ |ε_0| Π|ρ_t| ≤ |ε_0| (max|ρ|)^T.
    Also the engine's η* against min{1/(2|ε(0)|), 2/√(λ(0)² + 4Φ²)} computed here."""
    identity, bound_error, worst_rate, rows = 0.0, 0.0, 0.0, []
    for result in results:
        phi = float(result.spec.phi)
        a0, b0 = np.array(result.spec.a), np.array(result.spec.b)
        eps0, lam0 = float(a0 @ b0) - phi, float(a0 @ a0 + b0 @ b0)
        star = min(1 / (2 * abs(eps0)), 2 / math.sqrt(lam0**2 + 4 * phi**2))
        for run in result.runs:
            bound_error = max(bound_error, abs(run.extras["theorem1_step_bound"] - star) / star)
            if not _every_step(run) or run.iterations_to_solve is None:
                return Measurement(f"η = {run.step_size:.4g}: not converged or not every step kept", False)
            eta = run.step_size
            eps, lam = run.history["residual"], run.history["norm"]
            keep = np.abs(eps[:-1]) > 1e-6     # below, rounding of the recorded ε dominates
            rho = 1 - eta * lam[:-1] + eta**2 * eps[:-1] * (eps[:-1] + phi)
            identity = max(identity, float(np.max(np.abs(eps[1:][keep] - rho[keep] * eps[:-1][keep])
                                                    / np.abs(eps[:-1][keep]))))
            lam_next = (1 + eta**2 * eps[:-1] ** 2) * lam[:-1] - 4 * eta * eps[:-1] * (eps[:-1] + phi)
            identity = max(identity, float(np.max(np.abs(lam[1:] - lam_next) / lam[1:])))
            worst_rate = max(worst_rate, float(np.max(np.abs(rho[keep]))))
            rows.append(f"{np.max(np.abs(rho[keep])):.3f}")
    return Measurement(f"max |ρ_t| per run: {', '.join(rows)}; one-step identities hold to {identity:.1e}; "
                       f"η* vs closed form {bound_error:.1e}",
                       identity < 1e-9 and worst_rate < 1 and bound_error < 1e-12)


def _larger_step(results):
    """Beyond η* (η*|Φ| < η|Φ| < 1): GD still converges (|ε| ≤ tol), to a minimum with ηλ_∞ < 2
    and λ_∞ = √(4Φ² + S²C₀)."""
    rows, ok = [], True
    for result in results:
        phi = float(result.spec.phi)
        for run in result.runs:
            star = run.extras["theorem1_step_bound"]
            lam = run.extras["final_sharpness"]
            converged = run.iterations_to_solve is not None and not run.diverged and lam is not None
            predicted = run.extras["gd_limit_sharpness"]
            ok &= (converged and run.step_size > star and run.step_size * abs(phi) < 1
                   and run.step_size * lam < 2 and abs(lam - predicted) < 1e-6 * lam)
            rows.append(f"η/η* = {run.step_size / star:.2f}: "
                        + (f"{run.iterations_to_solve} steps, ηλ_∞ = {run.step_size * lam:.3f}"
                           if converged else "did not converge"))
    return Measurement("; ".join(rows), ok)


def _regions(results):
    """Figures 1–2 (per step, every step kept): a + b scales by (1 − ηε), a − b by (1 + ηε),
    every Q_i by (1 − η²ε²); which of the three regions a step starts in (ε > 0, ε < 0 < aᵀb,
    aᵀb < 0) decides how λ moves: it grows in ε < 0 < aᵀb (−4ηε·aᵀb > 0) and, with η|ε| small,
    falls in the other two."""
    worst, grew, counts = 0.0, True, {"ε > 0": 0, "ε < 0 < aᵀb": 0, "aᵀb < 0": 0}
    for result in results:
        phi = float(result.spec.phi)
        for run in result.runs:
            if not _every_step(run) or run.params is None:
                return Measurement("not every step kept", False)
            eta = run.step_size
            d = run.params.shape[1] // 2
            a, b = run.params[:, :d], run.params[:, d:]
            eps = np.sum(a * b, axis=1) - phi
            plus, minus = a + b, a - b
            for t in range(len(eps) - 1):
                e = eps[t]
                errors = [np.max(np.abs(plus[t + 1] - (1 - eta * e) * plus[t])),
                          np.max(np.abs(minus[t + 1] - (1 + eta * e) * minus[t])),
                          np.max(np.abs((a[t + 1] ** 2 - b[t + 1] ** 2) - (1 - eta**2 * e**2) * (a[t] ** 2 - b[t] ** 2)))]
                scale = 1.0 + float(np.max(np.abs(run.params[t])) ** 2)
                worst = max(worst, float(max(errors)) / scale)
                product = e + phi
                region = "ε > 0" if e > 0 else "ε < 0 < aᵀb" if product > 0 else "aᵀb < 0"
                if abs(e) > 1e-9:
                    counts[region] += 1
                lam, lam_next = float(np.sum(a[t] ** 2 + b[t] ** 2)), float(np.sum(a[t + 1] ** 2 + b[t + 1] ** 2))
                if region == "ε < 0 < aᵀb" and abs(e) > 1e-9:
                    grew &= lam_next > lam
    every_region = all(v > 0 for v in counts.values())
    return Measurement(f"steps per region {counts}; a ± b and Q_i factors hold to {worst:.1e}; λ "
                       f"{'grows' if grew else 'does not always grow'} in ε < 0 < aᵀb",
                       worst < 1e-9 and grew and every_region)


def _separation(results, chaotic: tuple[float, ...] = (), calm: tuple[float, ...] = ()):
    """Two runs whose starts differ by 1e-12: |ε_t − ε'_t| at each η. Chaotic η: grows past 1e-3
    with a positive exponent (log-separation fitted over its growth); calm η: stays ≤ 1e-9."""
    base, moved = results
    rows, ok = [], True
    for one, other in zip(base.runs, moved.runs):
        gap = np.abs(one.history["residual"] - other.history["residual"])
        eta = one.step_size
        if eta in chaotic:
            growing = np.flatnonzero(gap > 1e-3)
            if not len(growing):
                ok = False
                rows.append(f"η={eta:g}: stays ≤ {gap.max():.1e}")
                continue
            end = int(growing[0])
            window = (gap[:end + 1] > 1e-11)
            steps = np.flatnonzero(window)
            rate = (float(np.polyfit(steps, np.log(gap[steps]), 1)[0]) if len(steps) >= 3 else math.nan)
            ok &= rate > 0.05
            rows.append(f"η={eta:g}: 1e-3 reached at t = {end}, exponent {rate:.2f}/step")
        else:
            ok &= eta in calm and float(gap.max()) <= 1e-9
            rows.append(f"η={eta:g}: max separation {gap.max():.1e}")
    return Measurement("; ".join(rows), ok)


def _figure3_axes(results, scales: tuple[float, ...] = ()):
    """The paper's axes per scale: Q(T)/Q(0) (total Q, read off θ) = S = Π(1 − η²ε²), falling with
    ηλ(0); the steps to |ε| ≤ tol, fewest near ηλ(0) ≈ 1 and growing towards ηλ(0) = 2."""
    rows, ok, worst = [], True, 0.0
    for scale, result in zip(scales, results):
        ratios, steps = [], []
        for run in result.runs:
            d = run.params.shape[1] // 2
            q0 = float(np.sum(run.params[0, :d] ** 2 - run.params[0, d:] ** 2))
            q = float(np.sum(run.params[-1, :d] ** 2 - run.params[-1, d:] ** 2))
            contraction = run.extras["contraction"]
            if run.iterations_to_solve is None or contraction is None:
                return Measurement(f"s = {scale:g}: η = {run.step_size:.3g} did not converge", False)
            worst = max(worst, abs(q / q0 - contraction))
            ratios.append(q / q0)
            steps.append(run.iterations_to_solve)
        ok &= all(x > y for x, y in zip(ratios, ratios[1:]))
        middle = int(np.argmin(steps))
        ok &= 0 < middle < len(steps) - 1 and steps[-1] > steps[middle] and steps[0] > 2 * steps[middle]
        rows.append(f"s = {scale:g}: Q(T)/Q(0) = {_fmt([round(r, 4) for r in ratios])}, steps {_fmt(steps)}")
    return Measurement(f"ηλ(0) = {_fmt(_FIG3_AXES)}; " + "; ".join(rows)
                       + f"; Q(T)/Q(0) vs Π(1 − η²ε²): {worst:.1e}", ok and worst < 1e-9)


# ---------------------------------------------------------------------- §4 edge of stability
def _edge_of_stability(results, threshold: float = 2.0):
    """Late sharpness × η / threshold within ±30 % of 1 (the wrong variant: threshold 1/η)."""
    (result,) = results
    rows, ok = [], True
    for run in result.runs:
        measured = ~np.isnan(run.history["sharpness"])
        late = run.history["sharpness"][measured][len(run.history["sharpness"][measured]) // 2:]
        ratio = float(np.median(late)) * run.step_size / threshold
        ok &= 0.7 <= ratio <= 1.3
        rows.append(f"η={run.step_size:g}: median late sharpness ×η/{threshold:g} = {ratio:.2f}")
    return Measurement("; ".join(rows), ok)


_CATAPULT_A, _CATAPULT_B = (1.0, 0.3), (0.2, 0.9)
_CATAPULT_LAMBDA = sum(v * v for v in _CATAPULT_A + _CATAPULT_B)
_FIG3_SCALES = (2.0, 4.0, 8.0)
_FIG3_FRACTIONS = (0.5, 1.0, 1.5, 1.9, 2.5)
_BLOW_UP_SCALES = (0.3, 0.6, 0.9)
_BLOW_UP_ETAS = (0.5, 0.9, 0.99, 0.999)
_THEOREM1_INITS = (((1.0, 0.5, -0.2), (0.3, -0.4, 0.6)), ((-0.63, -1.32, -0.11), (1.0, -0.02, 0.5)),
                   ((-1.91, 0.15, -0.91), (1.78, 0.89, 0.95)), ((-0.06, 0.61, 0.66), (-0.34, -0.5, -0.12)),
                   ((-0.6, -0.59, -0.28), (-0.73, 0.77, -1.6)))
_Q_COLLAPSE = dict(model="shallow_linear", phi=1.0, a=(0.8, 0.3), b=(0.5, 0.6))
_FIG3_AXES = (0.25, 0.5, 1.0, 1.5, 1.9, 1.98)
_FIG3_AXES_SCALES = (2.0, 3.0, 4.0)
# one start in each region of Figures 1–2 (Φ = 1, d = 1, the shallow page's Figures 1–2 view):
# ε > 0, ε < 0 < aᵀb, aᵀb < 0
_REGION_INITS = (((1.5,), (1.0,)), ((0.3,), (1.2,)), ((1.2,), (-0.4,)))
_REGION_ETA = 0.3
_CHAOS = dict(model="shallow_linear", phi=1.0, b=(0.7,), step_sizes=(0.5, 1.3, 1.4), max_iters=300,
              run_to_max=True, history_points=400)


def _theorem1_specs(multiples: tuple[float, ...], **fields) -> tuple[RunSpec, ...]:
    """One spec per init of _THEOREM1_INITS, step sizes = multiples of its own bound η*."""
    specs = []
    for a, b in _THEOREM1_INITS:
        bound = shallow.theorem1_step_bound(np.array(a), np.array(b), 1.0)
        specs.append(make_spec(model="shallow_linear", phi=1.0, a=a, b=b,
                               step_sizes=tuple(m * bound for m in multiples), **fields))
    return tuple(specs)


def _figure3_specs(scales, fractions, **fields) -> tuple[RunSpec, ...]:
    specs = []
    for scale in scales:
        init = shallow.figure3_spec_fields("generic", scale)
        lam0 = float(np.dot(init["a"], init["a"]) + np.dot(init["b"], init["b"]))
        specs.append(make_spec(model="shallow_linear", phi=1.0, step_sizes=tuple(f / lam0 for f in fractions),
                               **init, **fields))
    return tuple(specs)


def _catapult_view(fractions, iters: int) -> str:
    """The shallow page's catapult view of the claim's runs (η = fraction / λ₀ there too)."""
    numbers = lambda values: ",".join(f"{v:g}" for v in values)
    return (f"view=catapult&cat_a={numbers(_CATAPULT_A)}&cat_b={numbers(_CATAPULT_B)}"
            f"&cat_eta_lambda={numbers(fractions)}&cat_iters={iters}")


def _figure3_view(scales, low: float, high: float, count: int, iters: int) -> str:
    return (f"view=figure3&fig3_init=generic&scales={','.join(f'{s:g}' for s in scales)}"
            f"&eta_lambda_min={low:g}&eta_lambda_max={high:g}&eta_lambda_count={count}"
            f"&fig3_iters={iters}&phi=1")


# the algorithms and the data set of the minimal-example curves the scaling judges run
# ("linear:batch_perceptron", "two_layer_conv:gd:…" on minimal(d, μ)), for core.claims.mutants.can_change
_SCALING_RUNS = ("batch_perceptron", "gd", "minimal")
_TABLE1_PLAIN = make_spec(dataset="worst_case", n=1000, algorithm="gd", step_sizes=(100, 10, 1, 0.1),
                          max_iters=1000, perceptron_gap=False)
_WORST_CASE_NS = (50, 100, 200, 400, 800)
# every step recorded, so the loss peaks are read from all iterations
_DIGITS = dict(dataset="digits", classes=(3, 8), algorithm="gd", max_iters=3000, history_points=3000)
_DIGIT_PAIRS = ((3, 8), (1, 7), (4, 9))
# every step and θ kept (8 runs × 401 points × 64 parameters, under the θ-history limit)
_CHAOS_DIGITS = dict(_DIGITS, seeds=(0, 1), perceptron_gap=False, max_iters=400, history_points=400)


# ---------------------------------------------------------------------- the stateful update rules
# Each engine rule against a numpy loop written from its defining paper (not from core.algorithms):
# every θ_t, t = 0 … T, of every run, to 1e-12 relative in float64.
_RULE_ITERS = 40


def _logistic_gradient(b: np.ndarray, y: np.ndarray):
    def gradient(theta):
        return -(b.T @ (y / (1 + np.exp(y * (b @ theta))))) / len(y)
    return gradient


def heavy_ball_reference(b, y, step, seed, *, momentum, lag: int = 1, iterations=_RULE_ITERS):
    """Polyak's θₜ₊₁ = θₜ − η∇f(θₜ) + β(θₜ − θₜ₋₁) as written, θ₋₁ = θ₀ (``lag=2``: the wrong
    β(θₜ₋₁ − θₜ₋₂))."""
    gradient, history = _logistic_gradient(b, y), [np.zeros(b.shape[1])]
    for t in range(iterations):
        theta = history[-1]
        before, after = history[max(t - lag, 0)], history[max(t - lag + 1, 0)]
        history.append(theta - step * gradient(theta) + momentum * (after - before))
    return np.array(history)


def nesterov_reference(b, y, step, seed, *, momentum, lookahead: bool = True, iterations=_RULE_ITERS):
    """Sutskever et al.'s Nesterov momentum in PyTorch's form: vₜ = βvₜ₋₁ + ∇f(θₜ),
    θₜ₊₁ = θₜ − η(∇f(θₜ) + βvₜ) (``lookahead=False``: θₜ₊₁ = θₜ − ηvₜ, the heavy ball)."""
    gradient, theta, velocity = _logistic_gradient(b, y), np.zeros(b.shape[1]), None
    history = [theta.copy()]
    for _ in range(iterations):
        g = gradient(theta)
        velocity = g.copy() if velocity is None else momentum * velocity + g
        theta = theta - step * ((g + momentum * velocity) if lookahead else velocity)
        history.append(theta.copy())
    return np.array(history)


def adam_reference(b, y, step, seed, *, beta1, beta2, eps, corrected: bool = True,
                   iterations=_RULE_ITERS):
    """Kingma & Ba's Algorithm 1: m, v from 0, the bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ (t from
    1), θ −= η m̂/(√v̂ + ε) (``corrected=False``: without the corrections)."""
    gradient, theta = _logistic_gradient(b, y), np.zeros(b.shape[1])
    first, second, history = np.zeros_like(theta), np.zeros_like(theta), [theta.copy()]
    for t in range(1, iterations + 1):
        g = gradient(theta)
        first = beta1 * first + (1 - beta1) * g
        second = beta2 * second + (1 - beta2) * g * g
        m_hat = first / (1 - beta1 ** t) if corrected else first
        v_hat = second / (1 - beta2 ** t) if corrected else second
        theta = theta - step * m_hat / (np.sqrt(v_hat) + eps)
        history.append(theta.copy())
    return np.array(history)


def minibatch_reference(b, y, step, seed, *, batch, fresh: bool = True, iterations=_RULE_ITERS):
    """Mini-batch GD without replacement: a permutation of the n points per epoch from
    default_rng(seed), batches taken in order, the last one shorter; each step the mean
    logistic gradient of its batch (``fresh=False``: the first epoch's permutation reused)."""
    n, rng, order = len(y), np.random.default_rng(seed), None
    per_epoch = -(-n // batch)
    theta, history = np.zeros(b.shape[1]), [np.zeros(b.shape[1])]
    for t in range(iterations):
        index = t % per_epoch
        if index == 0 and (fresh or order is None):
            order = rng.permutation(n)
        chosen = order[index * batch:(index + 1) * batch]
        theta = theta - step * _logistic_gradient(b[chosen], y[chosen])(theta)
        history.append(theta.copy())
    return np.array(history)


def _rule_matches(results, reference: Callable[..., np.ndarray], **options):
    """Every θ_t of every run (step size, seed) against ``reference`` on the same data."""
    (result,) = results
    data = _dataset(result.spec)
    worst, runs_with_every_step = 0.0, True
    for run in result.runs:
        runs_with_every_step &= list(run.history["iteration"]) == list(range(result.spec.max_iters + 1))
        expected = reference(data.features, data.labels, run.step_size, run.seed,
                             iterations=result.spec.max_iters, **options)
        if np.shape(run.params) != expected.shape:
            return Measurement(f"θ history of shape {np.shape(run.params)}, expected {expected.shape}", False)
        scale = max(1.0, float(np.max(np.abs(expected))))
        worst = max(worst, float(np.max(np.abs(np.asarray(run.params) - expected))) / scale)
    return Measurement(f"max |θ_t − θ_t(numpy)| over {len(result.runs)} runs × "
                       f"{result.spec.max_iters + 1} steps: {worst:.1e} (relative)",
                       runs_with_every_step and worst <= 1e-12)


def _rule_spec(algorithm: str, **fields) -> RunSpec:
    return make_spec(model="linear", dataset="gaussian", n=30, d=4, margin=0.0, algorithm=algorithm,
                     step_sizes=(0.05, 0.5), seeds=(0, 3), max_iters=_RULE_ITERS, run_to_max=True,
                     history_points=_RULE_ITERS, **fields)


CLAIMS: tuple[Claim, ...] = (
    Claim("table1", f"{TYURIN_LR}, Table 1",
          "Worst-case dataset, n = 1000: normalized LR+GD needs 2 / 2 / 16 / 157 iterations at "
          "γ = 100 / 10 / 1 / 0.1; LR+GD at γ = 100 needs 308", "2, 2, 16, 157; 308", "exact",
          (make_spec(dataset="worst_case", n=1000, algorithm="normalized_gd",
                     step_sizes=(100, 10, 1, 0.1), max_iters=5000),
           make_spec(dataset="worst_case", n=1000, algorithm="gd", step_sizes=(100,), max_iters=5000)),
          _table1, "dynamics",
          controls=(Control("plain LR+GD in place of normalized LR+GD (wrong normalisation)",
                            specs=(_TABLE1_PLAIN, make_spec(dataset="worst_case", n=1000, algorithm="gd",
                                                            step_sizes=(100,), max_iters=5000))),),
          unique_note="its mutants (normalized GD divided by the loss, the worst case's constant, the "
                      "logistic step) also break normalized_bound or lr_gd_against_n, which run the "
                      "same data set (measured)"),
    Claim("normalized_bound", f"{TYURIN_LR}, §1",
          "Normalized LR+GD solves within R²/μ² + 2 log(2n−1)/(γμ²) iterations",
          "iterations ≤ bound, with R = max‖b_i‖, μ (max margin) and n measured on the data",
          "inequality",
          (make_spec(dataset="worst_case", n=1000, algorithm="normalized_gd",
                     step_sizes=(100, 10, 1, 0.1), max_iters=5000),), _normalized_bound, "dynamics",
          controls=(Control("plain LR+GD (not normalized) against the same bound",
                            specs=(_TABLE1_PLAIN,)),),
          unique_note="its mutants (normalized GD divided by the loss, μ doubled) also break table1 or perceptron_bounds, which check the same runs more tightly; it stays as the paper's guarantee"),
    Claim("perceptron_limit", f"{TYURIN_LR}, §1",
          "θ_t/γ → θ̂_t (batch perceptron, ½ first step) as γ grows, to machine precision at γ ≥ 1e6",
          "gap to an independent numpy batch perceptron shrinks with γ; < 1e-9 at γ = 1e8; the "
          "engine's own perceptron companion is that numpy perceptron (its gap agrees to 1e-9)", "1e-9",
          (make_spec(dataset="gaussian", n=60, d=5, margin=0.05, data_seed=3, algorithm="gd",
                     step_sizes=(1.0, 1e2, 1e4, 1e6, 1e8), max_iters=30, run_to_max=True,
                     history_points=64),), _perceptron_limit, "dynamics",
          controls=(Control("batch perceptron without the ½ first step",
                            judge=partial(_perceptron_limit, first_factor=1.0)),)),
    Claim("two_point_loss", f"{TYURIN_LR}, §1",
          "Two-point dataset: f(θ_1) → ∞ as γ → ∞, yet θ_2 already separates: loss is an "
          "unreliable progress measure",
          "f(θ_1) = its closed form (1/n) Σ log(1 + exp(−y_i b_iᵀθ_1)), θ_1 = (γ/2n) Σ y_i b_i: it grows "
          "×100 per ×100 in γ (linearly); solved at t = 2",
          "relation", (make_spec(dataset="two_point", algorithm="gd", step_sizes=(1e2, 1e4, 1e6),
                                 max_iters=10),), _two_point, "dynamics",
          controls=(Control("small steps γ = 0.01, 1, 100 (not the large-step regime)",
                            specs=(make_spec(dataset="two_point", algorithm="gd",
                                             step_sizes=(1e-2, 1.0, 1e2), max_iters=10),)),)),
    Claim("perceptron_theta_n", f"{TYURIN_LR}, §1",
          "On the worst-case dataset the batch perceptron needs Θ(n) iterations",
          "log–log slope of iterations against n = 50 … 800 ≈ 1; each count = the numpy batch "
          "perceptron's", "[0.9, 1.1]; counts exact",
          tuple(make_spec(dataset="worst_case", n=n, algorithm="batch_perceptron", max_iters=20000)
                for n in _WORST_CASE_NS), _theta_n, "dynamics",
          controls=(Control("normalized batch perceptron (1/|S_t| in place of 1/n)",
                            specs=tuple(make_spec(dataset="worst_case", n=n,
                                                  algorithm="normalized_batch_perceptron", max_iters=20000)
                                        for n in _WORST_CASE_NS)),),
          unique_note="its mutants (the first step, 1/|S_t| for 1/n, 1/n for 1/|S_t|) also move perceptron_limit or perceptron_bounds (measured); it keeps Θ(n) on the worst case against a numpy perceptron"),
    Claim("lr_gd_against_n", f"{TYURIN_LR}, §1 (LR+GD at large γ is the batch perceptron)",
          "At large γ LR+GD needs the batch perceptron's iterations, Θ(n) on the worst-case dataset",
          "n = 50 … 800: at γ = 1e4 each count = the numpy batch perceptron's (16 … 241), slope ≈ 1; "
          "at γ = 100 within 5 % of it (Table 1's 308 at n = 1000)", "exact; 5 %; [0.9, 1.1]",
          tuple(make_spec(dataset="worst_case", n=n, algorithm="gd", step_sizes=(100.0, 1e4),
                          max_iters=20000, perceptron_gap=False) for n in _WORST_CASE_NS),
          _lr_gd_against_n, "dynamics",
          controls=(Control("normalized LR+GD (its count does not grow with n)",
                            specs=tuple(make_spec(dataset="worst_case", n=n, algorithm="normalized_gd",
                                                  step_sizes=(100.0, 1e4), max_iters=20000)
                                        for n in _WORST_CASE_NS)),),
          unique_note="a wrong logistic step also breaks table1 on the same data; it keeps the paper's n-dependence at large γ"),
    Claim("perceptron_bounds", f"{TYURIN_LR}, §1 (classical bounds)",
          "Batch perceptron ≤ n R²/μ² iterations; the normalized batch perceptron (1/|S_t|) ≤ R²/μ²",
          "worst case n = 50, 800 and Gaussian data (n = 200): every count ≤ its bound with R, μ measured "
          "on the data; normalized counts = the numpy normalized batch perceptron's", "inequality; exact",
          tuple(make_spec(dataset="worst_case", n=n, algorithm=a, max_iters=20000)
                for n in (50, 800) for a in ("batch_perceptron", "normalized_batch_perceptron"))
          + tuple(make_spec(dataset="gaussian", n=200, d=5, margin=0.05, data_seed=3, algorithm=a,
                            max_iters=20000) for a in ("batch_perceptron", "normalized_batch_perceptron")),
          _perceptron_bounds, "dynamics",
          controls=(Control("the batch perceptron held to the normalized bound R²/μ² (no factor n)",
                            judge=partial(_perceptron_bounds,
                                          bound_of={"batch_perceptron": lambda n: 1,
                                                    "normalized_batch_perceptron": lambda n: 1})),),
          unique_note="its mutants (the normalized perceptron's 1/n, the batch perceptron's count, μ "
                      "doubled) also break perceptron_theta_n, perceptron_limit or normalized_bound "
                      "(measured); it stays as the classical R²/μ² guarantees, which no other claim checks"),
    Claim("loss_chaos", f"{TYURIN_GD}, experiments (and {TYURIN_LR})",
          "At large γ the dynamics are chaotic although every run is deterministic",
          "digits 3/8, LR+GD, runs at γ and γ(1 + 1e-12): at γ = 1e4 the gap of θ_t/γ grows ≥ 1e3-fold "
          "before the solve, at γ = 1 it stays ≤ 1e-11; the loss rises before the solve at 1e4, never "
          "at 1; a repeated run is bit-identical", "relation; exact",
          (make_spec(**_CHAOS_DIGITS, step_sizes=(1.0, 1.0 + 1e-12, 1e4, 1e4 * (1 + 1e-12))),),
          _loss_chaos, "dynamics",
          controls=(Control("small steps γ = 0.3, 1 (no sensitivity)",
                            specs=(make_spec(**_CHAOS_DIGITS,
                                             step_sizes=(0.3, 0.3 + 3e-13, 1.0, 1.0 + 1e-12)),)),),
          unique_note="its mutant of the loss-rise count (core.analysis.sweeps) also breaks real_data_large_step, which reads the same count; its own part, the sensitivity at γ = 1e4, has no mutant of its own in the list"),
    Claim("real_data_large_step", f"{TYURIN_LR} and {TYURIN_GD}, experiments",
          "On real data a larger γ gives a higher, oscillating loss, yet solves (100 % training "
          "accuracy) in fewer iterations",
          "digits 3/8, 1/7, 4/9, LR+GD γ = 1, 10, 100: on every pair γ = 100 solves in fewer "
          "iterations than γ = 1. Only on 3/8 does its loss rise before the solve (γ = 1's never "
          "does) and peak higher: on 1/7 and 4/9 γ = 100 solves (in 2 and 17) before it can "
          "oscillate, with a lower peak; on 3/8 the speed-up stops at γ ≥ 10 (278, 82, 83)",
          "fewer on every pair; oscillating on ≥ 1 pair",
          tuple(make_spec(**dict(_DIGITS, classes=pair, max_iters=400, history_points=400),
                          step_sizes=(1.0, 10.0, 100.0)) for pair in _DIGIT_PAIRS),
          _large_step_real_data, "dynamics",
          controls=(Control("small steps γ = 0.3, 1 (a larger γ then lowers the loss)",
                            specs=tuple(make_spec(**dict(_DIGITS, classes=pair, max_iters=400,
                                                             history_points=400), step_sizes=(0.3, 1.0))
                                        for pair in _DIGIT_PAIRS)),),
          unique_note="every engine mutant that moves it breaks a closed-form claim first; it is the paper's experiment, reported per pair"),
    Claim("gd_step_any_model", f"{TYURIN_GD}, §2",
          "For any model g, GD on the logistic loss is θₜ₊₁ = θₜ + (γ/n) Σᵢ σ(−mᵢ) yᵢ ∇θ g(bᵢ; θₜ)",
          "every step of every built-in model (linear; two-layer conv and MLP with identity, ReLU, "
          "leaky ReLU and tanh; MLP with one layer frozen) = θₜ − γ∇f(θₜ), ∇ by torch.autograd "
          "of a model written apart from core.models", "1e-10 relative",
          tuple(make_spec(**_ANY_MODEL_RUN, **variant) for variant in _ANY_MODEL_VARIANTS),
          _any_model_steps, "dynamics",
          controls=(Control("the summed loss (no 1/n)", judge=partial(_any_model_steps, mean=False)),
                    Control("P = I in the two-layer conv", judge=partial(_any_model_steps, shift=0)))),
    Claim("nonlinear_faster_real_data", f"{TYURIN_GD}, experiments",
          "Nonlinear (two-layer) models reach 100 % training accuracy in fewer iterations than "
          "linear ones",
          "at the same γ = 1, 400 steps: the bilinear MLP (width 64, both layers, 4 inits; median) "
          "solves sooner than LR+GD on 6 of 7 sets (digits 3/8 58 vs 278, 4/9 55.5 vs 281, 5/6 53.5 "
          "vs 246, 2/3 53.5 vs 337, wine 8 vs 9, iris 4.5 vs 12), not on digits 1/7 (11 vs 6); "
          "every count = numpy's. Each model at its own best γ LR+GD wins on most sets (γ = 100: 1/7 "
          "in 2, 4/9 in 17): the statement holds at equal γ, not when each is tuned",
          "sooner on ≥ 3/4 of the sets; counts exact",
          _nonlinear_specs(_BILINEAR), _nonlinear_faster, "dynamics",
          controls=(Control("the linear model in place of the two-layer one",
                            specs=_nonlinear_specs(dict(model="linear", seeds=(0,)))),
                    Control("a numpy reference that trains only the output layer",
                            judge=partial(_nonlinear_faster, train="output"))),
          unique_note="its mutant of the MLP's gradient is also caught by gd_step_any_model, which checks one step of every model against autograd; it adds the paper's comparison on real data over 400 steps"),
    Claim("gd_generalized_perceptron", f"{TYURIN_GD}, §2",
          "GD on a 2-homogeneous two-layer model is the generalized perceptron when margins are large",
          "same iterations to solve; direction gap ≈ 0", "gap < 1e-8",
          (make_spec(model="two_layer_conv", dataset="minimal", d=32, seeds=(0, 1, 2, 3), init_scale=1e3,
                     max_iters=200, algorithm="gd", step_sizes=(theory.minimal_step_size(32, 0.7, 1.0),)),
           make_spec(model="two_layer_conv", dataset="minimal", d=32, seeds=(0, 1, 2, 3), init_scale=1e3,
                     max_iters=200, algorithm="generalized_perceptron",
                     step_sizes=(theory.minimal_step_size(32, 0.7, 1.0),))),
          _generalized, "dynamics",
          controls=(Control("GD from init scale 1 (margins not large)",
                            specs=(make_spec(model="two_layer_conv", dataset="minimal", d=32,
                                             seeds=(0, 1, 2, 3), init_scale=1.0, max_iters=200,
                                             algorithm="gd",
                                             step_sizes=(theory.minimal_step_size(32, 0.7, 1.0),)),
                                   make_spec(model="two_layer_conv", dataset="minimal", d=32,
                                             seeds=(0, 1, 2, 3), init_scale=1e3, max_iters=200,
                                             algorithm="generalized_perceptron",
                                             step_sizes=(theory.minimal_step_size(32, 0.7, 1.0),)))),)),
    Claim("conv_hessian_eigenvalues", f"{TYURIN_GD}, appendix (reconstructed)",
          "A(a) has eigenvalues ±√(‖a‖² ± aᵀPa); A(1) tops at √(2d); A(1+μe1) has ±λ2, ±μ",
          "closed form = eigh", "1e-10", (), _eigenvalues, "complexity",
          controls=(Control("identity shift P = I in the closed form",
                            judge=partial(_eigenvalues, shift=_identity)),)),
    Claim("minimal_linear_slope", f"{TYURIN_GD}, §2 (minimal example)",
          "The linear batch perceptron needs Ω(d) iterations on minimal(d, μ=0.7)",
          "log–log slope ≈ 1", "[0.9, 1.1]", (), _scaling("linear:batch_perceptron", 0.9, 1.1),
          "complexity", uses=("linear", "nonlinear") + _SCALING_RUNS,
          controls=(Control("two-layer GD (γ = c·n/λ2) in place of the linear model",
                            judge=_scaling("two_layer_conv:gd:scaled", 0.9, 1.1)),),
          unique_note="the slope fit (core.analysis.scaling) is also read by perceptron_theta_n and lr_gd_against_n"),
    Claim("minimal_two_layer_slope", f"{TYURIN_GD}, §2 (minimal example)",
          "Two-layer GD needs Õ(√d) iterations: the paper's bound ≈ λ2/μ · log is an upper bound, "
          "so the judged statistic is the 90th percentile over 64 inits, in the paper's regime: "
          "γ = c·n/λ2 with c = 1, init norm 1",
          "log–log slope of the 90th percentile ≈ 0.5 (0.49 measured)", f"[{P90_SLOPE[0]}, {P90_SLOPE[1]}]", (),
          _scaling("two_layer_conv:gd:scaled", *P90_SLOPE, "p90"), "complexity", fast=False,
          controls=(Control("identity shift P = I (numpy GD of the same model)",
                            judge=_numpy_scaling(_identity, *P90_SLOPE)),
                    Control("fixed step γ = 0.1 (no 1/λ2 step rule)",
                            judge=_scaling("two_layer_conv:gd:0.1", *P90_SLOPE, "p90")),
                    Control("linear batch perceptron in place of the two-layer model",
                            judge=_scaling("linear:batch_perceptron", *P90_SLOPE, "p90"))),
          uses=("nonlinear", "linear") + _SCALING_RUNS,
          unique_note="its mutants (P = I, the shift, ∂g/∂w) are killed first by the per-seed "
                      "numpy comparison of minimal_two_layer_bound; this claim keeps the slope"),
    Claim("minimal_two_layer_bound", f"{TYURIN_GD}, §2 (minimal example; constant derived)",
          "Two-layer GD solves the minimal example in Õ(λ₂/μ) = Õ(√d) iterations, for every init",
          "per seed (16 seeds, init norm 1, γ = n/λ₂), d = 16 … 1024: iterations ≤ "
          f"{BOUND_CONSTANT:g}·(λ₂/μ)·(1 + log(λ₂/μ)); each count = the numpy two-layer GD's", "inequality; exact",
          (), _bound_per_seed("two_layer_conv:gd:scaled"), "complexity",
          uses=("nonlinear", "linear") + _SCALING_RUNS,
          controls=(Control("the linear batch perceptron against the same bound",
                            judge=_bound_per_seed("linear:batch_perceptron", check_reference=False)),),
          unique_note="its mutants of the two-layer conv (P = I, the shift backwards, ∂g/∂w without u2·Pb) are also caught by gd_step_any_model's per-step check against autograd; it adds the per-seed bound over d = 16 … 1024 and 5 000 steps"),
    Claim("q_contraction", f"{BW}, §3",
          "GD multiplies every Q_i = a_i² − b_i² by (1 − η²ε²) each step",
          "Q_i(t+1) = (1 − η²ε_t²) Q_i(t)", "1e-9 relative",
          (make_spec(**SHALLOW, step_sizes=(0.05, 0.3), max_iters=200, history_points=256,
                     run_to_max=True),), _q_contraction, "shallow",
          controls=(Control("the factor 1 − ηε (not squared)", judge=partial(_q_contraction, squared=False)),),
          unique_note="every mutant of the a·b update breaks most shallow claims at once; this is the plainest of them (the exact per-step factor)"),
    Claim("gf_conservation", f"{BW}, §3",
          "Gradient flow conserves every Q_i and C and ends at λ_GF = √(4Φ² + C₀)",
          "Q_i constant; λ_∞ = √(4Φ² + C₀)", "1e-8",
          (make_spec(**SHALLOW, algorithm="gradient_flow", step_sizes=(0.01,), max_iters=5000,
                     tol=1e-12),), _gf_conservation, "shallow",
          controls=(Control("GD (η = 0.3) in place of gradient flow",
                            specs=(make_spec(**SHALLOW, step_sizes=(0.3,), max_iters=5000, tol=1e-12),)),)),
    Claim("gd_flatter_than_gf", f"{BW}, §3",
          "GD converges to λ_GD = √(4Φ² + S²C₀) with 2|Φ| ≤ λ_GD < λ_GF: flatter than gradient flow",
          "2 ≤ λ_GD = predicted < λ_GF", "1e-7 relative",
          (make_spec(**SHALLOW, step_sizes=(0.01, 0.1, 0.3, 0.45), max_iters=100000, tol=1e-12),),
          _flatter, "shallow",
          controls=(Control("gradient flow in place of GD (S = 1)",
                            specs=(make_spec(**SHALLOW, algorithm="gradient_flow", step_sizes=(0.1, 0.45),
                                             max_iters=2000, tol=1e-12),)),),
          unique_note="a wrong λ_GD is also caught by larger_step_convergence, which compares λ_∞ with the same prediction"),
    Claim("theorem1_monotone", f"{BW}, Theorem 1",
          "For 0 < η < min{1/(2|ε(0)|), 2/√(λ(0)² + 4Φ²)} GD converges linearly",
          "|ε| decreases every step, for 5 inits at η = 0.99 η* and 0.5 η*", "exact",
          _theorem1_specs((0.99, 0.5), max_iters=20000, tol=1e-11, history_points=30000), _theorem1,
          "shallow",
          controls=(Control("η = 4 η* (beyond the bound)",
                            specs=_theorem1_specs((4.0,), max_iters=20000, tol=1e-11,
                                                  history_points=30000)),),
          unique_note="relational (|ε| never grows); the update mutants it catches are caught exactly by q_contraction and theorem1_step_factor"),
    Claim("theorem1_local_rate", f"{BW}, Theorem 1 (the local rate near the limit)",
          "Below the bound GD converges linearly; the limit point has Q_i = S·Q_i(0) for every i",
          "|ε_t| falls at the rate |1 − ηλ_∞| (λ_∞ the limit's sharpness); Q_i(T) = S·Q_i(0), "
          "S = Π(1 − η²ε²), for 5 inits at 0.5 η* and 0.99 η*", "rate ±2e-3; Q 1e-9",
          _theorem1_specs((0.99, 0.5), max_iters=20000, tol=1e-11, history_points=30000),
          _theorem1_rate, "shallow",
          controls=(Control("rate predicted from λ(0) in place of λ_∞",
                            judge=partial(_theorem1_rate, limit_sharpness=False)),),
          unique_note="the wrong S factor is also caught by every claim that reads S (figure3_trends, gd_flatter_than_gf, figure3_paper_axes)"),
    Claim("q_collapse", f"{BW}, §3 (chaos)",
          "For η|Φ| > 1 no minimum is stable and, while the iterates stay bounded, Q is driven to 0 "
          "from an unbalanced start (from a larger start GD diverges at η|Φ| = 1.1)",
          "max|Q_i(T)| ≤ 1e-10 max|Q_i(0)| at η|Φ| = 1.1, 1.25 (start Q = (0.39, −0.27))", "1e-10",
          (make_spec(**_Q_COLLAPSE, step_sizes=(1.1, 1.25), max_iters=4000, run_to_max=True,
                     history_points=64),), _q_collapse, "shallow",
          controls=(Control("gradient flow at the same η (conserves Q)",
                            specs=(make_spec(**_Q_COLLAPSE, algorithm="gradient_flow", step_sizes=(1.1, 1.25),
                                             max_iters=4000, history_points=64),)),),
          unique_note="relational (Q → 0 for η|Φ| > 1); the update mutants it catches are caught exactly by q_contraction"),
    Claim("figure3_trends", f"{BW}, Figure 3",
          "Larger ηλ(0): smaller S = Q_i(T)/Q_i(0) (more regularization), and more so from a larger scale",
          "per scale s = 2, 4, 8 (generic init a₀ = s(1, 0.2), b₀ = s(0.3, 0.5)): S falls with ηλ(0); "
          "at ηλ(0) = 2.5 S falls with s", "relation",
          _figure3_specs(_FIG3_SCALES, _FIG3_FRACTIONS, max_iters=200000, tol=1e-8),
          partial(_figure3, scales=_FIG3_SCALES), "shallow",
          view=_figure3_view(_FIG3_SCALES, 0.5, 2.5, 21, 200000),
          controls=(Control("gradient flow in place of GD (S = 1)",
                            specs=tuple(s.replace(algorithm="gradient_flow", max_iters=2000)
                                        for s in _figure3_specs(_FIG3_SCALES, _FIG3_FRACTIONS,
                                                                max_iters=2000, tol=1e-8))),)),
    Claim("figure3_scales", f"{BW}, Figure 3 and §3",
          "As η → 1/|Φ| the time to converge blows up, at every initial scale",
          "s = 0.3, 0.6, 0.9 (generic init, λ(0) < 2|Φ|): steps to |ε| ≤ 1e-8 grow at η|Φ| = 0.5, 0.9, "
          "0.99, 0.999, ≥ 20× from 0.9 to 0.999", "relation",
          tuple(make_spec(model="shallow_linear", phi=1.0, step_sizes=_BLOW_UP_ETAS, max_iters=200000,
                          tol=1e-8, **shallow.figure3_spec_fields("generic", s)) for s in _BLOW_UP_SCALES),
          partial(_steps_blow_up, scales=_BLOW_UP_SCALES), "shallow",
          view=_figure3_view(_BLOW_UP_SCALES, 0.01, 1.2, 120, 20000),
          controls=(Control("gradient flow at the same η (no step-size instability)",
                            specs=tuple(make_spec(model="shallow_linear", phi=1.0, algorithm="gradient_flow",
                                                  step_sizes=_BLOW_UP_ETAS, max_iters=200000, tol=1e-8,
                                                  **shallow.figure3_spec_fields("generic", s))
                                        for s in _BLOW_UP_SCALES)),),
          unique_note="relational (the blow-up as η → 1/|Φ|); the update mutants it catches are caught exactly by q_contraction"),
    Claim("period_doubling", f"{BW}, §3 (chaos)",
          "For η|Φ| > 1 the balanced dynamics period-double (2, 4, 8, …) and then become chaotic",
          "periods 1, 2, 4 at η|Φ| = 0.9, 1.1, 1.25; many values at 1.4", "exact periods",
          (make_spec(model="shallow_linear", phi=1.0, a=(0.7,), b=(0.7,), step_sizes=(0.9, 1.1, 1.25, 1.4),
                     max_iters=4000, run_to_max=True, tail_points=64, history_points=16),),
          _period_doubling, "shallow",
          controls=(Control("half the step sizes (η|Φ| = 0.45 … 0.7, below the instability)",
                            specs=(make_spec(model="shallow_linear", phi=1.0, a=(0.7,), b=(0.7,),
                                             step_sizes=(0.45, 0.55, 0.625, 0.7), max_iters=4000,
                                             run_to_max=True, tail_points=64, history_points=16),)),)),
    Claim("theorem1_step_factor", f"{BW}, Theorem 1 (explicit rate; per-step factor derived)",
          "For 0 < η < η* = min{1/(2|ε(0)|), 2/√(λ(0)² + 4Φ²)} GD converges at a linear rate",
          "ε_{t+1} = ρ_t ε_t with ρ_t = 1 − ηλ_t + η²ε_t(ε_t + Φ) and λ_{t+1} = (1 + η²ε_t²)λ_t − "
          "4ηε_t(ε_t + Φ) at every step; max_t |ρ_t| < 1 (so |ε_T| ≤ |ε_0|·max|ρ|^T); the engine's η* = "
          "the closed form; 5 inits at 0.99 η* and 0.5 η*", "identities 1e-9; rate < 1",
          _theorem1_specs((0.99, 0.5), max_iters=20000, tol=1e-11, history_points=30000),
          _theorem1_step_factor, "shallow",
          controls=(Control("η = 4 η* (beyond the bound)",
                            specs=_theorem1_specs((4.0,), max_iters=20000, tol=1e-11,
                                                  history_points=30000)),),
          unique_note="its mutant (η* with 1/|ε(0)|) also moves larger_step_convergence, which reads "
                      "the engine's η* for its runs at 1.5 η*; the a·b update mutants break most "
                      "shallow claims at once (measured)"),
    Claim("larger_step_convergence", f"{BW}, abstract and §3 (larger steps; Theorem 2 reconstructed)",
          "GD still converges for step sizes beyond Theorem 1's, possibly very slowly, while ηλ_∞ < 2",
          "at η = 1.5 η* (5 inits) and η|Φ| = 0.95 (2 inits), all above η*: converged to |ε| ≤ 1e-10, "
          "ηλ_∞ < 2, λ_∞ = √(4Φ² + S²C₀)", "relation; λ 1e-6",
          _theorem1_specs((1.5,), max_iters=200000, tol=1e-10)
          + tuple(make_spec(model="shallow_linear", phi=1.0, a=_THEOREM1_INITS[i][0], b=_THEOREM1_INITS[i][1],
                            step_sizes=(0.95,), max_iters=200000, tol=1e-10) for i in (0, 3)),
          _larger_step, "shallow",
          controls=(Control("η|Φ| = 1.1 (no stable minimum)",
                            specs=(make_spec(model="shallow_linear", phi=1.0, a=_THEOREM1_INITS[0][0],
                                             b=_THEOREM1_INITS[0][1], step_sizes=(1.1,), max_iters=20000,
                                             tol=1e-10),)),),
          unique_note="convergence beyond η* and λ_∞ = √(4Φ² + S²C₀) are also read by gd_flatter_than_gf and theorem1_step_factor"),
    Claim("figure12_regions", f"{BW}, Figures 1 and 2",
          "GD moves a + b and a − b by (1 − ηε) and (1 + ηε), shrinking every Q_i by (1 − η²ε²); "
          "the three regions ε > 0, ε < 0 < aᵀb, aᵀb < 0 decide how the norm λ moves",
          "every step of runs from (1.5, 1), (0.3, 1.2), (1.2, −0.4) (d = 1, Φ = 1, η = 0.3, one start "
          "per region): the factors hold; λ grows at every step taken in ε < 0 < aᵀb; every region "
          "visited", "1e-9",
          tuple(make_spec(model="shallow_linear", phi=1.0, a=a, b=b, step_sizes=(_REGION_ETA,),
                          max_iters=2000, tol=1e-12, history_points=4000) for a, b in _REGION_INITS),
          _regions, "shallow",
          view=("view=figures12&phi=1&fig12_a=" + ",".join(f"{a[0]:g}" for a, _ in _REGION_INITS)
                + "&fig12_b=" + ",".join(f"{b[0]:g}" for _, b in _REGION_INITS) + f"&fig12_eta={_REGION_ETA:g}"),
          controls=(Control("gradient flow from the same starts (no discrete factors)",
                            specs=tuple(make_spec(model="shallow_linear", phi=1.0, a=a, b=b,
                                                  algorithm="gradient_flow", step_sizes=(_REGION_ETA,),
                                                  max_iters=300, tol=1e-12, history_points=400)
                                        for a, b in _REGION_INITS)),),
          unique_note="its per-step factors are q_contraction's on other starts; it adds the three regions"),
    Claim("figure3_paper_axes", f"{BW}, Figure 3 (its axes)",
          "Q(T)/Q(0) and the time to converge against ηλ(0), across initial scales",
          "generic init at s = 2, 3, 4, ηλ(0) = 0.25 … 1.98: Q(T)/Q(0) (total Q, read off θ) = "
          "Π(1 − η²ε²) and falls with ηλ(0); steps to |ε| ≤ 1e-8 fewest in between, more at "
          "ηλ(0) = 1.98 than at the fewest and > 2× at 0.25", "1e-9; relation",
          _figure3_specs(_FIG3_AXES_SCALES, _FIG3_AXES, max_iters=200000, tol=1e-8),
          partial(_figure3_axes, scales=_FIG3_AXES_SCALES), "shallow",
          view=_figure3_view(_FIG3_AXES_SCALES, 0.25, 1.98, 21, 200000),
          controls=(Control("gradient flow in place of GD (Q conserved)",
                            specs=tuple(s.replace(algorithm="gradient_flow", max_iters=2000)
                                        for s in _figure3_specs(_FIG3_AXES_SCALES, _FIG3_AXES,
                                                                max_iters=2000, tol=1e-8))),),
          unique_note="Q(T)/Q(0) = Π(1 − η²ε²) is also checked by figure3_trends and theorem1_local_rate; it adds the paper's axes"),
    Claim("shallow_chaos", f"{BW}, §3 (chaos)",
          "Past the period doublings the dynamics are chaotic: deterministic, yet sensitive to the start",
          "two runs from a₀ = 0.7 and 0.7 + 1e-12 (b₀ = 0.7, Φ = 1): at η|Φ| = 1.4 |ε_t − ε'_t| grows "
          "exponentially past 1e-3; at 0.5 (a fixed point) and 1.3 (a period-4 orbit) it stays ≤ 1e-9",
          "exponent > 0.05/step",
          (make_spec(a=(0.7,), **_CHAOS), make_spec(a=(0.7 + 1e-12,), **_CHAOS)),
          partial(_separation, chaotic=(1.4,), calm=(0.5, 1.3)), "shallow",
          controls=(Control("gradient flow at the same η (no chaos)",
                            specs=(make_spec(a=(0.7,), **dict(_CHAOS, algorithm="gradient_flow")),
                                   make_spec(a=(0.7 + 1e-12,), **dict(_CHAOS, algorithm="gradient_flow")))),),
          unique_note="the update mutants it catches are caught exactly by q_contraction; it adds the sensitivity at η|Φ| = 1.4"),
    Claim("catapult", "Lewkowycz et al. 2020 (docs/science.md §4)",
          "Φ = 0, 2 < ηλ₀ < 4: a loss spike, then convergence with λ_∞ < 2/η; ηλ₀ > 4 diverges",
          "spike, λ_∞ < 2/η; divergence past 4", "relation",
          (make_spec(model="shallow_linear", phi=0.0, a=_CATAPULT_A, b=_CATAPULT_B,
                     step_sizes=(3.0 / _CATAPULT_LAMBDA, 4.5 / _CATAPULT_LAMBDA), max_iters=5000,
                     tol=1e-10),), _catapult, "shallow", view=_catapult_view((3.0, 4.5), 5000),
          controls=(Control("gradient flow in place of GD (no spike, no divergence)",
                            specs=(make_spec(model="shallow_linear", phi=0.0, a=_CATAPULT_A, b=_CATAPULT_B,
                                             algorithm="gradient_flow",
                                             step_sizes=(3.0 / _CATAPULT_LAMBDA, 4.5 / _CATAPULT_LAMBDA),
                                             max_iters=5000, tol=1e-10),)),),
          unique_note="the shallow sharpness formula is inline in the solver's metrics (no function to replace); the update mutants it catches are caught by q_contraction"),
    Claim("edge_of_stability", "Cohen et al. 2021 (docs/science.md §4)",
          "Under full-batch GD the sharpness rises to 2/η and hovers there (CNN on digits)",
          "late sharpness ≈ 2/η", "±30 %",
          (make_spec(model="cnn", dataset="digits", classes=(3, 8), n=300, kernel_size=3,
                     step_sizes=(2.0, 8.0), max_iters=800, sharpness_every=50, run_to_max=True,
                     dtype="float32", perceptron_gap=False),), _edge_of_stability, "images",
          fast=False,
          controls=(Control("stability threshold 1/η in place of 2/η",
                            judge=partial(_edge_of_stability, threshold=1.0)),),
          unique_note="slow (CNN on digits, not in the quick matrix); the sharpness meter has its own closed-form tests in tests/test_sharpness.py"),

    Claim("heavy_ball_recursion", "Polyak 1964 (heavy-ball momentum; docs/science.md §8)",
          "Heavy-ball momentum: θₜ₊₁ = θₜ − η∇f(θₜ) + β(θₜ − θₜ₋₁)",
          "every θ_t (t ≤ 40) of LR+heavy ball (β = 0.8, η = 0.05, 0.5) = the numpy recursion",
          "1e-12 relative", (_rule_spec("heavy_ball", momentum=0.8),),
          partial(_rule_matches, reference=heavy_ball_reference, momentum=0.8), "dynamics",
          controls=(Control("the momentum term one step late, β(θₜ₋₁ − θₜ₋₂)",
                            judge=partial(_rule_matches, reference=heavy_ball_reference, momentum=0.8,
                                          lag=2)),)),
    Claim("nesterov_recursion", "Sutskever et al. 2013 (Nesterov momentum, PyTorch's form; docs/science.md §8)",
          "Nesterov momentum: vₜ = βvₜ₋₁ + ∇f(θₜ), θₜ₊₁ = θₜ − η(∇f(θₜ) + βvₜ)",
          "every θ_t (t ≤ 40) of LR+Nesterov (β = 0.7, η = 0.05, 0.5) = the numpy recursion",
          "1e-12 relative", (_rule_spec("nesterov", momentum=0.7),),
          partial(_rule_matches, reference=nesterov_reference, momentum=0.7), "dynamics",
          controls=(Control("the heavy ball's step ηvₜ (no look-ahead)",
                            judge=partial(_rule_matches, reference=nesterov_reference, momentum=0.7,
                                          lookahead=False)),)),
    Claim("adam_recursion", "Kingma & Ba 2015, Algorithm 1 (docs/science.md §8)",
          "Adam: m and v from 0, bias-corrected by 1 − β₁ᵗ and 1 − β₂ᵗ, θ −= η m̂/(√v̂ + ε)",
          "every θ_t (t ≤ 40) of LR+Adam (β₁ = 0.8, β₂ = 0.99, ε = 1e-6, η = 0.05, 0.5) = Algorithm 1 "
          "in numpy", "1e-12 relative", (_rule_spec("adam", beta1=0.8, beta2=0.99, adam_eps=1e-6),),
          partial(_rule_matches, reference=adam_reference, beta1=0.8, beta2=0.99, eps=1e-6), "dynamics",
          controls=(Control("Adam without its bias corrections",
                            judge=partial(_rule_matches, reference=adam_reference, beta1=0.8,
                                          beta2=0.99, eps=1e-6, corrected=False)),)),
    Claim("minibatch_epochs", "mini-batch SGD without replacement (docs/science.md §8)",
          "Mini-batch GD: a fresh permutation per epoch from the run's seed, batches in order, each step "
          "the mean gradient of its batch",
          "every θ_t (t ≤ 40) of LR+mini-batch GD (batch 7 of n = 30, seeds 0 and 3) = the numpy loop",
          "1e-12 relative", (_rule_spec("minibatch_gd", minibatch_size=7),),
          partial(_rule_matches, reference=minibatch_reference, batch=7), "dynamics",
          controls=(Control("the first epoch's permutation reused every epoch",
                            judge=partial(_rule_matches, reference=minibatch_reference, batch=7,
                                          fresh=False)),)),
)

CLAIMS_BY_NAME = {claim.name: claim for claim in CLAIMS}


def _run_all(specs, use_cache: bool, progress, offset: int, total: int) -> tuple[list[SweepResult], bool]:
    from core.api import run_spec       # imported when a claim runs: listing the claims stays light

    results, cached = [], True
    for index, spec in enumerate(specs):
        outcome = run_spec(spec, use_cache=use_cache, progress=None if progress is None else
                           (lambda f, i=offset + index: progress((i + f) / max(1, total))))
        results.append(outcome.result)
        cached &= outcome.cached
    return results, cached


def _run_control(claim: Claim, control: Control, own: list[SweepResult], use_cache: bool,
                 progress, offset: int, total: int) -> tuple[ControlOutcome, bool]:
    """A control the judge must reject. A control that cannot run is reported as not
    rejected (it shows nothing about the judge), so the claim reads weak, never silently fine."""
    try:
        if control.specs is None:
            results, cached = own, True
        else:
            results, cached = _run_all(control.specs, use_cache, progress, offset, total)
        measurement = (control.judge or claim.judge)(results)
        return ControlOutcome(control.name, measurement.measured, measurement.passed), cached
    except Exception as error:   # reported, never raised
        return ControlOutcome(control.name, f"could not run: {type(error).__name__}: {error}", True), False


def check(claim: Claim, use_cache: bool = True,
          progress: Callable[[float], None] | None = None) -> Verdict:
    """Run a claim's specs (cached like any other run), judge the measurement, then run every
    negative control through the same judge. A failure to run is a failed verdict with the
    reason, never an exception."""
    started = time.perf_counter()
    total = len(claim.specs) + sum(len(c.specs or ()) for c in claim.controls)
    try:
        results, cached = _run_all(claim.specs, use_cache, progress, 0, total)
        measurement = claim.judge(results)
    except Exception as error:   # a claim that cannot run is reported as failed, with why
        return Verdict(claim, Measurement(f"could not run: {type(error).__name__}: {error}", False),
                       time.perf_counter() - started, False)
    controls, offset = [], len(claim.specs)
    for control in claim.controls:
        outcome, control_cached = _run_control(claim, control, results, use_cache, progress, offset, total)
        controls.append(outcome)
        offset += len(control.specs or ())
        cached &= control_cached
    judged = measurement.passed
    overall = judged and bool(controls) and not any(c.passed for c in controls)
    if judged and not overall:
        reason = ("a negative control passed: " + "; ".join(c.name for c in controls if c.passed)
                  if controls else "no negative control")
        measurement = Measurement(measurement.measured, False,
                                  (measurement.detail + "; " if measurement.detail else "") + "weak: " + reason)
    return Verdict(claim, measurement, time.perf_counter() - started,
                   cached and bool(claim.specs), controls, judged)


def select(names: list[str] | None, include_slow: bool) -> list[Claim]:
    from core.kernel.spec import SpecError

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
        mark = verdict.status.upper()
        lines += [f"[{mark}] {claim.name} — {claim.paper}",
                  f"    paper:    {claim.statement}",
                  f"    expected: {claim.expected}   (tolerance: {claim.tolerance})",
                  f"    measured: {verdict.measurement.measured}"]
        for control in verdict.controls:
            lines.append(f"    control:  {control.name}: "
                         f"{'PASSED (the judge cannot tell it apart)' if control.passed else 'rejected'}"
                         f" — {control.measured}")
        lines.append(f"    view:     {claim.link(base_url())}   ({verdict.seconds:.1f} s"
                     f"{', cached' if verdict.cached else ''})")
    counts = {status: sum(v.status == status for v in verdicts) for status in ("pass", "weak", "fail")}
    lines.append(f"{counts['pass']} passed, {counts['weak']} weak, {counts['fail']} failed"
                 f"   (formulas and conventions: {SCIENCE_DOC})")
    return "\n".join(lines)
