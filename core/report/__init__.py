"""Presentation: display objects and their plotly drawing, payload plans, the site map."""
