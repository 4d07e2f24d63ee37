"""Each page declares its controls once, in a table (ui.state declarations): the URL name,
default, widget, label, help and range live there, and the page body only says where a
control is drawn (``state.draw(name)``)."""
from __future__ import annotations

import ast

import pytest

from core.kernel.fields import BY_QUERY
from core.report.site import PAGES
from tests.app_helpers import ROOT, page_controls
from ui.state import FIELD_RANGES, Field

# UrlState's own widget methods and Streamlit's input widgets, whoever the receiver is
# (st, st.sidebar, a column): a control drawn any of these ways bypasses its declaration.
WIDGET_METHODS = {"number", "text", "checkbox", "selectbox", "multiselect", "select_slider",
                  "number_input", "text_input", "text_area", "radio", "slider", "toggle",
                  "date_input", "color_picker", "pills", "segmented_control"}


def direct_widget_calls(path) -> list[str]:
    """Calls like ``state.number(...)`` or ``st.sidebar.text_input(...)`` in a file."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in WIDGET_METHODS):
            calls.append(f"line {node.lineno}: {node.func.attr}")
    return sorted(calls, key=lambda call: int(call.split()[1][:-1]))
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


@pytest.mark.parametrize("file", [page.file for page in PAGES] + ["ui/controls.py"])
def test_controls_are_drawn_only_from_their_declarations(file):
    assert direct_widget_calls(ROOT / file) == []


def test_the_widget_check_sees_a_direct_call(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("def controls(state):\n    return state.number('n', 'n', int)\n"
                    "st.sidebar.text_input('x')\n")
    assert direct_widget_calls(page) == ["line 2: number", "line 3: text_input"]


def test_spec_fields_take_their_range_and_choices_from_the_field_table():
    for page in WITH_CONTROLS:
        for declared in page_controls(page.file):
            spec = BY_QUERY.get(declared.name)
            if spec is None or spec.is_list:
                continue
            where = (page.file, declared.name)
            if declared.widget == "number":
                assert declared.bounds == (spec.low, spec.high), where
                assert FIELD_RANGES[declared.name] == declared.bounds
            elif declared.widget == "select" and declared.options:
                if spec.choices:                      # a page may offer a subset
                    assert set(declared.options) <= set(spec.choices), where
                elif spec.low is not None:            # numbers offered as choices
                    assert all(spec.low <= o <= spec.high for o in declared.options), where
                    assert len(declared.options) == spec.high - spec.low + 1, where


def test_a_declared_range_is_checked_in_the_url_and_named():
    from core.kernel.spec import SpecError
    from ui.state import number

    declared = number("grid", 10, "Grid points", int, bounds=(5, 20))
    assert declared.parse("7") == 7
    with pytest.raises(SpecError, match=r"grid: must be in \[5, 20\], got 40"):
        declared.parse("40")
