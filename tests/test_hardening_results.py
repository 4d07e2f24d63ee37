"""Issue 20 §5: no silent wrong data and no small leaks. CSV labels are numbers when they
parse (one class for 1 and 1.0, −1/+1 kept), with the mapping stated in the result; a
solver that fails is a result and the rest of the page is shown; every refusal of a
visitor's path is one message without a server path."""
from __future__ import annotations

import os

import numpy as np
import pytest

from core.datasets import builtin as datasets
from core.report.site import ALIASES, PAGES
from core.api import run_spec
from core.datasets.builtin import parse_csv
from core.kernel.errors import SpecError
from core.kernel.spec import make_spec
from core.store.uploads import VISITOR_PATH_REFUSAL, restrict_paths_to_visitors, save_upload
from tests.app_helpers import charts, errors
from tests.browser_helpers import ROOT
from tests.extra_helpers import open_extra


# ---------------------------------------------------------------------- CSV labels
def labels_of(rows: list[str]) -> tuple[np.ndarray, list[str]]:
    content = ("x,label\n" + "\n".join(f"{i},{label}" for i, label in enumerate(rows))).encode()
    _, y, classes = parse_csv(content)
    return y, classes


def test_labels_equal_as_numbers_are_one_class():
    y, classes = labels_of(["1", "1.0", "0", "0.0", "1e0"])
    assert classes == ["0", "1"]
    assert y.tolist() == [1, 1, -1, -1, 1]


def test_plus_one_stays_plus_one():
    y, classes = labels_of(["+1", "-1", "-1", "+1"])
    assert classes == ["-1", "1"] and y.tolist() == [1, -1, -1, 1]
    # As text "+1" sorts before "-1", which made +1 the class −1: the negative control.
    assert sorted(["+1", "-1"], key=str)[0] == "+1"


def test_text_labels_are_sorted_text_and_mixed_labels_are_text():
    y, classes = labels_of(["cat", "dog", "cat"])
    assert classes == ["cat", "dog"] and y.tolist() == [-1, 1, -1]
    with pytest.raises(SpecError, match="3 classes"):
        labels_of(["1", "1.0", "one"])                    # not all numbers: three texts


def test_the_mapping_is_stated_in_the_result(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("x,y,label\n1,2,+1\n-1,-2,-1\n2,1,+1\n-2,-1,-1.0\n")
    result = run_spec(make_spec(dataset="csv", path=str(path), max_iters=20), use_cache=False).result
    assert result.meta["label_mapping"] == "labels: '-1' → −1, '1' → +1"
    assert "label_mapping" in result.to_json(False)


# ---------------------------------------------------------------------- one refusal for paths
def test_every_refusal_of_a_visitors_path_is_one_message_without_a_path(monkeypatch, tmp_path):
    monkeypatch.setenv("GDX_CACHE_DIR", str(tmp_path))
    restrict_paths_to_visitors(True)
    try:
        uploaded = save_upload(b"x,label\n1,1\n-1,0\n")
        folder = os.path.dirname(uploaded)
        missing = os.path.join(folder, "0" * 64 + ".csv")
        os.mkdir(os.path.join(folder, "a_folder.csv"))
        messages = []
        for path in (missing, "/etc/passwd", os.path.join(folder, "a_folder.csv"),
                     folder + "/../uploads/" + "1" * 64 + ".csv"):
            with pytest.raises(SpecError) as refused:
                datasets.load(make_spec(dataset="csv", path=path))
            messages.append(str(refused.value))
        assert set(messages) == {f"path: {VISITOR_PATH_REFUSAL}"}, messages
        assert not any(str(tmp_path) in m or "No such file" in m for m in messages)
        # Negative control: the upload itself loads.
        assert datasets.load(make_spec(dataset="csv", path=uploaded)).n == 2
    finally:
        restrict_paths_to_visitors(False)


# ---------------------------------------------------------------------- solver failure
def test_a_failing_flow_integrator_is_a_result():
    spec = make_spec(model="shallow_linear", algorithm="gradient_flow", phi=1e6, init="explicit",
                     a=(1e150,), b=(1e150,), step_sizes=(1e-12,), max_iters=10)
    run = run_spec(spec, use_cache=False).result.runs[0]
    assert "stopped at t = 0" in run.extras["integrator"]
    assert run.last_iteration == 0


def test_the_shallow_page_shows_gd_when_gradient_flow_fails():
    at = open_extra("shallow", {"view": "gd_gf", "phi": "1e6", "a": "1e150", "b": "1e150",
                                "step_size": "1e-12"})
    assert not at.exception
    notes = [w.value for w in at.warning]
    assert any("gradient flow stopped" in note for note in notes), notes
    assert not any("Something went wrong" in e for e in errors(at)), errors(at)
    assert charts(at)                                   # GD's charts are shown


def test_gradient_flow_over_the_budget_is_a_line_and_gd_is_shown(monkeypatch):
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    monkeypatch.setenv("GDX_MEMORY_FRACTION", f"{max(240 * 2**20 / ram, 0.001):.6f}")
    at = open_extra("shallow", {"view": "gd_gf", "init": "random", "d": "100000",
                                "step_size": "0.05", "max_iters": "200"})
    assert not at.exception
    notes = [w.value for w in at.warning]
    assert any("gradient flow stopped" in n and "d\\:" in n for n in notes), notes
    assert charts(at) and not errors(at)


# ---------------------------------------------------------------------- deep links

def test_every_page_url_has_a_file_streamlit_finds_before_navigation_starts():
    """The cause of the modal: before app.py's first st.navigation, Streamlit looks a URL up
    among the files in pages/. Every page's and alias's url_path needs one (the default page
    is app.py itself)."""
    for url_path in [entry.url_path for entry in PAGES if not entry.default] + list(ALIASES):
        file = ROOT / "pages" / f"{url_path}.py"
        assert file.exists(), f"/{url_path} has no pages/{url_path}.py"
        text = file.read_text()
        assert "require_app()" in text or "open_page(" in text, file
