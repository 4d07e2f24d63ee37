"""The one parser of numbers, lists and ranges typed into a URL, a CLI flag or a text box.

Forms: ``1,2,4`` (a list), ``0:7`` (integers 0..7), ``16:2048:x2`` (geometric),
``1e-3:1e2:log20`` (20 log-spaced values) and ``16,32,...,2048`` (continues the pattern:
the ratio when ``geometric``, else the difference). The number of values is worked out from
the bounds in O(1) and refused above the field's limit *before* any list is built, so no
input can make the process allocate without bound. Numbers are ASCII only and finite.
"""
from __future__ import annotations

import math
import re

from core.kernel.errors import SpecError

# A decimal number in ASCII (no "inf", "nan", underscores, or non-ASCII digits).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
DEFAULT_LIMIT = 4096
MAX_TEXT = 1 << 20          # characters of one list before anything is parsed
_SLACK = 1e-12              # a stop equal to start·factor^k up to rounding is included


def parse_number(field: str, text: str, kind: type = float) -> int | float:
    """One finite ASCII number; ``kind=int`` also accepts ``1e3`` or ``16.0`` (exact integers)."""
    raw = str(text).strip()
    if len(raw) > 64 or not _NUMBER.fullmatch(raw):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        noun = "an integer" if kind is int else "a finite number"
        raise SpecError(field, f"expected {noun} in plain ASCII digits, got {shown!r}")
    value = float(raw)
    if not math.isfinite(value):
        raise SpecError(field, f"expected a finite number, got {raw!r}")
    if kind is int:
        if not value.is_integer() or abs(value) > 2**53:
            raise SpecError(field, f"expected an integer, got {raw!r}")
        return int(value)
    return value


def _too_many(field: str, count: float, limit: int) -> SpecError:
    shown = f"{math.ceil(count):,}" if count < 1e15 else "more than 1e15"
    return SpecError(field, f"at most {limit} values, this asks for {shown}")


def _geometric_count(field: str, start: float, stop: float, factor: float) -> int:
    if start <= 0:
        raise SpecError(field, f"a geometric range needs a start > 0, got {start:g}")
    if not factor > 1:
        raise SpecError(field, f"the factor must be a finite number > 1, got {factor:g}")
    if stop < start:
        raise SpecError(field, f"the range is empty: stop {stop:g} < start {start:g}")
    return int(math.floor(math.log(stop / start) / math.log(factor) + _SLACK)) + 1


def _arithmetic_count(field: str, start: float, stop: float, step: float) -> int:
    if not step > 0:
        raise SpecError(field, "the values before '...' must increase")
    if stop < start:
        raise SpecError(field, f"the range is empty: stop {stop:g} < start {start:g}")
    return int(math.floor((stop - start) / step * (1 + _SLACK))) + 1


def _check_count(field: str, count: float, limit: int) -> None:
    if count > limit:
        raise _too_many(field, count, limit)


def _convert(values, kind: type, field: str = "value") -> tuple:
    values = list(values)
    if kind is int:
        if any(abs(v) > 2**53 for v in values):   # the bound parse_number puts on one integer
            raise SpecError(field, "expected integers of at most 2^53 in size")
        return tuple(dict.fromkeys(int(round(v)) for v in values))
    return tuple(float(v) for v in values)


def _colon_range(field: str, text: str, kind: type, limit: int) -> tuple:
    parts = text.split(":")
    if len(parts) == 2 and kind is int:
        start, stop = (parse_number(field, p, int) for p in parts)
        if stop < start:
            raise SpecError(field, f"the range {text!r} is empty")
        _check_count(field, stop - start + 1, limit)
        return tuple(range(start, stop + 1))
    if len(parts) != 3:
        raise SpecError(field, f"expected start:stop:xFACTOR or start:stop:logCOUNT, got {text!r}")
    start, stop = (parse_number(field, p, float) for p in parts[:2])
    rule = parts[2].strip().lower()
    if rule.startswith("x"):
        factor = parse_number(field, rule[1:], float)
        count = _geometric_count(field, start, stop, factor)
        _check_count(field, count, limit)
        return _convert((start * factor**k for k in range(count)), kind, field)
    if rule.startswith("log"):
        count = parse_number(field, rule[3:], int)
        if not 1 <= count <= limit:
            raise SpecError(field, f"the log count must be in [1, {limit}], got {count}")
        if start <= 0 or stop < start:
            raise SpecError(field, f"a log range needs 0 < start <= stop, got {text!r}")
        if count == 1:
            return _convert([start], kind, field)
        ratio = (stop / start) ** (1 / (count - 1))
        return _convert((start * ratio**k for k in range(count)), kind, field)
    raise SpecError(field, f"unknown range rule {rule!r}; use xFACTOR or logCOUNT")


def _continued(field: str, text: str, kind: type, geometric: bool, limit: int) -> tuple:
    head, _, tail = text.partition("...")
    first = [parse_number(field, v, kind) for v in head.split(",") if v.strip()]
    if not first:
        raise SpecError(field, f"nothing before '...' in {text!r}")
    last = parse_number(field, tail.strip().strip(","), kind)
    if last < first[-1]:
        raise SpecError(field, f"the range {text!r} is empty: {last:g} < {first[-1]:g}")
    if len(first) == 1:
        step = 2 if geometric else 1
    else:
        step = first[-1] / first[-2] if geometric and first[-2] else first[-1] - first[-2]
    if geometric:
        count = _geometric_count(field, first[-1], max(last, first[-1]), step)
    else:
        count = _arithmetic_count(field, first[-1], max(last, first[-1]), step)
    _check_count(field, len(first) + count, limit)
    values = list(first)
    while True:
        following = values[-1] * step if geometric else values[-1] + step
        following = int(round(following)) if kind is int else following
        if following > last * (1 + _SLACK) if last > 0 else following > last:
            break
        values.append(following)
    if values[-1] != last and last > values[-1]:
        values.append(last)
    return _convert(values, kind, field)


def parse_list(field: str, text, kind: type = float, *, geometric: bool = False,
               limit: int = DEFAULT_LIMIT) -> tuple:
    """Every list form of the module docstring; raises :class:`SpecError` naming ``field``
    (with the limit) before building anything too large."""
    if isinstance(text, (list, tuple)):
        _check_count(field, len(text), limit)
        return tuple(parse_number(field, str(v), kind) for v in text)
    text = str(text)
    if len(text) > MAX_TEXT:
        raise SpecError(field, f"the text is too long ({len(text)} characters; at most {MAX_TEXT})")
    text = text.strip().replace(";", ",")
    if not text:
        raise SpecError(field, "needs at least one value")
    if "..." in text:
        return _continued(field, text, kind, geometric, limit)
    if ":" in text:
        return _colon_range(field, text, kind, limit)
    _check_count(field, text.count(",") + 1, limit)
    values = tuple(parse_number(field, part, kind) for part in text.split(",") if part.strip())
    if not values:
        raise SpecError(field, "needs at least one value")
    return values
