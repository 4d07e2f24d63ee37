"""Time to the first chart in Chromium: every page of the app, warm, against a bare Streamlit
page that shows one plotly chart, measured in the same run.

    .venv/bin/python benchmarks/bench_first_chart.py [--rounds 5] [--format text|json]

Two ``streamlit run`` servers (the app with its own fresh result cache, and the bare page)
are driven by Debian's Chromium (tests/browser_helpers.py). Each page is first opened once
and left to finish (its results land in the cache: "warm"); then, in interleaved rounds, a
fresh tab (a new Streamlit session) opens the page and the clock stops when the first plotly
chart has drawn its data. Reported: the median per page and its ratio to the bare page's
median. The issue's goal is a ratio ≤ 2; this is a benchmark, not a test: it only prints.
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

from tests.browser_helpers import Server, launch_browser, wait_for_app  # noqa: E402

PAGES = {"perceptron_dynamics": 1, "complexity": 1, "step_size_map": 2, "shallow": 1,
         "images": 2}
BARE_PAGE = '''
import plotly.graph_objects as go
import streamlit as st

st.title("Bare page")
figure = go.Figure(go.Scatter(x=list(range(500)), y=[(i % 37) / 37 for i in range(500)]))
st.plotly_chart(figure, theme=None)
'''
FIRST_CHART = """() => { const gd = document.querySelector('.js-plotly-plot');
    return !!(gd && gd._fullData && gd._fullData.length && gd.querySelector('.main-svg')); }"""


def first_chart_seconds(browser, url: str, timeout_ms: int = 180_000) -> float:
    tab = browser.new_page(viewport={"width": 1280, "height": 720})
    try:
        started = time.perf_counter()
        tab.goto(url, wait_until="commit")
        tab.wait_for_function(FIRST_CHART, timeout=timeout_ms, polling=20)
        return time.perf_counter() - started
    finally:
        tab.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--pages", default=",".join(PAGES),
                        help="comma-separated url paths (default: every page with charts)")
    args = parser.parse_args(argv)
    pages = [p for p in args.pages.split(",") if p]

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="gdx-bench-first-chart-"))
    bare_script = work / "bare_page.py"
    bare_script.write_text(BARE_PAGE)
    app = Server(str(work / "cache"), work / "app.log")
    bare = Server(str(work / "cache-bare"), work / "bare.log", script=str(bare_script))
    times: dict[str, list[float]] = {"bare": [], **{p: [] for p in pages}}
    try:
        app.wait_ready()
        bare.wait_ready()
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            warm = browser.new_page(viewport={"width": 1280, "height": 720})
            warm.goto(bare.url)
            wait_for_app(warm, 1)
            for path in pages:                     # fill the result cache: warm pages
                warm.goto(f"{app.url}/{path}")
                wait_for_app(warm, PAGES.get(path, 1), timeout_ms=600_000)
            warm.close()
            for _ in range(args.rounds):
                times["bare"].append(first_chart_seconds(browser, bare.url))
                for path in pages:
                    times[path].append(first_chart_seconds(browser, f"{app.url}/{path}"))
            browser.close()
    finally:
        app.stop()
        bare.stop()
    bare_median = statistics.median(times["bare"])
    report = {
        "rounds": args.rounds,
        "bare_page_s": round(bare_median, 3),
        "pages": {path: {"first_chart_s": round(statistics.median(times[path]), 3),
                         "ratio": round(statistics.median(times[path]) / bare_median, 2),
                         "all_s": [round(t, 3) for t in times[path]]}
                  for path in pages},
    }
    if args.format == "json":
        print(json.dumps(report, indent=1))
    else:
        print(f"bare Streamlit page, one plotly chart: {bare_median:.2f} s (median of {args.rounds})")
        for path, row in report["pages"].items():
            print(f"{path:22s} {row['first_chart_s']:6.2f} s   ratio {row['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
