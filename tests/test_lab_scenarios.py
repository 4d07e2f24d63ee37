"""The lab's scenarios in the gallery: each opens the lab page with its question, and the
answer its card and the page state is what the sweep measures (the slopes, in the order of
the page's fit table, to the two decimals stated)."""
import re

import pytest

from core.analysis import lab
from core.claims.scenarios import SCENARIOS
from tests.app_helpers import assert_clean, charts, open_page

LAB_SCENARIOS = [s for s in SCENARIOS if s.page == "lab"]


def test_there_are_at_least_four_lab_scenarios():
    assert len(LAB_SCENARIOS) >= 4
    for scenario in LAB_SCENARIOS:
        assert scenario.query["scenario"] == scenario.key
        assert re.search(r"slope -?\d", scenario.look_for), scenario.key


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("scenario", LAB_SCENARIOS, ids=lambda s: s.key)
def test_each_lab_scenario_states_what_its_sweep_measures(scenario):
    query = scenario.query
    vary = {query[f"field{i}"]: query[f"values{i}"] for i in (1, 2, 3) if query.get(f"field{i}")}
    table = lab.sweep(query["base"], vary, step_rule=query.get("step_rule", "fixed"),
                      time_budget=None)
    fits = lab.fit(table, x=query["x"], measure=query["measure"], kind=query["fit"])
    stated = [float(v) for v in re.findall(r"slope (-?\d+\.\d+)", scenario.look_for)]
    measured = [round(float(s), 2) for s in fits.slope]
    assert stated == pytest.approx(measured, abs=0.0051), (scenario.key, fits)
    # the page opens with the question, states it and draws the sweep
    at = open_page("lab", query)
    assert_clean(at)
    assert charts(at)
    assert any(scenario.title == title.value for title in at.title)       # the scenario header
    assert any("What to look for" in info.value for info in at.info)
    for name, value in query.items():
        assert at.query_params.get(name) == value, (scenario.key, name)
