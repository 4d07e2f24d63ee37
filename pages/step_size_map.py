"""Step-size map: one batched sweep over a dense log grid of step sizes, every run kept
going to the iteration budget, with its last K losses kept exactly (orbit diagram)."""
from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.analysis.sweeps import step_map_rows
from core.report import plots
from core.api import run_spec
from core.kernel.spec import SpecError, make_spec
from ui.display import (cache_note, chart, memoised, result_downloads, run_with_progress, show_error,
                        table)
from ui.controls import (LINEAR_ALGORITHMS, algorithm_controls, algorithm_fields, algorithms_for, dataset_controls, dataset_fields, model_controls,
                         model_fields, spec_fields)
from core.kernel.fields import STEP_SIZE_RANGE, field_range
from core.report import display as dp
from core.report.display_stepmap import build_step_map, loss_sentence, orbit_figure
from ui.page import details_box, formulas_on_demand, look_for, open_page, run_specs
from ui.pins import (NOT_NAMED, differences, load_pins, pin_buttons, pin_specs, pins_field,
                     spec_pin, spec_pin_check)
from ui.state import UrlState, choice, number, slider, spec_number, view, with_defaults

PAGE = "step_size_map"
MIN_GRID, MAX_GRID = 200, 2000
# Default view: linear GD on digits 1 against 8 (linearly separable, but only just): for
# γ ≳ 5 the loss oscillates chaotically for about 280 iterations and then the run solves;
# with T = 300 the orbit diagram shows the chaos and the solve chart the solves (measured:
# 123 of 200 step sizes solve, 130 have tails spanning more than 0.3 decades).
# Breast cancer (all 569 points, not separable) shows the chaos without any solve.
INTRO = """
Every point of a dense logarithmic grid of step sizes γ is one run, kept going to the iteration
budget T. The **orbit diagram** plots each run's last K losses above its γ: one dot means the loss
settled, a vertical smear that it oscillates — chaos, although everything is deterministic.
"""
FORMULAS = r"""
Every point of a dense logarithmic grid of step sizes $\gamma$ is one run of the same batched
sweep, kept going to the iteration budget $T$ even after it solves. The **orbit diagram** plots
the last $K$ losses $f(\theta_{T-K+1}), \dots, f(\theta_T)$ of each run above its $\gamma$: one dot
per $\gamma$ means the loss settled (or decays smoothly), a vertical smear means it oscillates —
period doubling and chaos although everything is deterministic. For linear models large
$\gamma$ gives higher, oscillating loss and yet fewer iterations to solve; the loss can rise
($f(\theta_{t+1}) > f(\theta_t)$) long before it falls. Pick one $\gamma$ below to see its whole
loss curve.
"""
VIEWS = {"solve": "Iterations to solve", "nonmonotone": "Where the loss rises",
         "loss": "Loss curve of the chosen γ", "numbers": "The numbers"}
CONTROLS = [
    *model_fields("linear"),
    *with_defaults(dataset_fields("digits"), classes="1,8"),
    choice("algorithm", "gd", LINEAR_ALGORITHMS, "Algorithm", labels=plots.ALGORITHM_LABELS),
    *algorithm_fields(),
    number("step_min", 1.0, "Smallest γ", bounds=STEP_SIZE_RANGE),
    number("step_max", 1e4, "Largest γ", bounds=STEP_SIZE_RANGE),
    number("step_count", MIN_GRID, f"Grid points ({MIN_GRID}–{MAX_GRID})", int,
           bounds=(MIN_GRID, MAX_GRID)),
    spec_number("max_iters", "Iterations T", 300),
    spec_number("tail_points", "Last K iterations kept", 32),
    number("seed", 0, "Init seed", int, bounds=field_range("seeds")),
    slider("gamma", None, "Step size γ shown in detail (green line)", bounds=STEP_SIZE_RANGE,
           format_func=plots.format_step),
    view("view", "solve", VIEWS),
    pins_field(spec_pin_check(1)),
]


def controls(state: UrlState) -> dict:
    st.sidebar.header("Model")
    values = model_controls(state)
    st.sidebar.header("Data")
    values.update(dataset_controls(state))
    st.sidebar.header("Step-size grid")
    values["algorithm"] = state.draw("algorithm", options=list(algorithms_for(values["model"])))
    values.update(algorithm_controls(state, [values["algorithm"]]))
    for name in ("step_min", "step_max", "step_count", "max_iters", "tail_points", "seed"):
        values[name] = state.draw(name)
    return values


def step_grid(low: float | None, high: float | None, count: int | None) -> tuple[float, ...]:
    """``count`` log-spaced step sizes from ``low`` to ``high`` (raises SpecError)."""
    if low is None or not low > 0:
        raise SpecError("step_min", f"must be > 0, got {low}")
    if high is None or not high > low:
        raise SpecError("step_max", f"must be larger than the smallest step {low:g}, got {high}")
    if count is None or not MIN_GRID <= count <= MAX_GRID:
        raise SpecError("step_count", f"must be in [{MIN_GRID}, {MAX_GRID}], got {count}")
    return tuple(float(g) for g in np.logspace(math.log10(low), math.log10(high), count))


def build_spec(values: dict):
    steps = step_grid(values.pop("step_min"), values.pop("step_max"), values.pop("step_count"))
    seed = values.pop("seed")
    if seed is None:
        raise SpecError("seed", "needs a value")
    values["seeds"] = (seed,)
    # Record every iteration up to T = 1023, so the detailed loss curve is exact.
    history = min(max(int(values.get("max_iters") or 0) + 1, 256), 1024)
    return make_spec(step_sizes=steps, run_to_max=True, history_points=history,
                     **spec_fields(values))


def grid_words(spec) -> str:
    steps = spec.step_sizes
    return f"γ {dp.human_step(steps[0])}…{dp.human_step(steps[-1])} ×{len(steps)}"


def pin_difference(pin: str, live) -> str:
    """What a pinned grid changes against the live one: its fields, and the grid in words."""
    (pinned,) = pin_specs(pin)
    differs = differences(pinned.to_query(), live.to_query(), NOT_NAMED + ("step_size",))
    if pinned.step_sizes != live.step_sizes:
        differs.insert(0, grid_words(pinned))
    return ", ".join(differs[:3]) or "same settings"


def pinned_result(pin: str):
    """A pin's sweep: from the cache, else computed under the page load's slot and budget."""
    (outcome,), _, _ = run_specs(pin_specs(pin), "loading a pin", memory_field="pins")
    return outcome.result


def main() -> None:
    state = open_page(PAGE, CONTROLS, "Step-size map", INTRO)
    formulas_on_demand(PAGE, "What is drawn, in formulas", FORMULAS)
    values = controls(state)
    try:
        spec = build_spec(values)
        outcome = run_with_progress(lambda progress: run_spec(spec, progress=progress),
                                    f"running {spec.batch_size} step sizes")
    except SpecError as error:
        show_error(error)
        state.publish()
        return
    result = outcome.result
    st.caption(f"{plots.algorithm_label(spec.algorithm)} · n = {result.meta.get('n')}, "
               f"d = {result.meta.get('d')} · {len(spec.step_sizes)} step sizes from "
               f"{dp.human_step(spec.step_sizes[0])} to {dp.human_step(spec.step_sizes[-1])}")
    pin_buttons(state, spec_pin([spec]), what="grid")
    pinned = [(p.label, p.value) for p in
              load_pins(state, pinned_result, lambda pin: pin_difference(pin, spec))]
    # The display and the orbit figure are built once per process for this spec (keyed by its
    # canonical string and γ): a cached view redraws without rebuilding them.
    runs_key = ("step_size_map", spec.canonical())
    step_map = memoised(runs_key, lambda: build_step_map(result))
    steps = list(spec.step_sizes)
    solved = [r.step_size for r in result.runs if r.iterations_to_solve is not None]
    default = solved[len(solved) // 2] if solved else steps[len(steps) // 2]
    current = state.get("gamma")
    if current is not None and current not in steps:
        state.set("gamma", min(steps, key=lambda g: abs(math.log(g / current))))
    orbit_box = st.container()          # the orbit diagram first, its γ slider under it
    gamma = state.draw("gamma", st, options=steps, default=default)
    chart(memoised(runs_key + ("orbit", gamma), lambda: orbit_figure(result, gamma)),
          "orbit_diagram", orbit_box)
    look_for(step_map.caption_for("orbit"), orbit_box)
    # One more chart at a time (the browser draws only what is asked for).
    view = state.draw("view")
    pins_key = tuple((label, pin.spec.canonical()) for label, pin in pinned)
    if view == "solve":
        chart(memoised(runs_key + ("solve", gamma, pins_key),
                       lambda: plots.solve_vs_step_figure(result, gamma, pins=pinned)),
              "iterations_vs_step")
        look_for(step_map.caption_for("solve"))
    elif view == "nonmonotone":
        chart(memoised(runs_key + ("nonmonotone", gamma, pins_key),
                       lambda: plots.nonmonotone_figure(result, gamma, pins=pinned)), "nonmonotone")
        look_for(step_map.caption_for("nonmonotone"))
    elif view == "loss":
        record = result.run(gamma, spec.seeds[0])
        chart(plots.loss_curve_figure(record, spec.algorithm, pins=[
            (label, min(pin.runs, key=lambda r: abs(math.log(r.step_size / gamma))))
            for label, pin in pinned]), "loss_at_step")
        look_for(loss_sentence(record))
    else:
        table(plots.display_rows(step_map_rows(result)), height=320)
    st.markdown("**Downloads** (the CLI's formats)")
    result_downloads(result, outcome.cached, "step_size_map")
    with details_box():
        cache_note(1, int(outcome.cached), outcome.seconds, result.meta.get("device", ""))
        st.caption(f"Model: {result.meta.get('model', '')}")
        st.code(spec.canonical(), language=None, wrap_lines=True)
    state.publish()


if __name__ == "__main__":      # Streamlit runs a page as __main__; tests import its table
    main()
