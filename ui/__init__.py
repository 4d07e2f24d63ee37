"""Streamlit helpers shared by the pages (URL state, sidebar controls, charts, downloads).

Pages import from here; ``core`` never imports this package."""
