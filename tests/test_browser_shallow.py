"""Real browser for the shallow a·b page and the step-size map's orbit diagram:

* what a page sends (Playwright's websocket frames) at the largest value of every count
  control stays under the payload bound (issue 20 §1; before: 163 MB for one orbit diagram);
* the play/step controls of the trajectory and the catapult move the frame in the browser;
* no text box of a chart (title, subtitle, axis titles, legend, annotations, buttons)
  overlaps another, on every shallow view.

Screenshots go to artifacts/screenshots/ (git-ignored)."""
import json
import os
import time

import pytest

from core.report.display import PAYLOAD_BYTES
from tests.browser_helpers import CHROMIUM, ROOT, start_server, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

SHOTS = ROOT / "artifacts" / "screenshots"
TALL = {"width": 1500, "height": 3400}
VIEWPORT = {"width": 1500, "height": 1400}

# The largest value of every count control (others at their defaults, so that each case
# computes in seconds): the orbit's step sizes × kept iterations, GD's step-size list and
# recorded points, Figure 3's scales and points per scale, the catapult's list, and the
# step-size map's grid × kept tail.
LARGEST = {
    "orbit": ("/shallow?view=orbit&orbit_count=4096&orbit_tail=1000&orbit_iters=1000", 1),
    "orbit_tail": ("/shallow?view=orbit&orbit_count=300&orbit_tail=10000&orbit_iters=10000", 1),
    "gd_steps": ("/shallow?view=gd_gf&step_size=1e-3:0.6:log4096&tail_points=64", 7),
    "gd_history": ("/shallow?view=gd_gf&step_size=0.05,0.3,0.6&max_iters=20000&run_to_max=true"
                   "&history_points=100000", 6),
    "figure3_scales": ("/shallow?view=figure3&scales=0.1:10:log64&eta_lambda_count=20&fig3_iters=500", 2),
    "figure3_points": ("/shallow?view=figure3&scales=1,8&eta_lambda_count=2000&fig3_iters=500", 2),
    "catapult": ("/shallow?view=catapult&cat_eta_lambda=1:4.4:x1.006", 2),
    "step_map": ("/step_size_map?step_count=2000&tail_points=10000", 2),
}


@pytest.fixture(scope="module")
def server(request):
    return start_server(request, SHOTS / "streamlit_shallow.log")


DRAWN_OR_REFUSED = """(n) => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n
    || !!document.querySelector('[data-testid="stAlertContentError"]')"""


def received_bytes(page, url: str, charts: int) -> tuple[int, float]:
    """Bytes of every websocket frame the page received while loading ``url`` and drawing
    its charts, and the seconds that took."""
    total = [0]

    def watch(socket):
        socket.on("framereceived", lambda payload: total.__setitem__(
            0, total[0] + len(payload if isinstance(payload, (bytes, str)) else b"")))

    page.on("websocket", watch)
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(DRAWN_OR_REFUSED, arg=charts, timeout=400_000)
    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    assert not errors, errors                                   # a refusal is not a measurement
    wait_for_app(page, charts, timeout_ms=400_000)
    return total[0], time.perf_counter() - started


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("case", sorted(LARGEST))
def test_the_largest_counts_send_less_than_the_payload_bound(server, browser, case):
    path, charts = LARGEST[case]
    page = browser.new_page(viewport={"width": 1500, "height": 1200})
    try:
        sent, seconds = received_bytes(page, server.url + path, charts)
        assert page.locator('[data-testid="stException"]').count() == 0
        errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
        assert not errors, errors
        print(f"{case}: {sent / 1e6:.2f} MB in {seconds:.1f} s")
        assert 0 < sent <= PAYLOAD_BYTES, f"{case}: {sent / 1e6:.1f} MB"
        if case in ("orbit", "step_map"):
            # too many values for dots: a density image, and the chart says so
            kinds = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                                  ".map(gd => gd.data.map(t => t.type))")
            assert "heatmap" in kinds[0], kinds
            assert "density image" in page.locator(".js-plotly-plot").first.inner_text()
    finally:
        page.close()


FRAME_OF = """(i) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
    const slider = gd._fullLayout.sliders && gd._fullLayout.sliders[0];
    const last = gd.data[gd.data.length - 1];
    return JSON.stringify([slider ? slider.active : null, Array.from(last.x), Array.from(last.y)]); }"""


def chart_index(page, title_start: str) -> int:
    """The index of the chart whose title starts so, once it is drawn with its buttons (the
    charts of a page are drawn one after another; a count of svgs can be reached early)."""
    page.wait_for_function("""(start) => [...document.querySelectorAll('.js-plotly-plot')].some(gd =>
        ((gd._fullLayout || {}).title || {}).text && gd._fullLayout.title.text.startsWith(start)
        && gd.querySelector('.updatemenu-button'))""", arg=title_start, timeout=120_000)
    titles = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".map(gd => (gd._fullLayout.title || {}).text || '')")
    return next(i for i, t in enumerate(titles) if t.startswith(title_start))


def press(page, index: int, label: str) -> None:
    chart = page.locator(".js-plotly-plot").nth(index)
    chart.locator(".updatemenu-button", has_text=label).click()
    page.wait_for_timeout(400)


@pytest.mark.parametrize("path,charts,title", [
    ("/shallow?view=catapult", 2, "λ = ‖a‖² + ‖b‖²"),
    ("/shallow", 6, "trajectory"),
])
def test_step_moves_one_frame_in_the_browser(server, page, path, charts, title):
    page.goto(server.url + path)
    wait_for_app(page, charts)
    index = chart_index(page, title)
    page.locator(".js-plotly-plot").nth(index).scroll_into_view_if_needed()
    start = page.evaluate(FRAME_OF, index)
    press(page, index, "step ▶")
    one = page.evaluate(FRAME_OF, index)
    press(page, index, "step ▶")
    two = page.evaluate(FRAME_OF, index)
    assert json.loads(one)[1:] != json.loads(start)[1:]          # the dots moved …
    assert json.loads(two)[1:] != json.loads(one)[1:]            # … one frame per press
    assert json.loads(two)[0] == 2                                # the slider follows
    press(page, index, "◀ step")
    assert json.loads(page.evaluate(FRAME_OF, index))[1:] == json.loads(one)[1:]
    press(page, index, "↺ reset")
    assert json.loads(page.evaluate(FRAME_OF, index))[1:] == json.loads(start)[1:]


# Every text box of every chart: title, subtitle, axis titles, legend, annotations, buttons
# and the slider's label. Two boxes that intersect by more than 2 px each way overlap.
TEXT_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map((gd, index) => {
    const boxes = [];
    const add = (kind, el) => { const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) boxes.push({kind, text: (el.textContent || '').slice(0, 60),
            l: r.left, r: r.right, t: r.top, b: r.bottom}); };
    gd.querySelectorAll('.gtitle, .gtitle-subtitle, .g-xtitle, .g-ytitle, .annotation-text-g, '
        + '.updatemenu-button, .slider-group .slider-current-value').forEach(el => add(el.getAttribute('class'), el));
    gd.querySelectorAll('.legend .bg').forEach(el => add('legend', el));
    return {index, title: (gd._fullLayout.title || {}).text || '', boxes}; })"""


def overlaps(chart) -> list[str]:
    found = []
    boxes = chart["boxes"]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if "updatemenu" in a["kind"] and "updatemenu" in b["kind"]:
                continue                                  # one button row
            wide = min(a["r"], b["r"]) - max(a["l"], b["l"])
            tall = min(a["b"], b["b"]) - max(a["t"], b["t"])
            if wide > 2 and tall > 2:
                found.append(f"{chart['title'][:40]}: {a['kind']} '{a['text']}' × {b['kind']} '{b['text']}'")
    return found


VIEWS = {
    "gd_gf": ("/shallow", 6),
    "gd_gf_d1": ("/shallow?a=0.7&b=0.2&step_size=0.1,0.9,1.3&tail_points=64", 7),
    "gd_gf_many": ("/shallow?init=random&d=8&seed=0,1&step_size=0.01:0.5:log9", 6),
    "figure3": ("/shallow?view=figure3", 2),
    "figure3_generic": ("/shallow?view=figure3&fig3_init=generic&scales=0.5,1,2&phi=2", 2),
    "orbit": ("/shallow?view=orbit", 1),
    "orbit_product": ("/shallow?view=orbit&orbit_y=product&orbit_min=0.5&orbit_max=1.7&phi=-2", 1),
    "catapult": ("/shallow?view=catapult", 2),
    "catapult_log": ("/shallow?view=catapult&cat_log=true&cat_eta_lambda=2.5,3.5", 2),
}


@pytest.mark.slow
def test_shallow_views_have_no_overlapping_text_and_say_what_to_look_for(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=TALL)
    problems = []
    try:
        for name, (path, charts) in VIEWS.items():
            page.goto(server.url + path)
            wait_for_app(page, charts, timeout_ms=300_000)
            assert page.locator('[data-testid="stException"]').count() == 0, name
            page.screenshot(path=str(SHOTS / f"shallow_view_{name}.png"), full_page=True)
            look = page.get_by_text("What to look for", exact=False)
            assert look.count() >= 1, f"{name}: no 'What to look for' text"
            for chart in page.evaluate(TEXT_BOXES):
                problems += [f"{name}: {p}" for p in overlaps(chart)]
    finally:
        page.close()
    assert not problems, "\n".join(problems)


# How many cells of the orbit's dot raster the current frame shows: the frames change only
# the colour scale, which hides every cell whose first iteration k is past the frame's.
SHOWN = """(i) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
    const dots = gd._fullData.find(t => t.type === 'heatmap');
    const scale = dots.colorscale, cut = scale.length > 2 ? scale[1][0] : 1;
    const reached = dots.zmin + cut * (dots.zmax - dots.zmin);
    let shown = 0;
    for (const row of dots.z) for (const k of row) if (k !== null && !isNaN(k) && k <= reached) shown++;
    return shown; }"""


@pytest.mark.parametrize("path", ["/shallow?view=orbit", "/step_size_map"])
def test_orbit_build_up_steps_in_the_browser(server, page, path):
    page.goto(server.url + path)
    wait_for_app(page, 1 if "shallow" in path else 2)
    index = chart_index(page, "orbit diagram")
    page.locator(".js-plotly-plot").nth(index).scroll_into_view_if_needed()
    full = page.evaluate(SHOWN, index)                           # every stretch of k shown first
    press(page, index, "↺ reset")
    first = page.evaluate(SHOWN, index)
    press(page, index, "step ▶")
    second = page.evaluate(SHOWN, index)
    assert 0 < first < second < full                             # the first stretch, then one more
    press(page, index, "◀ step")
    assert page.evaluate(SHOWN, index) == first
