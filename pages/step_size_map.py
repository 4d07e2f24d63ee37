"""Step-size map: one batched sweep over a dense log grid of step sizes, every run kept
going to the iteration budget, with its last K losses kept exactly (orbit diagram)."""
from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.analysis import step_map_rows
from core import plots
from core.api import run_spec
from core.spec import SpecError, make_spec
from ui.display import cache_note, chart, result_downloads, run_with_progress, show_error, table
from ui.controls import (LINEAR_ALGORITHMS, algorithms_for, dataset_controls, dataset_fields, model_controls,
                         model_fields, spec_fields)
from ui.page import formulas_on_demand, open_page, view_selector
from ui.state import Field, UrlState, choice_parser, number_parser, spec_parser

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
LOOK_FOR = {
    "orbit": "What to look for: single dots at small γ (the loss settles), tall smears from "
             "γ ≈ 5 on — the last K losses jump around (chaos), or, for runs that solved "
             "within those K steps, fall steeply. Triangles on an edge are values outside the "
             "view, counted in the note.",
    "solve": "What to look for: small γ never solves within T (▲ on the top line); large γ "
             "solves although its loss is chaotic.",
    "nonmonotone": "What to look for: the share of steps that raised the loss jumps from 0 to "
                   "a large fraction where the smears start.",
    "loss": "What to look for: the whole loss curve of the chosen γ — long chaotic phase, then "
            "the solve (green line) and a fast fall.",
}


def fields() -> list[Field]:
    data = [Field("classes", "1,8") if f.name == "classes" else f
            for f in dataset_fields("digits")]
    return model_fields("linear") + data + [
        Field("algorithm", "gd", choice_parser("algorithm", LINEAR_ALGORITHMS)),
        Field("step_min", 1.0, number_parser("step_min", float)),
        Field("step_max", 1e4, number_parser("step_max", float)),
        Field("step_count", MIN_GRID, number_parser("step_count", int)),
        Field("seed", 0, number_parser("seed", int)),
        Field("max_iters", 300, spec_parser("max_iters")),
        Field("tail_points", 32, spec_parser("tail_points")),
        Field("gamma", None, number_parser("gamma", float)),
        Field("view", "solve", choice_parser("view", list(VIEWS))),
    ]


def controls(state: UrlState) -> dict:
    st.sidebar.header("Model")
    values = model_controls(state)
    st.sidebar.header("Data")
    values.update(dataset_controls(state))
    st.sidebar.header("Step-size grid")
    values["algorithm"] = state.selectbox("algorithm", "Algorithm",
                                          list(algorithms_for(values["model"])),
                                          format_func=plots.algorithm_label)
    values["step_min"] = state.number("step_min", "Smallest γ", float)
    values["step_max"] = state.number("step_max", "Largest γ", float)
    values["step_count"] = state.number("step_count", f"Grid points ({MIN_GRID}–{MAX_GRID})", int)
    values["max_iters"] = state.number("max_iters", "Iterations T", int)
    values["tail_points"] = state.number("tail_points", "Last K iterations kept", int)
    values["seed"] = state.number("seed", "Init seed", int)
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


def main() -> None:
    state = open_page(PAGE, fields(), "Step-size map", INTRO)
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
    note, model = st.columns(2)
    with note:
        cache_note(1, int(outcome.cached), outcome.seconds, result.meta.get("device", ""))
    model.caption(f"Model: {result.meta.get('model', '')} · n = {result.meta.get('n')}, "
               f"d = {result.meta.get('d')} · {plots.algorithm_label(spec.algorithm)} · "
               f"{len(spec.step_sizes)} step sizes from {spec.step_sizes[0]:.3g} to "
               f"{spec.step_sizes[-1]:.3g}")

    steps = list(spec.step_sizes)
    solved = [r.step_size for r in result.runs if r.iterations_to_solve is not None]
    default = solved[len(solved) // 2] if solved else steps[len(steps) // 2]
    current = state.get("gamma")
    if current is not None and current not in steps:
        state.set("gamma", min(steps, key=lambda g: abs(math.log(g / current))))
    orbit_box = st.container()          # the orbit diagram first, its γ slider under it
    gamma = state.select_slider("gamma", "Step size γ shown in detail (green line)", steps, st,
                                default=default, format_func=plots.format_step)
    chart(plots.orbit_figure(result, gamma), "orbit_diagram", orbit_box)
    orbit_box.caption(LOOK_FOR["orbit"])
    # One more chart at a time (the browser draws only what is asked for).
    view = view_selector(state, "view", VIEWS)
    if view == "solve":
        chart(plots.solve_vs_step_figure(result, gamma), "iterations_vs_step")
        st.caption(LOOK_FOR["solve"])
    elif view == "nonmonotone":
        chart(plots.nonmonotone_figure(result, gamma), "nonmonotone")
        st.caption(LOOK_FOR["nonmonotone"])
    elif view == "loss":
        chart(plots.loss_curve_figure(result.run(gamma, spec.seeds[0]), spec.algorithm),
              "loss_at_step")
        st.caption(LOOK_FOR["loss"])
    else:
        table(plots.display_rows(step_map_rows(result)), height=320)
    st.markdown("**Downloads** (the CLI's formats)")
    result_downloads(result, outcome.cached, "step_size_map")
    state.publish()


main()
