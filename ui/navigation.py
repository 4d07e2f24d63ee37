"""Make every page run through app.py's ``st.navigation``.

Streamlit treats an app with a ``pages/`` folder as a v1 multipage app until the entry
script has called ``st.navigation`` once in the server process. When the very first
request of a fresh server opens a page URL (a shared link such as ``/complexity?...``),
Streamlit would run that page file on its own — without the app's layout, sidebar and
page list, and stuck in v1 mode. Each page calls :func:`require_app` first: in that case it
switches Streamlit to ``st.navigation`` mode and reruns, so app.py takes over.
"""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def require_app() -> None:
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
