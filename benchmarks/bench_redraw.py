"""Redraw after a change, in Chromium: a cached view of the app against a bare Streamlit page
with one slider and one chart, measured in the same run (issue 23 §4: within 2×).

    .venv/bin/python benchmarks/bench_redraw.py [--rounds 5] [--format text|json]

The app's perceptron-dynamics page is opened and its step sizes are switched between two
lists (both computed once first, so every switch is a cached view); the clock runs from
the committed change to the moment the chart's data differs. The bare page's slider is moved
one step with the keyboard, timed the same way. A benchmark: it only prints.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser_helpers import (Server, chart_data, launch_browser, set_input,  # noqa: E402
                                   wait_for_app, wait_for_change)

BARE_PAGE = '''
import plotly.graph_objects as go
import streamlit as st

k = st.slider("k", 1, 50, 1)
figure = go.Figure(go.Scatter(x=list(range(500)), y=[(i * k % 37) / 37 for i in range(500)]))
st.plotly_chart(figure, theme=None)
'''
APP_PATH = "perceptron_dynamics?dataset=two_point&step_size=1,10&max_iters=50"
STEP_LISTS = ("1,10", "1,100")


def timed_change(page, change) -> float:
    before = chart_data(page)
    started = time.perf_counter()
    change()
    wait_for_change(page, before)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="gdx-bench-redraw-"))
    bare_script = work / "bare_page.py"
    bare_script.write_text(BARE_PAGE)
    app = Server(str(work / "cache"), work / "app.log")
    bare = Server(str(work / "cache-bare"), work / "bare.log", script=str(bare_script))
    times: dict[str, list[float]] = {"bare": [], "app": []}
    try:
        app.wait_ready()
        bare.wait_ready()
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            bare_tab = browser.new_page(viewport={"width": 1280, "height": 800})
            bare_tab.goto(bare.url)
            wait_for_app(bare_tab, 1)
            app_tab = browser.new_page(viewport={"width": 1280, "height": 800})
            app_tab.goto(f"{app.url}/{APP_PATH}")
            wait_for_app(app_tab, 1, timeout_ms=300_000)
            for steps in STEP_LISTS:               # compute both once: later switches are cached
                timed_change(app_tab, lambda s=steps: set_input(app_tab, "Step sizes γ", s))
            for round_index in range(args.rounds):
                slider = bare_tab.get_by_role("slider")
                times["bare"].append(timed_change(bare_tab, lambda: slider.press("ArrowRight")))
                steps = STEP_LISTS[round_index % 2]
                times["app"].append(timed_change(
                    app_tab, lambda s=steps: set_input(app_tab, "Step sizes γ", s)))
            browser.close()
    finally:
        app.stop()
        bare.stop()
    bare_median, app_median = (statistics.median(times[k]) for k in ("bare", "app"))
    report = {"rounds": args.rounds, "bare_redraw_s": round(bare_median, 3),
              "app_redraw_s": round(app_median, 3), "ratio": round(app_median / bare_median, 2),
              "all_s": {k: [round(t, 3) for t in v] for k, v in times.items()}}
    if args.format == "json":
        print(json.dumps(report, indent=1))
    else:
        print(f"bare page (slider + chart): {bare_median:.2f} s; perceptron dynamics (cached): "
              f"{app_median:.2f} s; ratio {report['ratio']:.2f} (median of {args.rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
