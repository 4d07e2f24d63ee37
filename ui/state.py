"""Widget state <-> URL query string.

Every control of a page is a :class:`Field` with a query-string name (the spec's own
query names where the control is a spec field, so the URL reads like ``spec.canonical()``)
and a parser. On the first run of a page in a session, the fields are filled from
``st.query_params`` (bad values are reported naming the field, and the default is used);
after the page has drawn, :meth:`UrlState.publish` writes the values of the controls that
were shown back to the URL, sorted like a canonical spec string. Opening a copied URL
therefore reproduces the view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import streamlit as st

from core.lists import parse_number
from core.fields import FIELDS
from core.spec import MAX_BATCH, MAX_ITERS, STEP_SIZE_RANGE, SpecError, parse_field

PAGE_MARKER = "_gdx_page"


# ---------------------------------------------------------------------- value codecs
def dump_value(value: Any) -> str:
    """Widget value -> URL text (floats without a trailing .0, lists comma-joined)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(dump_value(v) for v in value)
    return str(value)


def spec_parser(name: str) -> Callable[[str], Any]:
    """Parser of a spec field's URL text (raises SpecError naming the field)."""
    return lambda text: check_range(name, parse_field(name, text))


def choice_parser(name: str, options: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise SpecError(name, f"{text!r} is not one of {', '.join(options)}")
        return text
    return parse


def multi_parser(name: str, options: Sequence[str] | None = None) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        if options is not None:
            for value in values:
                if value not in options:
                    raise SpecError(name, f"{value!r} is not one of {', '.join(options)}")
        return values
    return parse


# The allowed range of every numeric control (URL value or widget), declared once: spec
# fields take the core's limits, page-only fields (grids, views) theirs. Counts above all are
# bounded here, before any page builds a grid from them.
FIELD_RANGES: dict[str, tuple[float, float]] = {
    **{f.url_name: (f.low, f.high) for f in FIELDS if f.low is not None},
    "t": (0, MAX_ITERS), "c": (1e-9, 1e9),
    "step_min": STEP_SIZE_RANGE, "step_max": STEP_SIZE_RANGE, "gamma": STEP_SIZE_RANGE,
    "step_count": (1, MAX_BATCH),
    "eta_lambda_min": (1e-9, 1e3), "eta_lambda_max": (1e-9, 1e3), "eta_lambda_count": (1, MAX_BATCH),
    "fig3_iters": (1, MAX_ITERS), "fig3_tol": (0, 1e6),
    "orbit_min": (1e-9, 1e3), "orbit_max": (1e-9, 1e3), "orbit_count": (1, MAX_BATCH),
    "orbit_x0": (-1e6, 1e6), "orbit_iters": (1, MAX_ITERS), "orbit_tail": (0, 10_000),
    "cat_iters": (1, MAX_ITERS),
}
# Step sizes are typed as list text (core.lists bounds them), never as one number box.
FIELD_RANGES.pop("step_size", None)


def check_range(name: str, value: Any) -> Any:
    bounds = FIELD_RANGES.get(name)
    if bounds is not None and value is not None and not bounds[0] <= value <= bounds[1]:
        raise SpecError(name, f"must be in [{bounds[0]:g}, {bounds[1]:g}], got {value:g}")
    return value


def number_parser(name: str, kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        text = text.strip()
        if text in ("", "none", "None"):
            return None
        return check_range(name, parse_number(name, text, kind))
    return parse


def bool_parser(name: str) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SpecError(name, f"expected true/false, got {text!r}")
    return parse


def text_parser(text: str) -> str:
    return text


@dataclass(frozen=True)
class Field:
    name: str                                  # query-string name
    default: Any
    parse: Callable[[str], Any] = text_parser  # URL text -> widget value
    dump: Callable[[Any], str] = dump_value    # widget value -> URL text


@dataclass
class UrlState:
    """The controls of one page, bound to the URL."""

    page: str
    fields: dict[str, Field] = field(default_factory=dict)
    shown: list[str] = field(default_factory=list)
    errors: list[SpecError] = field(default_factory=list)

    @classmethod
    def create(cls, page: str, fields: Iterable[Field]) -> "UrlState":
        state = cls(page, {f.name: f for f in fields})
        state.restore()
        return state

    def key(self, name: str) -> str:
        return f"{self.page}.{name}"

    def restore(self) -> None:
        """On the first run of this page in the session, take values from the URL."""
        session = st.session_state
        if session.get(PAGE_MARKER) == self.page:
            return
        session[PAGE_MARKER] = self.page
        query = st.query_params.to_dict()
        for name, spec in self.fields.items():
            if name not in query:
                session[self.key(name)] = spec.default
                continue
            try:
                session[self.key(name)] = spec.parse(query[name])
            except SpecError as error:
                message = str(error).split(": ", 1)[-1]
                self.errors.append(SpecError(error.field, f"{message} (using the default "
                                             f"{dump_value(spec.default)!r})"))
                session[self.key(name)] = spec.default

    def get(self, name: str) -> Any:
        return st.session_state.get(self.key(name), self.fields[name].default)

    def set(self, name: str, value: Any) -> None:
        st.session_state[self.key(name)] = value

    def prepare(self, name: str) -> str:
        """The session key of a control about to be drawn (marks it as shown)."""
        key = self.key(name)
        if key not in st.session_state:
            st.session_state[key] = self.fields[name].default
        if name not in self.shown:
            self.shown.append(name)
        return key

    def mark_shown(self, name: str) -> None:
        if name not in self.shown:
            self.shown.append(name)

    # ------------------------------------------------------------------ widgets
    def selectbox(self, name: str, label: str, options: Sequence[Any], container=None,
                  format_func: Callable[[Any], str] = str, **kwargs) -> Any:
        key = self.prepare(name)
        if st.session_state[key] not in options:
            default = self.fields[name].default
            st.session_state[key] = default if default in options else options[0]
        return (container or st.sidebar).selectbox(label, options, key=key,
                                                   format_func=format_func, **kwargs)

    def multiselect(self, name: str, label: str, options: Sequence[str], container=None,
                    format_func: Callable[[Any], str] = str, **kwargs) -> list[str]:
        key = self.prepare(name)
        if not kwargs.get("accept_new_options"):
            st.session_state[key] = [v for v in st.session_state[key] if v in options]
        return (container or st.sidebar).multiselect(label, options, key=key,
                                                     format_func=format_func, **kwargs)

    def number(self, name: str, label: str, kind: type = float, container=None, **kwargs) -> Any:
        key = self.prepare(name)
        value = st.session_state[key]
        if value is not None:
            st.session_state[key] = kind(value)
        step = kwargs.pop("step", 1 if kind is int else None)
        fmt = kwargs.pop("format", None if kind is int else "%g")
        bounds = FIELD_RANGES.get(name)
        if bounds is not None:
            kwargs.setdefault("min_value", kind(bounds[0]))
            kwargs.setdefault("max_value", kind(bounds[1]))
            if value is not None and not bounds[0] <= value <= bounds[1]:
                st.session_state[key] = self.fields[name].default
        return (container or st.sidebar).number_input(label, key=key, step=step, format=fmt,
                                                      **kwargs)

    def text(self, name: str, label: str, container=None, **kwargs) -> str:
        key = self.prepare(name)
        return (container or st.sidebar).text_input(label, key=key, **kwargs)

    def checkbox(self, name: str, label: str, container=None, **kwargs) -> bool:
        key = self.prepare(name)
        return (container or st.sidebar).checkbox(label, key=key, **kwargs)

    def select_slider(self, name: str, label: str, options: Sequence[Any], container=None,
                      default: Any = None, **kwargs) -> Any:
        key = self.prepare(name)
        if st.session_state[key] not in options:
            st.session_state[key] = default if default in options else options[-1]
        return (container or st.sidebar).select_slider(label, options, key=key, **kwargs)

    # ------------------------------------------------------------------ URL
    def query(self) -> dict[str, str]:
        """The URL of the current view: the shown controls, sorted by name."""
        out = {}
        for name in sorted(self.shown):
            out[name] = self.fields[name].dump(self.get(name))
        return out

    def publish(self) -> None:
        query = self.query()
        if st.query_params.to_dict() != query:
            st.query_params.from_dict(query)

    def show_errors(self) -> None:
        from .display import literal

        for error in self.errors:
            st.error(literal(f"URL parameter {error}"), icon=":material/link_off:")
