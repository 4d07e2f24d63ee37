"""Hypothesis fuzzing of page URLs (issue 20): every page's count controls at their upper
limits (and just past them), with the page's views, hostile text in other fields and pins.
The page must show its result, or refuse in one line naming a field, within the server's
time budget (kept short here so that the fuzz stays cheap): never an exception or a
traceback."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.report.site import PAGES
from tests.app_helpers import open_page, page_controls, shown_text

PAGE_KEYS = {"pages/dynamics.py": "dynamics"}     # open_page's name where it differs


def counts_of(file: str) -> list[tuple[str, int, int]]:
    """(URL name, low, high) of every integer control with a declared range."""
    return [(f.name, int(f.bounds[0]), int(f.bounds[1])) for f in page_controls(file)
            if f.kind is int and f.bounds is not None]


def views_of(file: str) -> list[str]:
    return [str(option) for f in page_controls(file) if f.widget == "view" for option in f.options]


FUZZED = [(PAGE_KEYS.get(entry.file, entry.url_path), counts_of(entry.file), views_of(entry.file))
          for entry in PAGES]
FUZZED = [entry for entry in FUZZED if entry[1]]


@st.composite
def page_urls(draw):
    page, counts, views = draw(st.sampled_from(FUZZED))
    chosen = draw(st.lists(st.sampled_from(counts), min_size=1, max_size=4, unique=True))
    query = {}
    for name, low, high in chosen:
        query[name] = str(draw(st.sampled_from([high, high, high + 1, low, 10 * high])))
    if views:
        query["view"] = draw(st.sampled_from(views))
    if draw(st.booleans()):
        query["step_size"] = draw(st.sampled_from(["1e-3:1e3:log4096", "1,2", "1:1e300:x1.0001"]))
    return page, query


def test_every_page_with_counts_is_fuzzed():
    assert {page for page, _, _ in FUZZED} >= {"dynamics", "complexity", "step_size_map",
                                               "shallow", "images"}


@pytest.mark.slow
@settings(max_examples=14, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(url=page_urls())
def test_count_controls_at_their_limits_show_a_result_or_one_line(url, monkeypatch):
    monkeypatch.setenv("GDX_SESSION_SECONDS", "4")
    page, query = url
    at = open_page(page, query)
    assert not at.exception, (page, query, [e.value for e in at.exception])
    for element in list(at.error) + list(at.warning):
        text = shown_text(element.value)
        assert "Traceback" not in text and "/work/" not in text, (page, query, text)
        assert len(text.splitlines()) == 1, (page, query, text)
        assert "Something went wrong" not in text, (page, query, text)
