"""Image classifiers: full-batch GD on the logistic loss for small CNNs of several kernel
sizes and for the linear model, on two classes of digits or CIFAR-10."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.datasets import builtin as datasets
from core.report import plots
from core.report import plots_images as pi
from core.kernel.spec import IMAGE_DATASETS, RunSpec, SpecError, make_spec, parse_field
from core.kernel.fields import ACTIVATIONS, DTYPES, READOUTS
from ui.display import cache_note, chart, memoised, result_downloads, show_error, table
from core.kernel.fields import BY_NAME, field_range
from core.kernel.registry import dataset_kind, model_kind
from ui.controls import ACTIVATION_LABELS, DATASET_LABELS, parse_list
from ui.controls import MODEL_LABELS as REGISTERED_MODEL_LABELS
from core.report import display_images as di
from ui.page import details_box, formulas_on_demand, look_for, open_page, presenting, run_specs
from ui.pins import (NOT_NAMED, differences, load_pins, pin_buttons, pin_specs, pins_field,
                     spec_pin, spec_pin_check)
from ui.state import UrlState, choice, flag, number, spec_number, text, view

PAGE = "images"
MAX_KERNELS = 6
VIEWS = {"runs": "Runs (iterations to 100 %, sharpness)", "solve": "Iterations to 100 % "
         "and accuracy", "images": "The images"}
MODEL_LABELS = {"cnn": "CNN (kernel sizes below)", "linear": REGISTERED_MODEL_LABELS["linear"]}

INTRO = """
Full-batch GD on small CNNs of several kernel sizes and on the linear model, on two classes of
images. The line under each chart says what the runs drawn there show: whether the sharpness
reaches the edge of stability 2/η, whether the loss rose, which runs reach 100 % accuracy.
"""
FORMULAS = r"""
Full-batch GD $\theta_{t+1} = \theta_t - \eta\nabla f(\theta_t)$ on the logistic loss
$f(\theta) = \frac1n\sum_i \log(1 + e^{-m_i})$, margins $m_i = y_i\,g(b_i;\theta)$, labels $\pm1$ for
two classes. The **CNN** is $g(b) = v^\top \mathrm{pool}\big(s(W * b + c)\big) + v_0$: one (or two)
$k\times k$ convolutions with $C$ channels ("same" padding), activation $s$, then a global average
pool (or a linear readout of every pixel). Its step is GD written as a generalized perceptron,
$\theta_{t+1} = \theta_t + \frac{\eta}{n}\sum_i \sigma(-m_i)\,y_i\nabla_\theta g(b_i;\theta_t)$. The
**linear** baseline is $g(b) = v^\top b$ on the same pixels. **Iterations to 100 %** = the first
$t \ge 1$ after whose update every margin is positive. **Sharpness** = the top eigenvalue of the
Hessian of $f$ (Lanczos on Hessian-vector products, every $K$ steps); under GD it rises to the
**edge of stability** $2/\eta$ and hovers there while the loss keeps falling, non-monotonically
(Cohen et al. 2021). Colour is the step size $\eta$, the dash pattern the kernel size; the linear
model is dotted.
"""


CONTROLS = [
    choice("dataset", "digits", IMAGE_DATASETS, "Dataset", labels=DATASET_LABELS),
    text("path", "", "Folder with the CIFAR-10 python batches",
         placeholder="/data/cifar-10-batches-py",
         help="data_batch_1 … data_batch_5 / test_batch of the official python version; "
              "nothing is downloaded"),
    text("classes", "0,1", "Two classes (−1, +1)",
         help="digits 0–9; CIFAR-10 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, "
              "6 frog, 7 horse, 8 ship, 9 truck"),
    number("n", 100, "Number of images N", int, bounds=field_range("n"),
           placeholder="all of both classes"),
    choice("model", "cnn", MODEL_LABELS, "Model", labels=MODEL_LABELS),
    flag("baseline", True, "Also run the linear model (baseline)"),
    text("kernel_size", "3, 5", "Kernel sizes k",
         help="several: one batched sweep per kernel size, e.g. 3, 5, 7 or 1:7:x2"),
    spec_number("channels", "Channels C"),
    choice("conv_layers", BY_NAME["conv_layers"].default,
           range(int(BY_NAME["conv_layers"].low), int(BY_NAME["conv_layers"].high) + 1),
           "Convolution layers"),
    choice("readout", "avg", READOUTS, "Readout",
           labels={"avg": "global average pool", "linear": "linear (every pixel)"}),
    choice("activation", model_kind("cnn").default_activation, ACTIVATIONS, "Activation s",
           labels=ACTIVATION_LABELS),
    spec_number("leak", "Leak (negative slope)"),
    spec_number("init_scale", "Init scale s", help="weights N(0, s²/fan-in), biases 0"),
    text("step_size", "0.5, 2", "Step sizes η",
         help="several, batched in one run per model: e.g. 1, 4 or 0.5:8:x2"),
    text("seed", "0", "Seeds", help="initialisation seeds, e.g. 0 or 0,1"),
    spec_number("max_iters", "Iterations", 400),
    spec_number("sharpness_every", "Sharpness every K iterations (0 = off)", 25,
                help="each measurement is a Lanczos run on Hessian-vector products (float64)"),
    flag("run_to_max", False, "Keep iterating after 100 % accuracy"),
    spec_number("history_points", "Recorded points"),
    choice("dtype", "float32", DTYPES, "Precision"),
    view("view", "runs", VIEWS),
    pins_field(spec_pin_check(MAX_KERNELS + 1)),
]
# The CNN controls, in the table's order: the page's baseline and kernel-size list, and what the
# CNN's registry entry reads (the leak is drawn only for leaky ReLU).
CNN_CONTROLS = tuple(f.name for f in CONTROLS if f.name != "leak" and (
    f.name in ("baseline", "kernel_size") or f.name in model_kind("cnn").fields))


def controls(state: UrlState) -> dict:
    values: dict = {}
    st.sidebar.header("Data")
    values["dataset"] = state.draw("dataset")
    if dataset_kind(values["dataset"]).needs_path:
        values["path"] = state.draw("path")
    values["classes"] = state.draw("classes")
    values["n"] = state.draw("n")
    st.sidebar.header("Model")
    values["model"] = state.draw("model")
    if values["model"] == "cnn":
        for name in CNN_CONTROLS:
            values[name] = state.draw(name)
            if name == "activation" and values[name] == "leaky_relu":
                values["leak"] = state.draw("leak")
    st.sidebar.header("Runs")
    for name in ("step_size", "seed", "max_iters", "sharpness_every", "run_to_max"):
        values[name] = state.draw(name)
    box = st.sidebar.expander("Recording and precision")
    values["history_points"] = state.draw("history_points", box)
    values["dtype"] = state.draw("dtype", box)
    return values


def classes_of(text: str) -> tuple[int, ...]:
    return parse_field("classes", text)


def build_specs(values: dict) -> list[tuple[int | None, RunSpec]]:
    """(kernel size or None for the linear model, spec) pairs; raises SpecError."""
    common = dict(dataset=values["dataset"], classes=classes_of(values["classes"]),
                  n=values["n"], step_sizes=parse_list("step_size", values["step_size"], float),
                  seeds=parse_list("seed", values["seed"], int), max_iters=values["max_iters"],
                  sharpness_every=values["sharpness_every"], run_to_max=values["run_to_max"],
                  history_points=values["history_points"], dtype=values["dtype"],
                  perceptron_gap=False)
    if dataset_kind(values["dataset"]).needs_path:
        common["path"] = values.get("path", "").strip()
    for name in ("max_iters", "sharpness_every", "history_points"):
        if common[name] is None:
            raise SpecError(name, "needs a value")
    specs: list[tuple[int | None, RunSpec]] = []
    if values["model"] == "cnn":
        kernels = parse_list("kernel_size", values["kernel_size"], int, geometric=True,
                             limit=MAX_KERNELS)
        for name in ("channels", "init_scale"):
            if values[name] is None:
                raise SpecError(name, "needs a value")
        for kernel in dict.fromkeys(kernels):
            specs.append((kernel, make_spec(model="cnn", kernel_size=kernel,
                                            channels=values["channels"],
                                            conv_layers=values["conv_layers"],
                                            readout=values["readout"],
                                            activation=values["activation"],
                                            leak=values.get("leak", BY_NAME["leak"].default),
                                            init_scale=values["init_scale"], **common)))
    if values["model"] == "linear" or values.get("baseline"):
        specs.append((None, make_spec(model="linear", **common)))
    return specs


@st.cache_data(show_spinner=False, max_entries=8)
def gallery_data(canonical: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """A few images of each class (the data as core.datasets.builtin loads it for the runs)."""
    data = datasets.load(RunSpec.from_query(canonical))
    picked = np.concatenate([np.flatnonzero(data.labels == label)[:8] for label in (-1.0, 1.0)])
    return data.features[picked], data.labels[picked], data.image_shape


def pair():
    """Two charts side by side; one above the other (full width) in presentation mode."""
    return (st.container(), st.container()) if presenting() else st.columns(2)


def aligned(*figures):
    """Side-by-side panels with one plot box (same top and bottom margins and height) and,
    when they list the same runs, one legend; a legend goes under its plot."""
    if not presenting():
        plots.share_legend(list(figures))
        plots.legends_under(list(figures))
    plots.align_panels(list(figures))
    return figures


def kernel_of(spec: RunSpec) -> int | None:
    return spec.kernel_size if spec.model == "cnn" else None


def pin_difference(pin: str, live: list[RunSpec]) -> str:
    """What a pinned view changes: its data and run fields, its models, else its steps."""
    pinned = pin_specs(pin)
    differs = differences(pinned[0].to_query(), live[0].to_query(),
                          NOT_NAMED + ("model", "kernel_size"))
    models = [pi.Series(None, kernel_of(s)).label for s in pinned]
    if models != [pi.Series(None, kernel_of(s)).label for s in live]:
        differs.append(" + ".join(models))
    if not differs and pinned[0].step_sizes != live[0].step_sizes:
        differs.append("η " + ",".join(plots.format_step(g) for g in pinned[0].step_sizes))
    return ", ".join(differs[:3]) or "same settings"


def pinned_series(pin: str) -> list:
    specs = pin_specs(pin)
    weights = [10.0 if spec.model == "cnn" else 1.0 for spec in specs]
    outcomes, _, _ = run_specs(specs, "loading a pin", weights, memory_field="pins")
    return [(kernel_of(spec), outcome.result) for spec, outcome in zip(specs, outcomes)]


def pins(state: UrlState, live_specs: list[RunSpec]) -> list:
    """The pin buttons, and the pinned views as series drawn in their pin's dash."""
    pin_buttons(state, spec_pin(live_specs))
    return [pi.Series(result, kernel, pin.label, pin.index)
            for pin in load_pins(state, pinned_series, lambda p: pin_difference(p, live_specs))
            for kernel, result in pin.value]


def main() -> None:
    state = open_page(PAGE, CONTROLS, "Image classifiers", INTRO, keep_hidden=True)
    formulas_on_demand(PAGE, "The models, the step and the sharpness, in formulas", FORMULAS)
    values = controls(state)
    try:
        pairs = build_specs(values)
        weights = [10.0 if kernel is not None else 1.0 for kernel, _ in pairs]
        outcomes, cached, seconds = run_specs([spec for _, spec in pairs],
                                              f"{len(pairs)} sweep(s)", weights, memory_field="n")
    except SpecError as error:
        show_error(error)
        state.publish()
        return
    series = [pi.Series(outcome.result, kernel) for (kernel, _), outcome in zip(pairs, outcomes)]
    pinned = pins(state, [spec for _, spec in pairs])
    first = outcomes[0].result
    st.caption(f"{first.spec.dataset}, classes {first.spec.classes[0]} (−1) and "
               f"{first.spec.classes[1]} (+1), N = {first.meta.get('n')}, d = {first.meta.get('d')} · "
               + " · ".join(f"{s.label}: {s.result.meta.get('param_count', '?')} parameters"
                            for s in series))

    # Figures are built once per process for these runs and pins (keyed by their canonical
    # specs, kernels and labels): a cached view redraws without rebuilding them.
    drawn = series + pinned
    runs_key = ("images",) + tuple((s.kernel, s.result.spec.canonical(), s.label) for s in drawn)
    left, right = pair()
    sharpness, loss = memoised(runs_key + ("sharpness", "loss", presenting()), lambda: aligned(
        pi.curves_figure(drawn, "sharpness"), pi.curves_figure(drawn, "loss")))
    chart(sharpness, "images_sharpness", left)
    look_for(di.sharpness_sentence(series), left)
    chart(loss, "images_loss", right)
    look_for(di.loss_sentence(series), right)
    # One more view at a time (the browser draws only what is asked for).
    view = state.draw("view")
    if view == "solve":
        left, right = pair()
        solve, accuracy = memoised(runs_key + ("solve", "accuracy", presenting()), lambda: aligned(
            pi.solve_figure(series), pi.curves_figure(drawn, "accuracy")))
        chart(solve, "images_iterations_to_100", left)
        look_for(di.solve_chart_sentence(series), left)
        chart(accuracy, "images_accuracy", right)
        look_for(di.solve_sentence(series) + " A run ends when it reaches 100 % unless "
                 "“keep iterating” is on.", right)
    elif view == "images":
        features, labels, shape = gallery_data(first.spec.canonical())
        chart(pi.gallery_figure(features, labels, shape, first.spec.classes,
                                first.spec.dataset), "images_gallery")
    else:
        table(plots.display_rows(pi.solve_rows(series)))
    st.markdown("**Downloads** (the CLI's formats, one file per model)")
    for item, outcome in zip(series, outcomes):
        name = "linear" if item.kernel is None else f"cnn_k{item.kernel}"
        result_downloads(outcome.result, outcome.cached, f"images_{name}")
    with details_box():
        cache_note(len(outcomes), cached, seconds, first.meta.get("device", ""))
        st.caption("Spec ids (cache keys and export row ids)")
        for outcome in outcomes:
            st.code(outcome.result.spec.canonical(), language=None, wrap_lines=True)
    state.publish()


if __name__ == "__main__":      # Streamlit runs a page as __main__; tests import its table
    main()
