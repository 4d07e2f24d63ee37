"""What a page sends to the browser is bounded (issue 20 §1): for the largest value of every
count control of the dynamics, step-size map, complexity, images, home and checks pages, the
websocket bytes the browser receives (Playwright frames) stay under 10 MB, and a chart says
what it thinned. Runs against `streamlit run` in Debian's Chromium."""
from __future__ import annotations

import json
import os

import pytest

from core.report.display import PAYLOAD_BYTES
from tests.browser_helpers import CHROMIUM, ROOT, start_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.heavy,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

VIEWPORT = {"width": 1280, "height": 900}
LOG = ROOT / "artifacts" / "payload"
MANY_STEPS = "1e-3:1e3:log4096"          # the batch limit: 4096 step sizes in one sweep
# (name, path and query, charts to wait for, a text a thinned chart must carry or None)
CASES = [
    ("dynamics_4096_steps_all_charts",
     "perceptron_dynamics?model=linear&dataset=two_point&algorithm=gd,batch_perceptron"
     f"&step_size={MANY_STEPS}&seed=0&max_iters=2000&run_to_max=1&section=charts"
     "&charts=accuracy,min_margin,grad_norm,perceptron_gap", 5, "of 8\u202f192 runs drawn"),
    ("dynamics_4096_steps_table",
     f"perceptron_dynamics?model=linear&dataset=two_point&algorithm=gd&step_size={MANY_STEPS}"
     "&seed=0&max_iters=2000&run_to_max=1&section=table", 1, "of 4\u202f096 runs drawn"),
    ("dynamics_boundary_animation_n_1e5",
     "perceptron_dynamics?model=linear&dataset=gaussian&n=100000&d=2&algorithm=gd"
     "&step_size=100&seed=0&max_iters=1000&section=trajectory&animate=1", 2, "points drawn"),
    ("dynamics_boundary_n_1e5",
     "perceptron_dynamics?model=linear&dataset=gaussian&n=100000&d=2&algorithm=gd"
     "&step_size=100&seed=0&max_iters=1000&section=trajectory", 2, "points drawn"),
    ("step_size_map_2000_steps",
     "step_size_map?step_count=2000&max_iters=300&tail_points=32&view=numbers", 1, None),
    ("complexity_64_dims",
     "complexity?curves=linear:batch_perceptron:1,linear:gd:1&dims=4:400:log64&seed=0:3", 1,
     None),
    ("images_linear_many_steps",
     "images?model=linear&baseline=0&n=20&step_size=0.01:10:log64&max_iters=2000"
     "&history_points=100000&sharpness_every=0", 1, None),
    ("home", "", 0, None),
    ("checks", "checks", 0, None),
]


@pytest.fixture(scope="module")
def server(request):
    return start_server(request, LOG / "streamlit.log", os.environ.get("GDX_CACHE_DIR"))


def settled(page, charts: int) -> None:
    page.wait_for_function(
        "(n) => (document.querySelectorAll('.js-plotly-plot .main-svg').length >= n"
        "        || document.querySelector('[data-testid=\"stAlertContentError\"]'))"
        " && !document.querySelector('[data-stale=\"true\"]')"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"]')", arg=charts,
        timeout=400_000)
    page.wait_for_timeout(1500)


@pytest.mark.parametrize("name, query, charts, thinned", CASES, ids=[c[0] for c in CASES])
def test_a_page_sends_at_most_ten_megabytes(server, page, name, query, charts, thinned):
    received: list[int] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: received.append(len(payload))))
    page.goto(f"{server.url}/{query}")
    settled(page, charts)
    total = sum(received)
    LOG.mkdir(parents=True, exist_ok=True)
    with open(LOG / "bytes.jsonl", "a") as out:
        out.write(json.dumps({"case": name, "bytes": total, "frames": len(received)}) + "\n")
    assert page.locator('[data-testid="stException"]').count() == 0, name
    errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
    assert not errors, (name, errors)
    assert total <= PAYLOAD_BYTES, (name, total)
    if thinned:
        notes = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                              ".map(g => (g.layout.title.subtitle || {}).text || '').join(' ')")
        assert thinned in notes, (name, notes)
