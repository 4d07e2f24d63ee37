"""Closed forms from science.md, used by the engine's step-size rules, the pages and the tests."""
from __future__ import annotations

import math

import numpy as np


def cyclic_shift(a: np.ndarray) -> np.ndarray:
    """(Pa)_i = a_{i-1}."""
    return np.roll(a, 1)


def conv_hessian(a: np.ndarray) -> np.ndarray:
    """A(a) = [[0, 0, aᵀ], [0, 0, (Pa)ᵀ], [a, Pa, 0]] for θ = (u1, u2, w) (science.md §2)."""
    d = a.shape[0]
    matrix = np.zeros((d + 2, d + 2))
    shifted = cyclic_shift(a)
    matrix[0, 2:] = matrix[2:, 0] = a
    matrix[1, 2:] = matrix[2:, 1] = shifted
    return matrix


def conv_hessian_eigenvalues(a: np.ndarray) -> np.ndarray:
    """The nonzero spectrum of A(a): ±sqrt(‖a‖² + aᵀPa), ±sqrt(‖a‖² − aᵀPa), sorted."""
    norm2 = float(a @ a)
    cross = float(a @ cyclic_shift(a))
    plus, minus = math.sqrt(max(norm2 + cross, 0.0)), math.sqrt(max(norm2 - cross, 0.0))
    return np.sort(np.array([-plus, -minus, minus, plus]))


def minimal_lambda2(d: int, mu: float) -> float:
    """Top eigenvalue of A2 = A(1 + μ e1): sqrt((2+μ)² + 2(d−2))."""
    return math.sqrt((2 + mu) ** 2 + 2 * (d - 2))


def minimal_step_size(d: int, mu: float, c: float, n: int = 2) -> float:
    """The two-layer step-size rule of minimal_example.md: γ = c·n/λ2(d, μ)."""
    return c * n / minimal_lambda2(d, mu)


def minimal_linear_lower_bound(d: int, mu: float) -> float:
    """Batch-perceptron steps on minimal(d, μ) are at least (d+μ)/(μ(1+μ))."""
    return (d + mu) / (mu * (1 + mu))


def normalized_gd_bound(radius: float, margin: float, step_size: float, n: int) -> float:
    """Normalized LR+GD solves within R²/μ² + 2 log(2n−1)/(γ μ²) iterations (science.md §1)."""
    return radius**2 / margin**2 + 2 * math.log(2 * n - 1) / (step_size * margin**2)


def max_margin(features: np.ndarray, labels: np.ndarray) -> float:
    """μ = max over unit θ of min_i y_i θᵀb_i (through the origin, as the linear model has no
    bias): 1/‖w‖ for the hard-margin solution min ‖w‖² s.t. y_i wᵀb_i ≥ 1. 0 when the data
    are not linearly separable through the origin."""
    from scipy.optimize import linprog, minimize

    signed = np.unique(np.asarray(features, float) * np.asarray(labels, float)[:, None], axis=0)
    d = signed.shape[1]
    # a strictly feasible start: max t s.t. y_i wᵀb_i ≥ t, |w_j| ≤ 1 (an LP)
    feasible = linprog(np.r_[np.zeros(d), -1.0], A_ub=np.c_[-signed, np.ones(len(signed))],
                       b_ub=np.zeros(len(signed)), bounds=[(-1, 1)] * d + [(None, 1)])
    if not feasible.success or -feasible.fun <= 1e-12:
        return 0.0
    start = feasible.x[:d] / -feasible.fun
    solution = minimize(lambda w: w @ w, start, jac=lambda w: 2 * w, method="SLSQP",
                        constraints=[{"type": "ineq", "fun": lambda w: signed @ w - 1,
                                      "jac": lambda w: signed}],
                        options={"ftol": 1e-14, "maxiter": 500})
    # SLSQP can stop with "positive directional derivative" at the optimum; any feasible w
    # gives the margin min_i y_i wᵀb_i/‖w‖ ≤ μ (a lower bound: the guarantee only loosens).
    w = solution.x if np.min(signed @ solution.x) > 0 else start
    return float(np.min(signed @ w) / np.linalg.norm(w))


def data_radius(features: np.ndarray) -> float:
    """R = max_i ‖b_i‖."""
    return float(np.max(np.linalg.norm(np.asarray(features, float), axis=1)))
