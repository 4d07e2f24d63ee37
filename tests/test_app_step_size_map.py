"""AppTest: the Step-size map page."""
import numpy as np
import pytest

from tests.app_helpers import dot_values, assert_clean, chart, charts, errors, open_page, table_rows, values

KEY = "step_size_map."


def test_defaults_draw_an_orbit_diagram_over_a_dense_grid():
    at = open_page("step_size_map")
    assert_clean(at)
    assert len(charts(at)) == 2                     # the orbit, then one view at a time
    orbit = chart(at, "orbit diagram")
    steps = np.unique(dot_values(orbit, "x"))
    assert len(steps) >= 200                        # one run per grid point, K losses each
    assert len(dot_values(orbit, "y")) > 5 * len(steps)
    assert orbit["layout"]["xaxis"]["type"] == "log" and orbit["layout"]["yaxis"]["type"] == "log"
    # Digits 1 against 8: small steps settle (one loss value), large steps oscillate.
    ys = dot_values(orbit, "y")
    xs = dot_values(orbit, "x")
    spread = {g: np.log10(ys[xs == g].max() / ys[xs == g].min()) for g in steps}
    assert spread[steps[0]] < 0.05 and spread[steps[-1]] > 0.3
    # … and the same defaults solve: iterations to solve show for the large steps.
    solve = chart(at, "iterations to solve against")
    solved = next(t for t in solve["data"] if t["name"] == "solved")
    assert len(values(solved, "x")) >= 50 and values(solved, "x").min() > 1
    at.radio(key=KEY + "view").set_value("nonmonotone").run()
    share = chart(at, "non-monotone")["data"][0]
    assert values(share, "y")[0] == 0 and values(share, "y")[-1] > 0.2
    at.radio(key=KEY + "view").set_value("loss").run()
    assert chart(at, "loss of the run with γ")
    at.radio(key=KEY + "view").set_value("numbers").run()
    rows = table_rows(at)
    assert len(rows) == len(steps)
    assert {row["iterations to solve"] for row in rows} >= {"not solved"}
    assert at.query_params["view"] == "numbers"


def test_choosing_a_step_size_shows_its_loss_curve():
    at = open_page("step_size_map", {"view": "loss"})
    before = chart(at, "loss of the run with γ")
    grid = np.logspace(0, 4, 200)                   # the default grid: 1 … 1e4, 200 points
    gamma = float(grid[5])
    at.select_slider(key=KEY + "gamma").set_value(gamma).run()
    assert_clean(at)
    after = chart(at, "loss of the run with γ")
    assert after["layout"]["title"]["text"] != before["layout"]["title"]["text"]
    assert not np.allclose(values(after["data"][0], "y"), values(before["data"][0], "y"),
                           equal_nan=True)
    vline = chart(at, "orbit diagram")["layout"]["shapes"][0]
    assert np.isclose(vline["x0"], gamma)
    assert np.isclose(float(at.query_params["gamma"]), gamma)


@pytest.mark.slow
def test_changing_the_grid_changes_the_orbit():
    at = open_page("step_size_map")
    at.number_input(key=KEY + "step_max").set_value(100.0).run()
    assert_clean(at)
    steps = np.unique(dot_values(chart(at, "orbit diagram"), "x"))
    assert np.isclose(steps.max(), 100.0) and len(steps) == 200
    assert at.query_params["step_max"] == "100"


def test_too_coarse_a_grid_names_the_field():
    at = open_page("step_size_map")
    assert at.number_input(key=KEY + "step_count").proto.min == 200    # the declared range
    coarse = open_page("step_size_map", {"step_count": "20"})
    assert not coarse.exception
    assert any("step_count: must be in [200, 2000], got 20" in m for m in errors(coarse)), \
        errors(coarse)
    bad = open_page("step_size_map", {"step_min": "-1"})
    assert not bad.exception
    assert any("step_min:" in m for m in errors(bad)), errors(bad)


def test_query_parameters_restore_a_diverging_view():
    query = {"model": "two_layer_conv", "dataset": "minimal", "d": "16", "step_min": "0.01",
             "step_max": "100", "max_iters": "80", "tail_points": "8", "seed": "3"}
    at = open_page("step_size_map", query)
    assert_clean(at)
    assert at.selectbox(key=KEY + "model").value == "two_layer_conv"
    assert at.number_input(key=KEY + "d").value == 16
    assert at.number_input(key=KEY + "step_min").value == 0.01
    assert at.number_input(key=KEY + "seed").value == 3
    for name, value in query.items():
        assert at.query_params[name] == value, name
    orbit = chart(at, "orbit diagram")
    assert "diverged (inf/NaN)" in [t["name"] for t in orbit["data"]]
    at.radio(key=KEY + "view").set_value("numbers").run()
    statuses = [row["status"] for row in table_rows(at)]
    assert any(s.startswith("diverged") for s in statuses)
    assert any(s == "solved" for s in statuses)


@pytest.mark.slow
def test_pins_live_in_the_url_and_draw_in_their_own_dash():
    small = {"max_iters": "60", "tail_points": "8"}
    at = open_page("step_size_map", small)
    assert_clean(at)
    at.button(key=KEY + "pin").click().run()          # Pin this grid
    pins = at.query_params["pins"]
    assert "classes=1,8" in pins and "max_iters=60" in pins
    at.text_input(key=KEY + "classes").set_value("1,7").run()
    assert_clean(at)
    solve = chart(at, "iterations to solve against")
    (pin,) = [t for t in solve["data"] if t["name"].startswith("pin 1 (classes 1,8)")]
    live = next(t for t in solve["data"] if t["name"] == "solved")
    assert pin["line"]["dash"] != live["line"].get("dash", "solid")
    assert pin["line"]["color"] == live["line"]["color"]
    # the solved count in the label is the pinned sweep's own
    assert pin["name"].endswith(f"solved {len(values(pin, 'x'))} of 200")
    at.radio(key=KEY + "view").set_value("nonmonotone").run()
    assert "pin 1 (classes 1,8)" in [t["name"] for t in chart(at, "non-monotone")["data"]]
    at.radio(key=KEY + "view").set_value("loss").run()
    assert any(t["name"].startswith("pin 1 (classes 1,8): γ = ")
               for t in chart(at, "loss of the run with γ")["data"])
    # the link reproduces the comparison; a bad pin or a fifth one is one line, no traceback
    again = open_page("step_size_map", {**small, "classes": "1,7", "pins": pins})
    assert_clean(again)
    assert any(t["name"].startswith("pin 1 (classes 1,8)")
               for t in chart(again, "iterations to solve against")["data"])
    for bad in ("dataset=nonsense", ";".join([pins] * 5)):
        refused = open_page("step_size_map", {**small, "pins": bad})
        assert not refused.exception
        assert any(m.startswith("URL parameter pins") for m in errors(refused)), errors(refused)


def test_losses_down_to_the_smallest_subnormal_draw_their_ticks():
    # step_size_map?algorithm=normalized_gd&dataset=two_point&step_min=0.001&step_max=1e6&
    # max_iters=50: last-K losses reach 5e-324; the axis ticks went to 10.0**-324 == 0 and
    # tick_text(0) raised "math domain error" (the page showed "Something went wrong").
    from core.report.plots import log_ticks, tick_text
    at = open_page("step_size_map", {"algorithm": "normalized_gd", "dataset": "two_point",
                                     "step_min": "0.001", "step_max": "1e6", "max_iters": "50"})
    assert_clean(at)
    axis = chart(at, "orbit diagram")["layout"]["yaxis"]
    assert all(v > 0 for v in axis["tickvals"])
    assert [tick_text(t) for t in log_ticks([5e-324, 1.7e308])]        # no 0, no 10.0**309
    assert tick_text(log_ticks([5e-324, 1e-300])[0]) == "10⁻³²³"
    # negative control: ordinary ticks keep their labels
    assert [tick_text(t) for t in log_ticks([0.5, 2])] == ["0.5", "1", "2"]
    assert tick_text(2e-5) == "2·10⁻⁵" and tick_text(1e5) == "10⁵"


def test_last_losses_that_climb_to_1e300_do_not_stretch_the_orbit_axis():
    # step_size_map?model=two_layer_conv&dataset=gaussian&step_min=0.01&step_max=1000&max_iters=100:
    # 40 runs whose last K losses climb to 1e302 while still finite made the y axis 306
    # decades tall; the 101 settled runs (1e-3 … 1) sat in its bottom hundredth.
    at = open_page("step_size_map", {"model": "two_layer_conv", "dataset": "gaussian",
                                     "step_min": "0.01", "step_max": "1000", "max_iters": "100"})
    assert_clean(at)
    figure = chart(at, "orbit diagram")
    low, high = figure["layout"]["yaxis"]["range"]
    assert high - low <= 31 and high < 2
    assert low > -5                                  # down to the lowest drawn loss, ~10⁻³
    above = [t for t in figure["data"] if t.get("name") == "values above the view"]
    assert above and len(above[0]["x"]) == 40
    assert "values outside the view" in figure["layout"]["title"]["subtitle"]["text"]
    look = " ".join(c.value for c in at.caption if c.value.startswith("What to look for"))
    assert "40 grow: the last K losses climb" in look
    # negative control: the default view (16 decades) keeps its window
    default = chart(open_page("step_size_map"), "orbit diagram")["layout"]["yaxis"]["range"]
    assert default[1] - default[0] > 15.5


def test_no_kept_tail_is_not_called_an_underflow():
    # step_size_map?tail_points=0: "Of 200 step sizes, 200 end with every last-K loss at
    # exactly 0 (underflow …)" where no last loss was kept at all.
    at = open_page("step_size_map", {"tail_points": "0"})
    assert_clean(at)
    look = [c.value for c in at.caption if c.value.startswith("What to look for")]
    assert "No last-K losses were kept (K = 0)" in look[0] and "underflow" not in look[0]
    # negative control: with K = 32 the orbit caption counts the step sizes
    at = open_page("step_size_map", {"tail_points": "32"})
    look = [c.value for c in at.caption if c.value.startswith("What to look for")]
    assert look[0].startswith("What to look for: Of 200 step sizes, 70 settle")


def test_a_grid_where_every_run_diverges_does_not_blame_the_data():
    # step_size_map?model=mlp&dataset=gaussian&n=50&d=2&step_min=100&step_max=1e4&max_iters=100:
    # all 200 runs diverge; the solve chart said "no run solved within 100 iterations (are
    # the data linearly separable?)" — gaussian data are separable, the steps are too large.
    at = open_page("step_size_map", {"model": "mlp", "dataset": "gaussian", "n": "50", "d": "2",
                                     "step_min": "100", "step_max": "1e4", "max_iters": "100"})
    assert_clean(at)
    (note,) = [a["text"] for a in chart(at, "iterations to solve")["layout"]["annotations"]]
    assert "every run diverged" in note and "linearly separable?" not in note
    # negative control: tiny steps that diverge nowhere get the "more iterations" words
    at = open_page("step_size_map", {"step_min": "1e-6", "step_max": "1e-5", "max_iters": "20"})
    (note,) = [a["text"] for a in chart(at, "iterations to solve")["layout"]["annotations"]]
    assert "more iterations or other step sizes may" in note and "diverged" not in note
