"""The algorithms: each is one registered :class:`Algorithm` entry — its name, label, the model
families it runs on, its closed-form coefficients and how it pairs with the perceptrons — and
everything else follows from the entry: the field table's choices and relevance rules
(core/kernel/fields.py), validation of algorithm × model (core/kernel/spec.py), the engine's update
(``engine.coefficients``), its perceptron companion and renormalisation, the plots' labels and
line styles, the dashboard's algorithm lists and the CLI's choices.

Every classifier algorithm is θ += γ · scale · Σᵢ coefᵢ ∇mᵢ(θ): GD on the logistic loss has
coefᵢ = σ(−mᵢ) and scale 1/n, and the perceptrons replace σ(−m) by the indicator of the
misclassified set (science.md §1–2). An entry gives ``coefficients(margins, t, out) -> Step``
in closed form. A new algorithm is a :func:`register_algorithm` call here or in a module
a module of ``core/algorithms/`` (found automatically).

An update rule may carry state, in the spirit of optax: a :class:`Transform` (``init(θ₀) →
state``, ``update(u, state, t) → (u', state)``) maps the direction u = scale · Σ coefᵢ∇mᵢ
(−∇L for GD) to the step θ += γ·u', and transforms compose with :func:`chain`; a
:class:`MarginRule` (``init(seeds, n) → state``, ``update(margins, state, t) → (Step, state)``)
replaces the closed-form coefficients where they need state (a seeded mini-batch schedule).
Heavy-ball, Nesterov and Adam are transforms on top of GD's coefficients, mini-batch GD a
margin rule; their hyper-parameters are run-spec fields (core/kernel/fields.py) the entry declares in
``fields``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from core.kernel.errors import SpecError
from core.kernel.lazy import lazy_module
from core.kernel.registry import MODEL_FAMILIES, Registry, model_family, models_of

torch = lazy_module("torch", globals())
F = lazy_module("torch.nn.functional", globals(), "F")


@dataclass(frozen=True)
class Step:
    """The update θ += γ · scale · Σ_i coef_i ∇m_i, and the factor turning
    ‖Σ_i coef_i ∇m_i‖ into the reported gradient norm."""

    coef: torch.Tensor                 # (B, n)
    scale: torch.Tensor | float        # scalar or (B, 1)
    grad_scale: torch.Tensor | float   # scalar or (B,)


# margins (B, n), iteration t, a (B, n) buffer the coefficients may be written into (or None)
Coefficients = Callable[["torch.Tensor", int, "torch.Tensor | None"], Step]


@dataclass(frozen=True)
class Algorithm:
    name: str
    label: str                                   # plots and the dashboard
    families: tuple[str, ...]                    # the model families it runs on (registry.MODEL_FAMILIES)
    coefficients: Coefficients | None = None     # closed form; None: not run by the batched engine
    dash: str = "solid"                          # its line style in the plots
    perceptron: bool = False                     # drawn a little heavier; a perceptron of science.md §2
    companion: tuple[tuple[str, str], ...] = ()  # (family, the perceptron carried beside it for the gap)
    becomes: tuple[tuple[str, str], ...] = ()    # (family, what it turns into on a model of that family)
    renormalize_homogeneous: bool = False        # rows rescaled to ‖θ₀‖ on a 2-homogeneous model
    continuous: bool = False                     # a continuous-time flow (integrated, not stepped)
    help: str = ""                               # one line for the CLI and the schema
    transform: "Callable[[Any], Transform] | None" = None      # spec -> its stateful step transform
    margin_rule: "Callable[[Any], MarginRule] | None" = None   # spec -> stateful coefficients
    fields: tuple[str, ...] = ()                 # the spec fields (hyper-parameters) it reads
    state_copies: int = 0                        # (runs, p) tensors its transform keeps and makes per step

    def companion_for(self, family: str | None) -> str | None:
        return dict(self.companion).get(family)

    def becomes_on(self, family: str | None) -> str | None:
        return dict(self.becomes).get(family)


def _check(entry: Algorithm) -> None:
    unknown = [f for f in entry.families if f not in MODEL_FAMILIES]
    if unknown or not entry.families:
        raise ValueError(f"algorithm {entry.name!r}: families must be among {', '.join(MODEL_FAMILIES)}")
    if entry.coefficients is None and not entry.continuous:
        raise ValueError(f"algorithm {entry.name!r} needs its coefficients (or continuous=True)")
    if "shallow" in entry.families and not entry.continuous and (
            entry.coefficients is not gd or entry.margin_rule is not None):
        raise ValueError(f"algorithm {entry.name!r}: the shallow runner (core/engine/shallow.py) steps gd "
                         "(with a transform) and integrates continuous flows only")
    if entry.margin_rule is not None and entry.companion:
        raise ValueError(f"algorithm {entry.name!r}: a margin rule carries no perceptron companion")


ALGORITHM_REGISTRY = Registry("algorithm", "core.algorithms", _check)
register_algorithm = ALGORITHM_REGISTRY.register
unregister_algorithm = ALGORITHM_REGISTRY.unregister


def algorithms() -> dict[str, Algorithm]:
    """Every registered algorithm: the built-ins (below), then each other module of core.algorithms."""
    return ALGORITHM_REGISTRY.entries()


def algorithm(name: str) -> Algorithm:
    entry = algorithms().get(name)
    if entry is None:
        raise SpecError("algorithm", f"unknown algorithm {name!r}")
    return entry


def algorithms_on(family: str | None) -> tuple[str, ...]:
    """The algorithms that run on a model family, in registration order."""
    return tuple(name for name, entry in algorithms().items() if family in entry.families)


def mismatch(name: str, model: str) -> str | None:
    """Why ``name`` cannot run on ``model`` (the "algorithm: ..." message), or None if it can."""
    entry, family = algorithms().get(name), model_family(model)
    if entry is None or family is None or family in entry.families:
        return None
    instead = entry.becomes_on(family)
    own = _either(m for f in entry.families for m in models_of(f))
    if instead is not None:
        return f"{name} is defined for the {own} model; use {instead} for {_either(models_of(family))}"
    if family == "shallow":
        return f"{model} runs {' or '.join(algorithms_on(family))}, got {name!r}"
    return f"{name} is available for the {own} model"


def _either(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


# ---------------------------------------------------------------------- the built-ins
def perceptron_weights(margins: torch.Tensor, t: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """1[m <= 0] for t >= 1. At t = 0 the sigmoid limit: 1[m < 0] + ½·1[m = 0] — which gives the
    batch perceptron's θ̂_1 = (1/(2n)) Σ y_i b_i from θ_0 = 0 (science.md §1)."""
    if t == 0:
        return (margins < 0).to(margins.dtype) + 0.5 * (margins == 0).to(margins.dtype)
    if out is not None and out.shape == margins.shape:
        return torch.le(margins, 0, out=out)
    return (margins <= 0).to(margins.dtype)


def gd(margins: torch.Tensor, t: int, out: torch.Tensor | None = None) -> Step:
    """θ += (γ/n) Σ σ(−mᵢ) ∇mᵢ."""
    n = margins.shape[1]
    if out is None or out.shape != margins.shape:
        return Step(torch.sigmoid(-margins), 1.0 / n, 1.0 / n)
    return Step(torch.neg(margins, out=out).sigmoid_(), 1.0 / n, 1.0 / n)


def normalized_gd(margins: torch.Tensor, t: int, out: torch.Tensor | None = None) -> Step:
    """θ += γ Σ wᵢ/Σw ∇mᵢ with w = σ(−m), in the log domain: σ(−m) underflows for m > ~745."""
    n = margins.shape[1]
    log_w = -F.softplus(margins)
    log_total = torch.logsumexp(log_w, dim=1, keepdim=True)
    return Step(torch.exp(log_w - log_total), 1.0, torch.exp(log_total[:, 0]) / n)


def batch_perceptron(margins: torch.Tensor, t: int, out: torch.Tensor | None = None) -> Step:
    """θ += (γ/n) Σ 1[mᵢ ≤ 0] ∇mᵢ."""
    n = margins.shape[1]
    return Step(perceptron_weights(margins, t, out), 1.0 / n, 1.0 / n)


def normalized_batch_perceptron(margins: torch.Tensor, t: int, out: torch.Tensor | None = None) -> Step:
    """θ += γ Σ 1[mᵢ ≤ 0] ∇mᵢ / max(1, #misclassified)."""
    weights = perceptron_weights(margins, t, out)
    scale = 1.0 / torch.clamp(weights.sum(dim=1, keepdim=True), min=1.0)
    return Step(weights, scale, scale[:, 0])


# ---------------------------------------------------------------------- stateful rules
@dataclass(frozen=True)
class Transform:
    """A stateful map of the direction u (rows, p) to the step: θ += γ·u'. ``init(θ₀)`` gives
    the state, ``update(u, state, t)`` returns (u', state). Rows never mix, so a batched run
    equals its runs alone."""

    init: Callable[[torch.Tensor], Any]
    update: Callable[[torch.Tensor, Any, int], tuple[torch.Tensor, Any]]


def chain(*transforms: Transform) -> Transform:
    """The transforms applied in order (optax.chain): chain(a, b) feeds a's output to b."""
    def init(theta0):
        return tuple(part.init(theta0) for part in transforms)

    def update(direction, state, t):
        states = []
        for part, own in zip(transforms, state):
            direction, own = part.update(direction, own, t)
            states.append(own)
        return direction, tuple(states)
    return Transform(init, update)


def heavy_ball(beta: float) -> Transform:
    """θₜ₊₁ = θₜ − η∇f(θₜ) + β(θₜ − θₜ₋₁), kept as the velocity vₜ = βvₜ₋₁ + uₜ, θ += ηvₜ
    (torch.optim.SGD with momentum β and no dampening)."""
    def update(direction, velocity, t):
        velocity = direction.clone() if velocity is None else velocity.mul_(beta).add_(direction)
        return velocity, velocity
    return Transform(lambda theta0: None, update)


def nesterov(beta: float) -> Transform:
    """PyTorch's Nesterov: vₜ = βvₜ₋₁ + uₜ, θ += η(uₜ + βvₜ)."""
    def update(direction, velocity, t):
        velocity = direction.clone() if velocity is None else velocity.mul_(beta).add_(direction)
        return direction.add(velocity, alpha=beta), velocity
    return Transform(lambda theta0: None, update)


def adam(beta1: float, beta2: float, eps: float) -> Transform:
    """PyTorch's Adam (no weight decay, not amsgrad), with its bias corrections: on the
    gradient g = −u, m = β₁m + (1−β₁)g, v = β₂v + (1−β₂)g², θ −= η·(m/(1−β₁ᵗ))/(√v/√(1−β₂ᵗ) + ε);
    the step count t starts at 1 at the first update. Written on u: m and the step change
    sign, v does not."""
    def init(theta0):
        return (0, torch.zeros_like(theta0), torch.zeros_like(theta0))

    def update(direction, state, t):
        count, first, second = state
        count += 1
        first.lerp_(direction, 1 - beta1)
        second.mul_(beta2).addcmul_(direction, direction, value=1 - beta2)
        correction1 = 1 - beta1 ** count
        root2 = math.sqrt(1 - beta2 ** count)
        denominator = (second.sqrt() / root2).add_(eps)
        return (first / denominator) / correction1, (count, first, second)
    return Transform(init, update)


@dataclass(frozen=True)
class MarginRule:
    """Coefficients that need state: ``init(seeds, n, device, dtype)`` (one seed per row) gives
    the state, ``update(margins, state, t, out)`` returns (Step, state)."""

    init: Callable[[Sequence[int], int, torch.device, torch.dtype], Any]
    update: Callable[[torch.Tensor, Any, int, "torch.Tensor | None"], tuple[Step, Any]]


def minibatch(batch_size: int) -> MarginRule:
    """GD on mini-batches of ``batch_size`` points: each run draws a fresh permutation of the
    n points per epoch from its own seed (numpy's default_rng(seed), one permutation per
    epoch in turn) and takes its batches in order, the last one shorter when batch_size does
    not divide n. θ += (γ/|B|) Σ_{i∈B} σ(−mᵢ)∇mᵢ. A batch of n or more points is GD exactly."""
    def init(seeds, n, device, dtype):
        unique = sorted(set(int(s) for s in seeds))
        return {"n": n, "rows": [unique.index(int(s)) for s in seeds], "device": device,
                "dtype": dtype, "rngs": [np.random.default_rng(s) for s in unique],
                "epoch": -1, "orders": None}

    def update(margins, state, t, out=None):
        n = state["n"]
        if batch_size >= n:
            return gd(margins, t, out), state
        per_epoch = -(-n // batch_size)
        epoch, index = divmod(t, per_epoch)
        while state["epoch"] < epoch:      # a fresh permutation per epoch, in turn
            state["orders"] = [rng.permutation(n) for rng in state["rngs"]]
            state["epoch"] += 1
        chosen = np.stack([order[index * batch_size:(index + 1) * batch_size]
                           for order in state["orders"]])[state["rows"]]
        mask = np.zeros((len(state["rows"]), n))
        np.put_along_axis(mask, chosen, 1.0, axis=1)
        weights = torch.as_tensor(mask, dtype=margins.dtype, device=margins.device)
        count = chosen.shape[1]
        return Step(torch.sigmoid(-margins) * weights, 1.0 / count, 1.0 / count), state
    return MarginRule(init, update)


CLASSIFIERS = ("linear", "nonlinear")

register_algorithm(Algorithm(
    "gd", "GD", CLASSIFIERS + ("shallow",), gd,
    companion=(("linear", "batch_perceptron"), ("nonlinear", "generalized_perceptron")),
    help="gradient descent on the logistic loss (the a·b loss for shallow_linear)"))
register_algorithm(Algorithm(
    "normalized_gd", "normalized GD", CLASSIFIERS, normalized_gd, dash="dash",
    companion=(("linear", "normalized_batch_perceptron"),),
    help="GD with the step divided by β_t = mean σ(−mᵢ), i.e. the weights σ(−mᵢ) normalised to "
         "sum 1 (Tyurin 2025, arXiv 2412.08424, normalized LR+GD)"))
register_algorithm(Algorithm(
    "batch_perceptron", "batch perceptron", ("linear",), batch_perceptron, dash="dot",
    perceptron=True, becomes=(("nonlinear", "generalized_perceptron"),),
    help="θ += (γ/n) Σ over the misclassified points of yᵢbᵢ"))
register_algorithm(Algorithm(
    "normalized_batch_perceptron", "normalized batch perceptron", ("linear",),
    normalized_batch_perceptron, dash="dashdot", perceptron=True,
    becomes=(("nonlinear", "generalized_perceptron"),),
    help="the batch perceptron step divided by the number of misclassified points"))
register_algorithm(Algorithm(
    "generalized_perceptron", "generalized perceptron", CLASSIFIERS, batch_perceptron, dash="dot",
    perceptron=True, becomes=(("linear", "batch_perceptron"),), renormalize_homogeneous=True,
    help="the batch perceptron through the network's gradient; 2-homogeneous networks are "
         "kept at ‖θ₀‖"))
register_algorithm(Algorithm(
    "gradient_flow", "gradient flow", ("shallow",), None, continuous=True,
    help="the continuous-time limit of GD, integrated by scipy (shallow_linear only)"))

MOMENTUM_FAMILIES = CLASSIFIERS + ("shallow",)
register_algorithm(Algorithm(
    "heavy_ball", "heavy-ball momentum", MOMENTUM_FAMILIES, gd, dash="longdash",
    transform=lambda spec: heavy_ball(spec.momentum), fields=("momentum",), state_copies=2,
    help="GD with heavy-ball momentum β: θₜ₊₁ = θₜ − γ∇f(θₜ) + β(θₜ − θₜ₋₁)"))
register_algorithm(Algorithm(
    "nesterov", "Nesterov momentum", MOMENTUM_FAMILIES, gd, dash="longdashdot",
    transform=lambda spec: nesterov(spec.momentum), fields=("momentum",), state_copies=3,
    help="GD with Nesterov momentum β (PyTorch's SGD formulation)"))
register_algorithm(Algorithm(
    "adam", "Adam", MOMENTUM_FAMILIES, gd, dash="dash",
    transform=lambda spec: adam(spec.beta1, spec.beta2, spec.adam_eps),
    fields=("beta1", "beta2", "adam_eps"), state_copies=5,
    help="Adam on the logistic loss (PyTorch's, with bias correction; γ is its learning rate)"))
register_algorithm(Algorithm(
    "minibatch_gd", "mini-batch GD", CLASSIFIERS, gd, dash="dot",
    margin_rule=lambda spec: minibatch(spec.minibatch_size), fields=("minibatch_size",),
    help="GD on seeded mini-batches (a fresh permutation per epoch from the run's seed); a "
         "batch of n or more points is GD"))


def algorithms_reading(field: str) -> tuple[str, ...]:
    """The algorithms whose entry reads the spec field ``field``."""
    return tuple(name for name, entry in algorithms().items() if field in entry.fields)
