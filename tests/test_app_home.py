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


def test_every_card_shows_a_preview_made_from_its_runs():
    from ui.previews import preview_path
    at = open_page("home")
    assert_clean(at)
    assert all(preview_path(s.key).exists() for s in SCENARIOS)
    assert len(at.get("image")) == len(SCENARIOS)
    # a few kilobytes each: the landing page computes nothing and sends little
    assert sum(preview_path(s.key).stat().st_size for s in SCENARIOS) < 120_000


def _numbers(svg: str) -> list[float]:
    import re
    return [float(v) for v in re.findall(r"-?\d+\.?\d*", svg)]


@pytest.mark.slow
def test_a_preview_regenerated_from_its_runs_matches_the_committed_one():
    from ui.previews import make_preview, preview_path
    scenario = next(s for s in SCENARIOS if s.key == "two_point")
    fresh, committed = make_preview(scenario), preview_path(scenario.key).read_text()
    assert "<polyline" in fresh
    assert fresh.count("<polyline") == committed.count("<polyline")
    a, b = _numbers(fresh), _numbers(committed)
    assert len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) <= 0.5


def test_a_preview_draws_the_chart_window_and_its_lines():
    from ui.previews import HEIGHT, PAD, sparkline_svg
    figure = {"data": [{"type": "scatter", "mode": "lines", "x": [1, 10, 100], "y": [1, 0.1, 0.01],
                        "line": {"color": "#123456"}}],
              "layout": {"xaxis": {"type": "log"}, "yaxis": {"type": "log", "range": [-2, 0]}}}
    svg = sparkline_svg(figure, "a <title>")
    assert 'stroke="#123456"' in svg and "a &lt;title&gt;" in svg
    points = [tuple(map(float, p.split(","))) for p in
              svg.split('points="')[1].split('"')[0].split()]
    # log–log: a straight line from the top left to the bottom right of the window
    assert points[0] == (PAD, PAD) and points[-1][1] == HEIGHT - PAD
    assert abs(points[1][1] - HEIGHT / 2) < 0.2


def test_a_preview_samples_a_group_of_dot_slices_as_one_trace():
    from ui.previews import MAX_POINTS, sparkline_svg
    slices = [{"type": "scattergl", "mode": "markers", "legendgroup": "dots", "marker": {"color": "#123"},
               "x": list(range(i * 100, (i + 1) * 100)), "y": [1.0] * 100} for i in range(16)]
    svg = sparkline_svg({"data": slices, "layout": {}})
    assert svg.count("<circle") == MAX_POINTS          # 1 600 dots in 16 slices: one sample
    # negative control: without a legend group each slice is sampled on its own
    apart = sparkline_svg({"data": [dict(t, legendgroup=None) for t in slices], "layout": {}})
    assert apart.count("<circle") == 16 * 100
