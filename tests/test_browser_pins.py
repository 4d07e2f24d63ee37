"""Real browser: every chart page with pins in its URL (as a copied link brings them), in
presentation mode and not: the pinned lines are drawn, and no text box of a chart (titles,
axis titles, the longer legend, annotations) overlaps another. Screenshots go to
artifacts/pins/ (git-ignored)."""
from __future__ import annotations

import os
from urllib.parse import urlencode

import numpy as np
import pytest

from core.kernel.spec import make_spec
from tests.browser_helpers import CHROMIUM, ROOT, start_server
from tests.test_browser_layout import overlaps, settled
from ui.pins import compact, spec_pin

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

SHOTS = ROOT / "artifacts" / "pins"
VIEWPORT = {"width": 1280, "height": 800}


def step_map_pin() -> str:
    grid = tuple(float(g) for g in np.logspace(0, 4, 200))
    return compact(make_spec(dataset="digits", classes=(1, 7), step_sizes=grid, max_iters=60,
                             tail_points=8, run_to_max=True, history_points=256))


def images_pin() -> str:
    common = dict(dataset="digits", classes=(1, 7), n=60, step_sizes=(2.0,), max_iters=40,
                  sharpness_every=10, perceptron_gap=False)
    return spec_pin([make_spec(model="cnn", kernel_size=3, channels=4, **common),
                     make_spec(model="linear", **common)])


def complexity_pin() -> str:
    base = make_spec(model="linear", algorithm="batch_perceptron", dataset="minimal", d=8,
                     seeds=tuple(range(4)), max_iters=2000, history_points=16, init_scale=1.0)
    return urlencode({"spec": compact(base), "curves": "linear:batch_perceptron:1,"
                      "two_layer_conv:gd:scaled", "dims": "8,16,32", "c": "2"})


def dynamics_pin() -> str:
    common = dict(dataset="digits", classes=(1, 7), step_sizes=(1.0, 10.0, 100.0, 1000.0))
    return spec_pin([make_spec(algorithm="gd", **common),
                     make_spec(algorithm="batch_perceptron", **common)])


CASES = {
    "dynamics": ("perceptron_dynamics", {}, dynamics_pin),
    "dynamics_side": ("perceptron_dynamics", {"pin_layout": "side"}, dynamics_pin),
    "step_size_map": ("step_size_map", {"max_iters": "60", "tail_points": "8"}, step_map_pin),
    "complexity": ("complexity", {"dims": "8,16,32", "seed": "0:3", "max_iters": "2000"},
                   complexity_pin),
    "images": ("images", {"n": "60", "max_iters": "40", "sharpness_every": "10", "channels": "4",
                          "kernel_size": "3", "step_size": "2"}, images_pin),
}


@pytest.fixture(scope="module")
def server(request):
    return start_server(request, SHOTS / "streamlit.log", os.environ.get("GDX_CACHE_DIR"))


@pytest.mark.parametrize("present", [False, True], ids=["normal", "present"])
@pytest.mark.parametrize("case", list(CASES))
def test_pinned_views_are_drawn_without_overlapping_text(server, page, case, present):
    path, query, pin = CASES[case]
    query = {**query, "pins": pin(), **({"present": "1"} if present else {})}
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{server.url}/{path}?{urlencode(query)}")
    settled(page, "chart")
    names = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                          ".flatMap(gd => [(gd._fullLayout.title || {}).text || '', "
                          "...gd.data.map(t => t.name || '')])")
    assert any(str(name).startswith("pin 1") for name in names), (case, names[:20])
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('*')]"
                           ".map(e => e.scrollHeight))")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height) + 50, 4000)})
    page.wait_for_timeout(1200)
    page.screenshot(path=str(SHOTS / f"{case}{'_present' if present else ''}.png"))
    page.set_viewport_size(VIEWPORT)
    assert not overlaps(page), (case, overlaps(page))
