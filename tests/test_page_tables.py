"""Each page declares its controls once, in a table (ui.state declarations): the URL name,
default, widget, label, help and range live there, and the page body only says where a
control is drawn (``state.draw(name)``)."""
from __future__ import annotations

import re

import pytest

from core.fields import BY_QUERY
from core.site import PAGES
from tests.app_helpers import ROOT, page_controls
from ui.state import FIELD_RANGES, Field

DIRECT_WIDGET = re.compile(r"state\.(number|text|checkbox|selectbox|multiselect|select_slider)\(")
WITH_CONTROLS = [page for page in PAGES if page.url_path not in ("home",)]


@pytest.mark.parametrize("page", WITH_CONTROLS, ids=lambda p: p.url_path)
def test_every_control_is_declared_once_with_a_label(page):
    controls = page_controls(page.file)
    assert controls and all(isinstance(f, Field) for f in controls)
    names = [f.name for f in controls]
    assert len(names) == len(set(names)), "a control declared twice"
    for declared in controls:
        if declared.widget not in ("hidden", "view"):
            assert declared.label, f"{declared.name} has no label"
        if declared.widget == "number":
            assert declared.bounds is not None, f"{declared.name} has no range"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.url_path)
def test_pages_draw_controls_only_from_their_table(page):
    source = (ROOT / page.file).read_text()
    assert not DIRECT_WIDGET.search(source), "a widget drawn outside the page's table"
    assert "def fields(" not in source


def test_spec_fields_take_their_range_from_the_field_table():
    for page in WITH_CONTROLS:
        for declared in page_controls(page.file):
            spec = BY_QUERY.get(declared.name)
            if declared.widget == "number" and spec is not None and not spec.is_list:
                assert declared.bounds == (spec.low, spec.high), (page.file, declared.name)
                assert FIELD_RANGES[declared.name] == declared.bounds


def test_a_declared_range_is_checked_in_the_url_and_named():
    from core.spec import SpecError
    from ui.state import number

    declared = number("grid", 10, "Grid points", int, bounds=(5, 20))
    assert declared.parse("7") == 7
    with pytest.raises(SpecError, match=r"grid: must be in \[5, 20\], got 40"):
        declared.parse("40")
