"""The algorithms: each is one registered :class:`Algorithm` entry — its name, label, the model
families it runs on, its closed-form coefficients and how it pairs with the perceptrons — and
everything else follows from the entry: the field table's choices and relevance rules
(core/fields.py), validation of algorithm × model (core/spec.py), the engine's update
(``engine.coefficients``), its perceptron companion and renormalisation, the plots' labels and
line styles, the dashboard's algorithm lists and the CLI's choices.

Every classifier algorithm is θ += γ · scale · Σᵢ coefᵢ ∇mᵢ(θ): GD on the logistic loss has
coefᵢ = σ(−mᵢ) and scale 1/n, and the perceptrons replace σ(−m) by the indicator of the
misclassified set (science.md §1–2). An entry gives ``coefficients(margins, t, out) -> Step``
in closed form. A new algorithm is a :func:`register_algorithm` call here or in a module
``core/algorithm_<name>.py`` (found automatically).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .errors import SpecError
from .registry import MODEL_FAMILIES, Registry, model_family, models_of


@dataclass(frozen=True)
class Step:
    """The update θ += γ · scale · Σ_i coef_i ∇m_i, and the factor turning
    ‖Σ_i coef_i ∇m_i‖ into the reported gradient norm."""

    coef: torch.Tensor                 # (B, n)
    scale: torch.Tensor | float        # scalar or (B, 1)
    grad_scale: torch.Tensor | float   # scalar or (B,)


# margins (B, n), iteration t, a (B, n) buffer the coefficients may be written into (or None)
Coefficients = Callable[[torch.Tensor, int, "torch.Tensor | None"], Step]


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
    if "shallow" in entry.families and not entry.continuous and entry.name != "gd":
        raise ValueError(f"algorithm {entry.name!r}: the shallow runner (core/shallow.py) steps gd "
                         "and integrates continuous flows only")


ALGORITHM_REGISTRY = Registry("algorithm", "core.algorithms", "algorithm_", _check)
register_algorithm = ALGORITHM_REGISTRY.register
unregister_algorithm = ALGORITHM_REGISTRY.unregister


def algorithms() -> dict[str, Algorithm]:
    """Every registered algorithm: the built-ins (below), then each core/algorithm_*.py."""
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
