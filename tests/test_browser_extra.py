"""Real browser for the shallow-network, image-classifier and paper-check pages:
`streamlit run app.py` driven by Debian's Chromium through Playwright. Each page is opened,
its plotly charts are awaited, a control is changed and the chart must change.
Screenshots go to artifacts/screenshots/ (git-ignored)."""
import json
import os
import re
import tempfile

import pytest

from tests.browser_helpers import (CHROMIUM, ROOT, Server, chart_data, launch_browser, set_input,
                                   wait_for_app, wait_for_change)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium; "
                                       "`playwright install` cannot download browsers here)")

SHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1500, "height": 2600}


@pytest.fixture(scope="module")
def server(request):
    SHOTS.mkdir(parents=True, exist_ok=True)
    app = Server(tempfile.mkdtemp(prefix="gdx-browser-extra-cache-"), SHOTS / "streamlit_extra.log")
    request.addfinalizer(app.stop)
    app.wait_ready()
    return app


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    tab = browser.new_page(viewport=VIEWPORT)
    problems = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    yield tab
    tab.close()
    assert not problems, problems


def names(data):
    return [name for name, _, _ in json.loads(data)]


def no_exception(page):
    assert page.locator('[data-testid="stException"]').count() == 0


def choose_view(page, label):
    page.locator('[data-testid="stRadio"]').get_by_text(label, exact=True).click()


def test_shallow_page(server, page):
    page.goto(f"{server.url}/shallow")
    wait_for_app(page, 6)
    no_exception(page)
    page.screenshot(path=str(SHOTS / "shallow.png"), full_page=True)
    before = chart_data(page)
    assert "GD η=0.45" in names(before) and "GF η=0.45" in names(before)
    set_input(page, "Step sizes η", "0.1, 0.6")
    after = wait_for_change(page, before)
    assert names(after) == ["GD η=0.1", "GF η=0.1", "GD η=0.6", "GF η=0.6"]
    assert "step_size=0.1" in page.url
    page.screenshot(path=str(SHOTS / "shallow_changed.png"), full_page=True)

    choose_view(page, "Figure 3: regularization vs speed")
    page.wait_for_function("() => location.search.includes('view=figure3')", timeout=60_000)
    wait_for_app(page, 2)
    no_exception(page)
    figure3 = chart_data(page)
    assert [n for n in names(figure3) if n.startswith("s = ")][:1] == ["s = 1 (λ(0) = 1.25)"]
    page.screenshot(path=str(SHOTS / "shallow_figure3.png"), full_page=True)

    choose_view(page, "Orbit diagram (period doubling, chaos)")
    page.wait_for_function("() => location.search.includes('view=orbit')", timeout=60_000)
    wait_for_app(page, 1)
    orbit = chart_data(page)
    xs = json.loads(orbit)[0][1]
    assert len(set(round(x, 9) for x in xs)) == 300           # 300 values of η|Φ|, one sweep
    set_input(page, "Largest η|Φ|", "1.3")
    narrower = wait_for_change(page, orbit)
    assert max(json.loads(narrower)[0][1]) == pytest.approx(1.3)
    page.screenshot(path=str(SHOTS / "shallow_orbit.png"), full_page=True)

    choose_view(page, "Catapult (Φ = 0)")
    page.wait_for_function("() => location.search.includes('view=catapult')", timeout=60_000)
    wait_for_app(page, 2)
    no_exception(page)
    page.screenshot(path=str(SHOTS / "shallow_catapult.png"), full_page=True)
    # Going back to the first view keeps the step sizes typed before.
    choose_view(page, "GD against gradient flow")
    wait_for_app(page, 6)
    assert names(chart_data(page)) == names(after)


def test_images_page(server, page):
    page.goto(f"{server.url}/images")
    wait_for_app(page, 5, timeout_ms=180_000)
    no_exception(page)
    page.screenshot(path=str(SHOTS / "images.png"), full_page=True)
    before = chart_data(page)
    assert "CNN k=5 η=4" in names(before) and "linear η=1" in names(before)
    set_input(page, "Kernel sizes k", "5")
    after = wait_for_change(page, before, timeout_ms=180_000)
    assert names(after) == ["CNN k=5 η=1", "CNN k=5 η=4", "linear η=1", "linear η=4"]
    assert "kernel_size=5" in page.url
    page.screenshot(path=str(SHOTS / "images_changed.png"), full_page=True)
    # A bad path for CIFAR-10: an error naming the field, no traceback.
    page.locator('section[data-testid="stSidebar"]').get_by_label("Dataset").click()
    page.get_by_role("option", name="CIFAR-10, two classes (local folder)").click()
    error = page.locator('[data-testid="stAlertContentError"]').first
    error.wait_for(timeout=60_000)
    assert error.inner_text().splitlines()[-1].startswith("path:"), error.inner_text()
    no_exception(page)
    page.screenshot(path=str(SHOTS / "images_error.png"))


def test_checks_page_and_a_claim_link(server, page):
    page.goto(f"{server.url}/checks")
    page.get_by_text("passed,", exact=False).first.wait_for(timeout=180_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    no_exception(page)
    summary = page.get_by_text("passed,", exact=False).first.inner_text()
    page.screenshot(path=str(SHOTS / "checks.png"), full_page=True)
    assert re.fullmatch(r"\d+ passed, \d+ failed", summary.strip()), summary
    # The details list has the same relative links as the table: follow one.
    page.get_by_text("Details", exact=True).click()
    link = page.locator('a[href^="shallow?"]').first
    link.wait_for(timeout=30_000)
    href = link.get_attribute("href")
    target = page.evaluate("(h) => new URL(h, location.href).href", href)
    assert target.startswith(f"{server.url}/shallow?")
    page.goto(target)
    wait_for_app(page, 6)
    no_exception(page)
    box = page.locator('section[data-testid="stSidebar"]').get_by_label("Step sizes η", exact=True)
    assert box.input_value() and box.input_value() in target.replace("%2C", ",")
    page.screenshot(path=str(SHOTS / "checks_link_target.png"), full_page=True)
