"""AppTest: the landing page's scenario gallery — each card a link into the right page with
its settings, and each link opening that page cleanly with those settings."""
from urllib.parse import parse_qsl

import pytest

from core.claims.scenarios import PAGE_FILES, SCENARIOS
from tests.app_helpers import ROOT, assert_clean, charts, open_page


def test_the_landing_page_links_every_scenario_with_its_settings():
    at = open_page("home")
    assert_clean(at)
    links = at.get("page_link")
    assert len(links) == len(SCENARIOS)
    titles = [m.value for m in at.markdown]
    assert all(f"**{s.title}**" in titles for s in SCENARIOS)
    for link, scenario in zip(links, SCENARIOS):
        assert link.proto.page == scenario.page
        assert dict(parse_qsl(link.proto.query_string)) == {**scenario.query, "scenario": scenario.key}
    captions = [c.value for c in at.caption]
    for scenario in SCENARIOS:
        assert any(scenario.look_for in text for text in captions), scenario.key


def test_every_scenario_page_is_registered_in_the_app():
    for scenario in SCENARIOS:
        assert scenario.page in PAGE_FILES and (ROOT / PAGE_FILES[scenario.page]).exists()


# (the lab's scenarios run sweeps: tests/test_lab_scenarios.py opens them, marked slow)
@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.page not in ("shallow", "lab")],
                         ids=lambda s: s.key)
def test_each_scenario_opens_its_page_with_its_settings(scenario):
    page = {"perceptron_dynamics": "dynamics"}.get(scenario.page, scenario.page)
    at = open_page(page, scenario.query)
    assert_clean(at)
    assert charts(at), scenario.key
    for name, value in scenario.query.items():
        assert at.query_params.get(name) == value, (scenario.key, name)
