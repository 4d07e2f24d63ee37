"""Several people on one lab server: three browser contexts (separate sessions) open the
dynamics page at different specs at the same time; each must get its own correct numbers."""
import json
import os
import tempfile

import pytest

from core.api import run_spec
from core.kernel.spec import make_spec
from tests.browser_helpers import CHROMIUM, ROOT, Server, chart_data, launch_browser, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

# Three views whose runs stop at different, known iterations (science.md §1, Table 1).
VIEWS = [
    dict(algorithm="normalized_gd", step_size="0.1"),    # solves at 157
    dict(algorithm="normalized_gd", step_size="1"),      # 16
    dict(algorithm="gd", step_size="100"),               # 308
]


def view_url(base, view):
    return (f"{base}/dynamics?model=linear&dataset=worst_case&n=1000&max_iters=5000&seed=0"
            f"&algorithm={view['algorithm']}&step_size={view['step_size']}")


def expected_last_iteration(view):
    spec = make_spec(dataset="worst_case", n=1000, max_iters=5000, algorithm=view["algorithm"],
                     step_sizes=(float(view["step_size"]),))
    return run_spec(spec, use_cache=False).result.runs[0].iterations_to_solve


def test_three_sessions_at_once_each_get_their_own_result():
    from playwright.sync_api import sync_playwright

    shots = ROOT / "artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    server = Server(tempfile.mkdtemp(prefix="gdx-concurrency-cache-"), shots / "streamlit-concurrency.log")
    try:
        server.wait_ready()
        with sync_playwright() as playwright:
            browser = launch_browser(playwright)
            contexts = [browser.new_context(viewport={"width": 1400, "height": 1800}) for _ in VIEWS]
            pages = [context.new_page() for context in contexts]
            for page, view in zip(pages, VIEWS):          # all three requests are in flight together
                page.goto(view_url(server.url, view), wait_until="commit")
            for index, (page, view) in enumerate(zip(pages, VIEWS)):
                wait_for_app(page, 1)
                traces = json.loads(chart_data(page, 0))
                ours = [x for name, x, _ in traces if x and ("γ" in str(name) or "=" in str(name))]
                assert ours, traces
                last = max(max(x) for x in ours)
                assert last == expected_last_iteration(view), (view, last)
                page.screenshot(path=str(shots / f"concurrent-{index}.png"))
            browser.close()
    finally:
        server.stop()
