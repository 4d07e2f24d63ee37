"""Iteration complexity: iterations to solve against the dimension d on the minimal
example, for linear and two-layer models, with fitted log–log slopes."""
from __future__ import annotations

import json
import time

import streamlit as st

from core.report import plots
from core.analysis.scaling import C_RANGE, Curve, parse_curves, sweep_dimensions
from core.report.notes import identical_seeds
from core.kernel.registry import model_family
from core.kernel.spec import SpecError, make_spec
from core.analysis.theory import minimal_lambda2
from ui.display import cache_note, chart, run_with_progress, show_error, table
from ui.controls import (CLASSIFIER_MODELS, dataset_controls, dataset_fields, model_controls, model_fields,
                         parse_list, spec_fields)
from core.report.display import plural
from core.report.display_scaling import scaling_sentences
from ui.page import details_box, look_for, formulas_on_demand, open_page
from ui.pins import compact, differences, load_pins, pin_buttons, pins_field
from core.kernel.spec import RunSpec
from urllib.parse import parse_qsl, urlencode
from ui.state import UrlState, check_range, many, number, spec_number, text, view
from core.kernel.lists import parse_number

PAGE = "complexity"
DATASETS = ("minimal", "gaussian")
# Short names: whole on the sidebar's chips, and the same in legends and tables; the
# step-size rule of each curve is spelled out under the chart.
CURVE_PRESETS = {
    "linear:batch_perceptron:1": "linear perceptron",
    "linear:gd:1e6": "linear GD γ=10⁶",
    "linear:gd:scaled": "linear GD scaled",
    "two_layer_conv:gd:scaled": "2-layer GD scaled",
    "two_layer_conv:generalized_perceptron:scaled": "2-layer perceptron",
    "mlp:gd:scaled": "MLP GD scaled",
}
DEFAULT_CURVES = ["linear:batch_perceptron:1", "two_layer_conv:gd:scaled"]
INTRO = """
How many iterations until every point is classified correctly, as the dimension d grows? On the
paper's minimal example the linear model needs about d (slope 1 on this log–log chart), the
two-layer model about √d (slope ½). At the defaults the two fitted slopes' 95 % intervals are
far apart.
"""
FORMULAS = r"""
On the **minimal example** — $n = 2$, $b_1 = (1,\dots,1)$ labelled $+1$ and
$b_2 = (1+\mu, 1, \dots, 1)$ labelled $-1$ — the paper claims that the iterations to solve grow
like $\Omega(d)$ for the linear model and $\tilde O(\sqrt d)$ for the two-layer model
$g(b) = u_1 w^\top b + u_2 w^\top P b$: log–log slopes near 1 and near ½.
Each curve is *model · algorithm · step-size rule*: a **fixed** $\gamma$, or the **scaled** rule
$\gamma = c\,n/\lambda_2(d,\mu)$ with $\lambda_2 = \sqrt{(2+\mu)^2 + 2(d-2)}$, the top eigenvalue of
$A_2 = A(1+\mu e_1)$. Thick lines are the 90th percentile over seeds (the statistic
the paper check judges: its bound is an upper bound), thin dotted lines the median, bands the
10th–90th percentiles, dashed lines least-squares fits of the 90th percentile (95 % bootstrap
intervals over seeds). An unsolved seed counts as needing the whole budget (censored there).
"""
CAVEAT = """
**Caveat.** Linear GD with a *small, d-tuned* step (γ ≈ 8/d) solves this two-point set in
2 iterations. The Ω(d) of linear models is a statement about the perceptron / large-step regime
the paper studies, not about every step size — compare *linear perceptron* or *linear GD γ=10⁶*
with *linear GD scaled*. The two-layer √d is the slow tail of a mixture: the median,
the 90th percentile, the init scale s (θ₀ = s·N(0, I)/√(d+2)) and c all move the fitted
slope (0.24–0.57 measured), so read the band, not only the line.
"""


def curve_label(text: str) -> str:
    if text in CURVE_PRESETS:
        return CURVE_PRESETS[text]
    try:
        return parse_curves(text, "gd", "scaled")[0].label
    except SpecError:
        return text


def parse_curve_list(text: str) -> list[str]:
    """URL text -> the chosen curves, checked and bounded (parse_curves counts them first)."""
    read_curves([text])
    return [part.strip() for part in text.split(",") if part.strip()]


def read_curves(chosen: list[str]) -> list[Curve]:
    """The chosen curves (errors name the 'curves' control)."""
    if not chosen:
        raise SpecError("curves", "choose at least one curve")
    try:
        return parse_curves(",".join(chosen), "gd", "scaled")
    except SpecError as error:
        raise SpecError("curves", str(error).split(": ", 1)[-1]) from None


def control_error(error: SpecError) -> SpecError:
    """An error of the spec's d is one of this page's "dims" (there is no d control here)."""
    if error.field == "d":
        return SpecError("dims", str(error).split(": ", 1)[-1])
    return error


def rule_text(curve: Curve, c: float, mu: float, n: int) -> str:
    if curve.step == "scaled":
        return (f"scaled: γ = c·n/λ₂(d, μ) = {c:g}·{n}/√((2+{mu:g})² + 2(d−2))")
    return f"fixed: γ = {float(curve.step):g} at every d"


MEMO_SIZE = 16
VIEWS = {"slopes": "Fitted slopes and step-size rules", "spread": "Medians and spread over seeds"}
CONTROLS = [
    many("curves", DEFAULT_CURVES, CURVE_PRESETS, "Model · algorithm · step rule",
         parse=parse_curve_list, format_func=curve_label, accept_new_options=True,
         help="Presets, or type model[:algorithm[:step]] — e.g. mlp:gd:0.5 or "
              "two_layer_conv:gd:scaled; step is a number or 'scaled'"),
    number("c", 1.0, "c in the scaled rule γ = c·n/λ₂", bounds=C_RANGE),
    text("dims", "16:1024:x2", "Dimensions d",
         help="16,32,64 or 16:2048:x2 (a geometric range) or 16,32,...,512"),
    text("seed", "0:63", "Seeds",
         help="0:63 is 64 seeds (random inits); more seeds narrow the intervals of the fitted "
              "slopes"),
    spec_number("max_iters", "Iteration budget per run", 20000),
    view("view", "slopes", VIEWS),
    *model_fields("two_layer_conv"),
    *dataset_fields("minimal", DATASETS),
    pins_field(lambda pin: read_pin(pin)),
]
# A pin's base-spec fields that each curve and d replace (never named in its label).
REPLACED = ("model", "algorithm", "d", "step_size", "history_points")


def controls(state: UrlState) -> dict:
    """The controls, only those a drawn curve reads: c only when a curve uses the scaled step
    rule, the model parameters of the curves' nonlinear models only."""
    st.sidebar.header("Curves")
    options = list(CURVE_PRESETS) + [c for c in state.get("curves") if c not in CURVE_PRESETS]
    values = {"curves": state.draw("curves", options=options)}
    try:
        drawn = read_curves(values["curves"])
    except SpecError:
        drawn = []                       # reported by main(); show every control meanwhile
    if not drawn or any(curve.step == "scaled" for curve in drawn):
        values["c"] = state.draw("c")
    else:
        values["c"] = state.get("c")     # kept (and still checked), not read by these curves
    values["dims"] = state.draw("dims")
    values["seeds"] = state.draw("seed")
    values["max_iters"] = state.draw("max_iters")
    st.sidebar.header("Data")
    values.update(dataset_controls(state, DATASETS, show_d=False))
    models = [curve.model for curve in drawn] or list(CLASSIFIER_MODELS)
    if any(model_family(model) == "nonlinear" for model in models):
        st.sidebar.header("Nonlinear models")
        values.update(model_controls(state, models=models, choose_model=False))
    return values


@st.cache_resource
def recent_sweeps() -> dict:
    """The last MEMO_SIZE sweeps in memory, shared by the sessions (each is one batched,
    deterministic, disk-cached run per (curve, d); reading 14 of them back from disk took
    0.75 s before the chart could be sent)."""
    return {}


def seeds_note(base, curves) -> None:
    notes = [identical_seeds(base.replace(model=curve.model, algorithm=curve.algorithm))
             for curve in curves]
    if any(notes):
        st.caption("Note: " + "; ".join(dict.fromkeys(n for n in notes if n)) +
                   " (their medians and bands are one run each).")


def sweep(base, curves: list[Curve], dims: list[int], c: float):
    """(result, runs from the cache): the batched runs of every (curve, d), the last
    MEMO_SIZE sweeps kept in memory."""
    memo = recent_sweeps()
    key = (base.canonical(), tuple(curve.label for curve in curves), tuple(dims), c)
    result = memo.get(key)
    if result is not None:
        return result, len(curves) * len(result.dims)
    result = run_with_progress(
        lambda progress: sweep_dimensions(base, curves, dims, c=c, progress=progress),
        "sweeping d")
    memo[key] = result
    while len(memo) > MEMO_SIZE:
        memo.pop(next(iter(memo)))
    return result, result.cached_runs


def make_pin(base, chosen: list[str], dims: list[int], c: float) -> str:
    """The view as text: its base spec (compacted), curves, dimensions and c."""
    return urlencode({"spec": compact(base), "curves": ",".join(chosen),
                      "dims": ",".join(str(d) for d in dims), "c": f"{c:g}"})


def read_pin(pin: str) -> tuple:
    """(base spec, curve texts, curves, dims, c) of a pin; raises SpecError naming the part."""
    parts = dict(parse_qsl(pin, keep_blank_values=True))
    if set(parts) != {"spec", "curves", "dims", "c"}:
        raise SpecError("pins", "a pin here holds spec, curves, dims and c")
    base = RunSpec.from_query(parts["spec"])
    chosen = [text for text in parts["curves"].split(",") if text.strip()]
    curves = read_curves(chosen)
    dims = list(parse_list("dims", parts["dims"], int, geometric=True))
    c = check_range("c", parse_number("c", parts["c"], float), C_RANGE)
    return base, chosen, curves, dims, c


def pin_difference(pin: str, live: dict[str, str]) -> str:
    base, chosen, _, dims, c = read_pin(pin)
    pinned = {**base.to_query(), "curves": ",".join(curve_label(t) for t in chosen),
              "dims": ",".join(map(str, dims)), "c": f"{c:g}"}
    return ", ".join(differences(pinned, live, REPLACED)[:3]) or "same settings"


def load_pin(pin: str):
    base, chosen, curves, dims, c = read_pin(pin)
    return sweep(base, curves, dims, c)[0], {curve: curve_label(text)
                                             for curve, text in zip(curves, chosen)}


def main() -> None:
    state = open_page(PAGE, CONTROLS, "Iteration complexity", INTRO)
    formulas_on_demand(PAGE, "The minimal example, the curves and the step-size rules", FORMULAS)
    values = controls(state)
    try:
        chosen_texts = values.pop("curves")
        curves = read_curves(chosen_texts)
        dims = list(parse_list("dims", values.pop("dims"), int, geometric=True))
        c = values.pop("c")
        if c is None:
            raise SpecError("c", "needs a value")
        values["seeds"] = parse_list("seed", values.pop("seeds"), int)
        base = make_spec(model=curves[0].model, algorithm=curves[0].algorithm, d=dims[0],
                         history_points=16, **spec_fields(values))
        started = time.perf_counter()
        result, cached = sweep(base, curves, dims, c)
        seconds = time.perf_counter() - started
    except SpecError as error:
        show_error(control_error(error))
        state.publish()
        return

    seeds_note(base, curves)
    labels = {curve: curve_label(text) for curve, text in zip(curves, chosen_texts)}
    pin_buttons(state, make_pin(base, chosen_texts, dims, c))
    live = {**base.to_query(), "curves": ",".join(labels.values()),
            "dims": ",".join(map(str, dims)), "c": f"{c:g}"}
    pinned = [(p.label, *p.value) for p in
              load_pins(state, load_pin, lambda pin: pin_difference(pin, live))]
    chart(plots.scaling_figure(result, labels=labels, pins=pinned), "iterations_vs_d")
    look_for(" ".join(scaling_sentences(result, labels)) + f" Each (curve, d) is one batched "
             f"run over {plural(len(result.seeds), 'seed')}.")
    view = state.draw("view")
    if view == "slopes":
        table(plots.display_rows(plots.fit_rows(result, labels)))
        st.markdown("**Step-size rule of each curve**\n" + "\n".join(
            f"* {labels[curve]} ({curve.label}) — {rule_text(curve, c, base.mu, base.n)}"
        for curve in curves))
        with st.expander("Caveat: which step size, which statistic"):
            st.markdown(CAVEAT)
    else:
        table(plots.display_rows(plots.scaling_rows(result, labels)))
        if base.dataset == "minimal":
            st.caption("λ₂(d, μ) at these d: " + ", ".join(
                f"{d}: {minimal_lambda2(d, base.mu):.3g}" for d in result.dims))

    left, right = st.columns(2)
    left.download_button("iterations_vs_d.csv", data=result.to_csv,
                         file_name="iterations_vs_d.csv", mime="text/csv", key="csv-sweep",
                         on_click="ignore", icon=":material/table:")
    right.download_button("iterations_vs_d.json",
                          data=lambda: json.dumps(result.to_dict(), indent=1),
                          file_name="iterations_vs_d.json", mime="application/json",
                          key="json-sweep", on_click="ignore", icon=":material/data_object:")
    with details_box():
        cache_note(len(curves) * len(result.dims), cached, seconds)
        st.caption("Base spec (each curve and d replaces model, algorithm, d and γ)")
        st.code(base.canonical(), language=None, wrap_lines=True)
    state.publish()


if __name__ == "__main__":      # Streamlit runs a page as __main__; tests import its table
    main()
