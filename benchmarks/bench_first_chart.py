"""Time to the first chart in Chromium: every page of the app, warm, against a bare Streamlit
page with one slider and one plotly chart, measured in the same run.

    .venv/bin/python benchmarks/bench_first_chart.py [--rounds 5] [--format text|json]

Two ``streamlit run`` servers (the app with its own fresh result cache, and the bare page:
benchmarks/common.py) are driven by Debian's Chromium (tests/browser_helpers.py). Each page
is first opened once and left to finish (its results land in the cache: "warm"); then, in
interleaved rounds, a fresh tab (a new Streamlit session) opens the page and the clock stops
when the first plotly chart has drawn its data. Reported: the median per page and its ratio
to the bare page's median. The issue's goal is a ratio ≤ 2; this is a benchmark, not a test:
it only prints.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import app_and_bare_page, median_ratios  # noqa: E402
from tests.browser_helpers import wait_for_app  # noqa: E402

PAGES = {"perceptron_dynamics": 1, "complexity": 1, "step_size_map": 2, "shallow": 1,
         "images": 2}
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
    times: dict[str, list[float]] = {"bare": [], **{p: [] for p in pages}}
    with app_and_bare_page("gdx-bench-first-chart-") as (app, bare, browser):
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
    rows = median_ratios(times)
    report = {"benchmark": "first_chart", "rounds": args.rounds,
              "bare_page_s": rows["bare"]["median_s"],
              "pages": {path: {"first_chart_s": rows[path]["median_s"], "ratio": rows[path]["ratio"],
                               "all_s": rows[path]["all_s"]} for path in pages}}
    if args.format == "json":
        print(json.dumps(report, indent=1))
    else:
        print(f"bare Streamlit page, one slider and one chart: {report['bare_page_s']:.2f} s "
              f"(median of {args.rounds})")
        for path, row in report["pages"].items():
            print(f"{path:22s} {row['first_chart_s']:6.2f} s   ratio {row['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
