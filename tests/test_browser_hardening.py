"""The shared server under hostile and heavy use, in Chromium against `streamlit run`:

* hostile URLs neither grow the server (peak RSS < 1.5 GB) nor stall it (health < 2 s), and
  nothing they carry becomes a link, an image fetch or a traceback on the page;
* a visitor who leaves stops their computation;
* five heavy sessions leave a sixth able to load a cached light page within 1.5x its idle
  time (the computing thread runs at a lower priority: ui.compute.COMPUTE_NICE).
"""
from __future__ import annotations

import os
import statistics
import threading
import time
import urllib.request

import pytest

from tests.browser_helpers import CHROMIUM, ROOT, Server, start_server, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

EVIL = "evil.example"
HOSTILE_URLS = [
    "/?step_size=1:inf:x2",
    "/perceptron_dynamics?step_size=1:1e12:x1.0000000001&seed=0,1,...,1e15",
    "/complexity?dims=16:inf:x2",
    "/complexity?seed=0:100000000&dims=16,32,...,1e12",
    "/step_size_map?gamma=0",
    "/step_size_map?gamma=-1&step_count=1e12",
    f"/perceptron_dynamics?model=[click me](https://{EVIL}/x)",
    f"/perceptron_dynamics?dataset=csv&label_column=![t](https://{EVIL}/t.png)",
    f"/images?dataset=cifar10&path=/etc",
    "/images?kernel_size=1,2,...,1e9&n=１２",
    "/shallow?view=orbit&orbit_count=1e12&orbit_iters=1e300",
    "/shallow?view=fig3&scales=1:1e300:x1.0000001&eta_lambda_count=99999999",
    f"/checks?slow=<img src=https://{EVIL}/x>",
]


def wait_settled(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]') && "
                           "!document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout_ms)
    page.wait_for_timeout(700)


class Watch:
    """Polls the server's /_stcore/health and its resident memory from a thread."""

    def __init__(self, server: Server):
        self.server, self.latencies, self.stop = server, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{self.server.url}/_stcore/health", timeout=10):
                    pass
            except OSError:
                pass
            self.latencies.append(time.perf_counter() - started)
            self.stop.wait(0.25)

    def peak_rss_bytes(self) -> int:
        with open(f"/proc/{self.server.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=15)


@pytest.fixture(scope="module")
def server(request):
    return start_server(request, ROOT / "artifacts" / "screenshots" / "streamlit-hardening.log")


def test_hostile_urls_leave_the_server_small_healthy_and_clean(server, browser):
    outside = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda request: outside.append(request.url)
            if "127.0.0.1" not in request.url and not request.url.startswith(("data:", "blob:"))
            else None)
    with Watch(server) as watch:
        for path in HOSTILE_URLS:
            page.goto(server.url + path)
            wait_settled(page)
            body = page.inner_text("body")
            assert "Traceback" not in body and "/work/" not in body and "Error:" not in body, path
            # The app's own links may carry the URL's text in their query; none may lead off-site.
            hosts = page.evaluate("() => [...document.querySelectorAll('a[href], img[src]')]"
                                  ".map(e => new URL(e.href || e.src, location.href).hostname)")
            assert EVIL not in hosts, (path, hosts)
        page.screenshot(path=str(ROOT / "artifacts" / "screenshots" / "hostile-last.png"))
        peak = watch.peak_rss_bytes()
    page.close()
    assert not [url for url in outside if EVIL in url], outside
    assert peak < 1.5 * 2**30, f"server peak RSS {peak / 2**30:.2f} GiB"
    assert max(watch.latencies) < 2.0, f"slowest health check {max(watch.latencies):.2f} s"
    print(f"hostile URLs: peak RSS {peak / 2**20:.0f} MiB, health max "
          f"{max(watch.latencies) * 1000:.0f} ms over {len(watch.latencies)} checks")


HEAVY = ("/perceptron_dynamics?dataset=gaussian&n=2000&d=200&step_size=1e-3:1e3:log64"
         "&max_iters=200000&run_to_max=1&algorithm=gd&seed={seed}")
LIGHT = "/perceptron_dynamics?dataset=two_point&step_size=1,100&max_iters=50&algorithm=gd"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_chart_seconds(browser, url: str) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    wait_for_app(page, 1)
    seconds = time.perf_counter() - started - 1.0     # wait_for_app holds the state ~0.5 s twice
    context.close()
    return seconds


def test_a_visitor_who_leaves_stops_the_computation(server, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + HEAVY.format(seed=101))
    page.wait_for_selector('[data-testid="stProgress"]', timeout=60_000)
    pid = server.process.pid
    busy_before = cpu_seconds(pid)
    time.sleep(2)
    assert cpu_seconds(pid) - busy_before > 0.5           # it is computing
    context.close()                                       # the visitor leaves
    time.sleep(2)                # the disconnect, then the next progress report (every 0.25 s)
    idle_start = cpu_seconds(pid)
    time.sleep(3)
    assert cpu_seconds(pid) - idle_start < 0.6, "the computation kept running after the visitor left"


@pytest.mark.heavy
def test_heavy_sessions_leave_a_light_page_responsive(server, browser):
    first_chart_seconds(browser, server.url + LIGHT)                  # cache it
    idle = statistics.median(first_chart_seconds(browser, server.url + LIGHT) for _ in range(3))
    heavy = [browser.new_context() for _ in range(5)]
    try:
        for index, context in enumerate(heavy):
            context.new_page().goto(server.url + HEAVY.format(seed=index), wait_until="commit")
        time.sleep(6)                                   # every heavy session is running or waiting
        loaded = statistics.median(first_chart_seconds(browser, server.url + LIGHT)
                                   for _ in range(3))
    finally:
        for context in heavy:
            context.close()
    print(f"light page first chart: idle {idle:.2f} s, beside 5 heavy sessions {loaded:.2f} s "
          f"({loaded / idle:.2f}x)")
    assert loaded <= 1.5 * idle, (idle, loaded)
