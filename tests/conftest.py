import os
import tempfile
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent

# Tests never touch the user's cache/ folder.
os.environ.setdefault("GDX_CACHE_DIR", tempfile.mkdtemp(prefix="gdx-test-cache-"))

# Fuzz budgets: "dev" while working, "ci" (set by CI=true, or HYPOTHESIS_PROFILE) in the full run.
settings.register_profile("dev", max_examples=100, deadline=None, derandomize=True, database=None)
settings.register_profile("ci", max_examples=1000, deadline=None, derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


# Browser tests (tests/test_browser*.py): one Chromium per module, and a fresh tab per test
# sized by the module's VIEWPORT that fails the test on any JavaScript error.
import pytest  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser_helpers import launch_browser

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    tab = browser.new_page(viewport=request.module.VIEWPORT)
    errors = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    tab.close()
    assert not errors, errors


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """AppTests run app.py in this process, and app.py limits torch to one thread for the
    dashboard; put the test process's own setting back so later tests are not affected."""
    import torch

    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def unrestricted_paths():
    """AppTests run app.py here, which restricts dataset paths to visitors' uploads; the
    CLI and core tests read files anywhere, as the CLI does."""
    yield
    from core.store.uploads import restrict_paths_to_visitors

    restrict_paths_to_visitors(False)
