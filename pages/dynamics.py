"""Perceptron dynamics: GD on the logistic loss at several step sizes, with the
(batch / generalized) perceptron it becomes for large steps."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

from core import datasets, plots
from core.api import run_spec
from core.spec import RunSpec, SpecError, make_spec
from ui.common import cache_note, chart, result_downloads, run_with_progress, show_error, table
from ui.controls import (LINEAR_ALGORITHMS, adapt_algorithms, algorithms_for, dataset_controls,
                         dataset_fields, model_controls, model_fields, parse_list, spec_fields)
from ui.boundary import fragment
from ui.extra import open_page
from ui.state import Field, UrlState, bool_parser, multi_parser, number_parser, spec_parser

PAGE = "dynamics"
INTRO = r"""
Logistic loss $f(\theta) = \frac1n \sum_i \log(1 + e^{-m_i})$ with margins
$m_i = y_i\, g(b_i; \theta)$. **GD** takes
$\theta_{t+1} = \theta_t + \frac{\gamma}{n}\sum_i \sigma(-m_i)\, y_i \nabla_\theta g(b_i;\theta_t)$.
For large margins $\sigma(-m_i) \approx 1[m_i < 0]$ and GD becomes the
**generalized perceptron** $\theta_{t+1} = \theta_t + \frac{\gamma}{n}\sum_{i \in S_t} y_i \nabla_\theta g(b_i;\theta_t)$,
$S_t = \{i : m_i \le 0\}$. For the linear model $\theta_t/\gamma$ tends to the
**batch perceptron** $\hat\theta_1 = \frac{1}{2n}\sum_i y_i b_i$,
$\hat\theta_{t+1} = \hat\theta_t + \frac1n \sum_{i\in S_t} y_i b_i$.
Colour is the step size $\gamma$; solid lines are GD, dotted lines the perceptron with the same $\gamma$.
A run is **solved** at the first $t \ge 1$ with $\min_i m_i > 0$.
"""
DETAILS = r"""
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
METRIC_GRID = (("accuracy", "min_margin"), ("grad_norm", "perceptron_gap"))


def fields() -> list[Field]:
    return model_fields("linear") + dataset_fields("worst_case") + [
        Field("algorithm", ["gd", "batch_perceptron"], multi_parser("algorithm", LINEAR_ALGORITHMS)),
        Field("step_size", "0.1,1,10,100"),
        Field("seed", "0"),
        Field("max_iters", 1000, spec_parser("max_iters")),
        Field("run_to_max", False, spec_parser("run_to_max")),
        Field("margin_per_norm", False, bool_parser("margin_per_norm")),
        Field("run", None),
        Field("t", None, number_parser("t", int)),
    ]


def controls(state: UrlState) -> dict:
    st.sidebar.header("Model")
    values = model_controls(state)
    st.sidebar.header("Data")
    values.update(dataset_controls(state))
    st.sidebar.header("Runs")
    model = values["model"]
    state.set("algorithm", adapt_algorithms(model, state.get("algorithm")))
    values["algorithms"] = state.multiselect(
        "algorithm", "Algorithms (several at once)", list(algorithms_for(model)),
        format_func=plots.algorithm_label)
    values["step_sizes"] = state.text(
        "step_size", "Step sizes γ",
        help="A list (0.1, 1, 10, 100) or a log range such as 1e-2:1e3:log6")
    values["seeds"] = state.text("seed", "Seeds", help="0, or 0,1,2, or a range 0:7 "
                                 "(the linear model starts at θ₀ = 0, so seeds only matter "
                                 "for nonlinear models)")
    values["max_iters"] = state.number("max_iters", "Iterations", int)
    values["run_to_max"] = state.checkbox("run_to_max", "Keep iterating after a run solves")
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
    chosen = state.selectbox(
        "run", "Run", keys, left,
        format_func=lambda k: plots.run_name(records[k][0].spec.algorithm, records[k][1], True))
    result, record = records[chosen]
    iterations = [int(t) for t in record.history["iteration"]]
    wanted = state.get("t")
    if wanted is not None and wanted not in iterations:   # e.g. from a URL: nearest recorded t
        state.set("t", min(iterations, key=lambda value: abs(value - wanted)))
    t = state.select_slider("t", "Iteration t (recorded iterations)", iterations, left,
                            default=iterations[-1])
    index = iterations.index(t)
    if result.meta.get("d") == 2:
        features, labels = points_of(result.spec.canonical())
        figure = plots.boundary_figure(result.spec, features, labels, record, index,
                                       result.spec.algorithm)
        left.caption("The data and the decision boundary g(b; θₜ) = 0 of the chosen run; faint "
                     "lines are earlier iterations, misclassified points have a red outline. "
                     "Marker size grows with the number of copies of a point.")
    else:
        figure = plots.direction_figure(results, (result.spec.algorithm, record.step_size,
                                                  record.seed), t)
        left.caption("d > 2: the path of θₜ/‖θₜ‖ of every run, projected on the two principal "
                     "directions of all of them together; the chosen run is bold and the star "
                     "marks iteration t.")
    chart(figure, "trajectory", right)
    state.publish()


def main() -> None:
    details = (DETAILS.replace("{gap}", plots.metric_help("perceptron_gap"))
               .replace("{grad}", plots.metric_help("grad_norm")))
    state = open_page(PAGE, fields(), "Perceptron dynamics", INTRO,
                      details=("More formulas and the datasets of the paper", details))
    values = controls(state)
    try:
        specs = build_specs(values)
        outcomes, cached, seconds = run_all(specs)
    except SpecError as error:
        show_error(error)
        state.publish()
        return
    results = [o.result for o in outcomes]
    cache_note(len(outcomes), cached, seconds, results[0].meta.get("device", ""))
    st.caption(f"Model: {results[0].meta.get('model', '')} · n = {results[0].meta.get('n')}, "
               f"d = {results[0].meta.get('d')}")

    chart(plots.history_figure(results, "loss", height=460), "loss")
    for row in METRIC_GRID:
        columns = st.columns(2)
        for column, metric in zip(columns, row):
            per_norm = metric == "min_margin" and state.get("margin_per_norm")
            chart(plots.history_figure(results, metric, per_norm=per_norm, legend=False), metric,
                  column)
            if metric == "min_margin":
                state.checkbox("margin_per_norm", "divide by ‖θₜ‖", column)
            column.caption(plots.metric_help(metric))

    st.subheader("Iterations to solve")
    table(plots.run_table(results))
    st.markdown("**Downloads** (the CLI's formats, one file per algorithm)")
    for outcome in outcomes:
        result_downloads(outcome.result, outcome.cached, outcome.result.spec.algorithm)
    with st.expander("Spec ids (cache keys and export row ids)"):
        for result in results:
            st.code(result.spec.canonical(), language=None, wrap_lines=True)
    trajectory(state, results)
    state.publish()


main()
