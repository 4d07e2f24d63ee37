"""Server-side time of a cached view, per page (run by hand).

    python benchmarks/bench_pages.py [--pages home,dynamics,...] [--repeat 5] [--format text|json]

The goal: with every result in the cache, the time from a page's script start to its
figures handed to Streamlit is <= 150 ms on every page. Each page of app.py is opened with
Streamlit's AppTest (in this process, no browser) at its default URL: once to fill a fresh
result cache (the cold time, printed too), then ``--repeat`` times as a new visitor (a fresh
AppTest session, the result cache warm). Per page: ``to_figures`` is from the start of the
script (Streamlit's ``exec_func_with_error_handling`` entered: after AppTest's own set-up, which
scans every installed package for components and is no part of serving a page) to the last
chart handed to Streamlit (``DeltaGenerator.plotly_chart`` returning) — or to the script's end
on a page without charts; ``script`` the whole script; ``apptest`` the whole ``AppTest.run()``.
Each is the best of the warm runs. Pages are only read.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import add_format, configure, emit, machine  # noqa: E402

PAGES = {"home": None, "dynamics": "pages/dynamics.py", "step_size_map": "pages/step_size_map.py",
         "complexity": "pages/complexity.py", "images": "pages/images.py", "shallow": "pages/shallow.py",
         "checks": "pages/checks.py"}
TIMEOUT = 600


def open_page(page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    return at if PAGES[page] is None else at.switch_page(PAGES[page])


def timed_run(page: str, marks: list[float], script: list[float]) -> tuple[float, float, float, int, list[str]]:
    """(seconds to the last chart, of the script, of AppTest.run, charts, errors) of one fresh
    session."""
    at = open_page(page)
    marks.clear()
    script.clear()
    started = time.perf_counter()
    at.run()
    finished = time.perf_counter()
    problems = [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
    begin, end = (script[0], script[-1]) if len(script) >= 2 else (started, finished)
    last = max(marks) if marks else end
    return last - begin, end - begin, finished - started, len(marks), problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per page; the figure is the best")
    parser.add_argument("--cache-dir", default="", help="result cache to use (default: a fresh temporary one)")
    args = add_format(parser).parse_args()
    configure(args)
    os.environ["GDX_CACHE_DIR"] = args.cache_dir or tempfile.mkdtemp(prefix="gdx-bench-pages-")

    from streamlit.delta_generator import DeltaGenerator

    marks: list[float] = []
    original = DeltaGenerator.plotly_chart

    def plotly_chart(self, *positional, **keywords):
        result = original(self, *positional, **keywords)
        marks.append(time.perf_counter())
        return result

    DeltaGenerator.plotly_chart = plotly_chart

    from streamlit.runtime.scriptrunner import script_runner

    script: list[float] = []
    run_script = script_runner.exec_func_with_error_handling

    def timed_exec(*positional, **keywords):
        script.append(time.perf_counter())
        try:
            return run_script(*positional, **keywords)
        finally:
            script.append(time.perf_counter())

    script_runner.exec_func_with_error_handling = timed_exec

    pages = [page for page in args.pages.split(",") if page]
    seconds, cold, whole, apptest, charts, problems = {}, {}, {}, {}, {}, {}
    for page in pages:
        cold[page] = timed_run(page, marks, script)[1]
        warm = [timed_run(page, marks, script) for _ in range(args.repeat)]
        seconds[page] = min(w[0] for w in warm)
        whole[page] = min(w[1] for w in warm)
        apptest[page] = min(w[2] for w in warm)
        charts[page] = warm[-1][3]
        problems[page] = warm[-1][4]
    ratios = {f"{page}_share_of_150ms_goal": seconds[page] / 0.150 for page in pages}
    ratios["pages_within_goal"] = f"{sum(seconds[p] <= 0.150 for p in pages)}/{len(pages)}"
    lines = [f"cached view, server side (AppTest, best of {args.repeat} fresh sessions, result cache warm; "
             f"{__import__('torch').get_num_threads()} torch threads); goal <= 150 ms to the figures"]
    lines += [f"  {page:14s} to figures {1e3 * seconds[page]:6.0f} ms   script {1e3 * whole[page]:6.0f} ms"
              f"   AppTest.run {1e3 * apptest[page]:6.0f} ms   charts {charts[page]:2d}   cold script "
              f"{cold[page]:6.2f} s"
              + (f"   ERRORS: {problems[page]}" if problems[page] else "") for page in pages]
    lines.append(f"pages within the goal: {ratios['pages_within_goal']}")
    emit(args.format, "pages", seconds, ratios, machine("cpu"), {"repeat": args.repeat, "pages": pages},
         lines, {"script_seconds": whole, "apptest_seconds": apptest, "cold_script_seconds": cold,
                 "charts": charts, "errors": problems})


if __name__ == "__main__":
    main()
