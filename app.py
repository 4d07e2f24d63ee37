"""GD Dynamics Explorer: ``streamlit run app.py``.

One file per page in ``pages/``; this script sets the page up, runs the chosen page and
then adds the shared sidebar footer (device and cache)."""
from __future__ import annotations

import streamlit as st

from core.uploads import restrict_paths_to_visitors
from ui.boundary import guarded
from ui.sidebar import limit_torch_threads, sidebar_footer

guarded(limit_torch_threads)
restrict_paths_to_visitors()      # dataset paths: uploads and GDX_DATA_DIRS only

st.set_page_config(page_title="GD Dynamics Explorer", page_icon=":material/timeline:",
                   layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Scenarios", icon=":material/home:", url_path="home",
            default=True),
    st.Page("pages/dynamics.py", title="Perceptron dynamics", icon=":material/show_chart:",
            url_path="perceptron_dynamics"),
    st.Page("pages/complexity.py", title="Iteration complexity", icon=":material/stacked_line_chart:",
            url_path="complexity"),
    st.Page("pages/step_size_map.py", title="Step-size map", icon=":material/scatter_plot:",
            url_path="step_size_map"),
    st.Page("pages/shallow.py", title="Shallow linear networks", icon=":material/functions:",
            url_path="shallow"),
    st.Page("pages/images.py", title="Image classifiers", icon=":material/image:",
            url_path="images"),
    st.Page("pages/checks.py", title="Paper checks", icon=":material/fact_check:",
            url_path="checks"),
]

# The landing page (scenarios) lives at "/"; this hidden twin keeps "/dynamics" links working.
ALIASES = [st.Page("pages/dynamics.py", title="Perceptron dynamics", url_path="dynamics",
                   visibility="hidden")]

page = st.navigation(PAGES + ALIASES)
st.sidebar.caption("GD Dynamics Explorer · gradient descent on the logistic loss and "
                   "its perceptron limits")
guarded(page.run)
guarded(sidebar_footer)
