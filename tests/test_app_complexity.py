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
        assert values(trace, "x").tolist() == [16, 32, 64, 128, 256]
    names = trace_names(figure)
    assert "reference slope 1 (∝ d)" in names and "reference slope ½ (∝ √d)" in names
    assert sum(name.startswith("fit: slope") for name in names) == 2
    fits = {row["curve"]: row for row in table_rows(at, 0)}
    linear = next(row for name, row in fits.items() if name.startswith("linear"))
    two_layer = next(row for name, row in fits.items() if name.startswith("two_layer_conv"))
    # minimal_example.md: linear (perceptron regime) slope ≈ 1, two-layer well below it.
    assert 0.9 < linear["slope"] < 1.1
    assert two_layer["slope"] < 0.8 and two_layer["95 % CI low"] <= two_layer["slope"]
    # The step-size rule is on screen, and so is the caveat of minimal_example.md.
    assert any("c·n/λ₂(d, μ)" in m.value for m in at.markdown)
    assert any("2 iterations" in info.value for info in at.info)
    spread = table_rows(at, 1)
    assert len(spread) == 10 and all(row["p10"] <= row["median"] <= row["p90"] for row in spread)


def test_changing_dimensions_and_curves_changes_the_figure():
    at = open_page("complexity")
    at.text_input(key=KEY + "dims").set_value("8,16,32").run()
    at.multiselect(key=KEY + "curves").set_value(["linear:gd:1e6"]).run()
    assert_clean(at)
    figure = chart(at, "against the dimension d")
    (line,) = medians(figure).values()
    assert values(line, "x").tolist() == [8, 16, 32]
    assert "γ=1e6" in line["name"] or "1000000" in line["name"]
    assert at.query_params["dims"] == "8,16,32"
    assert at.query_params["curves"] == "linear:gd:1e6"


def test_bad_inputs_name_the_field():
    at = open_page("complexity")
    at.text_input(key=KEY + "dims").set_value("sixteen").run()
    assert not at.exception
    assert any(m.startswith("dims:") for m in errors(at)), errors(at)
    at.text_input(key=KEY + "dims").set_value("16,32")
    at.number_input(key=KEY + "c").set_value(0.0).run()
    assert any(m.startswith("c:") for m in errors(at)), errors(at)
    at.number_input(key=KEY + "c").set_value(1.0)
    at.multiselect(key=KEY + "curves").set_value([]).run()
    assert any(m.startswith("curves:") for m in errors(at)), errors(at)


def test_query_parameters_restore_the_widgets():
    query = {"curves": "two_layer_conv:generalized_perceptron:scaled", "dims": "16,64",
             "seed": "0:3", "c": "0.5", "mu": "0.5", "init_scale": "2", "max_iters": "5000"}
    at = open_page("complexity", query)
    assert_clean(at)
    assert at.multiselect(key=KEY + "curves").value == ["two_layer_conv:generalized_perceptron:scaled"]
    assert at.text_input(key=KEY + "dims").value == "16,64"
    assert at.number_input(key=KEY + "c").value == 0.5
    assert at.number_input(key=KEY + "mu").value == 0.5
    for name, value in query.items():
        assert at.query_params[name] == value, name
    rows = table_rows(at, 1)
    # γ = c·n/λ2(d, μ) with c = 0.5, n = 2: λ2 = sqrt(2.5² + 2(d−2)).
    expected = {d: 0.5 * 2 / np.sqrt(2.5**2 + 2 * (d - 2)) for d in (16, 64)}
    assert sorted(row["d"] for row in rows) == [16, 64]
    assert all(np.isclose(row["step size γ"], expected[row["d"]]) for row in rows)


def test_unknown_curve_in_the_url_names_the_field():
    at = open_page("complexity", {"curves": "resnet:gd"})
    assert not at.exception
    assert any(m.startswith("curves:") for m in errors(at)), errors(at)


def test_a_custom_curve_from_the_url_is_an_option():
    at = open_page("complexity", {"dims": "8,16", "seed": "0:1", "max_iters": "2000",
                                  "curves": "linear:batch_perceptron:1,mlp:gd:0.5"})
    assert_clean(at)
    curves = at.multiselect(key=KEY + "curves")
    assert curves.value == ["linear:batch_perceptron:1", "mlp:gd:0.5"]
    assert "mlp · gd · γ=0.5" in curves.options          # typed curves get a readable label
    names = list(medians(chart(at, "against the dimension d")))
    assert names == ["linear · batch_perceptron · γ=1 (median)", "mlp · gd · γ=0.5 (median)"]
