"""A fresh server in Chromium (issue 20 §5): the first request, a deep link, shows its page
without a "Page not found" modal; no page makes the browser call a third party (the page
icon ships with the app), so an offline lab network gets complete pages."""
from __future__ import annotations

import os
import time

import pytest

from core.report.site import PAGES
from tests.browser_helpers import CHROMIUM, ROOT, start_server

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

DEEP_LINK = "/perceptron_dynamics?dataset=two_point&step_size=1,100&max_iters=50&algorithm=gd"
SHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def fresh_server(request):
    return start_server(request, SHOTS / "streamlit-offline.log")


def third_party(url: str) -> bool:
    return not url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))


def settled(page, timeout_s: float = 90) -> str:
    """The page's text once its script run has finished (no status widget, nothing stale)."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_s * 1000)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]') && "
                           "!document.querySelector('[data-testid=\"stStatusWidget\"]') && "
                           "document.querySelector('h1')", timeout=timeout_s * 1000)
    page.wait_for_timeout(1500)          # a modal arrives with the first messages, if at all
    return page.inner_text("body")


def test_the_first_load_of_a_deep_link_has_no_page_not_found_modal(fresh_server, browser):
    """Must run first in this module: the modal came only on a fresh server's first request."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if third_party(request.url) else None)
    page.goto(fresh_server.url + DEEP_LINK)
    body = settled(page)
    page.screenshot(path=str(SHOTS / "deep-link-fresh-server.png"))
    assert "Page not found" not in body
    assert not page.query_selector('[role="dialog"]')
    assert "Perceptron dynamics" in page.inner_text("h1")
    # the sidebar works: another page opens from it
    page.get_by_role("link", name="Iteration complexity").click()
    page.wait_for_url("**/complexity**", timeout=60_000)
    assert "Iteration complexity" in settled(page)
    assert not outside, outside
    page.close()


def test_no_page_calls_a_third_party(fresh_server, browser):
    outside = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda request: outside.append(request.url)
            if third_party(request.url) else None)
    for entry in PAGES:
        page.goto(f"{fresh_server.url}/{'' if entry.default else entry.url_path}")
        settled(page, timeout_s=180)
    icons = page.evaluate("() => [...document.querySelectorAll(\"link[rel*='icon']\")]"
                          ".map(link => link.href)")
    page.close()
    assert not outside, outside
    assert icons and all(not third_party(icon) for icon in icons), icons

