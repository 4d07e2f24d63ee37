"""A page a class can read, in Chromium against `streamlit run`: on every scenario and every
page, in presentation mode and not, no text box of a chart (title, subtitle, axis titles,
legend, annotations) overlaps another; an opened scenario shows its title, its look-for
sentence and the way back. Screenshots go to artifacts/layout/ (git-ignored)."""
from __future__ import annotations

import os

import pytest

from core.claims.scenarios import SCENARIOS
from tests.browser_helpers import CHROMIUM, ROOT, start_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.heavy,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

VIEWPORT = {"width": 1280, "height": 800}
SHOTS = ROOT / "artifacts" / "layout"
PAGES = ["perceptron_dynamics", "step_size_map", "complexity", "shallow", "images", "checks", "lab",
         ""]
READY = {"checks": "Paper checks", "lab": "Hypothesis lab", "": "GD Dynamics Explorer"}

# The boxes of a chart's text, and every pair of them that overlaps by more than 2 px.
OVERLAP_SCRIPT = """() => [...document.querySelectorAll('.js-plotly-plot')].map((gd, index) => {
    const boxes = [];
    const add = (el, what) => { const r = el.getBoundingClientRect();
        if (r.width > 1 && r.height > 1 && el.textContent.trim() !== '')
            boxes.push({what, text: el.textContent.slice(0, 40), l: r.left, r: r.right, t: r.top, b: r.bottom}); };
    gd.querySelectorAll('.gtitle').forEach(e => add(e, 'title'));
    gd.querySelectorAll('.gtitle-subtitle').forEach(e => add(e, 'subtitle'));
    gd.querySelectorAll('.g-xtitle, .g-x2title').forEach(e => add(e, 'x title'));
    gd.querySelectorAll('.g-ytitle, .g-y2title').forEach(e => add(e, 'y title'));
    gd.querySelectorAll('.legend .bg').forEach(e => { const r = e.getBoundingClientRect();
        if (r.width > 1) boxes.push({what: 'legend', text: '', l: r.left, r: r.right, t: r.top, b: r.bottom}); });
    gd.querySelectorAll('.annotation-text-g').forEach(e => add(e, 'annotation'));
    gd.querySelectorAll('.updatemenu-container, .slider-container').forEach(e => add(e, 'controls'));
    const clash = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        const w = Math.min(a.r, b.r) - Math.max(a.l, b.l), h = Math.min(a.b, b.b) - Math.max(a.t, b.t);
        if (w > 2 && h > 2 && !(a.what === 'controls' && b.what === 'controls'))
            clash.push(`${a.what} '${a.text}' × ${b.what} '${b.text}'`);
    }
    return {index, clash}; })"""


@pytest.fixture(scope="module")
def server(request):
    return start_server(request, SHOTS / "streamlit.log", os.environ.get("GDX_CACHE_DIR"))


def settled(page, ready: str) -> None:
    """Wait until the page really shows (``ready``: a chart, or a text of the page), the
    script has finished and no element is stale; dismiss a stray modal."""
    if ready == "chart":
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=400_000)
    else:
        page.get_by_text(ready).first.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-stale=\"true\"]')"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=400_000)
    page.keyboard.press("Escape")
    page.wait_for_timeout(2500)


def overlaps(page) -> list:
    return [chart for chart in page.evaluate(OVERLAP_SCRIPT) if chart["clash"]]


def shoot(page, name: str) -> None:
    """The whole page (Streamlit scrolls inside its own container: a tall viewport)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('*')]"
                           ".map(e => e.scrollHeight))")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 50, 4000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(VIEWPORT)


SCENARIO_PARAMS = [pytest.param(s, id=s.key) for s in SCENARIOS]


@pytest.mark.parametrize("present", [False, True], ids=["normal", "present"])
@pytest.mark.parametrize("scenario", SCENARIO_PARAMS)
def test_scenario_text_boxes_do_not_overlap_and_the_look_for_is_shown(server, page, scenario,
                                                                       present):
    page.goto(server.url + scenario.link() + ("&present=1" if present else ""))
    settled(page, "chart")
    shoot(page, f"{scenario.key}{'_present' if present else ''}")
    assert not overlaps(page), (scenario.key, overlaps(page))
    body = page.inner_text("body").replace("\u200b", "")     # literal() keeps URLs inert with it
    assert scenario.title in body and "Back to scenarios" in body
    assert " ".join(scenario.look_for.split()[:6]) in " ".join(body.split()), scenario.key
    if present:
        assert "Spec ids" not in body and "batched sweep" not in body


@pytest.mark.parametrize("present", [False, True], ids=["normal", "present"])
@pytest.mark.parametrize("path", PAGES, ids=lambda p: p or "home")
def test_page_text_boxes_do_not_overlap(server, page, path, present):
    page.goto(f"{server.url}/{path}" + ("?present=1" if present else ""))
    settled(page, READY.get(path, "chart"))
    shoot(page, f"page_{path or 'home'}{'_present' if present else ''}")
    assert not overlaps(page), (path, overlaps(page))
