"""On the pages: a URL parameter the chosen model or data set does not read is an
error naming both; identical seeds are said once; the complexity page shows only the controls
a drawn curve reads."""
from __future__ import annotations

from tests.app_helpers import assert_clean, open_page

SMALL = {"dataset": "worst_case", "n": "20", "step_size": "1,10", "max_iters": "30"}


def errors(at) -> list[str]:
    return [e.value.replace("\\", "").replace("\u200b", "") for e in at.error]


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_a_url_parameter_the_model_does_not_read_is_an_error_naming_it_and_the_model():
    at = open_page("dynamics", {**SMALL, "model": "linear", "width": "32"})
    assert not at.exception
    assert any(e.startswith("URL parameter width: not read by the linear model") for e in errors(at)), errors(at)
    at = open_page("dynamics", {**SMALL, "mu": "0.3"})
    assert any(e.startswith("URL parameter mu: not read by the worst_case data set") for e in errors(at)), errors(at)
    at = open_page("dynamics", {**SMALL, "model": "mlp", "activation": "relu", "leak": "0.3"})
    assert any(e.startswith("URL parameter leak: not read by the mlp model") for e in errors(at)), errors(at)
    at.run()                                                   # said once, not on every rerun
    assert not any("not read" in e for e in errors(at))


def test_the_same_parameters_where_they_are_read_are_accepted():
    at = open_page("dynamics", {**SMALL, "model": "mlp", "width": "8", "activation": "leaky_relu",
                                "leak": "0.2"})
    assert_clean(at)
    assert at.number_input(key="dynamics.width").value == 8


def test_identical_seeds_are_said_once_on_the_page():
    at = open_page("dynamics", {**SMALL, "seed": "0:2"})
    assert_clean(at)
    notes = [c for c in captions(at) if "identical runs" in c]
    assert notes == ["Note: the linear model starts at θ₀ = 0, so its 3 seeds give identical runs."]
    at = open_page("dynamics", {**SMALL, "model": "mlp", "seed": "0:2"})
    assert not [c for c in captions(at) if "identical runs" in c]


def test_the_complexity_page_shows_only_controls_a_drawn_curve_reads():
    small = {"dims": "16,32", "seed": "0:1", "max_iters": "2000"}
    at = open_page("complexity", {**small, "curves": "linear:batch_perceptron:1"})
    assert_clean(at)
    keys = {w.key for w in at.number_input} | {w.key for w in at.selectbox}
    assert "complexity.c" not in keys and "complexity.init_scale" not in keys, keys
    assert any("2 seeds give identical runs" in c for c in captions(at)), captions(at)
    at = open_page("complexity", {**small, "curves": "two_layer_conv:gd:scaled"})
    assert_clean(at)
    keys = {w.key for w in at.number_input}
    assert {"complexity.c", "complexity.init_scale"} <= keys, keys
    assert "complexity.width" not in keys                      # the MLP's, no MLP curve drawn
    assert not any("identical runs" in c for c in captions(at))
