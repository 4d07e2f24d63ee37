"""Redraw after a change, in Chromium: every chart page of the app with its results cached,
against a bare Streamlit page with one slider and one chart, measured in the same run
(issue 23 §4: within 2×).

    .venv/bin/python benchmarks/bench_redraw.py [--rounds 5] [--format text|json]
                                                [--cases dynamics,gd_gf,...]

Each case opens a page, then switches one sidebar input between two values (both computed
once first, so every timed switch is a cached view). The value is typed first; the clock runs
from the Enter that commits it. Three figures per case, each with its ratio to the bare page's:
the wall time until the first chart shows the new data (what the visitor sees respond), the
wall time until the page has settled as well (the script run has finished and no element is
stale), and the CPU time the servers and Chromium spent until then (steadier on a shared,
loaded machine). The bare page's slider is moved one step with the keyboard and timed the same
way, interleaved with the cases. So is ``bare_furnished``: the same bare page with the
Streamlit widgets of a view around its chart (see FURNISHED), the share of a view's ratio that
its furniture alone accounts for. A benchmark: it only prints.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (app_and_bare_page, descendants_cpu_seconds,  # noqa: E402
                               median_ratios)
from tests.browser_helpers import wait_for_app  # noqa: E402

# name: (url path and query, charts on the page, sidebar input, its two values)
CASES = {
    "dynamics": ("perceptron_dynamics", 1, "Step sizes γ", "1,10,100,1000", "1,10,100"),
    "complexity": ("complexity", 1, "Dimensions d", "16:1024:x2", "16:512:x2"),
    "step_size_map": ("step_size_map", 2, "Smallest γ", "1", "2"),
    "shallow_gd_gf": ("shallow?view=gd_gf", 4, "Step sizes η", "0.05, 0.3, 0.6", "0.05, 0.3"),
    "shallow_orbit": ("shallow?view=orbit", 1, "Largest η|Φ|", "1.6", "1.5"),
    "shallow_figure3": ("shallow?view=figure3", 2, "Largest ηλ(0)", "3", "2.5"),
    "shallow_catapult": ("shallow?view=catapult", 2, "Values of ηλ₀", "1.5, 3, 3.9, 4.5",
                         "1.5, 3, 3.9"),
    "images": ("images", 2, "Step sizes η", "0.5, 2", "0.5"),
}
VIEWPORT = {"width": 1280, "height": 800}
# The bare page with the Streamlit widgets of the perceptron-dynamics view and none of the app's
# code (12 sidebar inputs, 8 lines of text, a nine-line log chart with a legend, a table, 5
# downloads; see benchmarks.common.BARE_PAGE): how much of a view's ratio its widgets account for.
FURNISHED = "bare_furnished"
# A fingerprint of the first chart: per trace its name, and the length and first, middle and
# last values of x and y. Cheap on purpose: the polling runs every 20 ms during the redraw it
# times, and serialising every point (CHART_SCRIPT) took the browser's main thread for
# milliseconds per poll on the charts with thousands of points, slowing the very redraw measured.
FINGERPRINT = """(i) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
    if (!gd || !gd._fullData) return null;
    const pick = (v) => { if (v == null) return null; const n = v.length;
                          return [n, v[0], v[n >> 1], v[n - 1]]; };
    return JSON.stringify(gd._fullData.map(t => [t.name, pick(t.x), pick(t.y)])); }"""
CHANGED = f"""(old) => {{ const now = ({FINGERPRINT})(0); return now !== null && now !== old; }}"""
SETTLED = """() => !document.querySelector('[data-stale="true"]')"""


def sidebar_input(tab, label: str):
    return tab.locator('section[data-testid="stSidebar"]').get_by_label(label, exact=True)


def timed_change(tab, prepare, commit, timeout_ms: int = 600_000) -> tuple[float, float, float]:
    """``prepare()`` (typing a value, untimed), then, from ``commit()`` (the key that sends it):
    the wall seconds until the first chart shows other data, the wall seconds until then and
    nothing on the page is stale (the script run has finished and every element is redrawn),
    and the CPU seconds the servers and the browser spent until then."""
    prepare()
    before = tab.evaluate(FINGERPRINT, 0)
    cpu = descendants_cpu_seconds()
    started = time.perf_counter()
    commit()
    tab.wait_for_function(CHANGED, arg=before, timeout=timeout_ms, polling=20)
    first = time.perf_counter() - started
    tab.wait_for_function(SETTLED, timeout=timeout_ms, polling=20)
    wall = time.perf_counter() - started
    return first, wall, descendants_cpu_seconds() - cpu


def typed(tab, label: str, value: str) -> tuple:
    """(prepare, commit) of typing ``value`` into a sidebar input and pressing Enter."""
    box = sidebar_input(tab, label)
    return (lambda: box.fill(value)), (lambda: box.press("Enter"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    args = parser.parse_args(argv)
    cases = [name for name in args.cases.split(",") if name]
    times: dict[str, list[tuple[float, float, float]]] = {"bare": [], FURNISHED: [],
                                                          **{name: [] for name in cases}}
    with app_and_bare_page("gdx-bench-redraw-") as (app, bare, browser):
        bare_tab = browser.new_page(viewport=VIEWPORT)
        bare_tab.goto(bare.url)
        wait_for_app(bare_tab, 1)
        slider = bare_tab.get_by_role("slider")
        furnished_tab = browser.new_page(viewport=VIEWPORT)
        furnished_tab.goto(f"{bare.url}/?furnished=1")
        wait_for_app(furnished_tab, 1)
        furnished_slider = furnished_tab.get_by_role("slider")
        tabs = {}
        for name in cases:                     # open each page; compute both values once
            path, charts, label, first, second = CASES[name]
            tab = tabs[name] = browser.new_page(viewport=VIEWPORT)
            tab.goto(f"{app.url}/{path}")
            wait_for_app(tab, charts, timeout_ms=600_000)
            for value in (second, first):
                timed_change(tab, *typed(tab, label, value))
        keys = ("ArrowRight", "ArrowLeft")
        for round_index in range(args.rounds):
            times["bare"].append(timed_change(
                bare_tab, slider.focus, lambda k=keys[round_index % 2]: slider.press(k)))
            times[FURNISHED].append(timed_change(
                furnished_tab, furnished_slider.focus,
                lambda k=keys[round_index % 2]: furnished_slider.press(k)))
            for name in cases:
                _, _, label, first, second = CASES[name]
                value = (second, first)[round_index % 2]
                times[name].append(timed_change(tabs[name], *typed(tabs[name], label, value)))
    first = median_ratios({name: [f for f, _, _ in values] for name, values in times.items()})
    wall = median_ratios({name: [w for _, w, _ in values] for name, values in times.items()})
    cpu = median_ratios({name: [c for _, _, c in values] for name, values in times.items()})
    report = {"benchmark": "redraw", "rounds": args.rounds,
              "bare_redraw_s": wall["bare"]["median_s"], "bare_redraw_cpu_s": cpu["bare"]["median_s"],
              "bare_first_chart_s": first["bare"]["median_s"],
              FURNISHED: {"first_chart": first[FURNISHED], "wall": wall[FURNISHED],
                          "cpu": cpu[FURNISHED]},
              "cases": {name: {"first_chart": first[name], "wall": wall[name], "cpu": cpu[name]}
                        for name in cases},
              "bare_all_s": wall["bare"]["all_s"], "bare_all_cpu_s": cpu["bare"]["all_s"],
              "load_average": os.getloadavg()}
    if args.format == "json":
        print(json.dumps(report, indent=1))
    else:
        print(f"bare page (slider + chart): first chart {first['bare']['median_s']:.3f} s, settled "
              f"{wall['bare']['median_s']:.3f} s wall, {cpu['bare']['median_s']:.3f} s CPU "
              f"(median of {args.rounds})")
        for name in [FURNISHED, *cases]:
            print(f"{name:18s} first chart {first[name]['median_s']:6.3f} s (ratio {first[name]['ratio']:.2f})"
                  f"  settled {wall[name]['median_s']:6.3f} s (ratio {wall[name]['ratio']:.2f})"
                  f"  {cpu[name]['median_s']:6.3f} s CPU (ratio {cpu[name]['ratio']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
