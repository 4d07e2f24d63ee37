"""The hypothesis lab: any setting against any measure.

A lab sweep is a base spec, one to three varied fields (each a list in the usual syntax,
``d=16:2048:x2``, ``algorithm=gd,normalized_gd``, ``activation=relu,leaky_relu``) and the
measures to report per run, read off results by the one table ``MEASURES``. The plan is the
product of the lists as batched specs: step sizes and seeds are batched inside one run, and
every combination of the other varied fields is one batched run. The whole plan is checked
against the count limits, the memory guard and a time budget before anything runs.

The result is one tidy ``pandas.DataFrame``: a row per run, a column per spec field (by its
canonical name, ``step_size`` and ``seed`` holding the run's own), a column per measure, and
``spec`` (the run's canonical string, its row id) and ``view`` (its permalink). The page, the
CLI (``python -m core sweep``), the exports and ``lab.sweep`` share it::

    from core.analysis import lab
    table = lab.sweep("dataset=minimal&model=linear&algorithm=generalized_perceptron&seed=0:7",
                      vary={"d": "16:256:x2", "model": "linear,two_layer_conv"},
                      measures=["iterations_to_solve"], step_rule="scaled")
    lab.fit(table, x="d")           # slopes per model, 95 % bootstrap intervals

Unsolved runs are kept: ``iterations_to_solve`` is empty and the fits count them as censored
at the run's budget (``max_iters``).
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from core.kernel.errors import SpecError
from core.kernel.fields import BY_NAME, BY_QUERY, FIELDS, MAX_BATCH, FieldSpec
from core.kernel.lists import parse_list, parse_number
from core.kernel.registry import model_family, model_kind
from core.kernel.spec import RunSpec, validate

MAX_VARIED = 3              # fields varied in one sweep
MAX_VALUES = 256            # values of one varied field that is not batched
MAX_SPECS = 4096            # batched runs in one sweep
MAX_RUNS = 100_000          # runs (rows) in one sweep
MAX_MEASURES = 32
BATCHED = ("step_size", "seed")     # varied inside one batched run
STEP_RULES = {"fixed": "the step sizes as given",
              "scaled": "γ = c·n/λ₂(d, μ) on the minimal example; the step sizes are the c"}

# The time estimate of a plan: every run to its max_iters (an upper bound), at this many
# multiply-adds per second and this overhead per iteration of a batched run (measured on a
# 2-core machine by benchmarks/bench_lab.py; conservative).
MULTIPLY_ADDS_PER_SECOND = 4e8
SECONDS_PER_ITERATION = 1.2e-4
DEFAULT_TIME_BUDGET = 3600.0


# ---------------------------------------------------------------------- the measures
@dataclass(frozen=True)
class Measure:
    """One number per run, read off its result (``read(record, spec, result)``; None where it
    does not apply or was not measured)."""

    name: str
    label: str
    help: str
    read: Callable[[Any, RunSpec, Any], Any]
    families: tuple[str, ...] = ("linear", "nonlinear", "shallow")
    kind: type = float
    log: bool = False                      # drawn on a log axis when every value is positive
    censored_at: str = ""                  # unsolved runs count as this spec field's value
    available: Callable[[RunSpec], bool] = lambda spec: True
    needs: str = ""                        # what to set when it is not available

    def applies(self, spec: RunSpec) -> bool:
        return model_family(spec.model) in self.families and self.available(spec)


def _last(record, key: str) -> float | None:
    values = record.history.get(key)
    if values is None or len(values) == 0:
        return None
    value = float(values[-1])
    return value if math.isfinite(value) else None


def _peak_loss(record, spec, result) -> float | None:
    if record.diverged:       # it left the floats: its loss overflowed, whatever the thinned
        return math.inf       # history kept (0.63 then nan at η = 10 on the a·b network)
    parts = [np.asarray(record.history.get("loss", []), dtype=float)]
    if record.tail and "loss" in record.tail:
        parts.append(np.asarray(record.tail["loss"], dtype=float))
    values = np.concatenate(parts)
    if values.size == 0:
        return None
    if np.isnan(values).all():
        return None
    return float(np.nanmax(values))       # inf when the loss overflowed (a diverged run)


def _last_finite(record, key: str) -> float | None:
    values = np.asarray(record.history.get(key, []), dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else None


def _normalized_margin(record, spec, result) -> float | None:
    margin, norm = _last(record, "min_margin"), _last(record, "param_norm")
    if margin is None or not norm:
        return None
    return margin / norm


def _extra(name: str) -> Callable:
    def read(record, spec, result):
        value = record.extras.get(name)
        return None if value is None or not math.isfinite(float(value)) else float(value)
    return read


def _limit_sharpness(record, spec, result) -> float | None:
    """λ_∞: the sharpness where the run converged (|ε| ≤ tol); none for an unfinished run."""
    if record.iterations_to_solve is None:
        return None
    return _extra("final_sharpness")(record, spec, result)


def _sharpness(record, spec, result) -> float | None:
    if model_family(spec.model) == "shallow":
        return _extra("final_sharpness")(record, spec, result)
    return _last_finite(record, "sharpness")


def _sharpness_ratio(record, spec, result) -> float | None:
    limit, flow = _limit_sharpness(record, spec, result), _extra("gf_sharpness")(record, spec, result)
    return None if limit is None or not flow else limit / flow


def _wall_time(record, spec, result) -> float:
    return float(result.meta.get("seconds", math.nan)) / max(1, len(result.runs))


CLASSIFIERS = ("linear", "nonlinear")
MEASURES: tuple[Measure, ...] = (
    Measure("iterations_to_solve", "iterations to solve",
            "first t ≥ 1 with every margin > 0 (a·b network: |ε| ≤ tol); empty when unsolved, "
            "and the fits count it as censored at max_iters",
            lambda r, s, res: r.iterations_to_solve, kind=int, log=True, censored_at="max_iters"),
    Measure("final_loss", "final loss", "the loss at the run's last iteration",
            lambda r, s, res: _last(r, "loss"), log=True),
    Measure("peak_loss", "peak loss", "the largest loss over the recorded iterations (every "
            "iteration up to history_points, then an evenly thinned grid)", _peak_loss, log=True),
    Measure("final_accuracy", "final accuracy", "fraction of points classified correctly at "
            "the last iteration", lambda r, s, res: _last(r, "accuracy"), families=CLASSIFIERS),
    Measure("min_margin", "min margin", "min_i m_i at the last iteration",
            lambda r, s, res: _last(r, "min_margin"), families=CLASSIFIERS),
    Measure("normalized_margin", "normalized margin", "min_i m_i / ‖θ‖ at the last iteration "
            "(the linear model's geometric margin)", _normalized_margin, families=CLASSIFIERS),
    Measure("sharpness", "sharpness", "top Hessian eigenvalue: the last Lanczos measurement "
            "(classifiers, every sharpness_every iterations); the a·b network's at its last "
            "iterate (closed form)", _sharpness, log=True,
            available=lambda s: model_family(s.model) == "shallow" or bool(s.sharpness_every),
            needs="sharpness_every > 0 in the base spec (e.g. sharpness_every=25)"),
    Measure("distance_to_perceptron", "distance to the perceptron", "the distance to the matching "
            "perceptron at the last iteration (core.engine.results)",
            lambda r, s, res: _last(r, "perceptron_gap"), families=CLASSIFIERS, log=True,
            available=lambda s: "perceptron_gap" in s.relevant_fields() and s.perceptron_gap,
            needs="an algorithm that carries a perceptron (gd, normalized_gd) and perceptron_gap=1"),
    Measure("imbalance_ratio", "S = Q(T)/Q(0)", "a·b network: the imbalance ratio S at the end "
            "(GD: Π(1 − η²ε²); gradient flow: 1)", _extra("imbalance_ratio"),
            families=("shallow",)),
    Measure("limit_sharpness", "λ_∞", "a·b network: the sharpness where the run converged",
            _limit_sharpness, families=("shallow",), log=True),
    Measure("gf_sharpness", "λ_GF", "a·b network: gradient flow's limit sharpness "
            "√(4Φ² + C₀) from the same start", _extra("gf_sharpness"), families=("shallow",),
            log=True),
    Measure("sharpness_ratio", "λ_∞ / λ_GF", "a·b network: below 1, the run ended flatter "
            "than gradient flow from the same start", _sharpness_ratio, families=("shallow",)),
    Measure("diverged", "diverged", "the run left the floating-point numbers",
            lambda r, s, res: bool(r.diverged), kind=bool),
    Measure("wall_time", "wall time (s)", "seconds of the run's batched computation divided by "
            "its runs (as computed, also when read from the cache)", _wall_time, log=True),
)
MEASURE_BY_NAME = {m.name: m for m in MEASURES}
DEFAULT_MEASURES = tuple(m.name for m in MEASURES)


# ---------------------------------------------------------------------- varied fields
def field_of(name: str) -> FieldSpec:
    """A spec field by its canonical (URL) name, or its attribute name."""
    found = BY_QUERY.get(name) or BY_NAME.get(name)
    if found is None or (found.is_list and found.url_name not in BATCHED):
        allowed = ", ".join(varied_fields())
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise SpecError("vary", f"{shown!r} cannot be varied; one of {allowed}")
    return found


def varied_fields() -> tuple[str, ...]:
    """The canonical names of the fields a sweep may vary (every single-valued field, and the
    batched step sizes and seeds)."""
    return tuple(f.url_name for f in FIELDS if not f.is_list or f.url_name in BATCHED)


def value_limit(name: str) -> int:
    return MAX_BATCH if name in BATCHED else MAX_VALUES


def parse_values(name: str, text: Any) -> tuple:
    """The values of one varied field, from list text (``16:2048:x2``, ``relu,leaky_relu``) or
    a sequence, checked against the field table; counted before anything is built."""
    spec = field_of(name)
    name = spec.url_name
    limit = value_limit(name)
    if isinstance(text, (list, tuple)):
        if len(text) > limit:
            raise SpecError(name, f"at most {limit} values, got {len(text)}")
        items = list(text)
    else:
        text = str(text)
        if spec.kind in (int, float):
            return _unique(_check_values(spec, parse_list(
                name, text, spec.kind, geometric=name in ("d", "n", "step_size"), limit=limit)))
        if text.count(",") + 1 > limit:
            raise SpecError(name, f"at most {limit} values, got {text.count(',') + 1}")
        items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise SpecError(name, "needs at least one value")
    values = []
    for item in items:
        if spec.kind in (int, float) and not isinstance(item, (int, float)):
            item = parse_number(name, str(item), spec.kind)
        elif spec.kind is bool and not isinstance(item, bool):
            lowered = str(item).strip().lower()
            if lowered not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
                raise SpecError(name, f"expected true/false, got {str(item)[:40]!r}")
            item = lowered in ("1", "true", "yes", "on")
        values.append(item)
    return _unique(_check_values(spec, values))


def _unique(values) -> tuple:
    return tuple(dict.fromkeys(values))


def _check_values(spec: FieldSpec, values) -> list:
    name = spec.url_name
    for value in values:
        if spec.choices and value not in spec.choices:
            shown = str(value) if len(str(value)) <= 40 else str(value)[:40] + "…"
            raise SpecError(name, f"{shown!r} is not one of {', '.join(c for c in spec.choices if c)}")
        if spec.kind is int and isinstance(value, float):
            if not value.is_integer():
                raise SpecError(name, f"expected an integer, got {value!r}")
        if spec.low is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not spec.low <= value <= spec.high:
                raise SpecError(name, f"must be in [{spec.low:g}, {spec.high:g}], got {value:g}")
    return [spec.kind(v) if spec.kind in (int, float) else v for v in values]


def parse_vary(items: Sequence[str] | Mapping[str, Any]) -> dict[str, tuple]:
    """``["d=16:2048:x2", "model=linear,mlp"]`` or ``{"d": "16:2048:x2"}`` -> values per
    field (canonical names, in the given order); one to MAX_VARIED fields."""
    pairs = list(items.items()) if isinstance(items, Mapping) else []
    if not isinstance(items, Mapping):
        items = list(items)
        if len(items) > MAX_VARIED:
            raise SpecError("vary", f"at most {MAX_VARIED} fields, got {len(items)}")
        for item in items:
            name, sep, text = str(item).partition("=")
            if not sep or not name.strip():
                raise SpecError("vary", f"expected field=values (e.g. d=16:2048:x2), "
                                f"got {str(item)[:60]!r}")
            pairs.append((name.strip(), text))
    if not pairs:
        raise SpecError("vary", "vary at least one field (e.g. d=16:2048:x2)")
    if len(pairs) > MAX_VARIED:
        raise SpecError("vary", f"at most {MAX_VARIED} fields, got {len(pairs)}")
    out: dict[str, tuple] = {}
    for name, text in pairs:
        canonical = field_of(str(name)).url_name
        if canonical in out:
            raise SpecError("vary", f"{canonical} is varied twice")
        out[canonical] = parse_values(canonical, text)
    return out


def parse_measures(names: Sequence[str] | str | None) -> tuple[str, ...]:
    if names is None:
        return DEFAULT_MEASURES
    if isinstance(names, str):
        if names.count(",") >= MAX_MEASURES:
            raise SpecError("measure", f"at most {MAX_MEASURES} measures")
        names = [part.strip() for part in names.split(",") if part.strip()]
    if len(names) > MAX_MEASURES:
        raise SpecError("measure", f"at most {MAX_MEASURES} measures")
    chosen = []
    for name in names:
        if name not in MEASURE_BY_NAME:
            shown = str(name)[:40]
            raise SpecError("measure", f"{shown!r} is not one of {', '.join(MEASURE_BY_NAME)}")
        chosen.append(name)
    if not chosen:
        raise SpecError("measure", "choose at least one measure")
    return tuple(dict.fromkeys(chosen))


def parse_base(base: RunSpec | str | Mapping[str, Any]) -> RunSpec:
    """The base spec: a RunSpec, a canonical string (as ``run`` prints it) or a mapping."""
    if isinstance(base, RunSpec):
        return validate(base)
    if isinstance(base, str) and len(base) > 100_000:
        raise SpecError("base", "the base spec is too long (at most 100000 characters)")
    return RunSpec.from_query(base)


# ---------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class PlannedSpec:
    spec: RunSpec
    combination: tuple[tuple[str, Any], ...]     # the non-batched varied values
    constants: tuple[float, ...] = ()            # c of each step size (step_rule scaled)


@dataclass
class Plan:
    base: RunSpec
    vary: dict[str, tuple]
    measures: tuple[str, ...]
    step_rule: str
    specs: list[PlannedSpec]         # the batched runs to compute (each spec once)
    runs: int
    estimated_seconds: float
    largest_memory: int
    combinations: list[PlannedSpec] = field(default_factory=list)   # every combination
    source: list[int] = field(default_factory=list)   # its batched run (index into specs)

    @property
    def varied(self) -> list[str]:
        return list(self.vary)

    def describe(self) -> str:
        return (f"{self.runs} runs in {len(self.specs)} batched run(s); at most about "
                f"{self.estimated_seconds:.0f} s if every run goes to its max_iters")


def _reset_for(name: str, value: Any, base: RunSpec, varied: set[str]) -> dict[str, Any]:
    """What else a varied value changes: a new data set brings its own n, d and defaults."""
    changes: dict[str, Any] = {}
    if name == "dataset":
        from core.kernel.registry import dataset_kind

        kind = dataset_kind(value)
        for size in ("n", "d"):
            if size not in varied:
                changes[size] = None
        for key, default in kind.defaults:
            if key not in varied and key in BY_NAME:
                changes[key] = default
    if (name == "model" and "activation" not in varied
            and base.activation == model_kind(base.model).default_activation):
        changes["activation"] = ""          # each model's own default, unless the base chose one
    return changes


def _estimate_seconds(spec: RunSpec) -> float:
    """Every run to max_iters: the batched loop's overhead plus its multiply-adds."""
    if model_family(spec.model) == "shallow":
        work = 8 * (spec.d or 2)
    else:
        kind = model_kind(spec.model)
        try:
            from core.engine.distributed import row_work

            work = row_work(spec, spec.n or 1000, spec.d or 64) if kind.classifier else 1
        except Exception:         # a model that cannot size itself before its data is built
            work = (spec.n or 1000) * (spec.d or 64)
        work *= 2 if spec.perceptron_gap else 1
        if spec.sharpness_every:
            work *= 1 + 20 / spec.sharpness_every      # a Lanczos run of ~20 HVPs each time
    return spec.max_iters * (SECONDS_PER_ITERATION + spec.batch_size * work / MULTIPLY_ADDS_PER_SECOND)


def plan(base: RunSpec | str, vary: Mapping[str, Any] | Sequence[str],
         measures: Sequence[str] | str | None = None, *, step_rule: str = "fixed",
         time_budget: float | None = DEFAULT_TIME_BUDGET, check_memory: bool = True) -> Plan:
    """The batched specs of a sweep, checked before anything runs: the counts (before any
    list of specs is built), every spec against the field table and the memory guard, and the
    worst-case time against ``time_budget`` seconds (None: no limit)."""
    base = parse_base(base)
    values = parse_vary(vary)
    chosen = parse_measures(measures)
    if step_rule not in STEP_RULES:
        raise SpecError("step_rule", f"{str(step_rule)[:40]!r} is not one of {', '.join(STEP_RULES)}")
    steps = values.get("step_size", base.step_sizes)
    seeds = values.get("seed", base.seeds)
    others = {name: vals for name, vals in values.items() if name not in BATCHED}
    spec_count = math.prod(len(v) for v in others.values())
    if spec_count > MAX_SPECS:
        raise SpecError("vary", f"at most {MAX_SPECS} batched runs, this asks for {spec_count}")
    if len(steps) * len(seeds) > MAX_BATCH:
        raise SpecError("step_size", f"step sizes x seeds must be at most {MAX_BATCH} per "
                        f"batched run, got {len(steps)} x {len(seeds)}")
    runs = spec_count * len(steps) * len(seeds)
    if runs > MAX_RUNS:
        raise SpecError("vary", f"at most {MAX_RUNS} runs, this asks for {runs}")

    varied = set(values)
    planned: list[PlannedSpec] = []
    combinations: list[PlannedSpec] = []
    source: list[int] = []
    seen: dict[str, int] = {}
    names = list(others)
    for combination in itertools.product(*others.values()):
        changes: dict[str, Any] = {}
        for name, value in zip(names, combination):
            changes.update(_reset_for(name, value, base, varied))
        for name, value in zip(names, combination):
            changes[field_of(name).name] = value
        where = ", ".join(f"{n}={v}" for n, v in zip(names, combination))
        try:
            spec = validate(base.replace(**changes, step_sizes=tuple(float(s) for s in steps),
                                         seeds=tuple(int(s) for s in seeds)))
            constants: tuple[float, ...] = ()
            if step_rule == "scaled":
                spec, constants = _scaled(spec, steps)
        except SpecError as error:
            raise SpecError(error.field, f"{str(error).split(': ', 1)[-1]}"
                            + (f" (at {where})" if where else "")) from None
        item = PlannedSpec(spec, tuple(zip(names, combination)), constants)
        combinations.append(item)
        key = spec.canonical()
        if key not in seen:      # a varied value this spec ignores: the same run, computed once
            seen[key] = len(planned)
            planned.append(item)
        source.append(seen[key])

    largest = 0
    if check_memory:
        from core.engine.loop import resolve_device
        from core.engine.memory import check_memory as guard, estimate_memory

        for item in planned:
            spec = item.spec
            shallow = model_family(spec.model) == "shallow"
            if spec.d is not None and (shallow or spec.n is not None):
                device = resolve_device(spec.device)
                try:
                    guard(spec, spec.n or 0, spec.d, device)
                except SpecError as error:
                    where = ", ".join(f"{n}={v}" for n, v in item.combination)
                    raise SpecError(error.field, str(error).split(": ", 1)[-1]
                                    + (f" (at {where})" if where else "")) from None
                largest = max(largest, estimate_memory(spec, spec.n or 0, spec.d))
    seconds = sum(_estimate_seconds(item.spec) for item in planned)
    if time_budget is not None and seconds > time_budget:
        raise SpecError("max_iters", f"this sweep may take up to about {seconds:.0f} s (every "
                        f"run to its max_iters), over the budget of {time_budget:g} s; lower "
                        "max_iters or the number of values")
    missing = [name for name in chosen
               if not any(MEASURE_BY_NAME[name].applies(item.spec) for item in planned)]
    if measures is not None and missing:
        measure = MEASURE_BY_NAME[missing[0]]
        why = f"; it needs {measure.needs}" if measure.needs else ""
        raise SpecError("measure", f"{measure.name} applies to no run of this sweep{why}")
    return Plan(base, values, chosen, step_rule, planned, runs, seconds, largest,
                combinations, source)


def _scaled(spec: RunSpec, constants: Sequence[float]) -> tuple[RunSpec, tuple[float, ...]]:
    """The step sizes γ = c·n/λ₂(d, μ) of the minimal example (minimal_example.md)."""
    from core.analysis.theory import minimal_step_size

    if spec.dataset != "minimal" or model_family(spec.model) == "shallow":
        raise SpecError("step_rule", "scaled is defined on the minimal example only "
                        "(γ = c·n/λ₂(d, μ)); use fixed step sizes")
    if any(not 1e-9 <= c <= 100 for c in constants):
        raise SpecError("step_size", "the constants c of the scaled rule must be in [1e-09, 100]")
    gammas = tuple(minimal_step_size(spec.d, spec.mu, float(c), spec.n or 2) for c in constants)
    return validate(spec.replace(step_sizes=gammas)), tuple(float(c) for c in constants)


# ---------------------------------------------------------------------- running
@dataclass
class LabResult:
    plan: Plan
    table: pd.DataFrame
    seconds: float
    cached: int                  # batched runs read from the cache


def view_link(spec: RunSpec, base_url: str = "") -> str:
    """The permalink of one run: the page that shows its spec (core.report.site.spec_page; the a·b
    network's GD-against-flow view) with its canonical string as the query."""
    from core.report.site import spec_page

    page = spec_page(spec)
    extra = "view=gd_gf&" if page == "shallow" else ""
    return f"{base_url}/{page}?{extra}{spec.canonical()}"


def run(lab_plan: Plan, *, use_cache: bool = True, progress: Callable[[float], None] | None = None,
        on_spec: Callable[[int, int, RunSpec, bool], None] | None = None,
        cache_dir: str | None = None) -> LabResult:
    """Every batched spec of the plan, from the cache where it can be: locally one after the
    other (``on_spec(index, total, spec, cached)`` after each), on Ray all at once."""
    from core.api import run_all, run_spec
    from core.engine.distributed import current_backend

    started = time.perf_counter()
    specs = [item.spec for item in lab_plan.specs]
    total = len(specs)
    weights = [_estimate_seconds(spec) for spec in specs]
    whole = sum(weights) or 1.0
    if current_backend().name == "ray" and total > 1:
        outcomes = run_all(specs, use_cache=use_cache, progress=progress, cache_dir=cache_dir)
        if on_spec is not None:
            for index, (spec, outcome) in enumerate(zip(specs, outcomes)):
                on_spec(index, total, spec, outcome.cached)
    else:
        outcomes = []
        done = 0.0
        for index, spec in enumerate(specs):
            report = None if progress is None else (
                lambda f, base=done, w=weights[index]: progress((base + w * f) / whole))
            outcome = run_spec(spec, use_cache=use_cache, progress=report, cache_dir=cache_dir)
            outcomes.append(outcome)
            done += weights[index]
            if on_spec is not None:
                on_spec(index, total, spec, outcome.cached)
    if progress is not None:
        progress(1.0)
    table = tidy(lab_plan, [outcome.result for outcome in outcomes])
    return LabResult(lab_plan, table, time.perf_counter() - started,
                     sum(int(o.cached) for o in outcomes))


def _cell(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, tuple):
        return ",".join(repr(v) if isinstance(v, float) else str(v) for v in value)
    return value


SPEC_COLUMNS = tuple(f.url_name for f in FIELDS)
EXTRA_COLUMNS = ("c", "spec", "view")


def tidy(lab_plan: Plan, results: Sequence[Any]) -> pd.DataFrame:
    """One row per run: every spec field by canonical name (``step_size`` and ``seed`` the
    run's own), ``c`` (the constant of the scaled rule, else empty), every measure, the run's
    canonical spec string and its permalink."""
    rows = []
    combinations = lab_plan.combinations or lab_plan.specs
    sources = lab_plan.source or list(range(len(lab_plan.specs)))
    for item, index in zip(combinations, sources):
        result = results[index]
        spec = result.spec
        own = item.spec            # its varied values, also those the run ignores
        constant_of = dict(zip(spec.step_sizes, item.constants))
        for record in result.runs:
            single = own.single(record.step_size, record.seed)
            row: dict[str, Any] = {}
            for f in FIELDS:
                row[f.url_name] = _cell(f, getattr(single, f.name))
            row["step_size"], row["seed"] = float(record.step_size), int(record.seed)
            row["c"] = constant_of.get(record.step_size, math.nan)
            for name in lab_plan.measures:
                measure = MEASURE_BY_NAME[name]
                row[name] = measure.read(record, spec, result) if measure.applies(spec) else None
            row["spec"] = single.canonical()
            row["view"] = view_link(single)
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(SPEC_COLUMNS) + list(lab_plan.measures)
                         + list(EXTRA_COLUMNS))
    for name in ("n", "d"):
        table[name] = table[name].astype("Int64")
    for name in lab_plan.measures:
        kind = MEASURE_BY_NAME[name].kind
        if kind is int:
            table[name] = table[name].astype("Int64")
        elif kind is bool:
            table[name] = table[name].astype("boolean")
        else:
            table[name] = pd.to_numeric(table[name], errors="coerce").astype(float)
    table.attrs.update(lab_attrs(lab_plan))
    return table


def lab_attrs(lab_plan: Plan) -> dict[str, Any]:
    return {"base": lab_plan.base.canonical(), "varied": list(lab_plan.vary),
            "vary": {k: [_plain(v) for v in vals] for k, vals in lab_plan.vary.items()},
            "measures": list(lab_plan.measures), "step_rule": lab_plan.step_rule}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def sweep(base: RunSpec | str, vary: Mapping[str, Any] | Sequence[str],
          measures: Sequence[str] | str | None = None, *, step_rule: str = "fixed",
          use_cache: bool = True, time_budget: float | None = DEFAULT_TIME_BUDGET,
          progress: Callable[[float], None] | None = None) -> pd.DataFrame:
    """Plan, check and run a sweep; the tidy table (``table.attrs`` keeps the plan)."""
    lab_plan = plan(base, vary, measures, step_rule=step_rule, time_budget=time_budget)
    return run(lab_plan, use_cache=use_cache, progress=progress).table


# ---------------------------------------------------------------------- answers
def column_of(table: pd.DataFrame, name: str) -> str:
    """The table column that holds a varied field's values (the c of the scaled rule for
    step_size)."""
    if name == "step_size" and table.attrs.get("step_rule") == "scaled":
        return "c"
    return name


def group_fields(table: pd.DataFrame, x: str) -> list[str]:
    """The varied fields other than ``x`` and the seeds (seeds are the replicates)."""
    varied = table.attrs.get("varied") or []
    return [name for name in varied if name != x and name != "seed"]


def censored_values(table: pd.DataFrame, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """The measure as floats, with unsolved runs at their budget (``censored_at``), and which
    rows were censored."""
    entry = MEASURE_BY_NAME[measure]
    values = pd.to_numeric(table[measure], errors="coerce").astype(float).to_numpy()
    censored = np.zeros(len(values), dtype=bool)
    if entry.censored_at:
        budget = pd.to_numeric(table[entry.censored_at], errors="coerce").astype(float).to_numpy()
        censored = np.isnan(values)
        values = np.where(censored, budget, values)
    return values, censored


FIT_KINDS = ("power", "linear")


def fit(table: pd.DataFrame, x: str | None = None, measure: str = "iterations_to_solve",
        by: Sequence[str] | None = None, kind: str = "power") -> pd.DataFrame:
    """One row per group (the other varied fields): the slope of the median of ``measure``
    against ``x`` (power: log–log through the medians; linear: a straight line through them) with
    a 95 % bootstrap interval over the runs of each x, the intercept, the points fitted, the
    runs censored at the budget (unsolved; counted at max_iters, never dropped), the runs
    without a value (``no_value``: a diverged run's final loss; left out of the medians) and the
    x values a power law cannot use (``left_out``: x ≤ 0 or a median ≤ 0)."""
    from core.analysis.scaling import fit_curve

    if kind not in FIT_KINDS:
        raise SpecError("fit", f"{str(kind)[:40]!r} is not one of {', '.join(FIT_KINDS)}")
    if measure not in table.columns or measure not in MEASURE_BY_NAME:
        raise SpecError("measure", f"{str(measure)[:40]!r} is not a measure of this table")
    varied = table.attrs.get("varied") or []
    x = x or next((name for name in varied if _numeric(table, column_of(table, name))), None)
    if x is None:
        raise SpecError("x", "the fit needs a numeric varied field (e.g. d or step_size)")
    x_column = column_of(table, x)
    if x_column not in table.columns or not _numeric(table, x_column):
        raise SpecError("x", f"{str(x)[:40]!r} is not a numeric column of this table")
    by = list(group_fields(table, x) if by is None else by)
    values, censored = censored_values(table, measure)
    frame = pd.DataFrame({"x": pd.to_numeric(table[x_column], errors="coerce").astype(float),
                          "y": values, "censored": censored})
    keys = [column_of(table, name) for name in by]
    for name, column in zip(by, keys):
        frame[name] = table[column].to_numpy()
    rows = []
    groups = frame.groupby(by, sort=False, dropna=False) if by else [((), frame)]
    for group_key, part in groups:
        group_key = group_key if isinstance(group_key, tuple) else (group_key,)
        keep, left_out = _fit_points(part, kind)
        if kind == "power":
            fitted = (fit_curve([v for v, _ in keep], [arr for _, arr in keep], median=True)
                      if keep else None)
        else:
            fitted = _fit_linear([v for v, _ in keep], [arr for _, arr in keep])
        row = {name: _plain(value) for name, value in zip(by, group_key)}
        row.update({"x": x, "measure": measure, "kind": kind,
                    "slope": math.nan if fitted is None else fitted.slope,
                    "ci_low": math.nan if fitted is None else fitted.ci_low,
                    "ci_high": math.nan if fitted is None else fitted.ci_high,
                    "intercept": math.nan if fitted is None else fitted.intercept,
                    "points": 0 if fitted is None else fitted.points,
                    "runs": int(len(part)), "censored": int(part["censored"].sum()),
                    "no_value": int((~np.isfinite(part["y"].to_numpy(dtype=float))).sum()),
                    "left_out": left_out})
        rows.append(row)
    return pd.DataFrame(rows)


def _fit_points(part: pd.DataFrame, kind: str) -> tuple[list[tuple[float, np.ndarray]], int]:
    """The x values of one group with its runs' finite values there (a run without a value is
    left out of the median), and how many of those x values a power law cannot use: x ≤ 0 or
    a median ≤ 0 has no logarithm (momentum = 0, a negative margin)."""
    keep = []
    for v in sorted(v for v in part["x"].unique() if math.isfinite(v)):
        values = part.loc[part["x"] == v, "y"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            keep.append((float(v), values))
    if kind != "power":
        return keep, 0
    usable = [(v, values) for v, values in keep if v > 0 and np.median(values) > 0]
    return usable, len(keep) - len(usable)


def _numeric(table: pd.DataFrame, column: str) -> bool:
    return column in table.columns and pd.api.types.is_numeric_dtype(table[column]) and \
        not pd.api.types.is_bool_dtype(table[column])


def _fit_linear(xs: list[float], per_x: list[np.ndarray], samples: int = 1000, seed: int = 0):
    """Least-squares line through the medians, bootstrap over the runs of each x (as
    core.analysis.scaling.fit_curve(median=True) does for the log–log slope)."""
    from core.analysis.scaling import BOOTSTRAP_SAMPLES, CurveFit

    if len(xs) < 2:
        return None
    x = np.asarray(xs, dtype=float)
    medians = np.array([np.median(v) for v in per_x])
    slope, intercept = np.polyfit(x, medians, 1)
    rng = np.random.default_rng(seed)
    resampled = np.stack([np.median(v[rng.integers(0, len(v), (BOOTSTRAP_SAMPLES, len(v)))], axis=1)
                          for v in per_x], axis=1)
    dx = x - x.mean()
    slopes = ((resampled - resampled.mean(axis=1, keepdims=True)) * dx).sum(axis=1) / (dx ** 2).sum()
    low, high = np.percentile(slopes, [2.5, 97.5])
    return CurveFit(float(slope), float(intercept), float(low), float(high), len(xs))


SLOPE_NOISE = 1e-9    # a least-squares slope of constant values comes out as ±1e-17 or so


def clean_slope(value: float) -> float:
    """A fitted slope (or interval end) with float noise read as the 0 it is: a flat line's
    slope is 0, not -1.15e-17."""
    value = float(value)
    return 0.0 if abs(value) < SLOPE_NOISE else value


def slope_text(value: float) -> str:
    """A slope as the lab writes it: three significant digits, noise read as 0."""
    return f"{clean_slope(value):.3g}"


@dataclass
class Comparison:
    first: str
    second: str
    first_slope: float
    second_slope: float
    separated: bool          # the 95 % intervals do not overlap
    single_runs: bool = False   # one run per x: the intervals have no width
    no_width: tuple[str, ...] = ()   # groups whose interval has no width all the same

    @property
    def sentence(self) -> str:
        unfitted = [name for name, slope in ((self.first, self.first_slope),
                                             (self.second, self.second_slope))
                    if not math.isfinite(slope)]
        if unfitted:
            return (f"No slopes to compare: {' and '.join(unfitted)} "
                    f"{'has' if len(unfitted) == 1 else 'have'} no fit (a fit needs two x values "
                    "with a value).")
        relation = "do not overlap" if self.separated else "overlap"
        text = (f"{self.first}: slope {slope_text(self.first_slope)}; {self.second}: slope "
                f"{slope_text(self.second_slope)}; the 95 % intervals {relation}.")
        if self.single_runs:
            text += " (One run per x: the intervals have no width; vary the seeds for a spread.)"
        elif self.no_width:
            subject = ("The interval of {} has" if len(self.no_width) == 1 else
                       "The intervals of {} have").format(" and ".join(self.no_width))
            text += (f" ({subject} no width: every bootstrap resample of the runs gives the "
                     "same slope.)")
        return text


def group_label(row: Mapping[str, Any], by: Sequence[str]) -> str:
    return " · ".join(f"{name}={_short(row[name])}" for name in by) or "all runs"


def _text(value: Any) -> str:
    """A value as list text that parses back to it exactly (floats without a trailing .0)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def compare(fits: pd.DataFrame, first: int = 0, second: int = 1) -> Comparison:
    """Whether two groups' slopes differ: their 95 % bootstrap intervals do not overlap."""
    if len(fits) < 2:
        raise SpecError("compare", "needs two groups (vary a second field)")
    for index in (first, second):
        if not 0 <= index < len(fits):
            raise SpecError("compare", f"group {index} is not in [0, {len(fits) - 1}]")
    by = [c for c in fits.columns if c not in FIT_COLUMNS]
    a, b = fits.iloc[first], fits.iloc[second]
    finite = all(math.isfinite(float(v)) for v in (a.ci_low, a.ci_high, b.ci_low, b.ci_high))
    separated = finite and (a.ci_high < b.ci_low or b.ci_high < a.ci_low)
    no_width = tuple(group_label(row, by) for row in (a, b)
                     if math.isfinite(float(row.ci_low)) and clean_slope(row.ci_high - row.ci_low) == 0)
    return Comparison(group_label(a, by), group_label(b, by), float(a.slope), float(b.slope),
                      bool(separated), bool(a.runs <= a.points or b.runs <= b.points), no_width)


FIT_COLUMNS = ("x", "measure", "kind", "slope", "ci_low", "ci_high", "intercept", "points",
               "runs", "censored", "no_value", "left_out")


# ---------------------------------------------------------------------- exports
def to_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-able rows (missing and non-finite values are null)."""
    out = []
    for record in table.to_dict(orient="records"):
        out.append({key: _json_value(value) for key, value in record.items()})
    return out


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, lineterminator="\n")


def to_parquet(table: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    plain = table.copy()
    plain.attrs = {}
    for column in plain.columns:       # text columns with no values stay text
        if plain[column].dtype == object:
            plain[column] = plain[column].astype("string")
    plain.to_parquet(buffer, index=False)
    return buffer.getvalue()


def lab_query(lab_plan_or_attrs: Plan | Mapping[str, Any], **view: Any) -> dict[str, str]:
    """The lab page's URL of a sweep (its base, varied fields and the view's choices)."""
    attrs = lab_attrs(lab_plan_or_attrs) if isinstance(lab_plan_or_attrs, Plan) else lab_plan_or_attrs
    query = {"base": attrs["base"]}
    for index, (name, values) in enumerate(attrs["vary"].items(), start=1):
        query[f"field{index}"] = name
        query[f"values{index}"] = ",".join(_text(v) for v in values)
    if attrs.get("step_rule", "fixed") != "fixed":
        query["step_rule"] = attrs["step_rule"]
    query.update({k: str(v) for k, v in view.items() if v not in (None, "")})
    return query


def lab_link(lab_plan_or_attrs: Plan | Mapping[str, Any], base_url: str | None = "",
             **view: Any) -> str:
    """The lab page's link of a sweep: relative ('/lab?…') when ``base_url`` is empty, the
    full link (core.report.site.view_link: GDX_BASE_URL or the local dashboard) when it is None."""
    from urllib.parse import urlencode

    from core.report.site import view_link as full_link

    query = urlencode(lab_query(lab_plan_or_attrs, **view), safe=",:")
    if base_url is None:
        return full_link("lab", query)
    return f"{base_url}/lab?{query}"
