"""AppTest helpers for the shallow, images and checks pages (on top of tests/app_helpers.py)."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from streamlit.testing.v1 import AppTest

from tests.app_helpers import APP, TIMEOUT

EXTRA_PAGE_FILES = {"shallow": "pages/shallow.py", "images": "pages/images.py",
                    "checks": "pages/checks.py"}


def open_extra(page: str, query: dict[str, str] | None = None) -> AppTest:
    """Run app.py showing ``page`` with ``query`` as its URL query string. (The page's
    url_path is its file name, so it can be chosen before the first run, which then
    skips the default page.)"""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params = dict(query or {})
    return at.switch_page(EXTRA_PAGE_FILES[page]).run()


def link_query(link: str) -> tuple[str, dict[str, str]]:
    """'/shallow?a=1&b=2' or 'shallow?…' -> ('shallow', {'a': '1', 'b': '2'})."""
    parts = urlsplit(link)
    return parts.path.strip("/"), dict(parse_qsl(parts.query, keep_blank_values=True))
