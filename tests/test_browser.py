"""Real browser: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Each page is opened, its plotly charts are awaited, a control is changed and the chart
must change; the changed view's URL, opened in a fresh tab, must show the same chart.
Screenshots go to artifacts/screenshots/ (git-ignored).
"""
import json
import math
import os

import pytest

from tests.browser_helpers import (CHROMIUM, ROOT, start_server, chart_data, set_input,
                                   wait_for_app, wait_for_change)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium; "
                                       "`playwright install` cannot download browsers here)")]

SHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1500, "height": 3400}  # tall: each screenshot shows a whole page
NAV_TITLES = ["Scenarios", "Perceptron dynamics", "Iteration complexity", "Step-size map"]


@pytest.fixture(scope="module")
def server(request):
    return start_server(request, SHOTS / "streamlit.log")


def nav_titles(page):
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid="stSidebarNav"] a')]
                                   .map(a => a.innerText.split('\\n').pop().trim())""")


def names_and_x(data):
    return [(name, x) for name, x, _ in json.loads(data)]


def reopen_matches(browser, url, charts, expected):
    """A copied URL reproduces the view: the same chart data in a fresh tab."""
    tab = browser.new_page(viewport=VIEWPORT)
    try:
        tab.goto(url)
        wait_for_app(tab, charts)
        assert chart_data(tab) == expected
    finally:
        tab.close()


def test_a_shared_link_opens_through_the_apps_navigation(server, page):
    # The first request to a fresh server is a page URL with its state (a shared link).
    page.goto(f"{server.url}/complexity?dims=16,32,64&seed=0:3")
    wait_for_app(page, 1)
    titles = nav_titles(page)
    assert titles[:4] == NAV_TITLES and "app" not in titles     # not the pages/ folder listing
    assert page.locator('section[data-testid="stSidebar"]').get_by_label(
        "Dimensions d", exact=True).input_value() == "16,32,64"
    medians = [x for name, x in names_and_x(chart_data(page)) if name.endswith("(median)")]
    assert medians and all(x == [16, 32, 64] for x in medians)
    assert page.get_by_text("Runs execute on").count() == 1      # app.py's shared sidebar
    page.screenshot(path=str(SHOTS / "complexity_shared_link.png"))


def test_dynamics_page(server, browser, page):
    page.goto(f"{server.url}/dynamics")
    wait_for_app(page, 1)
    page.screenshot(path=str(SHOTS / "dynamics.png"))
    before = chart_data(page)
    assert "GD γ=100" in before
    set_input(page, "Step sizes γ", "1, 1000")
    after = wait_for_change(page, before)
    names = [name for name, _ in names_and_x(after)]
    assert "GD γ=1000" in names and "GD γ=100" not in names
    page.screenshot(path=str(SHOTS / "dynamics_changed.png"))
    assert "step_size=1" in page.url
    reopen_matches(browser, page.url, 1, after)
    # A bad value: an error naming the field, no traceback; fixing it brings the charts back.
    set_input(page, "Seeds", "0, x")
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for(timeout=60_000)
    assert error.inner_text().splitlines()[-1].startswith("seed:"), error.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "dynamics_error.png"))
    set_input(page, "Seeds", "0")
    wait_for_app(page, 1)
    assert chart_data(page) == after


def test_complexity_page(server, page):
    page.goto(f"{server.url}/complexity")
    wait_for_app(page, 1)
    page.screenshot(path=str(SHOTS / "complexity.png"))
    before = chart_data(page)
    set_input(page, "Dimensions d", "16,32,64,128,256,512")
    after = wait_for_change(page, before)
    medians = [x for name, x in names_and_x(after) if name.endswith("(median)")]
    assert medians and all(x[-1] == 512 for x in medians)
    page.screenshot(path=str(SHOTS / "complexity_changed.png"))


def test_step_size_map_page(server, page):
    page.goto(f"{server.url}/step_size_map")
    wait_for_app(page, 2)
    page.screenshot(path=str(SHOTS / "step_size_map.png"))
    before = chart_data(page)
    set_input(page, "Largest γ", "100")
    after = wait_for_change(page, before)
    edges = json.loads(after)[0][1]                 # the orbit's dot raster: column edges
    middles = [math.sqrt(a * b) for a, b in zip(edges[:-1], edges[1:])]   # a log axis
    assert max(middles) == pytest.approx(100.0)
    page.screenshot(path=str(SHOTS / "step_size_map_changed.png"))
