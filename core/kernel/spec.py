"""Run specifications: an immutable, hashable description of one batched sweep.

A :class:`RunSpec` only stores settings (scikit-learn style). Its canonical string
(``spec.canonical()``) is a URL query string with sorted keys; it is the cache key
(together with the core code version), the permalink of a dashboard view and the id of
an exported row. ``RunSpec.from_query`` parses it back, so the round trip is exact.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

from core.kernel.errors import SpecError
from core.kernel.lists import parse_list, parse_number
from core.algorithms.builtin import mismatch
from core.kernel.registry import dataset_kind, model_kind

from core.kernel.fields import BY_NAME, FIELDS, IMAGE_DATASETS, MAX_BATCH, MAX_D, MAX_N

def _fmt_float(x: float) -> str:
    if math.isinf(x) or math.isnan(x):
        return repr(x)
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return _fmt_float(value)
    if isinstance(value, tuple):
        return ",".join(_fmt(v) for v in value)
    return str(value)


class _RunSpecMethods:
    """One batched sweep: every (step size x seed) pair runs in the same tensor ops. Its
    fields are those of core.kernel.fields.FIELDS (declared there once, with defaults and ranges)."""

    # ------------------------------------------------------------------ derived
    @property
    def batch_size(self) -> int:
        return len(self.step_sizes) * len(self.seeds)

    def relevant_fields(self) -> list[str]:
        """The fields that change the result of this spec (the others are ignored)."""
        return sorted(f.name for f in FIELDS if f.relevant(self))

    def canonical(self) -> str:
        """Sorted ``key=value`` query string of the relevant fields (stable, URL-safe)."""
        pairs = []
        for name in self.relevant_fields():
            value = getattr(self, name)
            if value is None or value == "":
                continue
            pairs.append((QUERY_NAMES[name], _fmt(value)))
        return urlencode(pairs, safe=",/:")

    def __str__(self) -> str:
        return self.canonical()

    def replace(self, **changes: Any) -> "RunSpec":  # type: ignore[name-defined]
        return dataclasses.replace(self, **changes)

    def single(self, step_size: float, seed: int) -> "RunSpec":
        """The spec of one run of the sweep (its canonical string is the run's row id)."""
        return self.replace(step_sizes=(float(step_size),), seeds=(int(seed),))

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_query(cls, query: str | Mapping[str, Any]) -> "RunSpec":
        """Parse a canonical string, URL query, or a mapping of query names to values."""
        if isinstance(query, str):
            items = parse_qsl(query.lstrip("?"), keep_blank_values=True)
        else:
            items = list(query.items())
        values: dict[str, Any] = {}
        for key, raw in items:
            name = FIELD_BY_QUERY.get(key)
            if name is None:
                raise SpecError(key, f"unknown field; allowed: {', '.join(sorted(FIELD_BY_QUERY))}")
            if isinstance(raw, (list, tuple)) and name not in TUPLE_FIELDS:
                raw = raw[0] if raw else ""
            values[name] = parse_field(name, raw)
        return make_spec(**values)

    def to_query(self) -> dict[str, str]:
        """The canonical string as a dict (for ``st.query_params``)."""
        return dict(parse_qsl(self.canonical(), keep_blank_values=True))


RunSpec = dataclasses.make_dataclass(
    "RunSpec", [(f.name, Any, dataclasses.field(default=f.default)) for f in FIELDS],
    bases=(_RunSpecMethods,), frozen=True, namespace={"__module__": __name__})
RunSpec.__doc__ = _RunSpecMethods.__doc__

QUERY_NAMES = {f.name: f.url_name for f in FIELDS}
FIELD_BY_QUERY = {f.url_name: f.name for f in FIELDS}
FIELD_TYPES = {f.name: f.kind for f in FIELDS}
TUPLE_FIELDS = {f.name for f in FIELDS if f.is_list}
# How many values each list field may hold (checked before the list is built).
LIST_LIMITS = {f.name: f.list_limit for f in FIELDS if f.is_list}


def _parse_scalar(name: str, kind: type, raw: Any) -> Any:
    field = QUERY_NAMES.get(name, name)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        if kind is float and not math.isfinite(raw):
            raise SpecError(field, f"expected a finite number, got {float(raw)}")
        return raw
    text = str(raw).strip()
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SpecError(field, f"expected true/false, got {text[:40]!r}")
    if kind in (int, float):
        return parse_number(field, text, kind)
    return raw


def parse_field(name: str, raw: Any) -> Any:
    """Convert a string (or list of strings) from a URL, CLI flag or widget to the field's type."""
    kind = FIELD_TYPES.get(name, str)
    if name in TUPLE_FIELDS:
        field = QUERY_NAMES.get(name, name)
        if isinstance(raw, (list, tuple)):
            return parse_list(field, [str(v) for v in raw], kind, limit=LIST_LIMITS[name])
        text = "" if raw is None else str(raw)
        if not text.strip():
            return ()
        return parse_list(field, text, kind, limit=LIST_LIMITS[name])
    if raw is None:
        return None
    if kind in (int, float) and str(raw).strip() in ("", "none", "None"):
        return None
    if kind is str:
        text = str(raw)
        if len(text) > MAX_TEXT_FIELD:
            raise SpecError(QUERY_NAMES.get(name, name), f"at most {MAX_TEXT_FIELD} characters")
        return text
    return _parse_scalar(name, kind, raw)


MAX_TEXT_FIELD = 4096


# ---------------------------------------------------------------------- validation
def _check_choice(field: str, value: str, choices: Iterable[str]) -> None:
    if value not in choices:
        shown = str(value) if len(str(value)) <= 60 else str(value)[:60] + "…"
        raise SpecError(field, f"{shown!r} is not one of {', '.join(choices)}")


def _check_range(field: str, value: float | int, low: float, high: float) -> None:
    if not (low <= value <= high) or (isinstance(value, float) and math.isnan(value)):
        raise SpecError(field, f"must be in [{low:g}, {high:g}], got {value:g}")


def _check_field(field, value) -> None:
    """The table's own rule for one field: its type, its choices or its range."""
    name = field.url_name
    if field.is_list:
        if not isinstance(value, tuple):
            raise SpecError(name, "expected a list of values")
        if len(value) > field.list_limit:
            raise SpecError(name, f"at most {field.list_limit} values, got {len(value)}")
        if field.name in ("step_sizes", "seeds") and not value:
            raise SpecError(name, "needs at least one value")
        items = value
    elif value is None and field.optional:
        return
    else:
        items = (value,)
    for item in items:
        if field.kind is bool:
            if isinstance(item, str) or item not in (True, False):
                raise SpecError(name, f"expected true/false, got {str(item)[:40]!r}")
        elif field.kind in (int, float):
            if isinstance(item, bool) or not isinstance(item, numbers.Real) or (
                    field.kind is int and not float(item).is_integer()):
                noun = "an integer" if field.kind is int else "a number"
                raise SpecError(name, f"expected {noun}, got {str(item)[:40]!r}")
            if field.low is not None:
                _check_range(name, item, field.low, field.high)
        elif field.choices:
            _check_choice(name, item, field.choices)
        elif not isinstance(item, str):
            raise SpecError(name, f"expected text, got {str(item)[:40]!r}")


def validate(spec: RunSpec) -> RunSpec:
    """Check every field against the table (core.kernel.fields), then the rules between fields, and
    fill in dataset-determined sizes. Returns the resolved spec."""
    for field in FIELDS:
        if field.check(spec):
            _check_field(field, getattr(spec, field.name))
    model = model_kind(spec.model)
    spec = dataclasses.replace(spec, activation=spec.activation or model.default_activation)
    if spec.batch_size > MAX_BATCH:
        raise SpecError("step_size", f"step sizes x seeds must be at most {MAX_BATCH}, "
                        f"got {len(spec.step_sizes)} x {len(spec.seeds)} = {spec.batch_size}")
    if model.needs_images and spec.dataset not in IMAGE_DATASETS:
        raise SpecError("dataset", f"{spec.model} needs images: one of {', '.join(IMAGE_DATASETS)}, "
                        f"got {spec.dataset}")
    # which algorithm runs on which model: the algorithm's registry entry (core.algorithms.builtin)
    reason = mismatch(spec.algorithm, spec.model)
    if reason is not None:
        raise SpecError("algorithm", reason)
    if not model.classifier:
        return _validate_shallow(spec)
    kind = dataset_kind(spec.dataset)
    if "classes" in kind.fields:
        if len(spec.classes) != 2 or spec.classes[0] == spec.classes[1]:
            raise SpecError("classes", f"needs two different classes, got {_fmt(spec.classes)}")
    if kind.needs_path and not spec.path:
        raise SpecError("path", f"the {spec.dataset} dataset needs a path")

    n, d = spec.n, spec.d
    fixed_n, fixed_d = kind.fixed_shape
    default_n, default_d = kind.default_shape
    if fixed_n is not None and n is not None and n != fixed_n:
        raise SpecError("n", f"the {spec.dataset} dataset has n = {fixed_n}, got {n}")
    if fixed_d is not None and d is not None and d != fixed_d:
        raise SpecError("d", f"the {spec.dataset} dataset has d = {fixed_d}, got {d}")
    n = n if n is not None else (fixed_n if fixed_n is not None else default_n)
    d = d if d is not None else (fixed_d if fixed_d is not None else default_d)
    if n is not None:
        _check_range("n", n, kind.min_n, kind.max_n or MAX_N)
    if d is not None:
        _check_range("d", d, model.min_d, MAX_D)

    step_sizes = tuple(float(g) for g in spec.step_sizes)
    return dataclasses.replace(spec, n=n, d=d, step_sizes=step_sizes,
                               seeds=tuple(int(s) for s in spec.seeds),
                               classes=tuple(int(c) for c in spec.classes))


def _validate_shallow(spec: RunSpec) -> RunSpec:
    init = spec.init or ("explicit" if spec.a or spec.b else "fig3")
    d = spec.d
    if init == "explicit":
        if not spec.a or not spec.b:
            raise SpecError("a" if not spec.a else "b", "explicit init needs both a and b")
        if len(spec.a) != len(spec.b):
            raise SpecError("b", f"a and b need the same length, got {len(spec.a)} and {len(spec.b)}")
        if d is not None and d != len(spec.a):
            raise SpecError("d", f"a and b have length {len(spec.a)}, got d = {d}")
        d = len(spec.a)
    elif spec.a or spec.b:
        raise SpecError("init", f"a and b are only used with init=explicit, not {init}")
    d = d if d is not None else 2
    _check_range("d", d, 2 if init == "fig3" else 1, 100_000)
    seeds = spec.seeds if init == "random" else (0,)
    resolved = dataclasses.replace(spec, init=init, d=d, n=None, dataset=RunSpec.dataset,
                                   step_sizes=tuple(float(g) for g in spec.step_sizes),
                                   seeds=tuple(int(s) for s in seeds),
                                   a=tuple(float(v) for v in spec.a),
                                   b=tuple(float(v) for v in spec.b))
    if resolved.batch_size > MAX_BATCH:
        raise SpecError("step_size", f"step sizes x seeds must be at most {MAX_BATCH}")
    return resolved


def make_spec(**fields: Any) -> RunSpec:
    """Build and validate a spec from keyword fields (raises :class:`SpecError`)."""
    known = set(BY_NAME)
    for name in fields:
        if name not in known:
            raise SpecError(name, f"unknown field; allowed: {', '.join(sorted(known))}")
    return validate(RunSpec(**{k: v for k, v in fields.items() if v is not None or k in ("n", "d")}))
