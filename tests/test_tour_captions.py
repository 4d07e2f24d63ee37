"""Captions and axes at settings other than the scenarios' (the screenshot tour of issue 23):
each test names the setting where the view stated something its data contradict, or hid the
runs, and checks the display object's numbers."""
from __future__ import annotations

import numpy as np

from core.api import run_spec
from core.report.display_dynamics import (HistoryDisplay, Line, build_history,
                                          divergence_sentence)
from core.report.plots import algorithm_label
from core.kernel.spec import make_spec


def _line(algorithm: str, step: float, diverged_at: int | None) -> Line:
    t = np.arange(0, 11)
    y = np.linspace(1.0, 0.1, 11)
    if diverged_at is not None:
        y[diverged_at:] = np.inf
    label = algorithm_label(algorithm)
    return Line(algorithm, step, 0, f"{label} γ={step:g}", label, t, y, None, diverged_at, 10)


def test_a_divergence_in_the_middle_of_the_step_sizes_is_not_called_every_larger_one():
    """Two-layer conv on the worst case (γ = 0.1 … 100): normalized GD diverged at γ = 10 but
    not at γ = 100; the caption said "(γ ≥ 10 …)" and "it needs γ ≲ 100" although GD
    diverged at γ = 100."""
    lines = [_line("gd", g, 8 if g == 100 else None) for g in (0.1, 1, 10, 100)]
    lines += [_line("normalized_gd", g, 9 if g == 10 else None) for g in (0.1, 1, 10, 100)]
    text = divergence_sentence(HistoryDisplay(lines=lines))
    assert "1 of 4 GD runs diverged (γ ≥ 100, the first at t = 8)" in text
    assert "1 of 4 normalized GD runs diverged (γ = 10, the first at t = 9)" in text
    assert "GD needs γ ≲ 10" in text and "γ ≲ 100" not in text
    # negative control: one algorithm whose every large step diverges keeps the short advice
    upward = [_line("gd", g, 5 if g >= 10 else None) for g in (0.1, 1, 10, 100)]
    text = divergence_sentence(HistoryDisplay(lines=upward))
    assert "2 of 4 GD runs diverged (γ ≥ 10, the first at t = 5)" in text
    assert "on this model and data it needs γ ≲ 1." in text


def test_one_runs_blow_up_does_not_push_the_other_runs_below_the_loss_axis():
    """Two-layer conv on the two-point data, γ = 0.1 … 1000: γ = 1000's loss reaches ~1e130
    before it solves; the loss axis ran 1e124 … 1e138 and every other run lay below it."""
    spec = make_spec(model="two_layer_conv", dataset="two_point", algorithm="gd", max_iters=50,
                     step_sizes=(0.1, 1.0, 10.0, 100.0, 1000.0))
    display = build_history([run_spec(spec, use_cache=False).result], "loss")
    low, high = display.y_range
    assert high - low <= 15
    small = [line for line in display.live if line.step_size < 1000]
    assert all(low <= np.log10(line.y[0]) <= high for line in small)     # every start in view
    assert display.out_of_view["above"] == 1                             # γ = 1000, marked
    # negative control: where the largest loss is where the values are (the linear model's
    # f(θ₁) ≈ 10² at γ = 1000, the two-point surprise), the axis keeps it in view
    linear = build_history([run_spec(spec.replace(model="linear"), use_cache=False).result], "loss")
    top = max(float(np.log10(np.nanmax(line.y))) for line in linear.live)
    assert linear.y_range[1] >= top and linear.out_of_view["above"] == 0


def test_runs_that_settle_to_float_jitter_are_not_called_period_doubling():
    """The orbit view at η|Φ| = 0.5 … 0.95 (below the first doubling at 1): converged runs
    jitter between neighbouring floats (residuals ~1e-16); on a view that thin the caption said
    "50 end on a cycle of 2–16 values (period doubling), from η|Φ| = 0.876"."""
    from core.report.display_orbit import OrbitColumn, OrbitDiagram

    rng = np.random.default_rng(0)

    def column(x, values):
        values = np.asarray(values, dtype=float)
        return OrbitColumn(x, values, np.arange(values.size), False, None)

    jitter = [column(x, rng.choice([-2.2e-16, 0.0, 2.2e-16], 64)) for x in np.linspace(0.5, 0.95, 10)]
    diagram = OrbitDiagram.build(jitter, title="orbit", x_title="η|Φ|", y_title="ε", x_name="η|Φ|")
    assert diagram.facts["settled"] == 10 and diagram.facts["cycles"] == 0
    assert "No period doubling in this window" in diagram.caption
    # negative control: a true period-2 cycle of ±0.03 beside them is still read as one
    cycle = column(1.05, np.tile([-0.03, 0.03], 32))
    both = OrbitDiagram.build(jitter + [cycle], title="orbit", x_title="η|Φ|", y_title="ε",
                              x_name="η|Φ|")
    assert both.facts["settled"] == 10 and both.facts["cycles"] == 1


def test_the_image_loss_caption_reads_when_no_loss_rose():
    """Edge of stability at η = 0.1: every loss falls; the caption said "The loss rose at some
    recorded step in 0 of 3 runs; the others fall at every recorded step"."""
    from types import SimpleNamespace

    from core.engine.results import RunRecord
    from core.report.display_images import loss_sentence

    def record(step, loss):
        loss = np.asarray(loss, dtype=float)
        return RunRecord(step, 0, None, False, None, loss.size - 1,
                         {"iteration": np.arange(loss.size), "loss": loss})

    falling = SimpleNamespace(label="CNN k=3", result=SimpleNamespace(
        runs=[record(0.1, [0.7, 0.6, 0.5]), record(0.5, [0.7, 0.4, 0.2])]))
    assert loss_sentence([falling]) == "The loss falls at every recorded step in both runs."
    three = SimpleNamespace(label="linear", result=SimpleNamespace(runs=[record(0.2, [0.7, 0.3])]))
    assert loss_sentence([falling, three]).endswith("in all 3 runs.")
    gone = RunRecord(9.0, 0, None, True, 2, 2, {"iteration": np.arange(3),
                                                "loss": np.array([0.7, 40.0, np.inf])})
    diverged = SimpleNamespace(label="linear", result=SimpleNamespace(runs=[gone]))
    # every run diverged: no sentence about runs that fall (it said "... in 0 finite runs")
    assert loss_sentence([diverged]) == "1 run diverged (linear η = 9)."
    # negative control: one run rose; the sentence names it and the others
    rising = SimpleNamespace(label="CNN k=5", result=SimpleNamespace(
        runs=[record(2.0, [0.7, 0.9, 0.2])]))
    text = loss_sentence([falling, rising])
    assert text.startswith("The loss rose at some recorded step in 1 of 3 runs (CNN k=5 η = 2)")
    assert "the others fall at every recorded step" in text


def test_when_every_catapult_run_diverges_the_axes_show_where_they_leave():
    """Catapult at ηλ₀ = 4.5, 5 (both diverge): the loss axis ran to 1.6e169 and the λ axis
    to 3e255, a blank chart."""
    from core.report import plots_shallow as ps

    a, b = (1.0, 0.3), (0.2, 0.9)
    lam0 = sum(v * v for v in a + b)
    spec = make_spec(model="shallow_linear", phi=0.0, a=a, b=b, max_iters=200, tol=1e-10,
                     step_sizes=tuple(x / lam0 for x in (4.5, 5.0)))
    result = run_spec(spec, use_cache=False).result
    assert all(r.diverged for r in result.runs)
    loss = ps.catapult_display(result, "loss", linear=True)
    norm = ps.catapult_display(result, "norm")
    start_loss = max(float(r.history["loss"][0]) for r in result.runs)
    assert loss.window_y[1] < 1e4 * start_loss and norm.window_y[1] < 1e4 * lam0
    assert norm.window_y[0] <= lam0 <= norm.window_y[1]                  # the start is in view
    # negative control: with a run that converges, the window is that run's span
    mixed = run_spec(spec.replace(step_sizes=(3.0 / lam0, 4.5 / lam0)), use_cache=False).result
    spanned = ps.catapult_display(mixed, "norm")
    converged = np.asarray(mixed.runs[0].history["norm"], dtype=float)
    assert spanned.window_y[0] <= converged.min() and converged.max() <= spanned.window_y[1]
