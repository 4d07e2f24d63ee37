"""A chart's subtitle (its notes: runs below the view, values a log axis cannot show, the
window of t) stays above the plot frame however many lines it has, in Chromium with the
plotly.js that ships with plotly. The batch_perceptron scenario's loss and distance charts
carried three lines whose last one ran through the frame and the top tick label."""
from __future__ import annotations

import os

import numpy as np
import plotly.io as pio
import pytest

from core.report.display_dynamics import HistoryDisplay, Line
from tests.browser_helpers import CHROMIUM

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"{CHROMIUM} is absent (install Debian's chromium)")]

VIEWPORT = {"width": 900, "height": 700}
NOTE = "t ≤ 10 shown, where the runs differ (all 108: “all iterations” or ⤢ autoscale)"
CASES = [(lines, font) for font in (15, 20) for lines in (1, 2, 3, 4)]

MEASURE = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => {
    const svg = gd.querySelector('.main-svg').getBoundingClientRect();
    const lines = [...gd.querySelectorAll('.gtitle-subtitle')].map(e => e.getBoundingClientRect());
    const frame = gd.querySelector('.nsewdrag').getBoundingClientRect();
    return {subtitle_bottom: Math.max(...lines.map(r => r.bottom)) - svg.top,
            frame_top: frame.top - svg.top}; })"""


def loss_figure(lines: int, font: int):
    t = np.arange(11)
    run = Line("gd", 1.0, 0, "GD γ=1", "GD γ=1", t, np.geomspace(0.7, 1e-3, 11), 10, None, 10)
    display = HistoryDisplay(title="logistic loss f(θₜ)", metric="loss", log_y=True,
                             y_title="logistic loss f(θₜ)", lines=[run], x_window=(0, 10),
                             x_full=(0, 10), y_range=(-3.2, 0.1),
                             notes=[f"{NOTE} ({index + 1})" for index in range(lines)])
    return display.to_plotly(height=460, legend=True, font_size=font)


@pytest.fixture(scope="module")
def measured(browser, tmp_path_factory):
    html = "".join(pio.to_html(loss_figure(*case), include_plotlyjs=index == 0, full_html=False)
                   for index, case in enumerate(CASES))
    path = tmp_path_factory.mktemp("subtitles") / "charts.html"
    path.write_text(f"<html><body>{html}</body></html>")
    tab = browser.new_page(viewport=VIEWPORT)
    tab.goto(path.as_uri())
    tab.wait_for_function("(n) => document.querySelectorAll('.js-plotly-plot .nsewdrag').length >= n",
                          arg=len(CASES), timeout=60_000)
    out = dict(zip(CASES, tab.evaluate(MEASURE)))
    tab.close()
    return out


@pytest.mark.parametrize("lines,font", CASES, ids=lambda v: str(v))
def test_the_subtitles_last_line_clears_the_plot_frame(measured, lines, font):
    box = measured[(lines, font)]
    assert box["subtitle_bottom"] <= box["frame_top"] - 2, box
