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
