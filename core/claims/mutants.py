"""Mutation testing of the claims: semantic mutants of the engine, the models, the algorithms,
the shallow solver and the analysis, and the kill matrix of ``python -m core reproduce --mutants``.

A mutant is a deliberately wrong implementation (a wrong rule, sign, factor, order, convention
or constant) installed *in this process* by :func:`applied`: it replaces one function, method or
registry entry (named in ``replaces``) and puts it back on exit. No file is edited, so the
mutants follow the code as other changes land: most wrap the function they replace (call it,
then get one thing wrong); the two orders of the a·b update are rewritten from the shallow
solver's own syntax tree, and report ``not applied`` if that update can no longer be found.

Under a mutant the claims run uncached: the result cache is keyed by the spec and a hash of the
code's syntax trees, which a monkeypatch does not change, so for a mutant of that code (``core.store.cache.compute_modules``)
:func:`applied` points the cache at an empty temporary directory; a mutant of the judges'
helpers only (theory, scaling, analysis) cannot change a run and keeps the shared cache, so the
unmutated runs are computed once for all such mutants. Everything runs on the local backend (a
Ray worker would not see the patch). A claim *kills* a mutant when its verdict is no longer "pass".

A claim's runs can only change under a mutant whose ``scope`` includes the claim's model
families (``"classifier"``: the batched engine, its models, algorithms and data sets;
``"shallow"``: the a·b solver; ``"all"``: code both use, and the judges' helpers); the matrix
reports the other pairs as ``·`` (not run: the claim computes exactly what it computes unmutated,
and it passes); likewise a mutant of one algorithm registry entry against a claim none of whose
runs can use that entry (:func:`can_change`). ``kill_matrix(full=True)`` runs every pair anyway.
"""
from __future__ import annotations

import ast
import contextlib
import dataclasses
import inspect
import math
import re
import tempfile
import textwrap
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from core.kernel.settings import env_overridden

SCOPES = ("classifier", "shallow", "all")


@dataclass(frozen=True)
class Mutant:
    name: str
    kind: str                  # rule | sign | factor | order | convention | constant
    replaces: str              # the function, method or registry entry it replaces
    description: str
    install: Callable[[contextlib.ExitStack], None]
    scope: str                 # one of SCOPES
    expected: tuple[str, ...]  # claims meant to kill it (the quick test runs these)


class NotApplied(RuntimeError):
    """The code a mutant rewrites is no longer there (the mutant must be updated)."""


# ---------------------------------------------------------------------- patching helpers
def _set(stack: contextlib.ExitStack, owner, name: str, value) -> None:
    old = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    stack.callback(setattr, owner, name, old)


def _replace_algorithm(stack: contextlib.ExitStack, name: str, wrap) -> None:
    """Replace the registry entry ``name``'s coefficients by ``wrap(original)``."""
    from core.algorithms.builtin import ALGORITHM_REGISTRY

    entries = ALGORITHM_REGISTRY.entries()
    old = entries[name]
    entries[name] = dataclasses.replace(old, coefficients=wrap(old.coefficients))
    stack.callback(entries.__setitem__, name, old)


def _replace_entry(stack: contextlib.ExitStack, name: str, **changes) -> None:
    """Replace fields (``transform``, ``margin_rule``) of the registry entry ``name``."""
    from core.algorithms.builtin import ALGORITHM_REGISTRY

    entries = ALGORITHM_REGISTRY.entries()
    old = entries[name]
    entries[name] = dataclasses.replace(old, **changes)
    stack.callback(entries.__setitem__, name, old)


def _rewrite(stack: contextlib.ExitStack, module, transformer: ast.NodeTransformer,
             what: str) -> None:
    """Recompile every top-level function and every method of a top-level class of ``module``
    that the transformer changes (in the module's own namespace) and install it in place;
    NotApplied when none contains the target."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(module)))
    candidates = [(module, node) for node in tree.body if isinstance(node, ast.FunctionDef)]
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and isinstance(getattr(module, node.name, None), type):
            owner = getattr(module, node.name)
            candidates += [(owner, item) for item in node.body if isinstance(item, ast.FunctionDef)
                           and not item.decorator_list and item.name in owner.__dict__]
    changed = 0
    for owner, node in candidates:
        transformer.hits = 0
        new = transformer.visit(node)
        if not transformer.hits:
            continue
        changed += 1
        ast.fix_missing_locations(new)
        namespace: dict = {}
        exec(compile(ast.Module([new], []), inspect.getsourcefile(module), "exec"),
             module.__dict__, namespace)
        _set(stack, owner, node.name, namespace[node.name])
    if not changed:
        raise NotApplied(f"{module.__name__}: {what} not found")


def _is_name(node, name=None) -> bool:
    return isinstance(node, ast.Name) and (name is None or node.id == name)


class _ShallowUpdate(ast.NodeTransformer):
    """Finds the a·b update ``a, b = a − X, b − Y`` (X has b, Y has a) and rewrites it."""

    def __init__(self, mode: str):
        self.mode, self.hits = mode, 0

    def visit_Assign(self, node):
        target, value = node.targets[0], node.value
        if not (isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
                and len(target.elts) == 2 and len(value.elts) == 2
                and all(_is_name(t) for t in target.elts)):
            return node
        first, second = (t.id for t in target.elts)
        new_first, new_second = value.elts
        if not all(isinstance(v, ast.BinOp) and isinstance(v.op, ast.Sub) for v in value.elts):
            return node
        if not (_is_name(new_first.left, first) and _is_name(new_second.left, second)):
            return node
        self.hits += 1
        if self.mode == "gauss_seidel":       # b uses the new a
            return [ast.Assign([ast.Name(first, ast.Store())], new_first),
                    ast.Assign([ast.Name(second, ast.Store())], new_second)]
        if self.mode == "half_step":
            for v in (new_first, new_second):
                v.right = ast.BinOp(ast.Constant(0.5), ast.Mult(), v.right)
            return node
        if self.mode == "b_sign":              # b⁺ = b + ηεa
            new_second.op = ast.Add()
            return node
        raise ValueError(self.mode)


class _SquareToLinear(ast.NodeTransformer):
    """``1 − x·x`` (the factor 1 − η²ε² of S) becomes ``1 − x``."""

    def __init__(self):
        self.hits = 0

    def visit_BinOp(self, node):
        self.generic_visit(node)
        right = node.right
        if (isinstance(node.op, ast.Sub) and isinstance(node.left, ast.Constant) and node.left.value == 1
                and isinstance(right, ast.BinOp) and isinstance(right.op, ast.Mult)
                and _is_name(right.left) and _is_name(right.right) and right.left.id == right.right.id):
            self.hits += 1
            node.right = right.left
        return node


# ---------------------------------------------------------------------- the mutants
def _perceptron_full_first_step(stack):
    from core.algorithms import builtin as algorithms

    original = algorithms.perceptron_weights

    def weights(margins, t, out=None):
        if t == 0:     # the textbook full step: 1[m ≤ 0], no ½ at the ties of θ₀ = 0
            return (margins <= 0).to(margins.dtype)
        return original(margins, t, out)
    _set(stack, algorithms, "perceptron_weights", weights)


def _scaled(name: str, factor: Callable[[torch.Tensor], object]):
    """The entry's step with its scale multiplied by ``factor(margins)``."""
    from core.algorithms.builtin import Step

    def install(stack):
        def wrap(original):
            def coefficients(margins, t, out=None):
                step = original(margins, t, out)
                extra = factor(margins)
                return Step(step.coef, step.scale * extra, step.grad_scale)
            return coefficients
        _replace_algorithm(stack, name, wrap)
    return install


def _gd_sigmoid_sign(stack):
    from core.algorithms.builtin import Step

    def wrap(original):
        def coefficients(margins, t, out=None):
            n = margins.shape[1]
            return Step(torch.sigmoid(margins), 1.0 / n, 1.0 / n)
        return coefficients
    _replace_algorithm(stack, "gd", wrap)


def _normalized_by_loss(stack):
    """θ += (γ/n) Σ σ(−mᵢ)∇mᵢ / f(θ): the step divided by the loss (not by mean σ(−m))."""
    import torch.nn.functional as F

    from core.algorithms.builtin import Step

    def wrap(original):
        def coefficients(margins, t, out=None):
            n = margins.shape[1]
            loss = F.softplus(-margins).mean(dim=1, keepdim=True)
            return Step(torch.sigmoid(-margins), 1.0 / (n * loss), 1.0 / n)
        return coefficients
    _replace_algorithm(stack, "normalized_gd", wrap)


def _normalized_perceptron_over_n(stack):
    from core.algorithms.builtin import Step, perceptron_weights

    def wrap(original):
        def coefficients(margins, t, out=None):
            n = margins.shape[1]
            return Step(perceptron_weights(margins, t, out), 1.0 / n, 1.0 / n)
        return coefficients
    _replace_algorithm(stack, "normalized_batch_perceptron", wrap)


def _batch_perceptron_over_count(stack):
    from core.algorithms.builtin import ALGORITHM_REGISTRY

    normalized = ALGORITHM_REGISTRY.entries()["normalized_batch_perceptron"].coefficients
    _replace_algorithm(stack, "batch_perceptron", lambda original: normalized)


def _shift(stack, shift):
    from core.models.builtin import SharedData, TwoLayerConv

    def prepare(self, features, labels):
        return SharedData(features, labels, torch.cat([features, shift(features)], dim=0))
    _set(stack, TwoLayerConv, "prepare", prepare)


def _two_layer_grad_drops_u2(stack):
    from core.models.builtin import TwoLayerConv

    original = TwoLayerConv.pullback

    def pullback(self, theta, data, saved, coef):
        pulled = original(self, theta, data, saved, coef)
        value, slope = saved
        n = coef.shape[1]
        # remove the u2·s'(wᵀPb)·Pb part of ∂g/∂w
        pulled[:, 2:] -= ((coef * theta[:, 1:2]) * slope[:, n:]) @ data.stacked[n:]
        return pulled
    _set(stack, TwoLayerConv, "pullback", pullback)


def _mlp_hidden_grad_without_output(stack):
    from core.models.builtin import MLP

    original = MLP.pullback

    def pullback(self, theta, data, saved, coef):
        pulled = original(self, theta, data, saved, coef)
        width = self.spec.width
        unit_output = theta.clone()
        unit_output[:, -width:] = 1.0       # ∂g/∂Wⱼ without its vⱼ
        pulled[:, :-width] = original(self, unit_output, data, saved, coef)[:, :-width]
        return pulled
    _set(stack, MLP, "pullback", pullback)


def _tanh_slope_unsquared(stack):
    from core.models import builtin as models

    original = models.activation

    def activation(name, z, leak):
        value, slope = original(name, z, leak)
        if name == "tanh":
            slope = 1 - value            # tanh' = 1 − tanh², not 1 − tanh
        return value, slope
    _set(stack, models, "activation", activation)


def _linear_unsigned(stack):
    from core.models.builtin import Linear

    original = Linear.prepare

    def prepare(self, features, labels):
        shared = original(self, features, labels)
        design = shared.stacked if shared.stacked is not None else features
        return dataclasses.replace(shared, signed=design)        # the labels left out
    _set(stack, Linear, "prepare", prepare)


def _solve_off_by_one(stack):
    from core.engine.batched import RunBook

    original = RunBook.mark

    def mark(self, t, *args, **kwargs):
        original(self, t, *args, **kwargs)
        self.solve_iter = torch.where(self.solve_iter == t, t + 1, self.solve_iter)
    _set(stack, RunBook, "mark", mark)


def _worst_case_constant(stack):
    from core.datasets import builtin as datasets

    def worst_case(n):
        b = np.tile([-0.5, -1.0], (n, 1))
        b[0] = [1.0, -1.0]            # (1, −1) in place of (0.5, −1)
        y = -np.ones(n)
        y[0] = 1.0
        return b, y
    _set(stack, datasets, "worst_case", worst_case)


def _two_point_constant(stack):
    from core.datasets import builtin as datasets

    _set(stack, datasets, "two_point",
         lambda: (np.array([[1.0, -1.0], [-1.0, -1.0]]), np.array([1.0, -1.0])))


def _shallow_rewrite(mode: str):
    def install(stack):
        from core.engine import shallow
        _rewrite(stack, shallow, _ShallowUpdate(mode), "the update a, b = a − X, b − Y")
    return install


def _contraction_linear(stack):
    from core.engine import shallow
    _rewrite(stack, shallow, _SquareToLinear(), "the factor 1 − η²ε² of S")


def _gd_limit_s_not_squared(stack):
    from core.engine import shallow

    def gd_limit_sharpness(phi, c0, contraction):
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.sqrt(4 * np.float64(phi) ** 2 + abs(np.float64(contraction)) * c0))
    _set(stack, shallow, "gd_limit_sharpness", gd_limit_sharpness)


def _gf_limit_constant(stack):
    from core.engine import shallow

    _set(stack, shallow, "gf_limit_sharpness",
         lambda phi, c0: float(np.sqrt(np.float64(phi) ** 2 + c0)))


def _gf_field(factor_b: float, use_a: bool = False):
    def install(stack):
        from core.engine import shallow

        def flow(d, phi):
            def field(_, state):
                a, b = state[:d], state[d:]
                eps = a @ b - phi
                if use_a:                   # ȧ = −εa, ḃ = −εb: each along itself
                    return np.concatenate([-eps * a, -eps * b])
                return factor_b * np.concatenate([-eps * b, -eps * a])
            return field
        _set(stack, shallow, "_flow", flow)
        # the stiff solver would use the (unmutated) exact Jacobian
        _set(stack, shallow, "flow_method", lambda *args: "DOP853")
    return install


def _imbalance_inverted(stack):
    from core.engine import shallow

    original = shallow.imbalance_ratio

    def imbalance_ratio(a0, b0, a, b):
        ratio = original(a0, b0, a, b)
        return None if ratio in (None, 0.0) else 1.0 / ratio
    _set(stack, shallow, "imbalance_ratio", imbalance_ratio)


def _theorem1_constant(stack):
    from core.engine import shallow

    def theorem1_step_bound(a0, b0, phi):
        eps0 = abs(float(a0 @ b0) - phi)
        lam0 = float(a0 @ a0 + b0 @ b0)
        first = math.inf if eps0 == 0 else 1 / eps0          # 1/|ε(0)| for 1/(2|ε(0)|)
        return min(first, 2 / math.sqrt(lam0 ** 2 + 4 * phi ** 2))
    _set(stack, shallow, "theorem1_step_bound", theorem1_step_bound)


def _lambda2_constant(stack):
    from core.analysis import theory

    _set(stack, theory, "minimal_lambda2", lambda d, mu: math.sqrt((2 + mu) ** 2 + 2 * d))


def _cyclic_identity(stack):
    from core.analysis import theory

    _set(stack, theory, "cyclic_shift", lambda a: a)


def _fit_on_linear_d(stack):
    from core.analysis import scaling

    def fit_loglog(dims, values):
        keep = np.isfinite(values) & (values > 0)
        if keep.sum() < 2:
            return None
        slope, intercept = np.polyfit(dims[keep], np.log(values[keep]), 1)   # d, not log d
        return float(slope), float(intercept)
    _set(stack, scaling, "fit_loglog", fit_loglog)


def _max_margin_doubled(stack):
    from core.analysis import theory

    original = theory.max_margin
    _set(stack, theory, "max_margin", lambda features, labels: 2 * original(features, labels))


def _orbit_rounding(stack):
    from core.analysis import sweeps as analysis

    original = analysis.orbit_periods
    _set(stack, analysis, "orbit_periods", lambda result, decimals=8: original(result, 1))


def _loss_increase_flipped(stack):
    from core.analysis import sweeps as analysis

    original = analysis.loss_increase_fraction
    # the share of falling steps reported as the share of rising ones
    _set(stack, analysis, "loss_increase_fraction",
         lambda loss, tolerance=1e-12: 1.0 - original(loss, tolerance))


def _gap_mutant(linear: bool):
    def install(stack):
        from core.engine import batched as engine

        original = engine._gap

        def gap(companion, main, reference, steps):
            if companion is None or companion.linear != linear:
                return original(companion, main, reference, steps)
            if linear:                     # ‖θ − θ̂‖: θ not divided by γ
                return (main - reference).norm(dim=1)
            return (main - reference).norm(dim=1)      # directions not normalised
        _set(stack, engine, "_gap", gap)
    return install


def _heavy_ball_dampened(stack):
    """vₜ = βvₜ₋₁ + (1 − β)uₜ: the velocity dampened (an EMA of the steps, not their sum)."""
    from core.algorithms.builtin import Transform

    def dampened(beta):
        def update(direction, velocity, t):
            velocity = direction.clone() if velocity is None else velocity.mul_(beta).add_(
                direction, alpha=1 - beta)
            return velocity, velocity
        return Transform(lambda theta0: None, update)
    _replace_entry(stack, "heavy_ball", transform=lambda spec: dampened(spec.momentum))


def _nesterov_without_lookahead(stack):
    """Nesterov's step ηvₜ in place of η(uₜ + βvₜ): the heavy ball under Nesterov's name."""
    from core.algorithms.builtin import heavy_ball

    _replace_entry(stack, "nesterov", transform=lambda spec: heavy_ball(spec.momentum))


def _adam_without_bias_correction(stack):
    from core.algorithms.builtin import Transform

    def uncorrected(beta1, beta2, eps):
        def init(theta0):
            return (torch.zeros_like(theta0), torch.zeros_like(theta0))

        def update(direction, state, t):
            first, second = state
            first.lerp_(direction, 1 - beta1)
            second.mul_(beta2).addcmul_(direction, direction, value=1 - beta2)
            return first / (second.sqrt() + eps), (first, second)
        return Transform(init, update)
    _replace_entry(stack, "adam",
                   transform=lambda spec: uncorrected(spec.beta1, spec.beta2, spec.adam_eps))


def _minibatch_over_n(stack):
    """The batch's gradient summed and divided by n (not by the batch size |B|)."""
    from core.algorithms.builtin import ALGORITHM_REGISTRY, MarginRule, Step

    original = ALGORITHM_REGISTRY.entries()["minibatch_gd"].margin_rule

    def over_n(spec):
        rule = original(spec)

        def update(margins, state, t, out=None):
            step, state = rule.update(margins, state, t, out)
            return Step(step.coef, 1.0 / margins.shape[1], step.grad_scale), state
        return MarginRule(rule.init, update)
    _replace_entry(stack, "minibatch_gd", margin_rule=over_n)


MUTANTS: tuple[Mutant, ...] = (
    Mutant("perceptron_full_first_step", "rule", "core.algorithms.builtin.perceptron_weights",
           "the batch perceptron's first step without the ½ (the textbook full step 1[m ≤ 0])",
           _perceptron_full_first_step, "classifier", ("perceptron_theta_n", "perceptron_limit")),
    Mutant("gd_without_mean", "factor", "algorithm registry: gd.coefficients",
           "the logistic gradient without its 1/n", _scaled("gd", lambda m: m.shape[1]),
           "classifier", ("two_point_loss",)),
    Mutant("gd_sigmoid_sign", "sign", "algorithm registry: gd.coefficients",
           "σ(m) in place of σ(−m)", _gd_sigmoid_sign, "classifier", ("two_point_loss",)),
    Mutant("normalized_gd_by_loss", "rule", "algorithm registry: normalized_gd.coefficients",
           "normalized GD divides the step by the loss (not by the mean of σ(−mᵢ), the paper's β_t)",
           _normalized_by_loss, "classifier", ("table1",)),
    Mutant("normalized_perceptron_over_n", "factor",
           "algorithm registry: normalized_batch_perceptron.coefficients",
           "the normalized batch perceptron divides by n (not by |S_t|)",
           _normalized_perceptron_over_n, "classifier", ("perceptron_bounds",)),
    Mutant("batch_perceptron_over_count", "factor", "algorithm registry: batch_perceptron.coefficients",
           "the batch perceptron divides by |S_t| (not by n)", _batch_perceptron_over_count,
           "classifier", ("perceptron_theta_n",)),
    Mutant("two_layer_identity_shift", "convention", "core.models.builtin.TwoLayerConv.prepare",
           "P = I in the two-layer model (the second branch sees b, not Pb)",
           lambda stack: _shift(stack, lambda f: f), "classifier", ("minimal_two_layer_bound",)),
    Mutant("two_layer_shift_backwards", "convention", "core.models.builtin.TwoLayerConv.prepare",
           "the shift the other way: (Pb)_i = b_{i+1}",
           lambda stack: _shift(stack, lambda f: torch.roll(f, shifts=-1, dims=1)), "classifier",
           ("minimal_two_layer_bound",)),
    Mutant("two_layer_grad_drops_u2", "rule", "core.models.builtin.TwoLayerConv.pullback",
           "∂g/∂w without its u2·Pb term", _two_layer_grad_drops_u2, "classifier",
           ("minimal_two_layer_bound",)),
    Mutant("mlp_hidden_grad_without_output", "rule", "core.models.builtin.MLP.pullback",
           "∂g/∂Wⱼ of the MLP without its output weight vⱼ", _mlp_hidden_grad_without_output,
           "classifier", ("nonlinear_faster_real_data",)),
    Mutant("tanh_slope_unsquared", "rule", "core.models.builtin.activation",
           "tanh′(z) = 1 − tanh z (not 1 − tanh² z)", _tanh_slope_unsquared, "classifier",
           ("gd_step_any_model",)),
    Mutant("linear_unsigned_margins", "sign", "core.models.builtin.Linear.prepare",
           "the linear margins without the labels (m = vᵀb, not y·vᵀb)", _linear_unsigned,
           "classifier", ("two_point_loss",)),
    Mutant("solve_off_by_one", "convention", "core.engine.batched.RunBook.mark",
           "iterations to solve counted one too many (θ₀ counted as a step)", _solve_off_by_one,
           "classifier", ("perceptron_theta_n",)),
    Mutant("worst_case_constant", "constant", "core.datasets.builtin.worst_case",
           "the worst-case dataset's positive point at (1, −1), not (0.5, −1)", _worst_case_constant,
           "classifier", ("table1",)),
    Mutant("two_point_constant", "constant", "core.datasets.builtin.two_point",
           "the two-point dataset's second point at (−1, −1), not (−1, −4)", _two_point_constant,
           "classifier", ("two_point_loss",)),
    Mutant("perceptron_gap_unscaled", "factor", "core.engine.batched._gap (linear companion)",
           "the perceptron gap ‖θ_t − θ̂_t‖ without dividing θ by γ", _gap_mutant(True), "classifier",
           ("perceptron_limit",)),
    Mutant("direction_gap_unnormalized", "rule", "core.engine.batched._gap (nonlinear companion)",
           "the direction gap of a nonlinear model taken between θ's, not their directions",
           _gap_mutant(False), "classifier", ("gd_generalized_perceptron",)),
    Mutant("shallow_gauss_seidel", "order", "core.engine.shallow (the a·b update)",
           "the a·b update in Gauss–Seidel order (b uses the new a)", _shallow_rewrite("gauss_seidel"),
           "shallow", ("q_contraction",)),
    Mutant("shallow_half_step", "factor", "core.engine.shallow (the a·b update)",
           "half the step size in the a·b update", _shallow_rewrite("half_step"), "shallow",
           ("theorem1_step_factor", "q_contraction")),
    Mutant("shallow_b_sign", "sign", "core.engine.shallow (the a·b update)",
           "b⁺ = b + ηεa (the sign of b's step)", _shallow_rewrite("b_sign"), "shallow",
           ("q_contraction",)),
    Mutant("shallow_contraction_linear", "factor", "core.engine.shallow (S = Π(1 − η²ε²))",
           "S accumulated as Π(1 − ηε) (not squared)", _contraction_linear, "shallow",
           ("theorem1_local_rate",)),
    Mutant("gd_limit_s_not_squared", "factor", "core.engine.shallow.gd_limit_sharpness",
           "λ_GD = √(4Φ² + S·C₀) (S not squared)", _gd_limit_s_not_squared, "shallow",
           ("gd_flatter_than_gf",)),
    Mutant("gf_limit_constant", "constant", "core.engine.shallow.gf_limit_sharpness",
           "λ_GF = √(Φ² + C₀) (the 4 dropped)", _gf_limit_constant, "shallow", ("gf_conservation",)),
    Mutant("gf_half_speed", "factor", "core.engine.shallow._flow",
           "gradient flow at half speed (ȧ = −εb/2, ḃ = −εa/2)", _gf_field(0.5), "shallow",
           ("gf_conservation",)),
    Mutant("gf_wrong_field", "rule", "core.engine.shallow._flow",
           "gradient flow ȧ = −εa, ḃ = −εb (each along itself)", _gf_field(1.0, use_a=True), "shallow",
           ("gf_conservation",)),
    Mutant("imbalance_ratio_inverted", "rule", "core.engine.shallow.imbalance_ratio",
           "S read as Q_i(0)/Q_i(T)", _imbalance_inverted, "shallow", ("figure3_trends",)),
    Mutant("theorem1_bound_constant", "constant", "core.engine.shallow.theorem1_step_bound",
           "η* with 1/|ε(0)| in place of 1/(2|ε(0)|)", _theorem1_constant, "shallow",
           ("theorem1_step_factor",)),
    Mutant("lambda2_constant", "constant", "core.analysis.theory.minimal_lambda2",
           "λ₂ = √((2+μ)² + 2d) (d for d − 2)", _lambda2_constant, "all", ("conv_hessian_eigenvalues",)),
    Mutant("cyclic_shift_identity", "convention", "core.analysis.theory.cyclic_shift",
           "the closed forms' P = I", _cyclic_identity, "all", ("conv_hessian_eigenvalues",)),
    Mutant("fit_on_linear_d", "rule", "core.analysis.scaling.fit_loglog",
           "the slope fitted against d, not log d", _fit_on_linear_d, "all", ("perceptron_theta_n",)),
    Mutant("max_margin_doubled", "constant", "core.analysis.theory.max_margin",
           "the margin μ doubled", _max_margin_doubled, "all", ("normalized_bound",)),
    Mutant("orbit_rounding", "constant", "core.analysis.sweeps.orbit_periods",
           "orbit values told apart at 1 decimal (not 8)", _orbit_rounding, "all", ("period_doubling",)),
    Mutant("loss_increase_flipped", "sign", "core.analysis.sweeps.loss_increase_fraction",
           "the share of falling steps reported as the share of rising ones", _loss_increase_flipped,
           "all", ("loss_chaos",)),

    Mutant("heavy_ball_dampened", "factor", "algorithm registry: heavy_ball.transform",
           "heavy-ball velocity dampened: vₜ = βvₜ₋₁ + (1 − β)uₜ", _heavy_ball_dampened, "classifier",
           ("heavy_ball_recursion",)),
    Mutant("nesterov_without_lookahead", "rule", "algorithm registry: nesterov.transform",
           "Nesterov's step ηvₜ (the heavy ball), not η(uₜ + βvₜ)", _nesterov_without_lookahead,
           "classifier", ("nesterov_recursion",)),
    Mutant("adam_without_bias_correction", "rule", "algorithm registry: adam.transform",
           "Adam without the bias corrections 1 − β₁ᵗ, 1 − β₂ᵗ", _adam_without_bias_correction,
           "classifier", ("adam_recursion",)),
    Mutant("minibatch_over_n", "factor", "algorithm registry: minibatch_gd.margin_rule",
           "the mini-batch gradient divided by n, not by the batch size", _minibatch_over_n,
           "classifier", ("minibatch_epochs",)),
)

MUTANTS_BY_NAME = {m.name: m for m in MUTANTS}


# ---------------------------------------------------------------------- applying
def replaced_module(mutant: Mutant) -> str:
    """The module whose code the mutant replaces (registry entries: core.algorithms.builtin):
    the longest importable prefix of the dotted name in ``replaces``."""
    import importlib

    if mutant.replaces.startswith("algorithm registry"):
        return "core.algorithms.builtin"
    match = re.match(r"core(?:\.\w+)+", mutant.replaces)
    parts = match.group(0).split(".") if match else []
    while parts:
        try:
            importlib.import_module(".".join(parts))
            return ".".join(parts)
        except ImportError:
            parts.pop()
    raise ValueError(f"{mutant.name}: cannot tell the module of {mutant.replaces!r}")


def changes_results(mutant: Mutant) -> bool:
    """Whether the mutant replaces code that computes results (core.store.cache.compute_modules,
    the code the result cache's key hashes). A mutant of the judges' helpers only (theory,
    scaling, the sweep analysis) cannot change a run, so its claims may read the shared cache of
    unmutated runs."""
    import importlib
    from pathlib import Path

    from core.store.cache import compute_modules

    path = Path(importlib.import_module(replaced_module(mutant)).__file__).resolve()
    return path in {p.resolve() for p in compute_modules()}


@contextlib.contextmanager
def applied(mutant: Mutant) -> Iterator[None]:
    """``mutant`` installed, the local backend, and (for a mutant of the code that computes
    results) an empty cache directory; all undone on exit. A mutant of the judges' helpers
    keeps the shared cache: its runs are the unmutated runs, computed once for all of them."""
    from core.datasets import builtin as datasets
    from core.engine import distributed

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="gdx-mutant-") as cache:
        if changes_results(mutant):
            stack.enter_context(env_overridden("GDX_CACHE_DIR", cache))
        stack.enter_context(distributed.use_backend("local"))
        _clear_dataset_caches(datasets)
        stack.callback(_clear_dataset_caches, datasets)
        mutant.install(stack)
        yield


def _clear_dataset_caches(module) -> None:
    for value in vars(module).values():
        if hasattr(value, "cache_clear") and getattr(value, "__module__", "") == module.__name__:
            value.cache_clear()


def claim_scope(claim) -> set[str]:
    """The scopes whose mutants can change a claim's runs: its specs' (and controls') model
    families, and what its entry says its judge runs itself (``uses``)."""
    from core.kernel.registry import model_family

    specs = list(claim.specs) + [s for c in claim.controls for s in (c.specs or ())]
    families = {model_family(spec.model) for spec in specs} | set(claim.uses)
    scopes = {"all"}
    if families & {"linear", "nonlinear", "image"} or "classifier" in families:
        scopes.add("classifier")
    if "shallow" in families:
        scopes.add("shallow")
    return scopes


def replaced_entry(mutant: Mutant) -> str | None:
    """The algorithm registry entry the mutant replaces (None: it replaces a function)."""
    match = re.match(r"algorithm registry: (\w+)\.", mutant.replaces)
    return match.group(1) if match else None


def _algorithms_run(name: str) -> set[str]:
    """The registry entries a spec with algorithm ``name`` can run: itself, its perceptron
    companions and what it becomes on another model family, and theirs in turn."""
    from core.algorithms.builtin import ALGORITHM_REGISTRY

    entries, found, pending = ALGORITHM_REGISTRY.entries(), set(), [name]
    while pending:
        current = pending.pop()
        if current in found or current not in entries:
            continue
        found.add(current)
        entry = entries[current]
        pending += [other for _, other in entry.companion + entry.becomes]
    return found


def replaced_dataset(mutant: Mutant) -> str | None:
    """The built-in data set whose generator the mutant replaces (None: something else)."""
    from core.kernel.registry import DATASET_REGISTRY

    match = re.fullmatch(r"core\.datasets\.(?:builtin\.)?(\w+)", mutant.replaces)
    return match.group(1) if match and match.group(1) in DATASET_REGISTRY.entries() else None


def can_change(mutant: Mutant, claim) -> bool:
    """Whether the mutant can change what the claim computes: its scope covers the claim's model
    families and, for a mutant of one algorithm registry entry, some run of the claim (its
    specs, its controls', and the algorithms its judge names in ``uses`` for the sweeps it runs
    itself) can use that entry; likewise for a mutant of one built-in data set. A judge that
    runs sweeps without naming their algorithms (data sets) is always run."""
    from core.algorithms.builtin import ALGORITHM_REGISTRY
    from core.kernel.registry import DATASET_REGISTRY

    if mutant.scope not in claim_scope(claim):
        return False
    specs = list(claim.specs) + [s for c in claim.controls for s in (c.specs or ())]
    entry, dataset = replaced_entry(mutant), replaced_dataset(mutant)
    if entry is not None:
        named = [name for name in claim.uses if name in ALGORITHM_REGISTRY.entries()]
        if claim.uses and not named:
            return True
        return any(entry in _algorithms_run(name) for name in [s.algorithm for s in specs] + named)
    if dataset is not None:
        named = [name for name in claim.uses if name in DATASET_REGISTRY.entries()]
        if claim.uses and not named:
            return True
        return dataset in [s.dataset for s in specs] + named
    return True


@dataclass
class Cell:
    status: str        # killed | survived | skipped | error
    measured: str = ""


@dataclass
class KillMatrix:
    mutants: list[Mutant]
    claims: list
    cells: dict[tuple[str, str], Cell]
    seconds: float

    def killers(self, mutant: str) -> list[str]:
        return [c.name for c in self.claims if self.cells[(mutant, c.name)].status == "killed"]

    def unique_kills(self, claim: str) -> list[str]:
        return [m.name for m in self.mutants if self.killers(m.name) == [claim]]

    def survivors(self) -> list[str]:
        return [m.name for m in self.mutants if not self.killers(m.name)]

    def claims_without_unique_kill(self) -> list[str]:
        return [c.name for c in self.claims if not self.unique_kills(c.name) and not c.unique_note]

    @property
    def ok(self) -> bool:
        return not self.survivors() and not self.claims_without_unique_kill() and not any(
            cell.status == "error" for cell in self.cells.values())

    def to_dict(self) -> dict:
        return {"mutants": [{"name": m.name, "kind": m.kind, "replaces": m.replaces,
                             "description": m.description, "killed_by": self.killers(m.name)}
                            for m in self.mutants],
                "claims": [{"name": c.name, "unique_kills": self.unique_kills(c.name),
                            "unique_note": c.unique_note} for c in self.claims],
                "cells": [{"mutant": m, "claim": c, "status": cell.status, "measured": cell.measured}
                          for (m, c), cell in self.cells.items()],
                "survivors": self.survivors(),
                "claims_without_unique_kill": self.claims_without_unique_kill(),
                "ok": self.ok, "seconds": round(self.seconds, 1)}

    def format_text(self) -> str:
        marks = {"killed": "X", "survived": ".", "skipped": "·", "error": "E"}
        lines = ["claims (columns):"]
        lines += [f"  {i + 1:>2} {c.name}" for i, c in enumerate(self.claims)]
        header = " " * 30 + "".join(f"{i + 1:>3}" for i in range(len(self.claims)))
        lines += ["", header]
        for m in self.mutants:
            row = "".join(f"{marks[self.cells[(m.name, c.name)].status]:>3}" for c in self.claims)
            lines.append(f"{m.name[:29]:<30}{row}   killed by {len(self.killers(m.name))}")
        lines += ["", "X killed, . survived (the claim still passes), · not run (the mutant cannot "
                  "change the claim's runs), E could not run", ""]
        for c in self.claims:
            unique = self.unique_kills(c.name)
            lines.append(f"{c.name}: kills alone {', '.join(unique) if unique else '—'}"
                         + ("" if unique or not c.unique_note else f"  (no unique kill: {c.unique_note})"))
        errors = [f"{m} × {c}: {cell.measured}" for (m, c), cell in self.cells.items() if cell.status == "error"]
        lines += [""] + (["errors:"] + errors if errors else [])
        survivors, bare = self.survivors(), self.claims_without_unique_kill()
        lines.append(f"{len(self.mutants)} mutants, {len(self.mutants) - len(survivors)} killed"
                     + (f"; SURVIVED: {', '.join(survivors)}" if survivors else "")
                     + (f"; claims without a unique kill or a reason: {', '.join(bare)}" if bare else "")
                     + f"   ({self.seconds:.0f} s)")
        return "\n".join(lines)


def judge_under(mutant: Mutant, claims, full: bool = False,
                progress: Callable[[str], None] | None = None) -> dict[str, Cell]:
    """Each claim's verdict with ``mutant`` installed (uncached)."""
    from core.claims.catalog import check

    cells = {}
    try:
        with applied(mutant):
            for claim in claims:
                if not full and not can_change(mutant, claim):
                    cells[claim.name] = Cell("skipped")
                    continue
                verdict = check(claim, use_cache=True)       # the mutant's empty cache
                status = "survived" if verdict.status == "pass" else "killed"
                cells[claim.name] = Cell(status, verdict.measurement.measured)
                if progress is not None:
                    progress(f"{mutant.name} × {claim.name}: {status}")
    except (NotApplied, AttributeError, KeyError) as error:   # the code it replaces moved
        for claim in claims:
            cells.setdefault(claim.name, Cell("error", f"not applied: {type(error).__name__}: {error}"))
    return cells


def kill_matrix(mutants=None, claims=None, full: bool = False,
                progress: Callable[[str], None] | None = None) -> KillMatrix:
    from core.claims.catalog import CLAIMS

    started = time.perf_counter()
    mutants = list(MUTANTS if mutants is None else mutants)
    claims = list(CLAIMS if claims is None else claims)
    cells = {}
    for mutant in mutants:
        for name, cell in judge_under(mutant, claims, full, progress).items():
            cells[(mutant.name, name)] = cell
    return KillMatrix(mutants, claims, cells, time.perf_counter() - started)
