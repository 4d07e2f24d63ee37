"""Real browser for the shallow-network, image-classifier and paper-check pages:
`streamlit run app.py` driven by Debian's Chromium through Playwright. Each page is opened,
its plotly charts are awaited, a control is changed and the chart must change.
Screenshots go to artifacts/screenshots/ (git-ignored)."""
import json
import os
import re

import pytest

from tests.browser_helpers import (CHROMIUM, ROOT, start_server, chart_data, set_input,
                                   wait_for_app, wait_for_change)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium; "
                                       "`playwright install` cannot download browsers here)")]

SHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1500, "height": 2600}


@pytest.fixture(scope="module")
def server(request):
    # The test session's cache (tests/conftest.py): runs the AppTests made are reused.
    return start_server(request, SHOTS / "streamlit_extra.log", os.environ.get("GDX_CACHE_DIR"))


def names(data):
    return [name for name, _, _ in json.loads(data)]


def no_exception(page):
    assert page.locator('[data-testid="stException"]').count() == 0


def choose_view(page, label):
    page.locator('[data-testid="stRadio"]').get_by_text(label, exact=True).click()


def run_columns(edges: list[float]) -> list[float]:
    """The runs of the orbit's dot raster when its columns touch (300 runs over the default
    range): the middle of each column."""
    return [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]


def test_shallow_page(server, page):
    page.goto(f"{server.url}/shallow")
    wait_for_app(page, 6)
    no_exception(page)
    page.screenshot(path=str(SHOTS / "shallow.png"), full_page=True)
    before = chart_data(page)
    assert "GD η=0.6" in names(before) and "GF η=0.6" in names(before)
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
    page.screenshot(path=str(SHOTS / "shallow_orbit.png"), full_page=True)
    orbit = chart_data(page)
    runs = run_columns(json.loads(orbit)[0][1])
    assert len(set(round(x, 9) for x in runs)) == 300         # 300 values of η|Φ|, one sweep
    set_input(page, "Largest η|Φ|", "1.3")
    narrower = wait_for_change(page, orbit)
    assert max(run_columns(json.loads(narrower)[0][1])) == pytest.approx(1.3)
    page.screenshot(path=str(SHOTS / "shallow_orbit_changed.png"), full_page=True)

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
    wait_for_app(page, 2, timeout_ms=180_000)
    no_exception(page)
    page.screenshot(path=str(SHOTS / "images.png"), full_page=True)
    before = chart_data(page)
    assert "CNN k=5 η=2" in names(before) and "linear η=0.5" in names(before)
    set_input(page, "Kernel sizes k", "5")
    after = wait_for_change(page, before, timeout_ms=180_000)
    assert names(after) == ["CNN k=5 η=0.5", "CNN k=5 η=2", "linear η=0.5", "linear η=2"]
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


def test_checks_page_and_its_claim_links(server, browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/checks")
        page.get_by_text("passed,", exact=False).first.wait_for(timeout=180_000)
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        no_exception(page)
        summary = page.get_by_text("passed,", exact=False).first.inner_text()
        assert re.fullmatch(r"\d+ passed, \d+ weak, \d+ failed", summary.strip()), summary
        page.screenshot(path=str(SHOTS / "checks.png"), full_page=True)

        # The grid is drawn on a canvas, but glide data grid keeps an accessible table of its
        # cells: the q_contraction row is found by locator, its "view" cell holds the link.
        row = page.locator('[data-testid="stDataFrame"] table[role="grid"] tr').filter(
            has_text="q_contraction")
        assert row.count() == 1
        cells = row.first.locator('td[role="gridcell"]')
        assert cells.nth(0).inner_text() in ("PASS", "WEAK", "FAIL")
        href = cells.nth(2).inner_text()
        assert href.startswith("shallow?"), href
        # The details list has the same link as a real anchor: click it.
        page.get_by_text("Details", exact=True).click()
        link = page.locator("a").filter(has_text="shallow view").and_(
            page.locator(f'a[href="{href}"]'))
        link.first.wait_for(timeout=30_000)
        with context.expect_page(timeout=30_000) as opened:
            link.first.click()
        target = opened.value
        wait_for_app(target, 6)
        no_exception(target)
        # the page has rewritten the URL with its own controls, holding the claim's values
        assert target.url.startswith(f"{server.url}/shallow?")
        for part in ("step_size=0.05%2C0.3", "max_iters=200", "history_points=256", "run_to_max=1"):
            assert part in target.url, (part, target.url)
        box = target.locator('section[data-testid="stSidebar"]').get_by_label("Step sizes η",
                                                                               exact=True)
        assert box.input_value() == "0.05,0.3"
        target.screenshot(path=str(SHOTS / "checks_link_target.png"), full_page=True)

        resolved = page.evaluate("(h) => new URL(h, location.href).href", href)
        assert resolved.startswith(f"{server.url}/shallow?")
    finally:
        context.close()
