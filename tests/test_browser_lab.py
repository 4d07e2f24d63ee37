"""Real browser, the hypothesis lab: choose a field to vary and a measure, see the chart, the
fit and the table, then click a point and land on that run's own view. Screenshots go to
artifacts/screenshots/ (git-ignored)."""
import os
from urllib.parse import parse_qsl, urlparse

import pytest

from core.kernel.spec import RunSpec
from tests.browser_helpers import CHROMIUM, ROOT, set_input, start_server, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium; "
                                       "`playwright install` cannot download browsers here)")]

SHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1400, "height": 1000}
BASE = "dataset=worst_case&n=60&max_iters=400"
NAMES = ("JSON.stringify([...document.querySelectorAll('.js-plotly-plot')]"
         ".map(g => (g.data || []).map(t => t.name)))")


@pytest.fixture(scope="module")
def server(request):
    return start_server(request, SHOTS / "streamlit_lab.log", os.environ.get("GDX_CACHE_DIR"))


def choose(page, label: str, option: str) -> None:
    """Pick an option of a sidebar select box by typing it (the list may be virtualised)."""
    box = page.locator('section[data-testid="stSidebar"]').get_by_label(label, exact=True).first
    box.scroll_into_view_if_needed()
    box.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).first.click()


def test_the_lab_from_fields_to_a_run(server, page):
    page.goto(f"{server.url}/lab?base={BASE.replace('&', '%26').replace('=', '%3D')}"
              "&step_rule=fixed&field1=step_size&values1=0.1,1,10,100&field2=&values2=")
    wait_for_app(page, 1, timeout_ms=180_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    # Vary a second field: the chart gets a colour per algorithm, the fit a row per group.
    set_input(page, "Values (2)", "gd,normalized_gd")
    wait_for_app(page, 1)
    choose(page, "Vary (2)", "algorithm")
    page.wait_for_function("() => " + NAMES + ".includes('algorithm=normalized_gd')", timeout=180_000)
    wait_for_app(page, 1)
    assert "field2=algorithm" in page.url
    page.get_by_text("the 95 % intervals", exact=False).first.wait_for(timeout=60_000)
    # Another measure redraws the chart from the same runs.
    choose(page, "Measure", "final loss")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot .gtitle')"
                           ".textContent.startsWith('final loss')", timeout=120_000)
    wait_for_app(page, 1)
    assert "measure=final_loss" in page.url
    choose(page, "Measure", "iterations to solve")
    wait_for_app(page, 1)
    page.get_by_text("Fitted log–log slope", exact=False).first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2      # fits and runs
    page.screenshot(path=str(SHOTS / "lab.png"), full_page=True)
    # Click a point: that run's own page opens with its spec.
    point = page.locator(".js-plotly-plot .scatterlayer .trace .points path").first
    point.wait_for(timeout=30_000)
    point.scroll_into_view_if_needed()
    point.click(force=True)
    page.wait_for_url("**/perceptron_dynamics?**", timeout=120_000)
    wait_for_app(page, 1, timeout_ms=180_000)
    query = dict(parse_qsl(urlparse(page.url).query))
    assert query["dataset"] == "worst_case" and query["n"] == "60"
    assert query["algorithm"] in ("gd", "normalized_gd")
    assert float(query["step_size"]) in (0.1, 1.0, 10.0, 100.0)
    RunSpec.from_query({k: v for k, v in query.items() if k in ("dataset", "n", "step_size")})
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "lab_clicked_run.png"))
