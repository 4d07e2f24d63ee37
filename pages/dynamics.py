"""Perceptron dynamics: GD on the logistic loss at several step sizes, with the
(batch / generalized) perceptron it becomes for large steps."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

from core.datasets import builtin as datasets
from core.report import plots
from core.api import run_spec
from core.report.notes import identical_seeds
from core.kernel.spec import RunSpec, SpecError, make_spec
from ui.display import (cache_note, chart, literal, memoised, result_downloads,
                        run_with_progress, show_error, table)
from ui.controls import (LINEAR_ALGORITHMS, adapt_algorithms, algorithm_controls, algorithm_fields,
                         algorithms_for, dataset_controls,
                         dataset_fields, model_controls, model_fields, parse_list, spec_fields)
from ui.boundary import fragment
from core.kernel.fields import MAX_ITERS
from core.report.display_dynamics import build_history, direction_sentence
from ui.page import (HEIGHT, chart_height, details_box, font_size, formulas_on_demand, look_for, open_page,
                     presenting)
from ui.pins import compact
from ui.state import (UrlState, bool_parser, choice, flag, hidden, many, slider, spec_number, text, view,
                      with_defaults)

PAGE = "dynamics"
INTRO = """
Gradient descent and its relatives on the logistic loss at several step sizes γ (colour; each
algorithm has its own dash, named in the legend). For large γ, GD becomes a perceptron. The line
under each chart says what the runs drawn there show.
"""
FORMULAS = r"""
Logistic loss $f(\theta) = \frac1n \sum_i \log(1 + e^{-m_i})$ with margins
$m_i = y_i\, g(b_i; \theta)$. **GD** takes
$\theta_{t+1} = \theta_t + \frac{\gamma}{n}\sum_i \sigma(-m_i)\, y_i \nabla_\theta g(b_i;\theta_t)$.
For large margins $\sigma(-m_i) \approx 1[m_i < 0]$ and GD becomes the
**generalized perceptron** $\theta_{t+1} = \theta_t + \frac{\gamma}{n}\sum_{i \in S_t} y_i \nabla_\theta g(b_i;\theta_t)$,
$S_t = \{i : m_i \le 0\}$. For the linear model $\theta_t/\gamma$ tends to the
**batch perceptron** $\hat\theta_1 = \frac{1}{2n}\sum_i y_i b_i$,
$\hat\theta_{t+1} = \hat\theta_t + \frac1n \sum_{i\in S_t} y_i b_i$.
Colour is the step size $\gamma$ (seeds of one $\gamma$ are shades of its colour); each algorithm
has its own dash (the legend names it): GD is solid, and a perceptron drawn beside it takes the
colour of its $\gamma$.
A run is **solved** at the first $t \ge 1$ with $\min_i m_i > 0$.
"""
DETAILS = FORMULAS + r"""
* **Normalized GD**: $\theta_{t+1} = \theta_t + \gamma\,\frac{\sum_i w_i y_i b_i}{\sum_i w_i}$ with
  $w_i = \sigma(-m_i)$; it solves within $R^2/\mu^2 + 2\log(2n-1)/(\gamma\mu^2)$ iterations
  ($R = \max_i\lVert b_i\rVert$, $\mu$ the margin). **Normalized batch perceptron**:
  $\hat\theta_{t+1} = \hat\theta_t + \frac{1}{|S_t|}\sum_{i\in S_t} y_i b_i$.
* **Distance to the perceptron** (GD and normalized GD): {gap}.
* **Gradient norm**: {grad}.
* **Worst-case dataset** ($d = 2$): one point $(0.5, -1)$ labelled $+1$ and $n-1$ copies of
  $(-0.5, -1)$ labelled $-1$; the batch perceptron needs $\Theta(n)$ iterations. Paper's Table 1
  ($n = 1000$): normalized GD with $\gamma$ = 100 / 10 / 1 / 0.1 solves in 2 / 2 / 16 / 157
  iterations, GD with $\gamma = 100$ in 308.
* **Two-point dataset**: $(1,-1)$ labelled $+1$, $(-1,-4)$ labelled $-1$: $f(\theta_1)$ is huge for
  large $\gamma$, yet $\theta_2$ already separates — the loss is an unreliable measure of progress.
* 2-homogeneous models (both layers trained) keep $\gamma$: each step is
  $\theta_{t+1} = (I + \gamma A_{S_t})\theta_t$, and they need a random $\theta_0 \neq 0$.
"""
METRICS = ("accuracy", "min_margin", "grad_norm", "perceptron_gap")
METRIC_LABELS = {"accuracy": "accuracy", "min_margin": "min margin", "grad_norm": "gradient norm",
                 "perceptron_gap": "distance to the perceptron"}
DEFAULT_CHARTS = ["accuracy", "perceptron_gap"]
SECTIONS = {"table": "Iterations to solve", "charts": "More charts (accuracy, distance to the "
            "perceptron, …)", "trajectory": "Trajectory (decision boundary, animation)"}
PIN_SEPARATOR, SPEC_SEPARATOR = ";", "|"
MAX_PINS = 4


def pins_parser(text: str) -> list[str]:
    """'spec|spec;spec' -> pins (each the '|'-joined canonical specs of one view), counted
    before anything is split: at most MAX_PINS pins of at most one spec per algorithm."""
    text = str(text)
    if text.count(PIN_SEPARATOR) >= MAX_PINS:
        raise SpecError("pins", f"at most {MAX_PINS} pins")
    pins = [pin.strip() for pin in text.split(PIN_SEPARATOR) if pin.strip()]
    for pin in pins:
        if pin.count(SPEC_SEPARATOR) >= len(LINEAR_ALGORITHMS):
            raise SpecError("pins", f"a pin holds at most {len(LINEAR_ALGORITHMS)} runs")
        for canonical in pin.split(SPEC_SEPARATOR):
            RunSpec.from_query(canonical)            # raises SpecError naming the field
    return pins


CONTROLS = [
    *model_fields("linear"),
    *with_defaults(dataset_fields("digits"), classes="3,8"),
    many("algorithm", ["gd", "batch_perceptron"], LINEAR_ALGORITHMS, "Algorithms (several at once)",
         labels=plots.ALGORITHM_LABELS),
    *algorithm_fields(),
    text("step_size", "1,10,100,1000", "Step sizes γ",
         help="A list (0.1, 1, 10, 100) or a log range such as 1e-2:1e3:log6"),
    text("seed", "0", "Seeds", help="0, or 0,1,2, or a range 0:7 (the linear model starts at "
         "θ₀ = 0, so seeds only matter for nonlinear models)"),
    spec_number("max_iters", "Iterations", 400),
    spec_number("history_points", "Recorded points",
                help="Evenly spaced iterations kept per run (first, solve and last always); a "
                     "claim's link sets it so that its cached run is read back"),
    flag("run_to_max", False, "Keep iterating after a run solves"),
    # no widget: a claim's link turns it off (its runs carry no perceptron twins), so that the
    # page asks for the claim's very spec and reads its cached run back
    hidden("perceptron_gap", True, bool_parser("perceptron_gap")),
    flag("margin_per_norm", False, "divide by ‖θₜ‖"),
    flag("all_t", False, "All iterations",
         help="Off: the x axis ends where the runs differ (after the slowest solve of the "
              "large-γ runs and every divergence); on: every recorded iteration"),
    view("section", "table", SECTIONS),
    many("charts", DEFAULT_CHARTS, METRICS, "Charts", labels=METRIC_LABELS,
         help="Each chart is drawn only when chosen (faster pages)"),
    hidden("pins", [], pins_parser, dump=lambda pins: PIN_SEPARATOR.join(pins)),
    choice("pin_layout", "overlay", ["overlay", "side"], "Compare pins",
           labels={"overlay": "overlaid on the current charts", "side": "side by side"},
           label_visibility="collapsed"),
    flag("animate", False, "Animate (▶ play, pause, step)"),
    choice("run", None, None, "Run"),
    slider("t", None, "Iteration t (recorded iterations)", int, bounds=(0, MAX_ITERS)),
]


def controls(state: UrlState) -> dict:
    st.sidebar.header("Model")
    values = model_controls(state)
    st.sidebar.header("Data")
    values.update(dataset_controls(state))
    st.sidebar.header("Runs")
    model = values["model"]
    state.set("algorithm", adapt_algorithms(model, state.get("algorithm")))
    values["algorithms"] = state.draw("algorithm", options=list(algorithms_for(model)))
    values.update(algorithm_controls(state, values["algorithms"]))
    values["step_sizes"] = state.draw("step_size")
    values["seeds"] = state.draw("seed")
    values["max_iters"] = state.draw("max_iters")
    values["history_points"] = state.draw("history_points")
    values["run_to_max"] = state.draw("run_to_max")
    values["perceptron_gap"] = state.get("perceptron_gap")
    return values


def build_specs(values: dict) -> list:
    algorithms = values.pop("algorithms")
    if not algorithms:
        raise SpecError("algorithm", "choose at least one algorithm")
    values["step_sizes"] = parse_list("step_size", values["step_sizes"], float)
    values["seeds"] = parse_list("seed", values["seeds"], int)
    fields = spec_fields(values)
    return [make_spec(algorithm=algorithm, **fields) for algorithm in algorithms]


def run_all(specs: list) -> tuple[list, int, float]:
    started = time.perf_counter()
    outcomes = []

    def task(progress):
        for index, spec in enumerate(specs):
            outcomes.append(run_spec(spec, progress=lambda f, i=index: progress((i + f) / len(specs))))
        return outcomes

    run_with_progress(task, "running")
    return outcomes, sum(o.cached for o in outcomes), time.perf_counter() - started


@st.cache_data(show_spinner=False, max_entries=16)
def points_of(canonical: str) -> tuple[np.ndarray, np.ndarray]:
    """The dataset of a spec (for the decision-boundary view), cached per canonical string."""
    data = datasets.load(RunSpec.from_query(canonical))
    return data.features, data.labels


def run_key(algorithm: str, step: float, seed: int) -> str:
    return f"{algorithm}:{step!r}:{seed}"


@fragment
def trajectory(state: UrlState, results: list) -> None:
    st.subheader("Trajectory")
    records = {run_key(r.spec.algorithm, rec.step_size, rec.seed): (r, rec)
               for r in results for rec in r.runs if rec.params is not None}
    if not records:
        st.info("θₜ was not kept for these runs (too many parameters × recorded iterations); "
                "lower n, d, the width or the number of runs to see the trajectory.")
        return
    keys = list(records)
    first = results[0]
    default = run_key(first.spec.algorithm, max(first.spec.step_sizes), first.spec.seeds[0])
    if state.get("run") not in keys:
        state.set("run", default if default in keys else keys[0])
    left, right = st.columns([1, 2], vertical_alignment="center")
    chosen = state.draw(
        "run", left, options=keys,
        format_func=lambda k: plots.run_name(records[k][0].spec.algorithm, records[k][1], True))
    result, record = records[chosen]
    if result.meta.get("d") == 2:
        features, labels = points_of(result.spec.canonical())
        animate = state.draw("animate", left)
        if animate:
            figure = plots.boundary_animation(result.spec, features, labels, record,
                                              result.spec.algorithm)
            left.caption("What to look for: press ▶ play (or ▶▶ fast) to watch the boundary "
                         "move until no point has a red outline (solved); ❚❚ pauses, ◀ step and "
                         "step ▶ go one frame back or on, ↺ reset goes back to the start. The "
                         "frames are the recorded θₜ: playing and stepping rerun nothing.")
        else:
            t = time_slider(state, record, left)
            index = [int(v) for v in record.history["iteration"]].index(t)
            figure = plots.boundary_figure(result.spec, features, labels, record, index,
                                           result.spec.algorithm)
            left.caption("What to look for: the boundary g(b; θₜ) = 0 of the chosen run; "
                         "faint lines are earlier iterations, misclassified points have a red "
                         "outline. Marker size grows with the number of copies of a point.")
    else:
        t = time_slider(state, record, left)
        figure = plots.direction_figure(results, (result.spec.algorithm, record.step_size,
                                                  record.seed), t)
        left.caption("What to look for: the path of θₜ/‖θₜ‖ of every run, projected on the "
                     "two principal directions of all of them together. "
                     + direction_sentence(results) + " The chosen run is bold, the star marks "
                     "iteration t.")
    chart(figure, "trajectory", right)
    state.publish()


def time_slider(state: UrlState, record, container) -> int:
    iterations = [int(t) for t in record.history["iteration"]]
    wanted = state.get("t")
    if wanted is not None and wanted not in iterations:   # e.g. from a URL: nearest recorded t
        state.set("t", min(iterations, key=lambda value: abs(value - wanted)))
    return state.draw("t", container, options=iterations, default=iterations[-1])


# ---------------------------------------------------------------------- pins
def pin_label(index: int, pin: str, current: list | None = None) -> str:
    """'pin 1 (classes 1,7)': what differs from the live view (γ is the colour), else the
    pin's data and step sizes."""
    spec = RunSpec.from_query(pin.split(SPEC_SEPARATOR)[0])
    if current:
        live = current[0].to_query()
        differs = [f"{key.replace('_', ' ')} {value}" for key, value in spec.to_query().items()
                   if key not in ("step_size", "algorithm") and live.get(key) != value]
        if differs:
            return f"pin {index + 1} ({', '.join(differs[:3])})"
    steps = ",".join(plots.format_step(g) for g in spec.step_sizes)
    data = spec.dataset + (f" n={spec.n}" if spec.n else "")
    return f"pin {index + 1} ({data}, γ={steps})"


def pinned_results(pin: str) -> list:
    """A pin's results: from the cache when it is there, else computed under the same
    compute guard (slot, time budget, visitor present) as every other run of the page."""
    specs = [RunSpec.from_query(c) for c in pin.split(SPEC_SEPARATOR)]

    def task(progress):
        return [run_spec(spec, progress=lambda f, i=i: progress((i + f) / len(specs))).result
                for i, spec in enumerate(specs)]
    return run_with_progress(task, "loading a pin")


def load_pins(state: UrlState, specs: list | None = None) -> list[tuple[str, list]]:
    """(label, results) of each pin; pins that no longer run are dropped with a note."""
    out = []
    for index, pin in enumerate(state.get("pins")):
        try:
            out.append((pin_label(index, pin, specs), pinned_results(pin)))
        except SpecError as error:
            st.warning(literal(f"Pin {index + 1} could not be loaded ({error}); clear the "
                               "pins to remove it."), icon=":material/push_pin:")
    return out


def pin_controls(state: UrlState, specs: list, container) -> None:
    """Pin the current view (its specs go into the URL), choose overlay or side by side."""
    current = SPEC_SEPARATOR.join(compact(spec) for spec in specs)
    pins = list(state.get("pins"))
    left, middle, right = container.columns([4, 3, 4], vertical_alignment="center")
    left.button("Pin this view", icon=":material/push_pin:", disabled=current in pins or len(pins) >= MAX_PINS,
                on_click=lambda: state.set("pins", list(state.get("pins")) + [current]),
                help=f"Keep these runs for comparison (at most {MAX_PINS} pins; they live "
                     "in the URL, so a copied link keeps them)")
    if pins:
        middle.button("Clear pins", on_click=lambda: state.set("pins", []))
        state.mark_shown("pins")
    if state.get("pins"):
        state.draw("pin_layout", right)


def pinned_traces(pinned: list) -> list:
    """(label, result) pairs for history_figure's grey pinned lines."""
    return [(label, result) for label, results in pinned for result in results]


def pinned_table(pinned: list, results: list) -> list[dict]:
    rows = []
    for label, pin_results in [("current", results)] + pinned:
        for row in plots.run_table(pin_results):
            rows.append({"view": label, **row})
    return plots.display_rows(rows)


def history(state: UrlState, results: list, metric: str, pinned: list, **options):
    """The display of one metric (numbers, window, caption) for the live runs and pins."""
    per_norm = metric == "min_margin" and bool(state.get("margin_per_norm"))
    return build_history(results, metric, per_norm=per_norm, pinned=pinned,
                         full_x=bool(state.get("all_t")), **options)


def draw_history(display, name: str, container, *, height: int = HEIGHT,
                 legend: bool = True) -> None:
    figure = display.to_plotly(height=chart_height(height), legend=legend, font_size=font_size())
    chart(figure, name, container)
    look_for(display.caption, container)


def history_chart(state: UrlState, results: list, metric: str, pinned: list, name: str,
                  container, *, height: int = HEIGHT, legend: bool = True) -> None:
    """draw_history(history(…)), its figure and caption built once per process for these
    runs and pins (a cached view redraws without rebuilding them)."""
    key = ("dynamics.history", metric, tuple(r.spec.canonical() for r in results),
           tuple((label, r.spec.canonical()) for label, r in pinned),
           bool(state.get("margin_per_norm")), bool(state.get("all_t")), chart_height(height),
           legend, font_size())

    def build():
        display = history(state, results, metric, pinned)
        return (display.to_plotly(height=chart_height(height), legend=legend,
                                  font_size=font_size()), display.caption)
    figure, caption = memoised(key, build)
    chart(figure, name, container)
    look_for(caption, container)


def more_charts(state: UrlState, results: list, pinned: list) -> None:
    chosen = state.draw("charts", st)
    per_row = 1 if presenting() else 2
    for start in range(0, len(chosen), per_row):
        columns = st.columns(per_row)
        for column, metric in zip(columns, chosen[start:start + per_row]):
            history_chart(state, results, metric, pinned, metric, column,
                          legend=presenting() is False and per_row == 1)
            if metric == "min_margin":
                state.draw("margin_per_norm", column)
            column.caption(plots.metric_help(metric))


def loss_charts(state: UrlState, results: list, pinned: list) -> None:
    """The loss chart (pins overlaid), or the live view and each pin side by side on one
    shared y axis."""
    side = bool(pinned) and state.get("pin_layout") == "side"
    if not side:
        history_chart(state, results, "loss", pinned_traces(pinned), "loss", st, height=460)
        return
    displays = [history(state, results, "loss", [])]
    displays += [history(state, pin_results, "loss", []) for _, pin_results in pinned]
    share_y(displays)
    for index, display in enumerate(displays[1:]):
        display.title = pinned[index][0]
    figures = [d.to_plotly(height=chart_height(460), legend=i == 0, font_size=font_size())
               for i, d in enumerate(displays)]
    plots.legend_under(figures[0])
    plots.align_panels(figures)
    for index, (column, display, figure) in enumerate(zip(st.columns(len(displays)), displays,
                                                          figures)):
        chart(figure, "loss" if index == 0 else f"loss_pin{index - 1}", column)
        look_for(display.caption, column)


def share_y(displays: list) -> None:
    """Side-by-side panels read against one y axis: the union of their views."""
    spans = [d.y_range for d in displays if d.y_range is not None]
    if spans and len({d.log_y for d in displays}) == 1:
        joint = (min(s[0] for s in spans), max(s[1] for s in spans))
        for display in displays:
            display.set_y_range(joint)


def run_details(outcomes: list, cached: int, seconds: float, results: list) -> None:
    """Developer text (cache, device, spec ids) behind one Details expander."""
    with details_box():
        cache_note(len(outcomes), cached, seconds, results[0].meta.get("device", ""))
        st.caption(f"Model: {results[0].meta.get('model', '')} · n = {results[0].meta.get('n')}, "
                   f"d = {results[0].meta.get('d')}")
        st.markdown("Spec ids (cache keys and export row ids)")
        for result in results:
            st.code(result.spec.canonical(), language=None, wrap_lines=True)


def main() -> None:
    details = (DETAILS.replace("{gap}", plots.metric_help("perceptron_gap"))
               .replace("{grad}", plots.metric_help("grad_norm")))
    state = open_page(PAGE, CONTROLS, "Perceptron dynamics", INTRO)
    formulas_on_demand(PAGE, "More formulas and the datasets of the paper", details)
    values = controls(state)
    try:
        specs = build_specs(values)
        outcomes, cached, seconds = run_all(specs)
    except SpecError as error:
        show_error(error)
        state.publish()
        return
    results = [o.result for o in outcomes]
    info, pin_box = st.columns([2, 3], vertical_alignment="center")
    info.caption(f"n = {results[0].meta.get('n')}, d = {results[0].meta.get('d')} · "
                 f"{plots.algorithm_label(specs[0].algorithm)}"
                 + "".join(f", {plots.algorithm_label(s.algorithm)}" for s in specs[1:]))
    seeds_note = identical_seeds(specs[0])
    if seeds_note:
        info.caption(f"Note: {seeds_note}.")
    pin_controls(state, specs, pin_box)
    pinned = load_pins(state, specs)
    side = bool(pinned) and state.get("pin_layout") == "side"
    loss_charts(state, results, pinned)
    state.draw("all_t", st)
    # One section at a time under the loss chart: the browser draws only what is asked for.
    section = state.draw("section")
    if section == "charts":
        more_charts(state, results, [] if side else pinned_traces(pinned))
    elif section == "table":
        if pinned:
            st.markdown("**Pinned views against the current one**")
            table(pinned_table(pinned, results))
        st.markdown("**Iterations to solve**")
        table(plots.display_rows(plots.run_table(results)))
        st.markdown("**Downloads** (the CLI's formats, one file per algorithm)")
        for outcome in outcomes:
            result_downloads(outcome.result, outcome.cached, outcome.result.spec.algorithm)
    else:
        trajectory(state, results)
    run_details(outcomes, cached, seconds, results)
    state.publish()


if __name__ == "__main__":      # Streamlit runs a page as __main__; tests import its table
    main()
