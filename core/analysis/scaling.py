"""Iterations to solve against the dimension d, and fitted log–log slopes (science.md §2).

A *curve* is one (model, algorithm, step-size rule) combination, written
``model[:algorithm[:step]]`` where step is a number or ``scaled`` (γ = c·n/λ2(d, μ),
minimal_example.md). Each (curve, d) is one batched, cached run over all seeds.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from core.api import run_all
from core.kernel.lists import parse_number
from core.kernel.spec import RunSpec, SpecError, validate
from core.kernel.fields import ALGORITHMS, MODELS
from core.analysis.theory import minimal_step_size

BOOTSTRAP_SAMPLES = 1000
# The statistic fitted, drawn and judged (core.claims.catalog): the 90th percentile over the seeds. The
# paper's bound (≈ λ₂/μ · log) is an upper bound, so an upper statistic is the one to fit.
FIT_QUANTILE = 0.9


def censored_quantile(values, q: float, budget: float) -> float:
    """The q-quantile (inverted CDF) of iterations to solve over seeds, an unsolved seed (inf)
    counted as censored at the budget: it needed at least ``budget`` iterations. Leaving
    unsolved seeds out would bias every quantile down. A result equal to the budget is then a
    lower bound (see :func:`censored_at`)."""
    values = np.minimum(np.asarray(values, dtype=float), float(budget))
    return float(np.quantile(values, q, method="inverted_cdf"))


def censored_at(values, q: float, budget: float) -> bool:
    """Whether the censored q-quantile is only a lower bound (it falls on an unsolved seed)."""
    return bool(np.isinf(np.sort(np.asarray(values, dtype=float))[
        max(0, math.ceil(q * len(values)) - 1)])) if len(values) else False


@dataclass(frozen=True)
class Curve:
    model: str
    algorithm: str
    step: str          # a number, or "scaled"

    @property
    def label(self) -> str:
        return f"{self.model} · {self.algorithm} · γ={'c·n/λ2' if self.step == 'scaled' else self.step}"

    def step_size(self, base: RunSpec, d: int, c: float) -> float:
        if self.step == "scaled":
            return minimal_step_size(d, base.mu, c, base.n or 2)
        return float(self.step)


MAX_CURVES = 16


def parse_curves(text: str, algorithm: str, step: str) -> list[Curve]:
    """``model[:algorithm[:step]]`` items, comma-separated; at most MAX_CURVES (counted before
    anything is split)."""
    if text.count(",") >= MAX_CURVES:
        raise SpecError("models", f"at most {MAX_CURVES} curves, got {text.count(',') + 1}")
    curves = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) > 3:
            raise SpecError("models", f"expected model[:algorithm[:step]], got {item[:60]!r}")
        model = parts[0]
        curve_algorithm = parts[1] if len(parts) > 1 and parts[1] else algorithm
        curve_step = parts[2] if len(parts) > 2 and parts[2] else step
        if model not in MODELS:
            raise SpecError("models", f"{model[:40]!r} is not one of {', '.join(MODELS)}")
        if curve_algorithm not in ALGORITHMS:
            raise SpecError("models", f"{curve_algorithm[:40]!r} is not one of {', '.join(ALGORITHMS)}")
        if curve_step != "scaled":
            try:
                value = parse_number("models", curve_step, float)
            except SpecError:
                raise SpecError("models", f"step {curve_step[:40]!r} must be a number or "
                                "'scaled'") from None
            if not 1e-12 <= value <= 1e12:
                raise SpecError("models", f"step must be in [1e-12, 1e12], got {curve_step}")
        curves.append(Curve(model, curve_algorithm, curve_step))
    if not curves:
        raise SpecError("models", "needs at least one model")
    return curves


@dataclass
class CurveFit:
    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    points: int


@dataclass
class ScalingResult:
    curves: list[Curve]
    dims: list[int]
    seeds: list[int]
    c: float
    iterations: dict[tuple[Curve, int], np.ndarray]      # per (curve, d): per seed, inf = unsolved
    step_sizes: dict[tuple[Curve, int], float]
    fits: dict[Curve, CurveFit | None] = field(default_factory=dict)
    base: RunSpec | None = None
    cached_runs: int = 0

    @property
    def budget(self) -> float:
        """The iteration budget: an unsolved seed is censored here."""
        return float(self.base.max_iters) if self.base is not None else math.inf

    def stats(self, curve: Curve, d: int) -> dict[str, float]:
        """Median, p10 and p90 over the seeds with unsolved seeds censored at the budget
        (``p90_lower_bound``: the p90 falls on an unsolved seed, so it is at least the budget)."""
        values, budget = self.iterations[(curve, d)], self.budget
        return {"median": censored_quantile(values, 0.5, budget),
                "p10": censored_quantile(values, 0.1, budget),
                "p90": censored_quantile(values, FIT_QUANTILE, budget),
                "p90_lower_bound": censored_at(values, FIT_QUANTILE, budget),
                "unsolved": int(np.isinf(values).sum())}

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for curve in self.curves:
            for d in self.dims:
                for seed, value in zip(self.seeds, self.iterations[(curve, d)]):
                    out.append({"curve": curve.label, "model": curve.model,
                                "algorithm": curve.algorithm, "step_rule": curve.step, "d": d,
                                "seed": seed, "step_size": self.step_sizes[(curve, d)],
                                "iterations_to_solve": None if math.isinf(value) else int(value)})
        return out

    def summary(self) -> list[dict[str, Any]]:
        out = []
        for curve in self.curves:
            for d in self.dims:
                entry = {"curve": curve.label, "d": d, "step_size": self.step_sizes[(curve, d)]}
                entry.update({k: (None if isinstance(v, float) and math.isinf(v) else v)
                              for k, v in self.stats(curve, d).items()})
                out.append(entry)
        return out

    def to_dict(self) -> dict[str, Any]:
        fits = {}
        for curve in self.curves:
            fit = self.fits.get(curve)
            fits[curve.label] = None if fit is None else fit.__dict__.copy()
        return {"base": self.base.canonical() if self.base else "", "c": self.c,
                "dims": self.dims, "seeds": self.seeds, "rows": self.rows(),
                "summary": self.summary(), "fits": fits}

    def to_csv(self) -> str:
        buffer = io.StringIO()
        rows = self.rows()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        return buffer.getvalue()


def fit_loglog(dims: np.ndarray, values: np.ndarray) -> tuple[float, float] | None:
    """Least-squares slope and intercept of log(values) on log(dims) over finite values."""
    keep = np.isfinite(values) & (values > 0)
    if keep.sum() < 2:
        return None
    slope, intercept = np.polyfit(np.log(dims[keep]), np.log(values[keep]), 1)
    return float(slope), float(intercept)


def fit_curve(dims: list[int], per_d: list[np.ndarray], samples: int = BOOTSTRAP_SAMPLES,
              seed: int = 0, budget: float = math.inf, median: bool = False) -> CurveFit | None:
    """Slope of the p90 (FIT_QUANTILE, unsolved seeds censored at ``budget``) against d, with
    a bootstrap (over seeds) 95 % interval; ``median``: of the medians instead (the lab states
    and draws medians). The resamples are drawn and fitted all at once (one statistic per d
    over a samples × seeds array, then a least-squares slope per resample)."""
    dims_array = np.asarray(dims, dtype=float)
    points = np.array([float(np.median(v)) if median else censored_quantile(v, FIT_QUANTILE, budget)
                       for v in per_d])
    fitted = fit_loglog(dims_array, points)
    if fitted is None:
        return None
    rng = np.random.default_rng(seed)

    def resampled_statistic(values: np.ndarray) -> np.ndarray:
        draws = np.minimum(np.asarray(values, float), budget)[
            rng.integers(0, len(values), (samples, len(values)))]
        return (np.median(draws, axis=1) if median else
                np.quantile(draws, FIT_QUANTILE, axis=1, method="inverted_cdf"))
    resampled = np.stack([resampled_statistic(v) for v in per_d], axis=1)   # samples × len(dims)
    slopes = _row_slopes(np.log(dims_array), resampled)
    low, high = (np.percentile(slopes, [2.5, 97.5]) if slopes.size else (math.nan, math.nan))
    return CurveFit(fitted[0], fitted[1], float(low), float(high),
                    int(np.isfinite(points).sum()))


def _row_slopes(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of log(values[r]) on x for every row r, over the finite positive
    entries of the row (rows with fewer than 2 of them are left out), as fit_loglog does."""
    keep = np.isfinite(values) & (values > 0)
    counts = keep.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(keep, np.log(np.where(keep, values, 1.0)), 0.0)
        xs = np.where(keep, x[None, :], 0.0)
        mean_x = xs.sum(axis=1) / counts
        mean_y = y.sum(axis=1) / counts
        dx = np.where(keep, x[None, :] - mean_x[:, None], 0.0)
        slope = (dx * (y - mean_y[:, None])).sum(axis=1) / (dx ** 2).sum(axis=1)
    return slope[(counts >= 2) & np.isfinite(slope)]


C_RANGE = (1e-9, 100.0)     # the constant c of the scaled rule γ = c·n/λ₂


def sweep_dimensions(base: RunSpec, curves: list[Curve], dims: list[int], c: float = 1.0,
                     use_cache: bool = True,
                     progress: Callable[[float], None] | None = None) -> ScalingResult:
    """Iterations to solve for every (curve, d, seed); each (curve, d) is one batched run."""
    dims = sorted(set(int(d) for d in dims))
    if not dims:
        raise SpecError("d", "needs at least one dimension")
    if not C_RANGE[0] <= c <= C_RANGE[1]:
        raise SpecError("c", f"must be in [{C_RANGE[0]:g}, {C_RANGE[1]:g}], got {c:g}")
    result = ScalingResult(curves, list(dims), list(base.seeds), c, {}, {}, base=base)
    pairs = [(cv, d) for cv in curves for d in dims]
    specs = []
    for curve, d in pairs:
        spec = validate(base.replace(model=curve.model, algorithm=curve.algorithm, d=d,
                                     step_sizes=(1.0,), perceptron_gap=False))
        specs.append(validate(spec.replace(step_sizes=(curve.step_size(spec, d, c),))))
    # one after the other locally; all at once on Ray (core/engine/distributed.py)
    outcomes = run_all(specs, use_cache=use_cache, progress=progress)
    for (curve, d), spec, outcome in zip(pairs, specs, outcomes):
        result.cached_runs += int(outcome.cached)
        result.iterations[(curve, d)] = np.array(
            [math.inf if r.iterations_to_solve is None else r.iterations_to_solve
             for r in outcome.result.runs], dtype=float)
        result.step_sizes[(curve, d)] = spec.step_sizes[0]
    for curve in curves:
        result.fits[curve] = fit_curve(dims, [result.iterations[(curve, d)] for d in dims],
                                       budget=result.budget)
    return result
