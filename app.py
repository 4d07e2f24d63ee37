"""GD Dynamics Explorer: ``streamlit run app.py``.

One file per page in ``pages/``; this script sets the page up, runs the chosen page and
then adds the shared sidebar footer (device and cache)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.report.site import ALIASES as SITE_ALIASES
from core.report.site import PAGE_FILES, PAGE_TITLES
from core.report.site import PAGES as SITE_PAGES
from core.store.uploads import restrict_paths_to_visitors
from ui.boundary import guarded
from ui.compute import page_load
from ui.sidebar import limit_torch_threads, sidebar_footer

guarded(limit_torch_threads)
restrict_paths_to_visitors()      # dataset paths: uploads and GDX_DATA_DIRS only

# The icon ships with the app: a ":material/…:" page icon makes every browser fetch it
# from Google's font server (an offline lab network would lack it; no third-party calls).
ICON = str(Path(__file__).resolve().parent / "assets" / "icon.png")
st.set_page_config(page_title="GD Dynamics Explorer", page_icon=ICON, layout="wide")

PAGES = [st.Page(entry.file, title=entry.title, icon=entry.icon, url_path=entry.url_path,
                 default=entry.default) for entry in SITE_PAGES]
# The landing page (scenarios) lives at "/"; hidden twins keep older links such as "/dynamics".
ALIASES = [st.Page(PAGE_FILES[target], title=PAGE_TITLES[target], url_path=alias,
                   visibility="hidden") for alias, target in SITE_ALIASES.items()]

page = st.navigation(PAGES + ALIASES)
st.sidebar.caption("GD Dynamics Explorer · gradient descent on the logistic loss and "
                   "its perceptron limits")
with page_load():            # one compute slot and time budget: computing and drawing
    guarded(page.run)
guarded(sidebar_footer)
