"""AppTest: the Iteration complexity page."""
import numpy as np

from tests.app_helpers import (assert_clean, chart, errors, open_page, table_rows, trace_names,
                               values)

KEY = "complexity."


def medians(figure):
    return {t["name"]: t for t in figure["data"] if t["name"].endswith("(median)")}


def test_defaults_separate_linear_and_two_layer_slopes():
    at = open_page("complexity")
    assert_clean(at)
    figure = chart(at, "against the dimension d")
    assert figure["layout"]["xaxis"]["type"] == "log" and figure["layout"]["yaxis"]["type"] == "log"
    lines = medians(figure)
    assert len(lines) == 2
    for trace in lines.values():
        assert values(trace, "x").tolist() == [16, 32, 64, 128, 256, 512, 1024]
    names = trace_names(figure)
    assert "reference slope 1 (∝ d)" in names and "reference slope ½ (∝ √d)" in names
    assert sum(name.startswith("fit: slope") for name in names) == 2
    # Legends use the sidebar's names; fit lines are drawn over the data, not under it.
    assert "linear perceptron (median)" in names and "2-layer GD scaled (median)" in names
    assert max(i for i, n in enumerate(names) if n.endswith("(median)")) < \
        min(i for i, n in enumerate(names) if n.startswith("fit: slope"))
    fits = {row["curve"]: {k: (float(v) if k != "curve" else v) for k, v in row.items()}
            for row in table_rows(at, 0)}
    linear = next(row for name, row in fits.items() if name.startswith("linear"))
    two_layer = next(row for name, row in fits.items() if name.startswith("2-layer"))
    # minimal_example.md: linear (perceptron regime) slope ≈ 1, two-layer near ½ — and each
    # 95 % interval excludes the other exponent, so the defaults tell √d from d.
    assert 0.9 < linear["slope"] < 1.1 and linear["95 % CI low"] > 0.5
    assert two_layer["slope"] < 0.8 and two_layer["95 % CI high"] < 1.0
    assert two_layer["95 % CI low"] <= two_layer["slope"]
    # The step-size rule is on screen, and so is the caveat of minimal_example.md.
    assert any("c·n/λ₂(d, μ)" in m.value for m in at.markdown)
    assert any("2 iterations" in m.value for m in at.markdown)
    at.radio(key=KEY + "view").set_value("spread").run()
    assert_clean(at)
    spread = table_rows(at, 0)
    assert len(spread) == 14 and all(float(row["p10"]) <= float(row["median"]) <= float(row["p90"])
                                     for row in spread)


def test_changing_dimensions_and_curves_changes_the_figure():
    at = open_page("complexity")
    at.text_input(key=KEY + "dims").set_value("8,16,32").run()
    at.multiselect(key=KEY + "curves").set_value(["linear:gd:1e6"]).run()
    assert_clean(at)
    figure = chart(at, "against the dimension d")
    (line,) = medians(figure).values()
    assert values(line, "x").tolist() == [8, 16, 32]
    assert line["name"] == "linear GD γ=10⁶ (median)"
    assert at.query_params["dims"] == "8,16,32"
    assert at.query_params["curves"] == "linear:gd:1e6"


def test_bad_inputs_name_the_field():
    at = open_page("complexity")
    at.text_input(key=KEY + "dims").set_value("sixteen").run()
    assert not at.exception
    assert any(m.startswith("dims:") for m in errors(at)), errors(at)
    at.text_input(key=KEY + "dims").set_value("16,32")
    at.multiselect(key=KEY + "curves").set_value([]).run()
    assert any(m.startswith("curves:") for m in errors(at)), errors(at)


def test_a_bad_c_in_the_url_names_the_field():
    at = open_page("complexity", {"c": "0", "dims": "16,32", "seed": "0:3"})
    assert not at.exception
    assert any("c:" in m for m in errors(at)), errors(at)


def test_query_parameters_restore_the_widgets():
    query = {"curves": "two_layer_conv:generalized_perceptron:scaled", "dims": "16,64",
             "seed": "0:3", "c": "0.5", "mu": "0.5", "init_scale": "2", "max_iters": "5000",
             "view": "spread"}
    at = open_page("complexity", query)
    assert_clean(at)
    assert at.multiselect(key=KEY + "curves").value == ["two_layer_conv:generalized_perceptron:scaled"]
    assert at.text_input(key=KEY + "dims").value == "16,64"
    assert at.number_input(key=KEY + "c").value == 0.5
    assert at.number_input(key=KEY + "mu").value == 0.5
    for name, value in query.items():
        assert at.query_params[name] == value, name
    rows = table_rows(at, 0)
    # γ = c·n/λ2(d, μ) with c = 0.5, n = 2: λ2 = sqrt(2.5² + 2(d−2)).
    expected = {d: 0.5 * 2 / np.sqrt(2.5**2 + 2 * (d - 2)) for d in (16, 64)}
    assert sorted(row["d"] for row in rows) == [16, 64]
    assert all(np.isclose(float(row["step size γ"]), expected[row["d"]], rtol=1e-3) for row in rows)


def test_unknown_curve_in_the_url_names_the_field():
    at = open_page("complexity", {"curves": "resnet:gd"})
    assert not at.exception                      # refused as it is read; the default is used
    assert any(m.startswith("URL parameter curves:") and "'resnet'" in m for m in errors(at)), errors(at)


def test_a_custom_curve_from_the_url_is_an_option():
    at = open_page("complexity", {"dims": "8,16", "seed": "0:1", "max_iters": "2000",
                                  "curves": "linear:batch_perceptron:1,mlp:gd:0.5"})
    assert_clean(at)
    curves = at.multiselect(key=KEY + "curves")
    assert curves.value == ["linear:batch_perceptron:1", "mlp:gd:0.5"]
    assert "mlp · gd · γ=0.5" in curves.options          # typed curves get a readable label
    names = list(medians(chart(at, "against the dimension d")))
    assert names == ["linear perceptron (median)", "mlp · gd · γ=0.5 (median)"]


def test_pins_keep_a_curve_colour_and_name_what_differs():
    small = {"dims": "8,16,32", "seed": "0:3", "max_iters": "2000"}
    at = open_page("complexity", small)
    assert_clean(at)
    at.button(key=KEY + "pin").click().run()          # Pin this view
    pins = at.query_params["pins"]
    at.number_input(key=KEY + "c").set_value(2.0).run()
    assert_clean(at)
    figure = chart(at, "against the dimension d")
    pinned = [t for t in figure["data"] if t["name"].startswith("pin 1 (c 1)")]
    assert len(pinned) == 2                           # one p90 line per pinned curve
    live = {t["name"].split(" (p90")[0]: t for t in figure["data"] if t["name"].endswith("(p90, fitted)")}
    for trace in pinned:
        curve = trace["name"].split(": ", 1)[1].split(" (p90")[0]
        assert trace["line"]["color"] == live[curve]["line"]["color"]      # the curve's colour
        assert trace["line"]["dash"] not in ("solid", "dash", "dot")       # a dash of its own
        assert values(trace, "x").tolist() == [8, 16, 32]
    # the link reproduces it; a pin that is not this page's is refused naming the field
    again = open_page("complexity", {**small, "c": "2", "pins": pins})
    assert_clean(again)
    assert any(t["name"].startswith("pin 1 (c 1)") for t in chart(again, "against the dimension d")["data"])
    refused = open_page("complexity", {**small, "pins": "spec=dataset%3Dminimal"})
    assert not refused.exception
    assert any(m.startswith("URL parameter pins") for m in errors(refused)), errors(refused)


def look_for_text(at):
    return " ".join(c.value for c in at.caption if c.value.startswith("What to look for"))


def test_a_flat_fit_reads_zero_not_minus_zero_or_a_raw_float():
    # complexity?dims=16,32,64&seed=0:3&max_iters=5&curves=linear:batch_perceptron:1,
    # mlp:gd:scaled: every run sits at the budget, the fitted slope is −5.571e-17: the caption
    # and legend read "−0.00" / "-0.00", the table "-5.571e-17".
    at = open_page("complexity", {"dims": "16,32,64", "seed": "0:3", "max_iters": "5",
                                  "curves": "linear:batch_perceptron:1,mlp:gd:scaled"})
    assert_clean(at)
    text = look_for_text(at)
    assert "fitted slope of the 90th percentile 0.00 (95 % CI 0.00–0.00)" in text
    assert "−0.00" not in text and "over 4 seeds." in text
    fits = [n for n in trace_names(chart(at, "against the dimension d")) if n.startswith("fit:")]
    assert fits and not any("-0.00" in n or "−0.00" in n for n in fits), fits
    rows = table_rows(at)
    assert all("e-" not in str(row["slope"]) and str(row["slope"]) == "0" for row in rows), rows
    # negative control: real slopes keep their digits; one seed is "1 seed"
    at = open_page("complexity", {"dims": "16,32,64", "seed": "0", "max_iters": "2000",
                                  "curves": "linear:batch_perceptron:1"})
    assert_clean(at)
    assert "fitted slope of the 90th percentile 0.94" in look_for_text(at)
    assert look_for_text(at).endswith("one batched run over 1 seed.")
    assert float(table_rows(at)[0]["slope"]) == 0.9372


def test_a_dimension_out_of_range_names_the_dims_control():
    # complexity?dims=1: the error named "d", a field this page has no control for.
    for dims in ("1", "16:1e9:x2"):
        at = open_page("complexity", {"dims": dims, "seed": "0"})
        assert not at.exception
        assert any(m.startswith("dims: must be in [") for m in errors(at)), errors(at)
        assert not any(m.startswith("d:") for m in errors(at))
    # negative control: another field keeps its own name
    at = open_page("complexity", {"dims": "16,32", "seed": ""})
    assert any(m.startswith("seed:") for m in errors(at)), errors(at)
