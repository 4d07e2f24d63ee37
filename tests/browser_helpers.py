"""Start the app with ``streamlit run`` and drive it with Debian's Chromium (Playwright).

Used by tests/test_browser.py; also runnable by hand to take screenshots:
``python3 tests/browser_helpers.py artifacts/screenshots``.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1500, "height": 1000}
SHOT_VIEWPORT = {"width": 1500, "height": 4400}
PAGES = {"dynamics": "Perceptron dynamics", "complexity": "Iteration complexity",
         "step_size_map": "Step-size map"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``streamlit run app.py`` (or ``script``) on a free port, with its own cache folder."""

    def __init__(self, cache_dir: str, log_path: Path, script: str = "app.py"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, GDX_CACHE_DIR=cache_dir, PYTHONUNBUFFERED="1")
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"streamlit did not become healthy within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def start_server(request, log: Path, cache_dir: str | None = None) -> Server:
    """A test module's ``streamlit run`` server (its own cache folder unless ``cache_dir``),
    stopped when the module's tests are done."""
    log.parent.mkdir(parents=True, exist_ok=True)
    app = Server(cache_dir or tempfile.mkdtemp(prefix="gdx-browser-cache-"), log)
    request.addfinalizer(app.stop)
    app.wait_ready()
    return app


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


IDLE_SCRIPT = """(n) => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n
    && !document.querySelector('[data-stale="true"]')"""
CHART_SCRIPT = """(i) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
    if (!gd || !gd.data) return null;
    const list = (v) => (v == null ? null : Array.from(v));
    const traces = gd._fullData || gd.data;  // _fullData: binary (bdata) arrays decoded
    return JSON.stringify(traces.map(t => [t.name, list(t.x), list(t.y)])); }"""


def wait_for_app(page, charts: int, timeout_ms: int = 120_000) -> None:
    """Wait until at least ``charts`` plotly charts are drawn and no element is stale (the
    script run has finished), then until that state has held for half a second."""
    page.wait_for_function(IDLE_SCRIPT, arg=charts, timeout=timeout_ms)
    page.wait_for_timeout(500)
    page.wait_for_function(IDLE_SCRIPT, arg=charts, timeout=timeout_ms)


def chart_data(page, index: int = 0) -> str | None:
    """The traces (name, x, y) of the index-th plotly chart on the page, as JSON text."""
    return page.evaluate(CHART_SCRIPT, index)


def wait_for_change(page, before: str | None, index: int = 0, timeout_ms: int = 120_000) -> str:
    """Wait until the index-th chart's data differs from ``before``; return the new data."""
    changed = (f"(old) => {{ const now = ({CHART_SCRIPT})({index}); "
               f"return now !== null && now !== old; }}")
    page.wait_for_function(changed, arg=before, timeout=timeout_ms)
    wait_for_app(page, index + 1, timeout_ms)
    return chart_data(page, index)


# Every plotly chart on the page, checked the way a reader would: it has data, no axis range
# is blown up by an outlier (the bulk of the drawn values spans a fair part of the axis), and
# its title is not clipped (the title's box lies inside the chart).
CHECK_SCRIPT = """() => [...document.querySelectorAll('.js-plotly-plot')].map((gd, index) => {
    const out = {index, title: '', points: 0, problems: []};
    const full = gd._fullLayout || {};
    out.title = (full.title && full.title.text) || '';
    const values = {x: [], y: []};
    for (const trace of gd._fullData || gd.data || []) {  // _fullData: bdata decoded
        if (trace.type === 'image' || trace.type === 'contour' || trace.type === 'heatmap') {
            out.points += 1; continue; }
        if (trace.meta === 'edge' || trace.meta === 'skip' || trace.visible === false) continue;
        for (const axis of ['x', 'y']) {
            for (const v of Array.from(trace[axis] || [])) {
                if (typeof v === 'number' && isFinite(v)) values[axis].push(v); }
        }
        out.points += Array.from(trace.y || []).filter(v => typeof v === 'number' && isFinite(v)).length;
    }
    if (out.points === 0) {
        const note = (full.annotations || []).map(a => a.text).join(' ');
        if (!note) out.problems.push('no data and no note saying why');
        out.empty_note = note;
    }
    for (const axis of ['x', 'y']) {
        const layout = full[axis + 'axis'];
        if (!layout || !layout.range || layout.visible === false) continue;
        const log = layout.type === 'log';
        let data = values[axis].filter(v => !log || v > 0).map(v => log ? Math.log10(v) : v);
        if (data.length < 4) continue;
        data.sort((a, b) => a - b);
        const q = (p) => data[Math.min(data.length - 1, Math.floor(p * (data.length - 1)))];
        const bulk = q(0.9) - q(0.1);
        const range = Number(layout.range[1]) - Number(layout.range[0]);
        if (!(range > 0)) continue;
        if (log ? range > bulk + 40 : (bulk > 0 && bulk / range < 1e-3))
            out.problems.push(`${axis} axis blown up: range ${range.toPrecision(3)} for a bulk of ${bulk.toPrecision(3)}`);
    }
    const svg = gd.querySelector('.main-svg');
    for (const title of gd.querySelectorAll('.gtitle, .gtitle-subtitle')) {
        if (!svg || !title.textContent) continue;
        const box = svg.getBoundingClientRect(), t = title.getBoundingClientRect();
        if (t.left < box.left - 1 || t.right > box.right + 1 || t.top < box.top - 1)
            out.problems.push(`title clipped: ${title.textContent}`);
    }
    return out; })"""


def check_charts(page) -> list[dict]:
    """:data:`CHECK_SCRIPT` on every chart of the page: one dict per chart."""
    return page.evaluate(CHECK_SCRIPT)


def set_input(page, label: str, value: str) -> None:
    """Type into the sidebar text or number input with this label and commit it."""
    box = page.locator('section[data-testid="stSidebar"]').get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")


@contextmanager
def running_app(log_dir: Path):
    cache = tempfile.mkdtemp(prefix="gdx-browser-cache-")
    server = Server(cache, log_dir / "streamlit.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def screenshot_all(out: Path) -> None:
    """Open every page at its defaults and save full-page screenshots (manual use)."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with running_app(out) as server, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = browser.new_page(viewport=SHOT_VIEWPORT)
        for path, charts in (("dynamics", 1), ("complexity", 1), ("step_size_map", 2)):
            page.goto(f"{server.url}/{path}")
            wait_for_app(page, charts)
            page.screenshot(path=str(out / f"{path}.png"), full_page=True)
            print(path, json.dumps(page.evaluate("() => location.search"))[:200])
        browser.close()


if __name__ == "__main__":
    screenshot_all(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "artifacts" / "screenshots"))
