"""Landing page: what the explorer shows, and a gallery of scenarios — one click to each
phenomenon, each a permalink into the right page with the right settings."""
from __future__ import annotations

import streamlit as st

from core.claims.scenarios import SCENARIOS
from ui.navigation import require_app
from ui.page import presentation_toggle
from ui.previews import preview_path

COLUMNS = 3


def main() -> None:
    require_app()
    presentation_toggle()
    st.title("GD Dynamics Explorer")
    st.markdown(
        "Gradient descent with large steps: on the logistic loss it becomes a perceptron, "
        "on shallow linear networks it ends flatter than gradient flow, and on small networks "
        "it rides the edge of stability. Pick a scenario: each opens a page with the settings "
        "that show the effect (the link is the permalink), with one line on what to look for.")
    for start in range(0, len(SCENARIOS), COLUMNS):
        columns = st.columns(COLUMNS)
        for column, scenario in zip(columns, SCENARIOS[start:start + COLUMNS]):
            card = column.container(border=True, height="stretch")
            card.markdown(f"**{scenario.title}**")
            preview = preview_path(scenario.key)
            if preview.exists():             # made from the scenario's own runs (ui/previews.py)
                card.image(str(preview), width="stretch")
            card.caption(f"**What to look for:** {scenario.look_for}"
                         + (f" ({scenario.source})" if scenario.source else ""))
            card.page_link(scenario.page_file, label="Open this view",
                           query_params={**scenario.query, "scenario": scenario.key}, icon=":material/play_circle:",
                           help=f"Permalink: {scenario.link()}")
    st.caption("Every page's URL holds its settings: copy it to share a view. Pins on "
               "the chart pages keep earlier views in the URL for comparison. Each card's "
               "picture is its page's first chart, drawn small from the same runs.")


if __name__ == "__main__":      # Streamlit runs a page as __main__
    main()
