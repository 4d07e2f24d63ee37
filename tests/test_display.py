"""The display layer's shared helpers: the payload plan, numbers for people, windows."""
import math

import numpy as np
import pytest

from core.report import display as dp


def test_budget_keeps_small_charts_whole_and_bounds_large_ones():
    small = dp.point_budget(traces=8, points=512)
    assert (small.drawn_traces, small.points_per_trace) == (8, 512)
    assert not small.thinned_traces and not small.thinned_points
    large = dp.point_budget(traces=4096 * 6, points=100_000)
    assert large.drawn_traces == dp.MAX_TRACES
    assert large.drawn_traces * large.points_per_trace <= dp.FIGURE_POINTS
    assert large.estimated_bytes < dp.PAYLOAD_BYTES / 4
    note = dp.thinning_note(large)
    assert "240 of 24\u202f576 runs drawn" in note and "downloads" in note
    assert dp.thinning_note(small) == ""


def test_thin_indices_keep_ends_and_required_points():
    picked = dp.thin_indices(10_001, 100, always=[5_003])
    assert picked[0] == 0 and picked[-1] == 10_000 and 5_003 in picked
    assert len(picked) <= 101
    assert dp.thin_indices(50, 100).tolist() == list(range(50))


def test_frame_stride_bounds_the_frames():
    assert dp.frame_stride(10) == 1
    assert math.ceil(100_000 / dp.frame_stride(100_000)) <= dp.MAX_FRAMES


@pytest.mark.parametrize("value, text", [
    (None, "—"), (float("nan"), "not a number"), (float("inf"), "∞"), (0.05, "0.05"),
    (1.7262351180813079e+112, "1.73·10¹¹²"), (-2.44e292, "−2.44·10²⁹²"), (1e-20, "10⁻²⁰"),
    (1152, "1\u202f152"), (3.0, "3"), (99999.9, "10⁵")])
def test_human_number(value, text):
    assert dp.human_number(value) == text


def test_run_status_words():
    assert dp.run_status(None, 12) == "diverged at t = 12"
    assert dp.run_status(7, None) == "solved at t = 7"
    assert dp.run_status(None, None, 400) == "not solved within 400 iterations"


def test_finite_span_ignores_what_is_not_finite():
    finite = [np.array([1.0, 0.1, 0.01]), np.array([0.5, np.inf, np.nan])]
    low, high = dp.finite_span(finite, log=True)
    assert low < -2 < 0 < high < 0.5
    assert dp.finite_span([np.array([np.nan])], log=True) is None


def test_ratio_sentence():
    assert dp.ratio_sentence(("γ = 1000", 10), ("γ = 1", 34)) == \
        "γ = 1000 solves 3.4× sooner than γ = 1 (t = 10 against 34)."


# ---------------------------------------------------------------------- the named cases
def _run(**fields):
    from core.api import run_spec
    from core.kernel.spec import make_spec
    return run_spec(make_spec(**fields)).result


@pytest.mark.slow
def test_two_layer_conv_gd_divergence_gives_a_true_caption_and_a_finite_y_range():
    from core.report.display_dynamics import build_history
    common = dict(model="two_layer_conv", dataset="digits", classes=(3, 8),
                  step_sizes=(1.0, 10.0, 100.0, 1000.0), seeds=(0,), max_iters=400)
    results = [_run(algorithm=a, **common) for a in ("gd", "generalized_perceptron")]
    loss = build_history(results, "loss")
    finite = [line for line in loss.lines if not line.diverged]
    assert {(l.algorithm, l.step_size) for l in loss.diverged} == {("gd", 10.0), ("gd", 100.0),
                                                                  ("gd", 1000.0)}
    low, high = loss.y_range                    # within the finite runs, not 1e300
    top = max(float(np.nanmax(l.y)) for l in finite)
    assert high < math.log10(top) + 0.5 and high < 3
    assert all(l.exit is not None for l in loss.diverged)        # marked where they left
    assert "3 of 4 GD runs diverged" in loss.caption and "γ ≲ 1" in loss.caption
    accuracy = build_history(results, "accuracy")
    assert "reaches 100 % sooner" not in accuracy.caption.replace("× sooner", "")
    assert "only γ = 1 reaches 100 %" in accuracy.caption
    # negative control: the linear model on the same data solves sooner at larger γ
    linear = [_run(algorithm="gd", **{**common, "model": "linear"})]
    assert "sooner than γ = 1" in build_history(linear, "accuracy").caption


@pytest.mark.slow
def test_step_size_map_on_gaussian_data_says_what_is_true():
    from core.report.display_stepmap import build_step_map
    steps = tuple(float(g) for g in np.logspace(0, 4, 200))
    common = dict(model="linear", algorithm="gd", step_sizes=steps, seeds=(0,), max_iters=300,
                  tail_points=32, run_to_max=True, history_points=301)
    gaussian = build_step_map(_run(dataset="gaussian", **common))
    assert gaussian.facts["solved"] == 200 and gaussian.facts["oscillates"] == 0
    assert gaussian.caption_for("solve").startswith("All 200 step sizes solve")
    assert "never" not in gaussian.caption_for("solve")
    assert "smear" not in gaussian.caption_for("orbit")
    assert gaussian.caption_for("nonmonotone").startswith("At no step size does the loss rise")
    # negative control: digits 1 against 8 does have unsolved small γ and oscillating tails
    digits = build_step_map(_run(dataset="digits", classes=(1, 8), **common))
    assert 0 < digits.facts["solved"] < 200 and digits.facts["oscillates"] > 0
    assert "do not (▲/× on the top line)" in digits.caption_for("solve")
    assert "oscillate" in digits.caption_for("orbit")


def test_complexity_caption_follows_the_fitted_intervals():
    from types import SimpleNamespace as NS

    from core.report.display_scaling import scaling_sentences

    class Curve(NS):
        __hash__ = object.__hash__

    def result(fits):
        curves = [Curve(label=name) for name in fits]
        return NS(curves=curves, dims=[16, 32],
                  fits={c: NS(slope=f[0], ci_low=f[1], ci_high=f[2]) for c, f in zip(curves, fits.values())},
                  stats=lambda curve, d: {"unsolved": 0})
    apart = " ".join(scaling_sentences(result({"linear": (0.98, 0.97, 0.99), "conv": (0.52, 0.45, 0.6)})))
    assert "linear (blue) grows like d" in apart and "conv (red) grows like √d" in apart
    assert "do not overlap" in apart
    # negative control: overlapping intervals are called so, and no reference claimed
    close = " ".join(scaling_sentences(result({"a": (0.8, 0.6, 0.9), "b": (0.75, 0.7, 0.85)})))
    assert "overlap: these settings do not separate" in close and "like d" not in close
