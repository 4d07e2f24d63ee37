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
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import streamlit as st

from core.kernel.lists import parse_number
from core.kernel.fields import BY_NAME, BY_QUERY, FIELDS
from core.kernel.spec import SpecError, parse_field

PAGE_MARKER = "_gdx_page"
PRESENT_KEY = "gdx_present"            # presentation mode (URL flag present=1), per session
SCENARIO_KEY = "gdx_scenario"          # (page, scenario key) the page was opened for


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
    """Parser of a spec field's URL text (raises SpecError naming the field); ``name`` is its
    URL name."""
    field = BY_QUERY[name].name if name in BY_QUERY else name
    return lambda text: check_range(name, parse_field(field, text))


def choice_parser(name: str, options: Sequence[Any]) -> Callable[[str], Any]:
    """URL text -> the option it names (options may be numbers: "2" names 2)."""
    by_text = {str(option): option for option in options}

    def parse(text: str) -> Any:
        if text not in by_text:
            raise SpecError(name, f"{text!r} is not one of {', '.join(by_text)}")
        return by_text[text]
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


# The allowed range of each spec field's control comes from the field table; a page-only
# numeric control declares its own range in its page's table (``number(..., bounds=...)``).
FIELD_RANGES: dict[str, tuple[float, float]] = {
    f.url_name: (f.low, f.high) for f in FIELDS if f.low is not None and not f.is_list}


def check_range(name: str, value: Any, bounds: tuple[float, float] | None = None) -> Any:
    bounds = bounds if bounds is not None else FIELD_RANGES.get(name)
    if bounds is not None and value is not None and not bounds[0] <= value <= bounds[1]:
        raise SpecError(name, f"must be in [{bounds[0]:g}, {bounds[1]:g}], got {value:g}")
    return value


def number_parser(name: str, kind: type,
                  bounds: tuple[float, float] | None = None) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        text = text.strip()
        if text in ("", "none", "None"):
            return None
        return check_range(name, parse_number(name, text, kind), bounds)
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
    """One control of a page, declared once: its URL name, default, parser and how
    :meth:`UrlState.draw` shows it (widget, label, help, options, range). Build these with
    the declaration helpers below rather than by hand."""

    name: str                                  # query-string name
    default: Any
    parse: Callable[[str], Any] = text_parser  # URL text -> widget value
    dump: Callable[[Any], str] = dump_value    # widget value -> URL text
    widget: str = "hidden"                     # select, multi, number, text, check, slider, view
    label: str = ""
    help: str | None = None
    options: tuple = ()
    labels: Mapping[Any, str] | None = None    # option -> what the user reads
    kind: type = str
    bounds: tuple[float, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)   # other widget keywords

    def with_default(self, default: Any) -> "Field":
        return replace(self, default=default)


# ---------------------------------------------------------------------- declarations
def choice(name: str, default: Any, options: Sequence[Any] | None, label: str, *,
           labels: Mapping[Any, str] | None = None, help: str | None = None, **extra) -> Field:
    """One of ``options`` (a select box). ``options=None``: they are known only when the page
    draws it (passed to draw), which then replaces a URL value that is not among them."""
    if options is None:
        return Field(name, default, widget="select", label=label, help=help, labels=labels,
                     extra=extra)
    options = tuple(options)
    return Field(name, default, choice_parser(name, options), widget="select", label=label,
                 help=help, options=options, labels=labels, extra=extra)


def many(name: str, default: Sequence[str], options: Sequence[str], label: str, *,
         labels: Mapping[Any, str] | None = None, help: str | None = None,
         parse: Callable[[str], list] | None = None, **extra) -> Field:
    """Several of ``options`` (a multiselect); ``parse``: a page's own check of URL text."""
    options = tuple(options)
    return Field(name, list(default), parse or multi_parser(name, options), widget="multi",
                 label=label, help=help, options=options, labels=labels, extra=extra)


def view(name: str, default: str, labels: Mapping[str, str]) -> Field:
    """Which view of a page is shown (a horizontal radio)."""
    return Field(name, default, choice_parser(name, tuple(labels)), widget="view",
                 options=tuple(labels), labels=labels)


def number(name: str, default: Any, label: str, kind: type = float, *,
           bounds: tuple[float, float] | None = None, help: str | None = None,
           **extra) -> Field:
    """A page-only number in ``bounds`` (inclusive), checked in the URL and in the widget."""
    return Field(name, default, number_parser(name, kind, bounds), widget="number", label=label,
                 help=help, kind=kind, bounds=bounds, extra=extra)


def spec_number(name: str, label: str, default: Any = None, *, help: str | None = None,
                **extra) -> Field:
    """A number that is a run-spec field: type, range, help and (unless the page sets its
    own) default come from the field table."""
    spec = BY_NAME[name]
    return Field(spec.url_name, spec.default if default is None else default,
                 spec_parser(spec.url_name), widget="number", label=label,
                 help=help if help is not None else spec.help, kind=spec.kind,
                 bounds=(spec.low, spec.high), extra=extra)


def flag(name: str, default: bool, label: str, *, help: str | None = None) -> Field:
    """A checkbox."""
    return Field(name, default, bool_parser(name), widget="check", label=label, help=help,
                 kind=bool)


def text(name: str, default: str, label: str, *, help: str | None = None, **extra) -> Field:
    """Free text (lists such as step sizes are parsed, bounded, when the page builds its specs)."""
    return Field(name, default, widget="text", label=label, help=help, extra=extra)


def slider(name: str, default: Any, label: str, kind: type = float, *,
           bounds: tuple[float, float] | None = None, **extra) -> Field:
    """A select slider over options known only when the page runs (passed to draw)."""
    return Field(name, default, number_parser(name, kind, bounds), widget="slider", label=label,
                 kind=kind, bounds=bounds, extra=extra)


def hidden(name: str, default: Any, parse: Callable[[str], Any] = text_parser,
           dump: Callable[[Any], str] = dump_value) -> Field:
    """A URL value with no widget of its own (pins, an upload's path, ...)."""
    return Field(name, default, parse, dump)


def with_defaults(fields: Iterable[Field], **defaults: Any) -> list[Field]:
    """A shared group of declarations with a page's own defaults for some of them."""
    return [f.with_default(defaults[f.name]) if f.name in defaults else f for f in fields]


@dataclass
class UrlState:
    """The controls of one page, bound to the URL."""

    page: str
    fields: dict[str, Field] = field(default_factory=dict)
    shown: list[str] = field(default_factory=list)
    errors: list[SpecError] = field(default_factory=list)
    from_url: set[str] = field(default_factory=set)      # controls given in the URL (first run)

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
            self.from_url.add(name)
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
    def draw(self, name: str, container=None, **overrides) -> Any:
        """The control ``name`` as its declaration says (label, help, options, range);
        ``overrides`` replace any of them for this run (e.g. options known only now)."""
        declared = self.fields[name]
        options = overrides.pop("options", declared.options)
        label = overrides.pop("label", declared.label)
        kwargs = {**declared.extra, **overrides}
        if declared.help and "help" not in kwargs:
            kwargs["help"] = declared.help
        if declared.labels is not None and "format_func" not in kwargs:
            kwargs["format_func"] = lambda value, labels=declared.labels: labels.get(value, str(value))
        widget = declared.widget
        if widget == "select":
            return self.selectbox(name, label, list(options), container, **kwargs)
        if widget == "multi":
            return self.multiselect(name, label, list(options), container, **kwargs)
        if widget == "number":
            return self.number(name, label, declared.kind, container, **kwargs)
        if widget == "check":
            return self.checkbox(name, label, container, **kwargs)
        if widget == "text":
            return self.text(name, label, container, **kwargs)
        if widget == "slider":
            return self.select_slider(name, label, list(options), container, **kwargs)
        if widget == "view":
            return self.radio_view(name, container)
        raise ValueError(f"{name} has no widget to draw")

    def radio_view(self, name: str, container=None) -> str:
        """A horizontal radio choosing one view of a page."""
        key = self.prepare(name)
        declared = self.fields[name]
        if st.session_state[key] not in declared.options:
            st.session_state[key] = declared.default
        return (container or st).radio("View", list(declared.options), key=key, horizontal=True,
                                       format_func=lambda value: declared.labels[value],
                                       label_visibility="collapsed")

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
        bounds = self.fields[name].bounds or FIELD_RANGES.get(name)
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

    def flags(self) -> dict[str, str]:
        """Page-independent URL flags kept in the URL: presentation mode, the scenario."""
        out = {}
        if st.session_state.get(PRESENT_KEY):
            out["present"] = "1"
        scenario = st.session_state.get(SCENARIO_KEY)
        if scenario and scenario[0] == self.page:
            out["scenario"] = scenario[1]
        return out

    def publish(self) -> None:
        query = {**self.query(), **self.flags()}
        if st.query_params.to_dict() != query:
            st.query_params.from_dict(query)

    def show_errors(self) -> None:
        for error in self.errors:
            self.report(error)

    def report(self, error: SpecError) -> None:
        """One error about a URL parameter, shown where the page is drawing."""
        from .display import literal

        st.error(literal(f"URL parameter {error}"), icon=":material/link_off:")

    def refuse_unread(self, names: Iterable[str], owner: str) -> None:
        """URL parameters among ``names`` that the chosen model or data set (``owner``) does not
        read: each is an error naming it and the owner (as the CLI's), not a silent no-op."""
        for name in names:
            if name in self.from_url:
                self.from_url.discard(name)            # said once, on the run that read the URL
                readers = BY_NAME[name].applies_to if name in BY_NAME else ""
                self.report(SpecError(name, f"not read by {owner}" + (
                    f" (used by {readers})" if readers and readers != "all" else "")))
