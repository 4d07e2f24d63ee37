"""AppTest: the hypothesis lab page — the sweep from its URL, the chart, the fits and their
comparison, the table; bad input named; what it sends stays under the payload bound."""
import json

import numpy as np
import pandas as pd
import pytest

from core.analysis import lab
from core.report import lab_chart
from tests.app_helpers import assert_clean, charts, open_page, values

QUERY = {"base": "dataset=worst_case&n=40&max_iters=200", "step_rule": "fixed",
         "field1": "step_size", "values1": "0.1,1,10,100", "field2": "algorithm",
         "values2": "gd,normalized_gd", "field3": "", "values3": ""}
PAYLOAD_BOUND = 10 * 2**20


def test_the_lab_page_answers_from_its_url():
    at = open_page("lab", QUERY)
    assert_clean(at)
    [figure] = charts(at)
    assert "iterations to solve against step_size, by algorithm" in figure["layout"]["title"]["text"]
    assert figure["layout"]["xaxis"]["type"] == "log"          # a geometric field
    names = [trace.get("name", "") for trace in figure["data"]]
    assert "algorithm=gd" in names and "algorithm=normalized_gd" in names
    assert any(name.startswith("fit: slope") for name in names)
    # every run is a point whose customdata is its row: 4 step sizes x 2 algorithms
    rows = sorted(int(i) for t in figure["data"] if t.get("mode") == "markers"
                  for i in values(t, "customdata"))
    assert rows == list(range(8))
    assert any("the 95 % intervals" in s.value.replace("\\", "") for s in [*at.success, *at.info])
    assert len(at.dataframe) == 2
    data = at.dataframe[1].value                    # every run: numbers for people, "—" if missing
    cells = [str(v) for v in data.drop(columns="view").to_numpy().ravel()]
    assert "—" in cells and not {"None", "nan", "<NA>"} & set(cells)
    assert all(float(c) == float(f"{float(c):.4g}") for c in data["final_loss"])   # 4 digits
    for name, value in QUERY.items():
        assert at.query_params.get(name) == value, name
    assert at.query_params["color"] == "algorithm" and at.query_params["fit"] == "power"


def test_a_bad_value_is_named_and_the_page_carries_on():
    at = open_page("lab", {**QUERY, "values1": "0.1,-1"})
    assert not at.exception
    assert [e.value for e in at.error] and "step\\_size" in at.error[0].value
    at = open_page("lab", {**QUERY, "field1": "colour"})
    assert not at.exception and "field1" in at.error[0].value


@pytest.mark.slow
def test_the_chart_of_the_largest_sweep_stays_under_the_payload_bound():
    runs = lab.MAX_RUNS
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"d": np.repeat([16, 32, 64, 128, 256], runs // 5),
                          "model": np.tile(["linear", "two_layer_conv"], runs // 2),
                          "seed": np.arange(runs) % 1000, "max_iters": 20000,
                          "iterations_to_solve": pd.array(rng.integers(1, 20000, runs), dtype="Int64")})
    table.loc[::7, "iterations_to_solve"] = pd.NA
    table["view"] = "/perceptron_dynamics?" + "x" * 250
    table.attrs.update({"varied": ["d", "model", "seed"], "measures": ["iterations_to_solve"]})
    fits = lab.fit(table, x="d")
    figure = lab_chart.figure(table, "iterations_to_solve", "d", "model", None, fits)
    size = len(figure.to_json())
    assert size < PAYLOAD_BOUND / 2, size
    drawn = sum(len(t.customdata) for t in figure.data if t.customdata is not None)
    assert drawn <= lab_chart.MAX_POINTS
    assert "every 5-th of 100000 runs drawn" in figure.layout.title.text
    from pages.lab import MAX_TABLE_ROWS
    shown = table.head(MAX_TABLE_ROWS)
    assert len(shown.to_json(orient="split")) < PAYLOAD_BOUND / 2


ONE = {"step_rule": "fixed", "field2": "", "values2": "", "field3": "", "values3": ""}


def test_a_power_fit_against_a_field_that_takes_0_is_answered_not_a_traceback():
    """momentum = 0, 0.5, 0.9: the log–log fit used to reach log 0 (an 'unexpected error')."""
    from tests.app_helpers import shown_text

    at = open_page("lab", {**ONE, "field1": "momentum", "values1": "0,0.5,0.9",
                           "base": "dataset=worst_case&n=40&max_iters=500&algorithm=heavy_ball"
                                   "&history_points=16"})
    assert_clean(at)
    [figure] = charts(at)
    [line] = [t for t in figure["data"] if t.get("name", "").startswith("fit: slope")]
    assert list(values(line, "x")) == [0.5, 0.9]                 # drawn where it was fitted
    captions = [shown_text(c.value) for c in at.caption]
    assert any("1 x value left out of the power law" in c for c in captions), captions
    assert at.dataframe[0].value.to_dict("records")[0]["points (x values)"] == 2


def test_a_sweep_where_no_run_solves_still_answers_in_iterations_and_one_x_shows_no_nan():
    """Every run unsolved: iterations to solve used to vanish from the measures and the page
    showed the final loss instead, under the URL's measure; one x value: the fit table read
    NaN and [nan, nan]."""
    from tests.app_helpers import shown_text

    query = {**ONE, "base": "dataset=worst_case&max_iters=3&step_size=0.01&seed=0:3"
                            "&history_points=16", "field1": "n", "values1": "20,40,80",
             "measure": "iterations_to_solve"}
    at = open_page("lab", query)
    assert_clean(at)
    assert at.query_params["measure"] == "iterations_to_solve"
    [figure] = charts(at)
    assert "12 unsolved runs at their budget" in figure["layout"]["title"]["text"]
    captions = [shown_text(c.value) for c in at.caption]
    assert any("Every run of all runs is unsolved" in c for c in captions), captions
    # a measure no run has: named, not swapped in silence
    at = open_page("lab", {**query, "base": "dataset=worst_case&n=40&max_iters=200",
                           "measure": "sharpness"})
    assert_clean(at)
    assert any("No run of this sweep has a value of sharpness" in shown_text(i.value)
               and "sharpness_every" in shown_text(i.value) for i in at.info)
    # negative control: a measure the runs have is drawn without a note
    at = open_page("lab", {**query, "base": "dataset=worst_case&n=40&max_iters=200",
                           "measure": "final_loss"})
    assert_clean(at)
    assert not at.info, [i.value for i in at.info]
    assert at.query_params["measure"] == "final_loss"
    at = open_page("lab", {**ONE, "base": "dataset=worst_case&max_iters=300", "field1": "n",
                           "values1": "40", "field2": "algorithm", "values2": "gd,normalized_gd"})
    assert_clean(at)
    cells = [str(v) for v in at.dataframe[0].value.to_numpy().ravel()]
    assert not {"nan", "NaN", "None"} & set(cells) and not any("nan" in c for c in cells), cells
    sentences = [shown_text(s.value) for s in [*at.success, *at.info]]
    assert any(s.startswith("No slopes to compare") for s in sentences), sentences
