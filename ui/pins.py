"""Pins: keep a view's runs beside the live one for comparison, in the URL.

A pin is text that names a computation — one or more run specs (compacted canonical
strings, ``|``-joined) or, where the page computes more than runs (the complexity page's
curves × dimensions), a small query string. The ``pins`` URL value holds at most
:data:`MAX_PINS` of them, ``;``-joined, counted and checked before anything is split or
loaded, so a copied link reproduces the comparison. Loading a pin goes through the same
compute guard and page-load budget as the live view (``ui/compute.py``): a pinned result
comes from the cache when it is there, else it is computed under the page's one slot and
one time budget.

Each page draws a pinned curve in the colour of its step size (or its curve) with the pin's
own dash; its label names what differs from the live view ("pin 1 (classes 1,7)").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import streamlit as st

from core.kernel.spec import RunSpec, SpecError

from .display import literal
from .state import UrlState, hidden

MAX_PINS = 4
PIN_SEPARATOR, SPEC_SEPARATOR = ";", "|"
MAX_DIFFERENCES = 3
MAX_VALUE_CHARS = 24
# Fields a pin's label never names: they are the colour (γ), or shown by the chart itself.
NOT_NAMED = ("step_size", "algorithm", "history_points")


@dataclass
class Pinned:
    """A loaded pin: its position (its dash), label and what the page computed for it."""

    index: int
    label: str
    value: Any


def pins_field(check: Callable[[str], None], max_pins: int = MAX_PINS):
    """The hidden ``pins`` URL value: at most ``max_pins`` pins, each checked by ``check``
    (which raises SpecError); the count is refused before the text is split."""

    def parse(text: str) -> list[str]:
        text = str(text)
        if text.count(PIN_SEPARATOR) >= max_pins:
            raise SpecError("pins", f"at most {max_pins} pins")
        pins = [pin.strip() for pin in text.split(PIN_SEPARATOR) if pin.strip()]
        for pin in pins:
            try:
                check(pin)
            except SpecError as error:
                raise SpecError("pins", str(error)) from None
        return pins

    return hidden("pins", [], parse, dump=lambda pins: PIN_SEPARATOR.join(pins))


def spec_pin_check(max_specs: int, model: str | None = None) -> Callable[[str], None]:
    """A check for pins of at most ``max_specs`` run specs (of ``model``, when given)."""

    def check(pin: str) -> None:
        if pin.count(SPEC_SEPARATOR) >= max_specs:
            raise SpecError("pins", f"a pin holds at most {max_specs} runs")
        for canonical in pin.split(SPEC_SEPARATOR):
            spec = RunSpec.from_query(canonical)          # raises SpecError naming the field
            if model is not None and spec.model != model:
                raise SpecError("pins", f"a pin here holds {model} runs")
    return check


def compact(spec: RunSpec) -> str:
    """The spec's canonical string without the fields at their defaults (a shorter URL;
    RunSpec.from_query fills them back in, so the spec is the same)."""
    defaults = RunSpec().to_query()
    pairs = [(k, v) for k, v in spec.to_query().items() if defaults.get(k) != v]
    compacted = "&".join(f"{k}={v}" for k, v in pairs)
    return compacted if RunSpec.from_query(compacted) == spec else spec.canonical()


def spec_pin(specs: Sequence[RunSpec]) -> str:
    return SPEC_SEPARATOR.join(compact(spec) for spec in specs)


def pin_specs(pin: str) -> list[RunSpec]:
    return [RunSpec.from_query(canonical) for canonical in pin.split(SPEC_SEPARATOR)]


def short(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS - 1] + "…"


def differences(pinned: dict[str, str], live: dict[str, str], skip: Sequence[str] = NOT_NAMED,
                names: dict[str, str] | None = None) -> list[str]:
    """'classes 1,7', 'n 200': the values of ``pinned`` that differ from ``live``."""
    names = names or {}
    return [f"{names.get(key, key.replace('_', ' '))} {short(value)}"
            for key, value in pinned.items()
            if key not in skip and live.get(key) != value]


def spec_difference(pinned: Sequence[RunSpec], live: Sequence[RunSpec],
                    skip: Sequence[str] = NOT_NAMED) -> str:
    """What a pin of run specs changes against the live view's, else its data and steps."""
    differs = differences(pinned[0].to_query(), live[0].to_query(), skip) if live else []
    algorithms = sorted({s.algorithm for s in pinned})
    if live and algorithms != sorted({s.algorithm for s in live}):
        differs.append("algorithms " + ",".join(algorithms))
    if differs:
        return ", ".join(differs[:MAX_DIFFERENCES])
    return "same settings"


def pin_buttons(state: UrlState, current: str, container=None, what: str = "view") -> None:
    """'Pin this view' (the current computation goes into the URL) and 'Clear pins'."""
    box = container or st
    pins = list(state.get("pins"))
    left, right = box.columns(2, vertical_alignment="center")
    left.button(f"Pin this {what}", icon=":material/push_pin:", key=f"{state.page}.pin",
                disabled=current in pins or len(pins) >= MAX_PINS,
                on_click=lambda: state.set("pins", list(state.get("pins")) + [current]),
                help=f"Keep these runs for comparison (at most {MAX_PINS} pins; they live "
                     "in the URL, so a copied link keeps them)")
    if pins:
        right.button("Clear pins", key=f"{state.page}.clear_pins",
                     on_click=lambda: state.set("pins", []))
        state.mark_shown("pins")


def load_pins(state: UrlState, load: Callable[[str], Any],
              describe: Callable[[str], str]) -> list[Pinned]:
    """Each pin's label and value; a pin that no longer loads is a note, not an error."""
    out = []
    for index, pin in enumerate(state.get("pins")):
        try:
            out.append(Pinned(index, f"pin {index + 1} ({describe(pin)})", load(pin)))
        except SpecError as error:
            st.warning(literal(f"Pin {index + 1} could not be loaded ({error}); clear the "
                               "pins to remove it."), icon=":material/push_pin:")
    return out
