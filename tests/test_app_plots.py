"""The pure figure builders in core/report/plots.py (no streamlit involved)."""
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from core.analysis import sweeps as analysis
from core.report import plots
from core.report.display_dynamics import build_history, history_figure
from core.report.display_stepmap import orbit_figure
from core.engine.results import RunRecord, SweepResult
from core.analysis.scaling import parse_curves, sweep_dimensions
from core.kernel.spec import make_spec
from tests.app_helpers import dot_values

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def record(step, loss, *, seed=0, diverged_at=None, solve=None, params=None, tail=None):
    loss = np.asarray(loss, dtype=float)
    iterations = np.arange(len(loss))
    history = {"iteration": iterations, "loss": loss, "accuracy": np.ones_like(loss),
               "min_margin": np.linspace(-1, 1, len(loss)), "grad_norm": loss / 2,
               "param_norm": np.linspace(0, 2, len(loss))}
    return RunRecord(step, seed, solve, diverged_at is not None, diverged_at,
                     int(iterations[-1]), history, params, tail)


def sweep(records, algorithm="gd", **fields):
    spec = make_spec(dataset="two_point", algorithm=algorithm,
                     step_sizes=tuple(sorted({r.step_size for r in records})),
                     seeds=tuple(sorted({r.seed for r in records})), **fields)
    return SweepResult(spec, records, {})


def test_plots_never_imports_streamlit():
    code = "import sys, core.report.plots; assert 'streamlit' not in sys.modules, 'streamlit imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_history_figure_ends_a_diverged_run_with_a_cross_where_it_left():
    result = sweep([record(1.0, [0.7, 0.5, 0.3, 0.2]),
                    record(100.0, [0.7, 3.0, 1e200, math.inf], diverged_at=3)])
    display = build_history([result], "loss")
    low, high = display.y_range                           # the finite run only: 0.2 … 0.7
    assert math.log10(0.2) - 0.3 < low and high < math.log10(3.0)
    (gone,) = display.diverged
    assert gone.exit == (1, 10 ** high) and gone.exit_side == "above"
    assert display.facts["diverged"] == 1 and display.facts["first_divergence"] == 3
    figure = display.to_plotly()
    assert figure.layout.yaxis.type == "log"
    lines = {t.name: t for t in figure.data if t.mode == "lines"}
    assert set(lines) == {"GD γ=1", "GD γ=100"}
    assert lines["GD γ=100"].y[2:] == (None, None)        # nothing above the view is sent
    (cross,) = [t for t in figure.data if t.name == "diverged"]
    assert cross.x == (1,) and "diverged at t = 3" in cross.text[0]


def test_history_figure_colours_follow_the_step_size_and_dash_the_perceptron():
    gd = sweep([record(g, [0.7, 0.1]) for g in (0.1, 10.0)])
    perceptron = sweep([record(g, [0.7, 0.1]) for g in (0.1, 10.0)], algorithm="batch_perceptron")
    figure = history_figure([gd, perceptron], "accuracy")
    colours = {t.name: t.line.color for t in figure.data}
    assert colours["GD γ=0.1"] == colours["batch perceptron γ=0.1"]
    assert colours["GD γ=0.1"] != colours["GD γ=10"]
    dashes = {t.name: t.line.dash for t in figure.data}
    assert dashes["GD γ=10"] == "solid" and dashes["batch perceptron γ=10"] == "dot"


def test_min_margin_per_norm_divides_by_the_parameter_norm():
    result = sweep([record(1.0, [0.7, 0.5, 0.3])])
    raw = history_figure([result], "min_margin").data[0].y
    scaled = history_figure([result], "min_margin", per_norm=True).data[0].y
    assert raw == (-1.0, 0.0, 1.0)
    assert scaled[0] is None and scaled[1:] == (0.0, 0.5)   # ‖θ_0‖ = 0: undefined


def test_missing_metric_gives_an_explanatory_empty_figure():
    figure = history_figure([sweep([record(1.0, [0.7, 0.5])])], "perceptron_gap")
    assert not figure.data and "no run records" in figure.layout.annotations[0].text


def test_run_table_marks_divergence():
    rows = plots.run_table([sweep([record(1.0, [0.7, 0.2], solve=1),
                                   record(9.0, [0.7, math.nan], diverged_at=1)])])
    assert [row["status"] for row in rows] == ["solved", "diverged at t=1"]
    assert rows[1]["final loss"] is None


def test_boundary_figure_draws_the_zero_level_of_the_linear_model():
    spec = make_spec(dataset="two_point", model="linear")
    features = np.array([[1.0, -1.0], [-1.0, -4.0]])
    labels = np.array([1.0, -1.0])
    params = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, -0.2]])
    rec = record(1.0, [0.7, 0.6, 0.1], params=params)
    figure = plots.boundary_figure(spec, features, labels, rec, 2)
    (contour,) = [t for t in figure.data if t.type == "contour" and t.line.width == 4]
    z = np.array(contour.z)
    xs, ys = np.array(contour.x), np.array(contour.y)
    assert np.allclose(z, xs[None, :] - 0.2 * ys[:, None])   # g(b) = θᵀb on the grid
    assert figure.layout.title.subtitle.text.startswith("0 of 2 points misclassified")
    at_t1 = plots.boundary_figure(spec, features, labels, rec, 1)
    assert at_t1.layout.title.subtitle.text.startswith("1 of 2 points misclassified")


def test_direction_paths_project_onto_two_principal_directions():
    rng = np.random.default_rng(0)
    params = rng.standard_normal((6, 5)) * np.array([5, 3, 0.1, 0.1, 0.1])
    result = sweep([record(1.0, np.linspace(0.7, 0.1, 6), params=params)])
    paths, explained = plots.direction_paths([result])
    (_, _, coords), = paths
    assert coords.shape == (6, 2)
    assert explained.sum() <= 1 + 1e-12 and explained[0] >= explained[1]
    figure = plots.direction_figure([result], ("gd", 1.0, 0), 3)
    assert any(t.name == "t = 3" for t in figure.data)


def test_orbit_and_step_map_figures():
    tail_settled = {"iteration": np.arange(6, 10), "loss": np.full(4, 0.05)}
    tail_oscillating = {"iteration": np.arange(6, 10), "loss": np.array([0.1, 0.3, 0.1, 0.3])}
    result = sweep([record(1.0, np.linspace(0.7, 0.05, 10), tail=tail_settled, solve=4),
                    record(50.0, np.r_[np.linspace(0.7, 0.1, 9), 0.3], tail=tail_oscillating),
                    record(900.0, [0.7, math.inf], diverged_at=1,
                           tail={"iteration": np.arange(2), "loss": np.array([1e300, math.inf])})],
                   run_to_max=True, tail_points=4)
    orbit = orbit_figure(result, selected=50.0)
    sent = json.loads(orbit.to_json())                              # what the browser gets
    x = dot_values(sent, "x")
    # no blow-up drawn; each distinct value once: γ = 1 settled (1 dot), γ = 50 a 2-cycle
    assert sorted(set(np.round(x, 9))) == [1.0, 50.0] and len(x) == 3
    assert [t.type for t in orbit.data][:2] == ["heatmap", "scatter"]   # the dots: one raster
    assert orbit.data[1].name == "diverged (inf/NaN)"
    assert orbit.layout.shapes[0].x0 == 50.0
    rows = analysis.step_map_rows(result)
    assert [row["loss increases in tail"] for row in rows][:2] == [0.0, pytest.approx(2 / 3)]
    assert [row["loss ever rose"] for row in rows] == [False, True, False]
    solve = plots.solve_vs_step_figure(result)
    assert solve.data[0].x == (1.0,) and solve.data[0].y == (4,)
    assert solve.data[1].marker.symbol == ("triangle-up", "x")
    share = plots.nonmonotone_figure(result)
    assert share.data[0].y[:2] == (0.0, pytest.approx(2 / 3))
    curve = plots.loss_curve_figure(result.runs[1], "gd")
    assert curve.data[1].name == "last K iterations (exact)" and len(curve.data[1].x) == 4


def test_robust_range_keeps_huge_losses_from_flattening_the_view():
    span = plots.robust_log_range([1e-2] * 50 + [1.0] * 50 + [1e290])
    assert span[0] == pytest.approx(-2.25) and span[1] <= 1.0
    assert plots.robust_log_range([0.0, math.nan]) is None


def test_loss_increase_fraction():
    assert analysis.loss_increase_fraction(np.array([3.0, 2.0, 1.0])) == 0.0
    assert analysis.loss_increase_fraction(np.array([1.0, 2.0, 1.0, 2.0, 1.0])) == 0.5
    assert math.isnan(analysis.loss_increase_fraction(np.array([1.0])))


def test_ticks_and_step_labels():
    assert plots.log_ticks([3.0, 40.0]) == [2.0, 5.0, 10.0, 20.0, 50.0]
    assert plots.log_ticks([1e-15, 1.0]) == [10.0**e for e in range(-15, 1, 2)]
    assert plots.tick_text(0.05) == "0.05" and plots.tick_text(1e-6) == "10⁻⁶"
    assert plots.tick_text(2e8) == "2·10⁸"
    assert [plots.format_step(g) for g in (0.1, 1000.0, 1e6, 0.3366)] == ["0.1", "1000", "10⁶", "0.337"]


def test_standalone_html_inlines_plotly():
    figure = history_figure([sweep([record(1.0, [0.7, 0.5])])], "loss")
    html = plots.figure_html(figure)
    assert html.lstrip().lower().startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert not re.search(r"<script[^>]*\bsrc=", html)     # nothing fetched from a CDN
    assert "Plotly.newPlot" in html
    assert len(html) > 1_000_000                     # plotly.js itself is in the file


def test_scaling_figure_reference_slopes_and_fit():
    base = make_spec(dataset="minimal", algorithm="batch_perceptron", seeds=(0, 1),
                     history_points=16, max_iters=5000, d=8)
    result = sweep_dimensions(base, parse_curves("linear:batch_perceptron:1", "gd", "1"),
                              [8, 16, 32, 64])
    figure = plots.scaling_figure(result)
    traces = {t.name: t for t in figure.data}
    slope1 = traces["reference slope 1 (∝ d)"]
    half = traces["reference slope ½ (∝ √d)"]
    assert np.allclose(np.diff(np.log(slope1.y)) / np.diff(np.log(slope1.x)), 1.0)
    assert np.allclose(np.diff(np.log(half.y)) / np.diff(np.log(half.x)), 0.5)
    (fit_name,) = [name for name in traces if name.startswith("fit: slope")]
    assert f"{result.fits[result.curves[0]].slope:.2f}" in fit_name
    assert list(figure.layout.xaxis.tickvals) == [8, 16, 32, 64]
    rows = plots.scaling_rows(result)
    assert [row["d"] for row in rows] == [8, 16, 32, 64]


def test_solve_figure_explains_when_nothing_solved():
    tail = {"iteration": np.arange(2, 4), "loss": np.array([0.3, 0.2])}
    result = sweep([record(g, [0.7, 0.5, 0.3, 0.2], tail=tail) for g in (1.0, 10.0)],
                   run_to_max=True, tail_points=2, max_iters=3)
    figure = plots.solve_vs_step_figure(result)
    assert not figure.data
    assert figure.layout.annotations[0].text.startswith("no run solved within 3 iterations")


# ---------------------------------------------------------------------- the charts' one rule
def test_one_blown_up_run_never_sets_the_axis_and_is_marked_and_counted():
    result = sweep([record(1.0, [0.7, 0.5, 0.3, 0.2]),
                    record(100.0, [0.7, 3.0, 1e200, math.inf], diverged_at=3),
                    record(1000.0, [0.7, 125.0, 0.0, 0.0])])
    display = build_history([result], "loss")
    low, high = display.y_range
    assert high < 3 and low > -2                    # the finite runs (0.2 … 125), not 1e200
    assert display.zeros == 2 and display.out_of_view["above"] == 1
    note = display.note
    assert "1 run leaves the view" in note and "2 values ≤ 0" in note
    assert "1 of 3 GD runs diverged" in display.caption


def test_tiny_values_on_a_log_axis_stay_in_view_but_a_linear_outlier_does_not():
    # A distance falling towards 0 is the point of a chart: 1e-13 stays in view …
    assert plots.robust_range([1.0, 0.5, 1e-3, 1e-9, 1e-13], log=True)[0] < -13
    # … while one value 1e292 times the rest is cut from a linear axis.
    low, high = plots.robust_range([0.1, 0.5, 0.9, 1.0, -2e292])
    assert -1 < low < 0.1 and 0.9 < high < 1.2


def test_an_all_zero_log_metric_is_drawn_on_a_linear_axis():
    zero = record(1.0, [0.7, 0.5])
    zero.history["perceptron_gap"] = np.zeros(2)
    figure = history_figure([sweep([zero])], "perceptron_gap")
    assert figure.layout.yaxis.type == "linear" and figure.data[0].y == (0.0, 0.0)


def test_tables_read_as_numbers_people_use():
    rows = plots.display_rows([{"iterations to solve": None, "final loss": 1.7262351180813079e+112,
                                "small": 0.000123456, "plain": 0.1 + 0.2, "count": 3},
                               {"iterations to solve": 12, "final loss": None, "small": 2.0,
                                "plain": 1e-20, "count": 4}])
    assert rows[0] == {"iterations to solve": "not solved", "final loss": "1.726e+112",
                       "small": "0.0001235", "plain": "0.3", "count": 3}
    assert rows[1]["iterations to solve"] == "12" and rows[1]["final loss"] == "—"
    assert rows[1]["plain"] == "1.000e-20"


def test_seeds_of_one_step_size_are_shades_under_one_legend_entry():
    result = sweep([record(1.0, [0.7, 0.5], seed=s) for s in (0, 1, 2)])
    figure = history_figure([result], "loss")
    lines = [t for t in figure.data if t.meta != plots.EDGE_META]
    assert len({t.line.color for t in lines}) == 3
    assert [t.showlegend for t in lines] == [True, False, False]
    assert lines[0].name == "GD γ=1 (seeds 0–2)" and len({t.legendgroup for t in lines}) == 1


def test_image_runs_tell_collapsed_apart_from_not_yet_solved():
    from core.report import plots_images as pi

    stuck, collapsed = record(1.0, [0.7, 0.6]), record(4.0, [0.7, 0.69])
    collapsed.extras["collapsed"] = True
    stuck.extras["collapsed"] = False
    rows = pi.solve_rows([pi.Series(sweep([stuck, collapsed]), kernel=3)])
    assert [row["status"] for row in rows] == ["not 100 % yet", "collapsed (constant output)"]
    assert [row["collapsed"] for row in rows] == [False, True]
    shown = plots.display_rows(rows)
    assert shown[0]["iterations to 100 %"] == "not solved" and shown[1]["collapsed"] == "yes"


def test_the_styled_figure_is_the_plain_template_figure():
    import json

    import plotly.graph_objects as go

    plain = go.Figure(layout=dict(template=plots.TEMPLATE))
    fast = plots.styled_figure()
    for figure in (plain, fast):
        figure.update_layout(height=300, title="t", xaxis=dict(type="log", title="x"))
        figure.update_yaxes(title="y", showline=True)
        figure.add_trace(go.Scatter(x=[1, 2], y=[3, 4]))
    assert json.loads(fast.to_json()) == json.loads(plain.to_json())
    with pytest.raises(ValueError):
        fast.update_layout(heigth=3)                 # validation is back on after the template


def test_table1_loss_window_shows_where_the_runs_are_and_counts_the_plunge():
    # Table 1 (worst case, n = 1000): every run's loss lies within 1e-3.2 … 0.7, but normalized GD
    # with γ = 100 drops to 2e-22 in its last step; the axis no longer runs to 1e-13 for that one value.
    gd = sweep([record(g, np.geomspace(0.69, floor, length), solve=length - 1)
                for g, floor, length in ((10.0, 1e-3, 730), (100.0, 7e-4, 309))])
    normalized = sweep([record(100.0, [0.69, 0.075, 2.4e-22], solve=2),
                        record(0.1, np.geomspace(0.69, 1.1e-3, 158), solve=157)],
                       algorithm="normalized_gd")
    display = build_history([gd, normalized], "loss")
    low, high = display.y_range
    assert -5.5 < low < math.log10(7e-4) and high > math.log10(0.69)
    assert display.out_of_view["below"] == 1
    assert "down to 2.4·10⁻²²" in display.note
    # the solves at t = 2 … 729 span decades: a log t axis, t = 0 not sent
    assert display.log_x and "log t axis" in display.note
    figure = display.to_plotly()
    assert figure.layout.xaxis.type == "log"
    assert all(min(t.x) >= 1 for t in figure.data if t.mode == "lines")
    # negative control: when every run falls as far, the axis keeps them all
    together = sweep([record(g, np.geomspace(0.69, 1e-10, 50), solve=49) for g in (1.0, 10.0)])
    display = build_history([together], "loss")
    assert display.y_range[0] < -10 and display.out_of_view["below"] == 0
    assert not display.log_x


def panel(names, *, height=400, top=60, bottom=60, font=15):
    figure = plots.base_figure("panel", "t", "loss")
    for name in names:
        figure.add_scatter(x=[0, 1], y=[1, 2], name=name)
    figure.update_layout(height=height, margin=dict(t=top, b=bottom), font=dict(size=font))
    return figure


def plot_box(figure):
    return figure.layout.height - figure.layout.margin.t - figure.layout.margin.b


def test_a_legend_under_a_narrow_panel_keeps_the_plot_box_and_grows_with_its_rows():
    few, many, large = panel(["a", "b"]), panel(list("abcdef")), panel(["a", "b"], font=24)
    for figure in (few, many, large):
        before = plot_box(figure)
        plots.legend_under(figure)
        assert plot_box(figure) == before                       # the plot keeps its height
        assert figure.layout.legend.y < 0 and figure.layout.legend.yanchor == "top"
    assert many.layout.margin.b > few.layout.margin.b            # more rows, more room
    assert large.layout.margin.b > few.layout.margin.b           # a larger font, more room
    hidden = panel(["a", "b"])
    hidden.data[1].showlegend = False                            # not listed, no room for it
    plots.legend_under(hidden)
    assert hidden.layout.margin.b < few.layout.margin.b


def test_side_by_side_panels_share_one_plot_box_and_one_legend_when_they_list_the_same_runs():
    left, right = panel(["a", "b"], top=60), panel(["a", "b"], top=110, height=450)
    plots.align_panels([left, right])
    assert left.layout.margin.t == right.layout.margin.t >= 110
    assert plot_box(left) == plot_box(right)
    plots.share_legend([left, right])
    assert left.layout.showlegend is False and right.layout.showlegend is not False
    assert "with the next chart" in left.layout.title.subtitle.text
    other_left, other_right = panel(["a", "b"]), panel(["a", "c"])    # different runs: both keep theirs
    plots.share_legend([other_left, other_right])
    assert other_left.layout.showlegend is not False
    fewer, more = panel(["a", "b"]), panel(["a", "b", "2/η"])       # the next one lists them all
    plots.share_legend([fewer, more])
    assert fewer.layout.showlegend is False and more.layout.showlegend is not False
    more_first, fewer_last = panel(["a", "b", "2/η"]), panel(["a", "b"])   # it would lose 2/η
    plots.share_legend([more_first, fewer_last])
    assert more_first.layout.showlegend is not False
    under_left, under_right = panel(["a"]), panel(["a"])              # a legend under its plot stays
    plots.legend_under(under_left)
    plots.share_legend([under_left, under_right])
    assert under_left.layout.showlegend is not False


# ---------------------------------------------------------------------- room for long notes
def test_a_chart_with_long_notes_keeps_its_plot_and_its_legend_room():
    """Five subtitle lines left a 400 px panel a 150 px plot (its y title ran up into the
    subtitle) and a nine-entry legend scrolled: the chart grows until its plot keeps
    MIN_PLOT px and its legend's rows, and the last subtitle line stands EDGE_GAP clear of the
    ▲/× marks on the frame. Negative control: a chart without notes keeps its height."""
    from core.report import display_dynamics as dd
    plain = history_figure([sweep([record(1.0, [0.7, 0.5, 0.3, 0.2])])], "loss", height=400)
    assert plain.layout.height == 400
    figure = history_figure([sweep([record(1.0, [0.7, 0.5, 0.3, 0.2])])], "loss", height=400)
    for note in ("one", "two", "three", "four", "five"):
        plots.add_subtitle(figure, note)
    figure.update_layout(margin=dict(t=dd._top_margin(figure, 15)))
    assert figure.layout.margin.t >= plots.title_room(5, 18) + dd.EDGE_GAP
    plots.room_for_legend(figure, 15)
    layout = figure.layout
    assert layout.height - layout.margin.t - layout.margin.b == plots.MIN_PLOT
    for step in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0):
        figure.add_trace(dict(type="scatter", x=[0], y=[1], name=f"γ={step}"))
    plots.room_for_legend(figure, 15)
    assert figure.layout.height - layout.margin.t - layout.margin.b >= 10 * 2 * 15 + 24


def test_side_by_side_legends_go_under_their_plots():
    """A legend beside a half-width panel (two long run names) left its plot 90 px wide: it
    goes under the plot. Negative controls: a hidden legend and one already under stay."""
    def panel(names):
        figure = plots.base_figure("t", "x", "y")
        for name in names:
            figure.add_trace(dict(type="scatter", x=[0], y=[1], name=name))
        return figure
    beside = panel(["CNN k=3 η=10⁵ (seeds 0, 1)", "CNN k=3 η=10⁸ (seeds 0, 1)"])
    hidden = panel(["a"])
    hidden.update_layout(showlegend=False)
    under = panel(["b"])
    plots.legend_under(under)
    before = (hidden.layout.height, under.layout.height, under.layout.legend.y)
    plots.legends_under([beside, hidden, under])
    assert beside.layout.legend.y < 0 and beside.layout.height > 400
    assert (hidden.layout.height, under.layout.height, under.layout.legend.y) == before


def test_the_nothing_solved_note_stands_on_white_over_the_chosen_step_line():
    result = sweep([record(g, [0.7, 0.5, 0.3, 0.2], diverged_at=3) for g in (1.0, 10.0)])
    figure = plots.solve_vs_step_figure(result, selected=3.0)
    assert figure.layout.annotations[0].bgcolor not in (None, "rgba(0,0,0,0)")
