"""Hostile URLs against every page (AppTest): no exception, no traceback, nothing about the
server, every echoed value shown as literal text, and one boundary for unexpected errors."""
from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from core.kernel.spec import QUERY_NAMES
from core.report.site import PAGES
from tests.app_helpers import PAGE_FILES, TIMEOUT, open_page, page_controls, shown_text

# Every URL name a page declares in its control table, and every spec field.
DECLARED = {f.name for page in PAGES for f in page_controls(page.file)}
FIELDS = sorted(set(QUERY_NAMES.values()) | DECLARED | {"pin"})
HOSTILE_VALUES = {
    "markdown": "[click me](https://evil.example/x) ![t](https://evil.example/t.png) <b>x</b> $x$",
    "ranges": "1:inf:x2",
    "digits": "１２",
    "huge": "-1e400",
    "zero": "0",
}


def visible_texts(at: AppTest) -> list[str]:
    texts = []
    for kind in ("error", "warning", "info", "success", "markdown", "caption", "exception"):
        texts += [str(getattr(element, "value", "")) for element in getattr(at, kind)]
    return texts


@pytest.mark.parametrize("page", sorted(PAGE_FILES))
@pytest.mark.parametrize("value_name", sorted(HOSTILE_VALUES))
def test_hostile_urls_are_refused_in_plain_text(page, value_name):
    value = HOSTILE_VALUES[value_name]
    at = open_page(page, {name: value for name in FIELDS})
    assert not at.exception, [e.value for e in at.exception]
    for text in visible_texts(at):
        assert "Traceback" not in text and 'File "/' not in text and "/work/" not in text
        assert not re.search(r"(?<!\\)\]\((?:https?:)?//", text), text   # no live link or image
        assert "<b>" not in text


def test_a_markdown_link_in_the_url_is_shown_as_text():
    at = open_page("dynamics", {"model": HOSTILE_VALUES["markdown"]})
    assert not at.exception
    bodies = [element.value for element in at.error]
    assert any("\\[click me\\]\\(https" in body for body in bodies), bodies
    assert any("[click me](https://evil.example/x)" in shown_text(body) for body in bodies)


@pytest.mark.parametrize("gamma", ["0", "-1", "nan", "1e400"])
def test_step_size_map_gamma_is_a_field_error(gamma):
    at = open_page("step_size_map", {"gamma": gamma})
    assert not at.exception
    assert any("gamma" in shown_text(e.value) for e in at.error)


def test_a_folder_outside_the_allow_list_is_refused_without_saying_if_it_exists():
    messages = []
    for path in ("/etc", "/no/such/folder"):
        at = open_page("images", {"dataset": "cifar10", "path": path})
        assert not at.exception
        messages.append([shown_text(e.value) for e in at.error])
    assert messages[0] == messages[1] and "not an allowed location" in messages[0][0]


def failing_page():
    from ui.boundary import guarded

    def page():
        import streamlit as st

        st.write("before")
        return 1 / 0
    guarded(page)


def failing_fragment_page():
    import streamlit as st

    from ui.boundary import fragment

    @fragment
    def part():
        raise RuntimeError("secret /srv/path detail")
    part()
    st.write("after the fragment")


@pytest.mark.parametrize("script", [failing_page, failing_fragment_page])
def test_unexpected_errors_show_a_reference_and_no_traceback(script, caplog):
    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    [message] = [e.value for e in at.error]
    reference = re.search(r"reference ([0-9a-f]{10})", message).group(1)
    assert "ZeroDivision" not in message and "secret" not in message and "/srv" not in message
    assert reference in caplog.text and ("ZeroDivisionError" in caplog.text
                                         or "secret /srv/path detail" in caplog.text)


@pytest.mark.parametrize("page, query, field", [
    ("complexity", {"curves": ",".join(["linear:gd"] * 5000)}, "curves"),
    ("complexity", {"dims": "16:1e15:x1.5"}, "dims"),
    ("shallow", {"view": "fig3", "eta_lambda_count": "1e9"}, "eta_lambda_count"),
    ("step_size_map", {"step_count": "99999999"}, "step_count"),
])
def test_counts_in_a_url_are_refused_before_anything_is_built(page, query, field):
    at = open_page(page, query)
    assert not at.exception
    assert any(field in message and ("at most" in message or "must be in" in message)
               for message in map(shown_text, (e.value for e in at.error))), \
        [shown_text(e.value) for e in at.error]


@pytest.mark.slow
def test_pins_in_a_url_are_bounded_and_computed_under_the_guard(monkeypatch):
    too_many = ";".join(["model=linear&dataset=two_point&step_size=1"] * 50)
    at = open_page("dynamics", {"pins": too_many})
    assert not at.exception
    assert any("pins" in shown_text(e.value) and "at most" in shown_text(e.value) for e in at.error)
    seen = []
    import ui.compute

    real_check = ui.compute.ComputeGuard.check
    monkeypatch.setattr(ui.compute.ComputeGuard, "check",
                        lambda self, fraction: seen.append(fraction) or real_check(self, fraction))
    view = {"max_iters": "5", "step_size": "1"}
    open_page("dynamics", view)                   # the view itself is cached now
    seen.clear()
    pin = "model=linear&dataset=two_point&step_size=3&max_iters=7&algorithm=gd"
    at = open_page("dynamics", dict(view, pins=pin))
    assert not at.exception and not at.error
    assert any(fraction < 1 for fraction in seen)  # only the pin computed, through the guard


@pytest.mark.parametrize("query, control", [
    ({"view": "figure3", "scales": "1e150,1"}, "scales"),
    ({"view": "catapult", "cat_a": "1e150", "cat_b": "1e-150", "cat_eta_lambda": "0.5"},
     "cat_eta_lambda"),
])
def test_a_shallow_view_names_its_own_control_not_the_spec_field(query, control):
    """The figure 3 and catapult views build their specs from their own controls: a refusal
    names the control the visitor set ('scales', not the spec's 'init_scale')."""
    at = open_page("shallow", query)
    assert not at.exception
    shown = [shown_text(e.value) for e in at.error]
    assert any(text.startswith(f"{control}:") for text in shown), shown
