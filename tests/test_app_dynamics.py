"""AppTest: the Perceptron dynamics page (defaults, widgets, errors, URL state)."""
import numpy as np
from core.report.display import MAX_FRAMES

from tests.app_helpers import (assert_clean, chart, charts, errors, open_page, table_rows,
                               trace_names, values)

KEY = "dynamics."


WORST_CASE = {"model": "linear", "dataset": "worst_case", "n": "1000",
              "step_size": "0.1,1,10,100", "max_iters": "1000"}


def solve_table(at):
    return {(row["algorithm"], float(row["step size γ"])): row for row in table_rows(at)}


def solved_at(row):
    value = row["iterations to solve"]
    return None if value == "not solved" else int(value)


def test_defaults_show_the_loss_rising_at_large_steps_yet_solving_sooner():
    at = open_page("dynamics")
    assert_clean(at)
    assert len(charts(at)) == 1          # the loss; the rest one section at a time, on demand
    loss = chart(at, "logistic loss")
    names = trace_names(loss)
    for gamma in ("1", "10", "100", "1000"):
        assert f"GD γ={gamma}" in names and f"batch perceptron γ={gamma}" in names
    big = values(next(t for t in loss["data"] if t["name"] == "GD γ=1000"), "y")
    assert np.nanmax(big) > 100 * big[0]                       # the loss rises (a lot) …
    assert (np.diff(big[np.isfinite(big)]) > 0).sum() >= 3     # … more than once
    table = solve_table(at)
    small, large = solved_at(table[("GD", 1.0)]), solved_at(table[("GD", 1000.0)])
    assert large is not None and small is not None and large < small / 2   # … yet solves sooner
    assert table[("GD", 1000.0)]["status"] == "solved"
    # Tables read as numbers to sensible digits, never None.
    assert all(row["final loss"] != "None" and len(row["final loss"]) <= 10
               for row in table_rows(at))
    # The URL holds the view, named like the spec's query string.
    assert at.query_params["step_size"] == "1,10,100,1000"
    assert at.query_params["dataset"] == "digits" and at.query_params["classes"] == "3,8"
    assert any("computed" in c.value or "from cache" in c.value for c in at.caption)
    assert any(c.value.startswith("What to look for") for c in at.caption)


def test_table_1_worst_case_numbers():
    at = open_page("dynamics", {**WORST_CASE, "algorithm": "gd,batch_perceptron"})
    assert_clean(at)
    table = solve_table(at)
    # science.md §1, Table 1 (worst case, n = 1000): LR+GD with γ = 100 solves in 308 steps.
    assert solved_at(table[("GD", 100.0)]) == 308
    assert table[("GD", 0.1)]["status"] == "not solved"
    assert table[("GD", 0.1)]["iterations to solve"] == "not solved"
    # The batch perceptron does not depend on γ (θ_t = γ θ̂_t).
    assert {solved_at(table[("batch perceptron", g)]) for g in (0.1, 1.0, 10.0, 100.0)} == {301}


def test_changing_step_sizes_and_algorithms_changes_the_figures():
    at = open_page("dynamics", WORST_CASE)
    before = chart(at, "logistic loss")
    at.text_input(key=KEY + "step_size").set_value("1, 1000").run()
    at.multiselect(key=KEY + "algorithm").set_value(["normalized_gd"]).run()
    assert_clean(at)
    after = chart(at, "logistic loss")
    # γ = 1000: the loss drops by hundreds of decades at once: drawn as ▼ on the bottom
    # edge and counted, not left out silently.
    assert trace_names(after) == ["normalized GD γ=1", "normalized GD γ=1000",
                                  "≤ 0 or below the view (▼)"]
    assert "1 run falls below the view (▼" in after["layout"]["title"]["subtitle"]["text"]
    caption = [c.value for c in at.caption if c.value.startswith("What to look for")][0]
    assert "γ = 1000 solves 8× sooner than γ = 1 (t = 2 against 16)" in caption
    assert trace_names(after) != trace_names(before)
    table = solve_table(at)
    # Table 1: normalized LR+GD with γ = 1 needs 16 iterations; large γ needs 2.
    assert solved_at(table[("normalized GD", 1.0)]) == 16
    assert solved_at(table[("normalized GD", 1000.0)]) == 2
    assert at.query_params["algorithm"] == "normalized_gd"


def test_bad_step_size_names_the_field_and_the_page_recovers():
    at = open_page("dynamics")
    at.text_input(key=KEY + "step_size").set_value("0.1, abc").run()
    assert not at.exception
    assert any(message.startswith("step_size:") for message in errors(at)), errors(at)
    assert not charts(at)
    at.text_input(key=KEY + "step_size").set_value("-1").run()
    assert any(message.startswith("step_size:") for message in errors(at))
    at.text_input(key=KEY + "step_size").set_value("10").run()
    assert_clean(at)
    assert trace_names(chart(at, "logistic loss")) == ["GD γ=10", "batch perceptron γ=10"]


def test_out_of_range_n_names_the_field():
    at = open_page("dynamics", WORST_CASE)
    at.number_input(key=KEY + "n").set_value(2).run()
    assert not at.exception
    assert any(message.startswith("n:") for message in errors(at)), errors(at)


def test_query_parameters_restore_the_widgets():
    query = {"model": "two_layer_conv", "dataset": "gaussian", "n": "40", "d": "5",
             "algorithm": "gd,generalized_perceptron", "step_size": "0.5,2", "seed": "0,1",
             "max_iters": "60", "init_scale": "0.5", "t": "3", "section": "trajectory"}
    at = open_page("dynamics", query)
    assert_clean(at)
    assert at.selectbox(key=KEY + "model").value == "two_layer_conv"
    assert at.selectbox(key=KEY + "dataset").value == "gaussian"
    assert at.number_input(key=KEY + "n").value == 40
    assert at.number_input(key=KEY + "d").value == 5
    assert at.text_input(key=KEY + "step_size").value == "0.5,2"
    assert at.multiselect(key=KEY + "algorithm").value == ["gd", "generalized_perceptron"]
    assert at.number_input(key=KEY + "init_scale").value == 0.5
    for name, value in query.items():
        assert at.query_params[name] == value, name
    # Two seeds x two step sizes per algorithm; d = 5 shows the θ/‖θ‖ projection.
    assert len(chart(at, "logistic loss")["data"]) == 8
    assert chart(at, "principal directions")


def test_bad_query_parameter_is_reported_and_defaults_are_used():
    at = open_page("dynamics", {"n": "many", "model": "resnet"})
    assert not at.exception
    messages = errors(at)
    assert any(m.startswith("URL parameter n:") for m in messages), messages
    assert any(m.startswith("URL parameter model:") for m in messages), messages
    assert at.number_input(key=KEY + "n").value is None        # digits: all samples
    assert len(charts(at)) == 1


def test_trajectory_slider_moves_the_decision_boundary():
    at = open_page("dynamics", {**WORST_CASE, "section": "trajectory"})
    boundary = chart(at, "decision boundary")
    assert "t = 308" in boundary["layout"]["title"]["text"]
    slider = at.select_slider(key=KEY + "t")
    slider.set_value(slider.options[len(slider.options) // 3]).run()
    assert_clean(at)
    moved = chart(at, "decision boundary")
    assert moved["layout"]["title"]["text"] != boundary["layout"]["title"]["text"]
    z_before = [t["z"] for t in boundary["data"] if t["type"] == "contour"][-1]
    z_after = [t["z"] for t in moved["data"] if t["type"] == "contour"][-1]
    assert not np.allclose(np.array(z_before, dtype=float), np.array(z_after, dtype=float))
    assert at.query_params["t"] == str(slider.value)


def test_divergent_runs_are_results_not_exceptions():
    at = open_page("dynamics", {"model": "two_layer_conv", "dataset": "minimal", "d": "16",
                                "algorithm": "gd", "step_size": "0.1,50", "max_iters": "200"})
    assert_clean(at)
    rows = {float(row["step size γ"]): row for row in table_rows(at)}
    assert rows[50.0]["status"].startswith("diverged at t=")
    assert not rows[0.1]["status"].startswith("diverged")
    loss = chart(at, "logistic loss")
    crosses = [t for t in loss["data"] if t["name"] == "diverged"]
    assert crosses and np.isfinite(values(crosses[0], "y")).all()


CSV_GOOD = b"x1,x2,label\n1,2,a\n-1,-2,b\n2,1,a\n-2,-1,b\n0.5,1.5,a\n"
CSV_BAD = b"x1,x2,label\n1,2,a\n-1,oops,b\n"


def test_csv_upload_runs_and_a_bad_csv_names_the_field(tmp_path):
    at = open_page("dynamics", {"dataset": "csv"})
    assert any(m.startswith("path:") for m in errors(at))       # nothing uploaded yet
    at.file_uploader[0].set_value(("points.csv", CSV_GOOD, "text/csv")).run()
    assert_clean(at)
    table = table_rows(at)
    assert table and all(row["status"] == "solved" for row in table)
    assert at.query_params["path"].endswith(".csv") and "uploads" in at.query_params["path"]
    at.file_uploader[0].set_value(("bad.csv", CSV_BAD, "text/csv")).run()
    assert not at.exception
    assert any(m.startswith("path:") and "'oops'" in m and "not a finite number" in m for m in errors(at)), errors(at)


def test_model_switch_maps_perceptrons():
    at = open_page("dynamics", {"dataset": "gaussian", "max_iters": "100"})
    at.selectbox(key=KEY + "model").set_value("mlp").run()
    assert_clean(at)
    assert at.multiselect(key=KEY + "algorithm").value == ["gd", "generalized_perceptron"]
    names = trace_names(chart(at, "logistic loss"))
    assert "generalized perceptron γ=10" in names


def test_pins_live_in_the_url_and_overlay_or_sit_beside_the_current_view():
    at = open_page("dynamics", {**WORST_CASE, "step_size": "100"})
    assert_clean(at)
    at.button[0].click().run()                       # Pin this view
    assert_clean(at)
    pins = at.query_params["pins"]
    assert "n=1000" in pins and "step_size=100" in pins and "|algorithm=batch_perceptron" in pins
    at.text_input(key=KEY + "step_size").set_value("1").run()
    assert_clean(at)
    names = trace_names(chart(at, "logistic loss"))
    assert "GD γ=1" in names and any(name.startswith("pin 1") for name in names)
    rows = table_rows(at, 0)
    assert {row["view"] for row in rows} == {"current", "pin 1 (worst_case n=1000, γ=100)"}
    # The pinned URL, opened afresh, shows the pin again; side by side gives a second chart.
    again = open_page("dynamics", {**WORST_CASE, "step_size": "1", "pins": pins,
                                   "pin_layout": "side"})
    assert_clean(again)
    titles = [c["layout"]["title"]["text"] for c in charts(again)]
    assert any(t.startswith("pin 1") for t in titles), titles
    bad = open_page("dynamics", {"pins": "dataset=nonsense"})
    assert not bad.exception
    assert any(m.startswith("URL parameter") for m in errors(bad)), errors(bad)


def test_the_decision_boundary_animates_from_recorded_frames():
    at = open_page("dynamics", {**WORST_CASE, "step_size": "100", "animate": "1",
                                "section": "trajectory"})
    assert_clean(at)
    figure = chart(at, "decision boundary over the iterations")
    assert len(figure["frames"]) >= 10
    buttons = figure["layout"]["updatemenus"][0]["buttons"]
    assert [b["label"] for b in buttons] == ["▶ play", "▶▶ fast", "❚❚ pause", "◀ step", "step ▶",
                                             "↺ reset"]
    assert len(figure["frames"]) <= MAX_FRAMES + 1        # every k-th recorded iteration, and the last
    durations = [b["args"][1]["frame"]["duration"] for b in buttons[:2]]
    assert durations[0] > durations[1]                    # fast is faster
    names = [frame["name"] for frame in figure["frames"]]
    # Each frame brings the step buttons pointing at its neighbours, and its own subtitle.
    for index, frame in enumerate(figure["frames"]):
        menu = {b["label"]: b["args"][0][0] for b in frame["layout"]["updatemenus"][0]["buttons"][3:]}
        assert menu == {"◀ step": names[max(index - 1, 0)], "step ▶": names[min(index + 1, len(names) - 1)],
                        "↺ reset": names[0]}
        assert frame["layout"]["title"]["subtitle"]["text"].startswith(f"t = ")
    assert len(figure["layout"]["sliders"][0]["steps"]) == len(figure["frames"])
    assert all(frame["traces"] == [0, 1] for frame in figure["frames"])   # boundary + misses only


def test_sections_draw_only_what_is_asked_for():
    at = open_page("dynamics", WORST_CASE)
    assert [len(charts(at))] == [1] and table_rows(at)
    at.radio(key=KEY + "section").set_value("charts").run()
    assert_clean(at)
    titles = [c["layout"]["title"]["text"] for c in charts(at)]
    assert titles[1:] == ["training accuracy", "distance to the perceptron"]
    assert at.query_params["section"] == "charts"
    at.radio(key=KEY + "section").set_value("trajectory").run()
    assert chart(at, "decision boundary")


def test_side_by_side_pins_mark_their_exits_on_the_shared_axis():
    # dynamics?algorithm=gd&step_size=1,1000&max_iters=300&classes=1,7&pins=<classes 3,8>&
    # pin_layout=side: the panels share one y axis (down to 5.3e-7), but the pin's ▼ "below
    # the view" stayed at its own old bottom edge (0.0011), in the middle of the shared view.
    base = {"step_size": "1,1000", "max_iters": "300", "algorithm": "gd", "classes": "3,8"}
    at = open_page("dynamics", base)
    at.button[0].click().run()
    side = open_page("dynamics", {**base, "classes": "1,7", "pins": at.query_params["pins"],
                                  "pin_layout": "side"})
    assert_clean(side)
    live, pin = charts(side)
    low = pin["layout"]["yaxis"]["range"][0]
    assert live["layout"]["yaxis"]["range"] == pin["layout"]["yaxis"]["range"]
    (below,) = [t for t in pin["data"] if t["name"].startswith("≤ 0 or below the view")]
    assert np.allclose(np.log10(values(below, "y")), low)          # on the shared bottom edge
    # the note, worked out for the shared view, still counts it (1.24e-7 < 5.3e-7), and the
    # live panel, all of it within the shared view, marks nothing
    assert "1 run falls below the view (▼, down to 1.24·10⁻⁷)" in pin["layout"]["title"]["subtitle"]["text"]
    assert not any(t["name"].startswith("≤ 0 or below") for t in live["data"])
