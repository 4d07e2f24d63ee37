"""Ten heavy sessions against one `streamlit run` server (issue 20 §2): the server's resident
memory is measured idle, during and after them. While they work the server stays under
1.5 GiB; once every session has closed it returns to within 20 % of its idle level (no
figures, results or data kept for sessions that are gone)."""
from __future__ import annotations

import os
import time

import pytest

from tests.browser_helpers import CHROMIUM, ROOT, start_server, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.heavy,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

# Computes for a few seconds, then draws 32 runs' traces on every chart of the page.
HEAVY = ("/perceptron_dynamics?dataset=gaussian&n=600&d=60&step_size=1e-3:1e3:log32"
         "&max_iters=300&run_to_max=1&algorithm=gd&seed={seed}")
LIGHT = "/perceptron_dynamics?dataset=two_point&step_size=1,100&max_iters=50&algorithm=gd"
SESSIONS = 10


@pytest.fixture(scope="module")
def server(request):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GDX_SESSION_SECONDS", "60")
        patch.setenv("GDX_CONCURRENT_RUNS", "2")
        return start_server(request, ROOT / "artifacts" / "screenshots" / "streamlit-memory.log")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def settle(pid: int, seconds: float = 8.0) -> int:
    """The server's RSS once it has stopped changing by more than 2 MiB over a second."""
    deadline, last = time.monotonic() + seconds, rss_bytes(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = rss_bytes(pid)
        if abs(now - last) < 2 * 2**20:
            return now
        last = now
    return rss_bytes(pid)


def visit(browser, url: str, charts: int = 1) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    wait_for_app(page, charts, timeout_ms=240_000)
    context.close()


def test_ten_heavy_sessions_leave_the_server_at_its_idle_memory(server, browser):
    pid = server.process.pid
    visit(browser, server.url + LIGHT)
    visit(browser, server.url + HEAVY.format(seed=1000))         # every module imported
    time.sleep(3)                                              # the sessions are gone
    idle = settle(pid)
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000})
                for _ in range(SESSIONS)]
    peak = idle
    try:
        pages = [context.new_page() for context in contexts]
        for index, page in enumerate(pages):
            page.goto(server.url + HEAVY.format(seed=index), wait_until="commit")
        deadline = time.monotonic() + 300
        done = set()
        while len(done) < SESSIONS and time.monotonic() < deadline:
            peak = max(peak, rss_bytes(pid))
            for index, page in enumerate(pages):
                if index not in done and page.evaluate(
                        "() => document.querySelectorAll('.js-plotly-plot').length > 0 && "
                        "!document.querySelector('[data-testid=\"stStatusWidget\"]')"):
                    done.add(index)
            time.sleep(0.5)
        during = rss_bytes(pid)
    finally:
        for context in contexts:
            context.close()
    time.sleep(3)                                   # Streamlit drops closed sessions
    after = settle(pid, seconds=20)
    print(f"server RSS: idle {idle / 2**20:.0f} MiB, peak with {SESSIONS} heavy sessions "
          f"{peak / 2**20:.0f} MiB (at the end {during / 2**20:.0f} MiB), after they closed "
          f"{after / 2**20:.0f} MiB ({after / idle:.2f}x idle); {len(done)} sessions drew")
    assert len(done) == SESSIONS, f"only {len(done)} of {SESSIONS} heavy sessions drew"
    assert peak < 1.5 * 2**30, f"peak {peak / 2**30:.2f} GiB"
    assert after <= 1.2 * idle, (idle, after)
