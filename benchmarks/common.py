"""What every benchmark script shares: ``--format text|json``, interleaved best-of rounds, and the
machine description that goes with every figure."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from typing import Callable

import torch


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def add_format(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--format, and --threads / --clock for measuring on a shared machine."""
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default) or one JSON object: seconds per variant, ratios, machine")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall (default) or cpu: process CPU time, steadier on a busy machine "
                             "with --threads 1")
    return parser


def configure(args) -> None:
    """Apply --threads and --clock."""
    global _clock
    if args.threads:
        torch.set_num_threads(args.threads)
    _clock = CLOCKS[args.clock]


def machine(device: str = "cpu") -> dict:
    info = {"device": device, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "clock": "cpu" if _clock is time.process_time else "wall",
            "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d", time.gmtime())}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int,
                device="cpu") -> tuple[dict[str, float], dict[str, list[float]], dict[str, object]]:
    """Run each contender once per round, in turn, so a noisy spell on a shared machine hits all
    of them; each figure is the best of its rounds (noise only ever adds time). Returns the
    best seconds, every round's seconds and each contender's last value."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    values: dict[str, object] = {}
    for _ in range(rounds):
        for name, function in contenders.items():
            synchronize(device)
            started = _clock()
            values[name] = function()
            synchronize(device)
            times[name].append(_clock() - started)
    return {name: min(seconds) for name, seconds in times.items()}, times, values


def emit(fmt: str, benchmark: str, seconds: dict, ratios: dict, info: dict, workload: dict,
         lines: list[str], extra: dict | None = None) -> None:
    """Print the text lines, or one JSON object."""
    if fmt == "json":
        document = {"benchmark": benchmark, "workload": workload,
                    "seconds": {k: round(v, 6) for k, v in seconds.items()},
                    "ratios": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in ratios.items()},
                    **info}
        if extra:
            document.update(extra)
        print(json.dumps(document))
    else:
        print("\n".join(lines))


# ---------------------------------------------------------------------- browser benchmarks
# bench_first_chart.py and bench_redraw.py time the app in Chromium against a bare Streamlit
# page measured in the same run: both servers, the browser and the median/ratio report are
# shared here.
BARE_PAGE = '''
import plotly.graph_objects as go
import streamlit as st

st.title("Bare page")
k = st.slider("k", 1, 50, 1)
if st.query_params.get("furnished") != "1":
    figure = go.Figure(go.Scatter(x=list(range(500)), y=[(i * k % 37) / 37 for i in range(500)]))
    st.plotly_chart(figure, theme=None)
    st.stop()
# ?furnished=1: the Streamlit widgets of the perceptron-dynamics view (12 sidebar inputs, 8 lines
# of text, a chart of nine lines with a legend and a log axis, a table of 8 rows, 5 downloads),
# none of the app's code
with st.sidebar:
    for i in range(6):
        st.number_input(f"input {i}", 0, 100, 5)
    for i in range(4):
        st.text_input(f"text {i}", "1,10,100")
    st.selectbox("choice", ["a", "b", "c"])
    st.checkbox("option")
for i in range(8):
    st.caption(f"A line {i} of text with **bold** words, as the captions and notes are.")
figure = go.Figure([go.Scatter(x=list(range(90)), y=[((i * k + j) % 37) / 37 + j + 0.1
                                                    for i in range(90)], name=f"run {j}")
                    for j in range(9)])
figure.update_layout(title="nine lines, a legend and a log axis", yaxis_type="log")
st.plotly_chart(figure, theme=None)
st.dataframe([{"run": j, "k": k, "value": (j * k) % 7 / 7} for j in range(8)])
for i in range(5):
    st.download_button(f"Download {i}", data=f"a,b\\n{i},{k}", file_name=f"f{i}.csv")
'''


@contextlib.contextmanager
def app_and_bare_page(prefix: str):
    """Two ``streamlit run`` servers, the app (with a fresh result cache of its own) and
    :data:`BARE_PAGE` (a title, one slider and one plotly chart), and a headless Chromium:
    yields (app, bare, browser)."""
    import tempfile
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from tests.browser_helpers import Server, launch_browser

    work = Path(tempfile.mkdtemp(prefix=prefix))
    script = work / "bare_page.py"
    script.write_text(BARE_PAGE)
    app = Server(str(work / "cache"), work / "app.log")
    bare = Server(str(work / "cache-bare"), work / "bare.log", script=str(script))
    try:
        app.wait_ready()
        bare.wait_ready()
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            try:
                yield app, bare, browser
            finally:
                browser.close()
    finally:
        app.stop()
        bare.stop()


def descendants_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by every process this one started, however
    deep (the Streamlit servers, Playwright's driver, Chromium and its renderers): the work a
    redraw costs, which a busy shared machine does not inflate the way it inflates the wall
    time. Linux only (/proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    return sum(times[pid] for pid in mine)


def median_ratios(times: dict[str, list[float]], baseline: str = "bare") -> dict:
    """Per variant: its median seconds, the ratio to the baseline's median (both measured in
    the same run) and every round's seconds."""
    import statistics

    base = statistics.median(times[baseline])
    return {name: {"median_s": round(statistics.median(values), 3),
                   "ratio": round(statistics.median(values) / base, 2),
                   "all_s": [round(v, 3) for v in values]}
            for name, values in times.items()}
