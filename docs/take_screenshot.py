"""Takes docs/screenshot-dynamics.png: python docs/take_screenshot.py "Perceptron dynamics" docs/screenshot-dynamics.png
(starts the dashboard on port 8631, opens the home page, clicks the page link, waits for the chart)."""
import subprocess, sys, time, urllib.request, os
from playwright.sync_api import sync_playwright
port = 8631
env = {**os.environ, "GDX_CACHE_DIR": "/tmp/gdxcache-newcomer"}
server = subprocess.Popen([".venv/bin/python", "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                           "--server.port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2); break
        except OSError:
            time.sleep(0.5)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/", timeout=120000)
        page.get_by_role("link", name=sys.argv[1]).first.click()
        page.wait_for_selector(".js-plotly-plot", timeout=240000)
        time.sleep(3)
        for button in page.locator('div[role=dialog] button[aria-label=Close]').all():
            button.click()
        time.sleep(1)
        page.screenshot(path=sys.argv[2])
        b.close()
finally:
    server.terminate()
