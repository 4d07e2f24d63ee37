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


# ---------------------------------------------------------------------- captions at other settings
TWO_POINT = dict(model="linear", dataset="two_point", step_sizes=(0.1, 1.0, 10.0, 1000.0), max_iters=200)


def _history(metric, algorithms=("gd", "normalized_gd"), **fields):
    from core.report.display_dynamics import build_history
    return build_history([_run(algorithm=a, **{**TWO_POINT, **fields}) for a in algorithms], metric)


def test_distance_to_the_perceptron_is_told_per_algorithm():
    # GD's last distance falls 26 -> 0 while normalized GD's stays at 198: one sentence over
    # both (the largest of each γ) said it "does not fall steadily: 198 at γ = 0.1, 198 at γ = 1000".
    gap = _history("perceptron_gap", run_to_max=True)
    assert "GD: the last distance falls as γ grows: 26 at γ = 0.1, 0 at γ = 1000" in gap.caption
    assert "normalized GD: the last distance does not fall steadily" in gap.caption
    # one algorithm: no label, as before
    alone = _history("perceptron_gap", algorithms=("gd",), run_to_max=True)
    assert alone.caption.startswith("The last distance falls as γ grows: 26 at γ = 0.1")


def test_a_distance_that_starts_at_zero_is_a_start_not_a_fall_below_the_log_axis():
    # θ₀ = 0 is the perceptron's start too: every distance is 0 at t = 0, which was counted
    # among the values "≤ 0 not on a log axis" and could make a run "fall below the view".
    gap = _history("perceptron_gap", run_to_max=True)
    assert gap.zero_starts == len(gap.lines) and "every run starts at 0 (t = 0)" in gap.note
    after = sum(int(np.sum((line.y <= 0) & (line.t > 0))) for line in gap.lines)
    assert gap.zeros == after                  # the starts at t = 0 are not among them
    # negative control: the loss starts at log 2 > 0: no such note
    loss = _history("loss", algorithms=("gd",))
    assert loss.zero_starts == 0 and "starts at 0" not in loss.note


def test_a_run_that_falls_to_zero_on_a_log_axis_falls_down_to_zero():
    # The loss of γ = 1000 jumps to 0 (underflow) at t = 2; its smallest positive value is
    # 0.693, inside the view: the note said "down to 0.693".
    loss = _history("loss", algorithms=("gd",))
    assert loss.out_of_view["below"] == 1
    assert "1 run falls below the view (▼, down to 0)" in loss.note
    assert "0.693" not in loss.note


def test_gradient_norm_span_of_subnormal_values_is_a_number_of_decades():
    grad = _history("grad_norm", run_to_max=True)
    assert "inf" not in grad.caption and "∞" not in grad.caption
    assert "normalized GD γ=10 spans 315.0 decades" in grad.caption


def test_loss_rise_names_the_algorithm_and_a_rise_that_never_comes_back_down():
    # Worst case: GD γ = 0.001 falls at every step; the batch perceptron's loss at γ = 0.001
    # creeps up and ends at its highest. "rises before it falls in 5 of 6 (γ = 0.001, 10⁶)"
    # read as GD γ = 0.001 rising and every rise falling back.
    from core.report.display_dynamics import build_history
    common = dict(model="linear", dataset="worst_case", n=200, step_sizes=(0.001, 1e6), max_iters=400)
    loss = build_history([_run(algorithm=a, **common)
                          for a in ("gd", "batch_perceptron", "normalized_batch_perceptron")], "loss")
    assert ("The loss rises before it falls in 3 of 6 finite runs (GD γ = 10⁶; batch perceptron "
            "γ = 10⁶; normalized batch perceptron γ = 10⁶)") in loss.caption
    assert ("has not come back down by the end in 2 of 6 finite runs (batch perceptron γ = 0.001; "
            "normalized batch perceptron γ = 0.001)") in loss.caption
    assert "GD γ = 0.001" not in loss.caption.replace("perceptron γ = 0.001", "")


def test_a_diverged_run_below_the_view_is_counted_as_diverged_not_as_a_fall():
    # Two-layer model on gaussian data, γ ≥ 10 diverge: their smallest margin leaves the
    # view downwards and is drawn as ×; the note said "▼, down to −1.59·10³⁰⁷".
    from core.report.display_dynamics import build_history
    common = dict(model="two_layer_conv", dataset="gaussian", step_sizes=(1.0, 10.0, 100.0), max_iters=300)
    margin = build_history([_run(algorithm="gd", **common)], "min_margin")
    assert len(margin.diverged) == 2 and margin.out_of_view["below"] == 2
    assert "2 runs fall below the view (2 diverged: ×)" in margin.note
    assert "10³⁰⁷" not in margin.note and "▼" not in margin.note


def test_complexity_caption_names_no_reference_slope_an_interval_cannot_tell_apart():
    # Seen at curves=linear:batch_perceptron:1,two_layer_conv:generalized_perceptron:scaled,
    # dims 8,16,32, 4 seeds: slope 0.16 (95 % CI −0.50–1.16) was said to grow "like d".
    from types import SimpleNamespace as NS

    from core.report.display_scaling import scaling_sentences, slope_words

    assert slope_words(0.16, -0.50, 1.16).startswith("at a rate these runs do not pin down")
    assert "like d" not in slope_words(0.16, -0.50, 1.16)
    assert "like √d" not in slope_words(0.39, -1.54, 0.77)        # holds 0 as well as ½
    assert slope_words(0.98, 0.97, 0.99) == "like d (slope ≈ 1)"  # the defaults keep their words
    assert slope_words(0.52, 0.45, 0.6) == "like √d (slope ≈ ½)"

    class Curve(NS):
        __hash__ = object.__hash__
    # every seed at the budget (γ = 0.001, 200 iterations): the slope 0.00 is the budget's
    curve = Curve(label="two_layer_conv · gd · γ=0.001")
    result = NS(curves=[curve], dims=[8, 16], fits={curve: NS(slope=0.0, ci_low=-1.04, ci_high=0.0)},
                stats=lambda c, d: {"unsolved": 2, "p90_lower_bound": True})
    text = " ".join(scaling_sentences(result))
    assert "grows" not in text and "sits at the budget at every d" in text
    assert "−1.04" in text
    # at the budget at 4 of 5 d (c = 10): "grows slower than √d: slope −1.07" was said
    dims = [16, 32, 64, 128, 256]
    mixed = NS(curves=[curve], dims=dims, fits={curve: NS(slope=-1.07, ci_low=-3.24, ci_high=-1.03)},
               stats=lambda c, d: {"unsolved": 4, "p90_lower_bound": d != 16})
    text = " ".join(scaling_sentences(mixed))
    assert "grows" not in text and "at 4 of 5 d (d = 32, 64, 128 and 256)" in text
    # negative control: nowhere at the budget, the slope is read
    free = NS(curves=[curve], dims=dims, fits={curve: NS(slope=0.5, ci_low=0.45, ci_high=0.55)},
              stats=lambda c, d: {"unsolved": 0, "p90_lower_bound": False})
    assert "grows like √d" in " ".join(scaling_sentences(free))


def _step_map(**fields):
    from core.report.display_stepmap import build_step_map
    low, high = fields.pop("grid")
    steps = tuple(float(g) for g in np.logspace(math.log10(low), math.log10(high), 200))
    return build_step_map(_run(step_sizes=steps, seeds=(0,), tail_points=32, run_to_max=True,
                               history_points=256, **fields))


def test_step_map_orbit_caption_accounts_for_every_step_size():
    # Two-layer model on the two-point data: 29 step sizes end with every last-K loss at 0;
    # the caption counted 142 + 28 + 1 of 200 and said nothing of them. γ 45.5 solved at
    # t = 1 and diverged at t = 91: "All 200 step sizes solve" said nothing of it.
    two_point = _step_map(model="two_layer_conv", dataset="two_point", algorithm="gd",
                          max_iters=100, grid=(0.01, 100))
    counted = sum(two_point.facts[b] for b in ("settled", "falls", "oscillates", "grows", "diverged", "no tail"))
    assert counted == 200 and two_point.facts["no tail"] == 29
    assert "29 end with every last-K loss at exactly 0" in two_point.caption_for("orbit")
    assert "1 of them diverged after solving (γ 45.5, the first at t = 91)" in two_point.caption_for("solve")
    # Normalized GD on gaussian data: two tails span more than 308 decades; max/min overflowed
    # and they were dropped ("62 settle; 136 oscillate" of 200) while 138 rise in the last K.
    gaussian = _step_map(model="linear", dataset="gaussian", algorithm="normalized_gd",
                         max_iters=200, grid=(0.001, 1e6))
    assert gaussian.facts["no tail"] == 0
    assert gaussian.facts["oscillates"] + gaussian.facts["grows"] == sum(row.tail_rises > 0 for row in gaussian.rows
                                               if row.diverged_at is None)


def test_a_step_map_where_nothing_solves_does_not_blame_the_data():
    # Adam at γ ≤ 0.01 on digits 1 against 8 (separable: the default page solves them) said
    # "(are the data separable?)"; the step sizes were too small for T = 100.
    tiny = _step_map(model="linear", dataset="digits", classes=(1, 8), algorithm="adam",
                     max_iters=100, grid=(1e-4, 1e-2))
    text = tiny.caption_for("solve")
    assert text.startswith("No step size solves within T = 100 iterations:")
    assert "are the data separable?" not in text and "other step sizes may" in text
    # negative control: the same data solve at larger step sizes and T
    assert _step_map(model="linear", dataset="digits", classes=(1, 8), algorithm="gd",
                     max_iters=1000, grid=(1.0, 1e4)).solved


def test_the_fastest_step_size_is_not_one_of_several_that_tie():
    # Iris, γ 0.1–1000: "Fastest: γ = 21.5 at t = 2" named one of the many γ solving at t = 2.
    iris = _step_map(model="linear", dataset="iris", classes=(0, 1), algorithm="gd",
                     max_iters=200, grid=(0.1, 1000))
    best = min(row.solved_at for row in iris.solved)
    tied = [row for row in iris.solved if row.solved_at == best]
    assert len(tied) > 1
    assert f"Fastest: t = {best}, at {len(tied)} step sizes (γ " in iris.caption_for("solve")


# ---------------------------------------------------------------------- several seeds per γ
MLP_SEEDS = dict(model="mlp", dataset="gaussian", n=50, d=2, step_sizes=(0.1, 10.0, 1000.0),
                 max_iters=200)


def test_a_step_size_solved_by_some_seeds_is_not_said_to_fail():
    # dynamics?model=mlp&dataset=gaussian&n=50&d=2&step_size=0.1,10,1000&seed=0,1,2&
    # max_iters=200&algorithm=gd,generalized_perceptron: seed 2 of the generalized perceptron
    # solves at t = 1 at γ = 10 and 1000, yet the caption said "only γ = 0.1 solves (t = 8)";
    # with γ = 10, 1000 alone it said "no run solves within 200 iterations".
    from core.report.display_dynamics import build_history
    seeds = [_run(algorithm=a, seeds=(0, 1, 2), **MLP_SEEDS) for a in ("gd", "generalized_perceptron")]
    loss = build_history(seeds, "loss")
    partial = {(l.step_size, l.seed) for l in loss.live if l.algorithm == "generalized_perceptron"
               and l.solved_at is not None and l.step_size > 1}
    assert partial == {(10.0, 2), (1000.0, 2)}
    assert "generalized perceptron: only γ = 0.1 solves with every seed (t = 8, its slowest seed)." in loss.caption
    assert "At γ = 10 and 1000 only 2 of 6 seed runs solve." in loss.caption
    assert "At γ = 1000 only 1 of 3 seed runs solves." in loss.caption       # GD's seed 1
    assert "GD (slowest seed of each γ): larger γ solves later" in loss.caption
    accuracy = build_history(seeds, "accuracy")
    assert "only 2 of 6 seed runs reach 100 %" in accuracy.caption
    large = build_history([_run(algorithm="generalized_perceptron", seeds=(0, 1, 2),
                                **{**MLP_SEEDS, "step_sizes": (10.0, 1000.0)})], "loss")
    assert "no run solves" not in large.caption
    assert "no γ solves with every seed within 200 iterations" in large.caption
    # A run's own seed is named, not its γ's seed list (read as every seed solving at t = 1).
    margin = build_history(seeds, "min_margin")
    assert "first GD γ=0.1 seed 2 at t = 1" in margin.caption and "(seeds" not in margin.caption
    assert "(seeds" not in build_history(seeds, "grad_norm").caption
    # negative control: one seed, where γ = 10 and 1000 do fail, keeps the plain words
    one = build_history([_run(algorithm="generalized_perceptron", seeds=(0,), **MLP_SEEDS)], "loss")
    assert one.caption.startswith("generalized perceptron: only γ = 0.1 solves (t = 8).")
    assert "seed" not in one.caption
    budget = build_history([_run(algorithm="gd", model="linear", dataset="digits", classes=(3, 8),
                                 step_sizes=(100.0,), max_iters=1)], "loss")
    assert "no run solves within 1 iteration." in budget.caption


def test_a_step_map_tail_that_climbs_to_a_blow_up_is_not_called_an_oscillation():
    # step_size_map?model=mlp&dataset=gaussian&n=50&d=2&step_min=0.01&step_max=1e4&max_iters=100:
    # at γ 6.37–47.7 the last 32 losses climb from ~1e62 to ~1e92 … 1e303 (still finite at
    # T = 100, so not "diverged"); the caption said "29 oscillate: the loss rises within the
    # last K steps (a smear)".
    mlp = _step_map(model="mlp", dataset="gaussian", n=50, d=2, algorithm="gd", max_iters=100,
                    grid=(0.01, 1e4))
    grows = [row for row in mlp.rows if row.behaviour == "grows"]
    assert len(grows) == 29 and mlp.facts["oscillates"] == 0
    assert all(row.tail_decades > 10 and row.tail_trend > 0.99 for row in grows)
    orbit = mlp.caption_for("orbit")
    assert "29 grow: the last K losses climb" in orbit and "oscillate" not in orbit
    assert "1 ends with every last-K loss at exactly 0" in orbit          # one: singular verb
    # negative control: the chaos of linear GD on digits 1 against 8 stays an oscillation
    digits = _step_map(model="linear", dataset="digits", classes=(1, 8), algorithm="gd",
                       max_iters=300, grid=(1.0, 1e4))
    assert digits.facts["grows"] == 0 and digits.facts["oscillates"] == 111
    assert "111 oscillate: the loss rises within the last K steps" in digits.caption_for("orbit")


def test_image_captions_name_seeds_read_ratios_and_only_the_marks_drawn():
    # images?n=40&max_iters=100&sharpness_every=20&step_size=1e5,1e8&kernel_size=3&seed=0,1&
    # baseline=0&view=solve: "(CNN k=3 η = 10⁵, CNN k=3 η = 10⁵, CNN k=3 η = 10⁸ and CNN k=3
    # η = 10⁸)" named two seeds alike, "up to 40223413.7× it" was a raw float, and the solve
    # chart's caption promised "dotted horizontal lines: the linear model" with no linear run.
    from core.report import display_images as di
    from core.report.plots_images import Series, curves_figure
    common = dict(dataset="digits", classes=(0, 1), n=40, max_iters=100, sharpness_every=20,
                  dtype="float32", perceptron_gap=False)
    cnn = Series(_run(model="cnn", kernel_size=3, step_sizes=(1e5, 1e8), seeds=(0, 1), **common), 3)
    loss = di.loss_sentence([cnn])
    assert "CNN k=3 η = 10⁵ seed 0, CNN k=3 η = 10⁵ seed 1" in loss
    sharp = di.sharpness_sentence([cnn])
    assert "up to 4.02·10⁷× it" in sharp and "40223413" not in sharp
    assert sharp.endswith("Dotted: 2/η in the run's colour.")
    subtitle = curves_figure([cnn], "sharpness").layout.title.subtitle.text
    assert "2·10⁻⁵ (η = 10⁵)" in subtitle and "e-0" not in subtitle
    solve = di.solve_chart_sentence([cnn])
    assert "▲: not within the budget" in solve and "linear model" not in solve
    # negative control: the linear model alone (one seed) has dotted lines, no ▲, no seeds,
    # and no 2/η line to speak of when no sharpness was measured
    linear = Series(_run(model="linear", step_sizes=(1.0, 1e6), seeds=(0,),
                         **{**common, "classes": (3, 8), "sharpness_every": 0, "max_iters": 60}))
    solve = di.solve_chart_sentence([linear])
    assert "dotted horizontal lines: the linear model, same η" in solve and "▲" not in solve
    assert "seed" not in di.loss_sentence([linear])
    assert di.sharpness_sentence([linear]) == "No sharpness was measured (set the interval K > 0)."


def test_the_trajectory_caption_says_large_steps_jump_only_where_they_do():
    # dynamics?dataset=breast_cancer&algorithm=gd&section=trajectory: every step turns θₜ/‖θₜ‖
    # by at most 11°, yet the caption said "large γ runs jump between directions before
    # settling" at any setting.
    from core.report.display_dynamics import direction_sentence
    common = dict(model="linear", algorithm="gd", step_sizes=(1.0, 1000.0), max_iters=400,
                  history_points=512)                  # the page's: every iteration recorded
    calm = direction_sentence([_run(dataset="breast_cancer", **common)])
    import re
    assert calm.startswith("No run jumps between directions here (largest turn between "
                           "recorded iterations: γ = 1000 ")
    assert all(int(angle) < 30 for angle in re.findall(r"(\d+)°", calm)) and "Large γ" not in calm
    # negative control: on digits 3 against 8 the large step turns by 98° in one step
    jumps = direction_sentence([_run(dataset="digits", classes=(3, 8), **common)])
    assert jumps == ("Large γ runs jump between directions (largest turn between recorded "
                     "iterations: γ = 1000 98°, γ = 1 7°).")


def test_a_pinned_view_keeps_the_window_where_its_own_runs_differ():
    # dynamics?step_size=1,1000&max_iters=300&algorithm=gd, pinned, then classes 1,7: the live
    # runs solve by t = 6, so the loss chart showed t ≤ 10, while the pin (classes 3,8) solves
    # at t = 84 and 278: the pinned curves were cut off where they start to differ.
    from core.report.display_dynamics import build_history
    common = dict(model="linear", algorithm="gd", dataset="digits", step_sizes=(1.0, 1000.0),
                  max_iters=300)
    live = [_run(classes=(1, 7), **common)]
    pin = _run(classes=(3, 8), **common)
    assert max(r.iterations_to_solve for r in pin.runs) == 278
    overlaid = build_history(live, "loss", pinned=[("pin 1", pin)])
    assert overlaid.x_window[1] >= 84 * 1.3 and "t ≤ 110 shown" in overlaid.note
    # negative control: a pin of the same data keeps the live view's short window
    same = build_history(live, "loss", pinned=[("pin 1", _run(classes=(1, 7), **common))])
    assert same.x_window[1] <= 10


def test_a_distance_that_only_shrinks_is_not_said_to_reach_the_perceptron():
    # dynamics?run_to_max=1&algorithm=gd,normalized_gd&step_size=0.01,1,100&max_iters=300&
    # section=charts&charts=perceptron_gap: normalized GD's last distance falls 187 -> 53.9 and
    # the caption said "normalized GD turns into the perceptron".
    from core.report.display_dynamics import build_history
    common = dict(model="linear", dataset="digits", classes=(3, 8), step_sizes=(0.01, 1.0, 100.0),
                  max_iters=300, run_to_max=True)
    gap = build_history([_run(algorithm=a, **common) for a in ("gd", "normalized_gd")],
                        "perceptron_gap").caption
    assert ("normalized GD: the last distance falls as γ grows: 187 at γ = 0.01, 53.9 at γ = 100 "
            "— normalized GD comes closer to the perceptron but does not reach it here.") in gap
    assert "normalized GD turns into" not in gap
    # negative control: GD's 88.6 -> 0.0726 does turn into the perceptron
    assert "0.0726 at γ = 100 — GD turns into the perceptron." in gap


def test_the_step_size_where_the_loss_rises_most_often_is_not_one_of_several_that_tie():
    # step_size_map?model=mlp&dataset=gaussian&n=50&d=2&step_min=0.01&step_max=1e4&
    # max_iters=100&view=nonmonotone: "most often at γ = 6.83 (100% of the steps)" named one
    # of the many step sizes whose loss rose at every one of the last K steps.
    mlp = _step_map(model="mlp", dataset="gaussian", n=50, d=2, algorithm="gd", max_iters=100,
                    grid=(0.01, 1e4))
    tied = [row for row in mlp.rows if row.tail_rises == 1.0]
    assert len(tied) > 1
    assert f"most often at {len(tied)} step sizes (γ " in mlp.caption_for("nonmonotone")
    assert "(100 % of the steps)" in mlp.caption_for("nonmonotone")
    # (the default view, digits 1 against 8, ties too: γ = 148 and 10⁴ at 45 %)
    digits = _step_map(model="linear", dataset="digits", classes=(1, 8), algorithm="gd",
                       max_iters=300, grid=(1.0, 1e4))
    assert "most often at 2 step sizes (γ 148 and 10000) (45 % of the steps)" in digits.caption_for("nonmonotone")
    # negative control: digits 3 against 8 at T = 100 has one step size where it rises most often
    single = _step_map(model="linear", dataset="digits", classes=(3, 8), algorithm="gd",
                       max_iters=100, grid=(1.0, 1e4))
    assert "most often at γ = 1720 (29 % of the steps)" in single.caption_for("nonmonotone")


def test_a_linear_axis_spans_the_runs_that_stayed_bounded_not_one_blown_up_run():
    # two-layer MLP on gaussian data: one finite run's min margin reached −1.6·10¹²⁹ and the
    # linear axis ran to ±10¹²⁹, every other run flat on one line
    from core.report.display import finite_span
    from core.report.display_dynamics import _bounded_runs_span

    runs = [np.array([-1.0, 0.5]), np.array([-2.0, 1.0]), np.array([0.3, 0.8]),
            np.array([0.0, -1.6e129])]
    low, high = _bounded_runs_span(finite_span(runs, False), runs)
    assert low > -10 and high < 10                               # the bounded runs fill it
    # negative control: runs of comparable size keep the span of all of them
    alike = runs[:3] + [np.array([0.0, 40.0])]
    assert _bounded_runs_span(finite_span(alike, False), alike) == finite_span(alike, False)
