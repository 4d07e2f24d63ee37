"""Shallow linear networks: GD against gradient flow on L(a, b) = ½(aᵀb − Φ)²
(Beneventano & Woodworth), Figure 3, the orbit diagram of the balanced dynamics and the
catapult."""
from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.analysis.sweeps import orbit_periods
from core.report import plots_shallow as ps
from core.report.plots import align_panels, missing_as_text, share_legend
from core.engine.shallow import FIG3_INITS, figure3_spec_fields, initial_points
from core.kernel.spec import SpecError, make_spec, parse_field
from core.kernel.fields import DTYPES, SHALLOW_INITS
from core.report.payload import TABLE_ROWS
from core.report.display import human_count, spread_indices
from ui.display import cache_note, chart, literal, memoised, result_downloads, show_error, table
from ui.controls import parse_list
from core.kernel.fields import MAX_BATCH, MAX_ITERS, field_range
from ui.page import details_box, formulas_on_demand, open_page, presenting, run_specs
from ui.state import UrlState, choice, flag, hidden, number, spec_number, text, view
from core.kernel.spec import RunSpec

PAGE = "shallow"
VIEWS = {"gd_gf": "GD against gradient flow", "figure3": "Figure 3: regularization vs speed",
         "figures12": "Figures 1–2: tangent steps, three regions",
         "orbit": "Orbit diagram (period doubling, chaos)", "catapult": "Catapult (Φ = 0)"}
INIT_LABELS = {"explicit": "explicit a₀, b₀", "random": "random (‖a₀‖ = ‖b₀‖ = s)",
               "fig3": "Figure 3: a₀ = s·e₁, b₀ = (s/2)·e₂"}
FIG3_INIT_LABELS = {"axes": "axes: a₀ = s·e₁, b₀ = (s/2)·e₂",
                    "generic": "generic: a₀ = s·(1, 0.2), b₀ = s·(0.3, 0.5)"}
GF_HISTORY_POINTS = 2048
PIN_SEPARATOR, MAX_PINS = ";", 3


def pins_parser(text: str) -> list[str]:
    """'spec;spec' -> at most MAX_PINS pinned GD specs (counted before anything is split);
    each must be a shallow-network spec (raises SpecError naming the field)."""
    text = str(text)
    if text.count(PIN_SEPARATOR) >= MAX_PINS:
        raise SpecError("pins", f"at most {MAX_PINS} pins")
    pins = [pin.strip() for pin in text.split(PIN_SEPARATOR) if pin.strip()]
    for pin in pins:
        if RunSpec.from_query(pin).model != "shallow_linear":
            raise SpecError("pins", "a pin here holds a shallow-network run")
    return pins
MIN_ORBIT, MAX_ORBIT = 200, 4096
MAX_FIG12_STARTS, MAX_FIG12_ITERS = 6, 5000

FORMULAS = r"""
Two vectors $a, b \in \mathbb R^d$ fit one number: $L(a,b) = \tfrac12(a^\top b - \Phi)^2$, residual
$\varepsilon = a^\top b - \Phi$, norm $\lambda = \lVert a\rVert^2 + \lVert b\rVert^2$, imbalance
$Q_i = a_i^2 - b_i^2$ ($Q = \lVert a\rVert^2 - \lVert b\rVert^2$), invariant
$C = \lVert a+b\rVert^2\,\lVert a-b\rVert^2$.
**GD** $a^+ = a - \eta\varepsilon b$, $b^+ = b - \eta\varepsilon a$ scales $a+b$ by $(1-\eta\varepsilon)$
and $a-b$ by $(1+\eta\varepsilon)$, so every $Q_i$ is multiplied by $(1-\eta^2\varepsilon^2)$:
$Q_i(T)/Q_i(0) = S = \prod_t (1-\eta^2\varepsilon_t^2)$ for every $i$ with $Q_i(0) \ne 0$ (read per
coordinate: the total $Q(0)$ can be $0$ while the $Q_i$ are not). **Gradient flow** $\dot a = -\varepsilon b$,
$\dot b = -\varepsilon a$ conserves every $Q_i$ and $C$ and ends at the sharpness
$\lambda_{GF} = \sqrt{4\Phi^2 + C_0}$; GD ends at $\lambda_{GD} = \sqrt{4\Phi^2 + S^2 C_0}$, with
$2|\Phi| \le \lambda_{GD} < \lambda_{GF}$: **GD goes flatter**.
Formulas, conventions and sources: `docs/science.md` in the repository.
"""
INTRO = ("Two vectors a, b fit one number Φ through aᵀb. Gradient descent with a large step ends "
         "at a flatter minimum than gradient flow from the same start — and past η|Φ| = 1 it "
         "doubles its period and turns chaotic. Pick a view below.")
GD_GF_TEXT = r"""
Solid lines are GD with step $\eta$, dashed lines gradient flow (scipy ODE solver, rtol $10^{-11}$) read at
the times $t = k\eta$ of GD step $k$, up to GD's last step (its $|\varepsilon|$ bottoms out near
$10^{-11}$, the integrator's accuracy). Sharpness (top Hessian eigenvalue)
$= \big(\lambda + \sqrt{\lambda^2 + 4\varepsilon(2\Phi + 3\varepsilon)}\big)/2$, equal to $\lambda$ at a
minimum; dotted lines are $2/\eta$. **Theorem 1**: GD converges linearly for
$0 < \eta < \eta^* = \min\{1/(2|\varepsilon(0)|),\ 2/\sqrt{\lambda(0)^2 + 4\Phi^2}\}$ (needs $C_0 > 0$);
larger steps may still converge, slowly, while $\eta\lambda_\infty < 2$, and as $\eta \to 1/|\Phi|$
the time to converge blows up.
"""
FIGURE3_TEXT = r"""
Initial point (the project's choice, see `docs/science.md`): *axes* $a_0 = s\,e_1$, $b_0 = (s/2)\,e_2$
($\lambda(0) = 1.25\,s^2$, $\varepsilon(0) = -\Phi$; GD hits the minimum in one step at
$\eta\lambda(0) = 1$) or *generic* $a_0 = s\,(1, 0.2)$, $b_0 = s\,(0.3, 0.5)$ (no special step size).
One batched GD sweep per initial scale $s$ over step sizes $\eta = x/\lambda(0)$ for the chosen
values $x$ of $\eta\lambda(0)$. Left: $S = Q_i(T)/Q_i(0) = \prod_t(1-\eta^2\varepsilon_t^2)$ (the same for
every coordinate $i$) — smaller is more regularization (a flatter end point); values far outside
the bulk (chaotic runs) are drawn as triangles on the edge and counted. Right: steps until
$|\varepsilon| \le$ tol. With the axes init convergence is slow near $\eta\lambda(0) \approx 2$; at
every init the steps blow up as $\eta \to 1/|\Phi|$. Dotted lines mark $\eta|\varepsilon(0)| = 1$ for each
$s$ (beyond it $a \pm b$ flip sign at the first step); with the axes init that is also
$\eta|\Phi| = 1$, otherwise dash-dot lines mark $\eta|\Phi| = 1$, beyond which no minimum is stable,
$Q$ collapses and the dynamics turn chaotic. Trade-off: more regularization, slower convergence.
"""
ORBIT_TEXT = r"""
With $d = 1$ and a balanced start $a_0 = b_0 = x_0$ the dynamics stay balanced ($Q = 0$) and GD is
the cubic map $x \mapsto x\,(1 - \eta(x^2 - \Phi))$. For $\eta|\Phi| < 1$ it converges; past
$\eta|\Phi| = 1$ no minimum is stable: the last $K$ values split into 2, 4, 8, … (period doubling)
and then fill bands (chaos) — although every step is deterministic. One batched sweep runs every
$\eta$ of the grid to the end and keeps its last $K$ iterations exactly.
"""
FIGURES12_TEXT = r"""
Figures 1 and 2 of Beneventano & Woodworth in the plane $d = 1$. The gradient
$\varepsilon\,(b, a)$ is orthogonal to the gradient $(2a, -2b)$ of $Q = a^2 - b^2$: every GD step
goes along the **tangent** of its level set of $Q$ (dotted: the level set through the start), and
because the level sets curve away, the finite step lands on one of smaller $|Q|$, exactly
$Q^+ = (1 - \eta^2\varepsilon^2)\,Q$ (dash-dot: the level set where GD ends). Gradient flow
(dashed) stays on its level set. Shading: the three regions $\varepsilon > 0$,
$\varepsilon < 0 < a^\top b$ and $a^\top b < 0$ (the green curve is the minima $a^\top b = \Phi$). The norm moves by
$\lambda^+ - \lambda = \eta^2\varepsilon^2\lambda - 4\eta\varepsilon\,a^\top b$: it grows in
$\varepsilon < 0 < a^\top b$ and, for small $\eta|\varepsilon|$, falls in the other two.
"""
CATAPULT_TEXT = r"""
With $\Phi = 0$ (Lewkowycz et al. 2020): for $2 < \eta\lambda_0 < 4$ the start is sharper than
$2/\eta$, so the loss can first **spike** (the catapult; not every start shows one: the caption
under the chart says what these runs did), then GD settles at a flatter minimum with $\lambda_\infty < 2/\eta$; for $\eta\lambda_0 > 4$ it
diverges. $\eta = x/\lambda_0$ for the chosen values $x$ of $\eta\lambda_0$.
"""


SIDE_BY_SIDE_ENTRIES = 8           # GD vs GF panels with longer legends go one a row
RATIO_RANGE = (1e-9, 1e3)          # ηλ(0) and η|Φ|: multiples of the critical step size
CONTROLS = [
    view("view", "gd_gf", VIEWS),
    spec_number("phi", "Target Φ"),
    choice("init", "explicit", SHALLOW_INITS, "Initial point", labels=INIT_LABELS),
    text("a", "1, 0.5, -0.2", "a₀ (comma-separated)", help="d = the length of a₀"),
    text("b", "0.3, -0.4, 0.6", "b₀ (same length as a₀)"),
    number("d", 2, "Dimension d", int, bounds=field_range("d")),
    spec_number("init_scale", "Init scale s"),
    text("seed", "0", "Seeds", help="0, or 0,1,2, or a range 0:3"),
    text("step_size", "0.05, 0.3, 0.6", "Step sizes η",
         help="A list (0.05, 0.3) or a log range such as 1e-2:1:log5"),
    spec_number("max_iters", "Iterations (GD steps)", 2000),
    spec_number("tol", "Tolerance on |ε|", format="%.3g"),
    flag("run_to_max", False, "Keep iterating after |ε| ≤ tol"),
    spec_number("history_points", "Recorded points"),
    spec_number("tail_points", "Last K iterations kept exactly",
                help="> 0 adds a chart of the last K residuals (periodic orbits, chaos)"),
    choice("dtype", "float64", DTYPES, "Precision"),
    hidden("pins", [], pins_parser, dump=lambda pins: PIN_SEPARATOR.join(pins)),
    # Figure 3
    text("scales", "1, 2, 4, 8", "Initial scales s", help="e.g. 1, 2, 4, 8"),
    choice("fig3_init", "axes", FIG3_INITS, "Initial point", labels=FIG3_INIT_LABELS),
    number("eta_lambda_min", 0.05, "Smallest ηλ(0)", bounds=RATIO_RANGE),
    number("eta_lambda_max", 3.0, "Largest ηλ(0)", bounds=RATIO_RANGE),
    number("eta_lambda_count", 60, "Points per scale", int, bounds=(1, MAX_BATCH)),
    number("fig3_iters", 3000, "Iterations T", int, bounds=(1, MAX_ITERS)),
    number("fig3_tol", 1e-8, "Tolerance on |ε|", bounds=field_range("tol"), format="%.3g"),
    # Figures 1–2 (d = 1): one start per (a₀, b₀) pair
    text("fig12_a", "1.5, 0.3, 1.2", "a₀ of each start (d = 1)", help="one number per start"),
    text("fig12_b", "1.0, 1.2, -0.4", "b₀ of each start (same count)"),
    number("fig12_eta", 0.3, "Step size η", bounds=RATIO_RANGE),
    number("fig12_iters", 300, "Iterations (every step kept)", int, bounds=(1, MAX_FIG12_ITERS)),
    # orbit diagram
    number("orbit_min", 0.8, "Smallest η|Φ|", bounds=RATIO_RANGE),
    number("orbit_max", 1.6, "Largest η|Φ|", bounds=RATIO_RANGE),
    number("orbit_count", 300, f"Step sizes ({MIN_ORBIT}–{MAX_ORBIT})", int,
           bounds=(MIN_ORBIT, MAX_ORBIT)),
    number("orbit_x0", 0.7, "Start a₀ = b₀ = x₀", bounds=(-1e6, 1e6)),
    number("orbit_iters", 2000, "Iterations T", int, bounds=(1, MAX_ITERS)),
    number("orbit_tail", 64, "Last K iterations kept", int,
           bounds=(1, field_range("tail_points")[1])),
    choice("orbit_y", "residual", ["residual", "product"], "Plot",
           labels={"residual": "ε = aᵀb − Φ", "product": "aᵀb"}),
    # catapult
    text("cat_a", "1, 0.3", "a₀"),
    text("cat_b", "0.2, 0.9", "b₀ (same length)"),
    text("cat_eta_lambda", "1.5, 3, 3.9, 4.5", "Values of ηλ₀", help="e.g. 1.5, 3, 3.9, 4.5"),
    number("cat_iters", 5000, "Iterations", int, bounds=(1, MAX_ITERS)),
    flag("cat_log", False, "Log loss axis (linear shows the spike's size)"),
]


# ---------------------------------------------------------------------- helpers
def vector(name: str, text: str) -> tuple[float, ...]:
    """A comma-separated vector (errors name the control ``name``)."""
    try:
        values = parse_field("a", text)          # the spec's float-tuple parser
    except SpecError as error:
        raise SpecError(name, str(error).split(": ", 1)[-1]) from None
    if not values:
        raise SpecError(name, "needs at least one number, e.g. 1, 0.5")
    if not all(math.isfinite(v) for v in values):
        raise SpecError(name, "must be finite numbers")
    return values


def initial_norm(spec) -> float:
    """λ(0) = ‖a₀‖² + ‖b₀‖² of the spec's (first) initial point, from core.engine.shallow."""
    a0, b0 = initial_points(spec.replace(step_sizes=(1.0,)))
    return float(a0[0] @ a0[0] + b0[0] @ b0[0])


def as_control(error: SpecError, controls: dict[str, str]) -> SpecError:
    """A spec field's refusal under the name of the control the visitor set (a view builds
    its spec from its own controls: 'scales', not 'init_scale')."""
    name = controls.get(error.field)
    return error if name is None else SpecError(name, str(error).split(": ", 1)[-1])


def positive(name: str, value, low: float = 0.0, high: float = math.inf, kind=float):
    if value is None or not (low < value <= high if low == 0 else low <= value <= high):
        bounds = f"> {low:g}" if low == 0 else f"in [{low:g}, {high:g}]"
        raise SpecError(name, f"must be {bounds}, got {value}")
    return kind(value)


def downloads(outcomes, names) -> None:
    st.markdown("**Downloads** (the CLI's formats)")
    for outcome, name in zip(outcomes, names):
        result_downloads(outcome.result, outcome.cached, name)


def look_for(text: str) -> None:
    """The view's "What to look for", built from the drawn numbers (shown as literal text)."""
    if text:
        st.info(literal(text, limit=1200), icon=":material/visibility:")


def bounded_table(rows: list[dict], **kwargs) -> None:
    """At most payload.TABLE_ROWS rows on the page (evenly spread), saying so; the downloads
    hold every row."""
    if len(rows) > TABLE_ROWS:
        st.caption(f"{human_count(TABLE_ROWS)} of {human_count(len(rows))} rows shown, evenly "
                   "spread (the downloads hold every row).")
        rows = [rows[i] for i in spread_indices(len(rows), TABLE_ROWS)]
    table(missing_as_text(rows), **kwargs)


def run_details(outcomes, cached: int, seconds: float, lines: tuple[str, ...] = ()) -> None:
    """Developer text (cache, device, spec ids) behind one Details expander; none of it in
    presentation mode."""
    with details_box():
        cache_note(len(outcomes), cached, seconds, outcomes[0].result.meta.get("device", ""))
        for line in lines:
            st.caption(line)
        st.caption("Spec ids (cache keys and export row ids)")
        for outcome in outcomes:
            st.code(outcome.result.spec.canonical(), language=None, wrap_lines=True)


# ---------------------------------------------------------------------- views
def model_controls(state: UrlState) -> dict:
    st.sidebar.header("Model  L = ½(aᵀb − Φ)²")
    values = {"phi": state.draw("phi")}
    values["init"] = state.draw("init")
    if values["init"] == "explicit":
        values["a"] = state.draw("a")
        values["b"] = state.draw("b")
    else:
        values["d"] = state.draw("d")
        values["init_scale"] = state.draw("init_scale")
        if values["init"] == "random":
            values["seed"] = state.draw("seed")
    st.sidebar.header("Runs")
    values["step_size"] = state.draw("step_size")
    values["max_iters"] = state.draw("max_iters")
    values["tol"] = state.draw("tol")
    values["run_to_max"] = state.draw("run_to_max")
    box = st.sidebar.expander("Recording and precision")
    values["history_points"] = state.draw("history_points", box)
    values["tail_points"] = state.draw("tail_points", box)
    values["dtype"] = state.draw("dtype", box)
    return values


def build_gd_spec(values: dict):
    fields = {"model": "shallow_linear", "algorithm": "gd", "phi": values["phi"],
              "init": values["init"],
              "step_sizes": parse_list("step_size", values["step_size"], float),
              "max_iters": values["max_iters"], "tol": values["tol"],
              "run_to_max": values["run_to_max"], "history_points": values["history_points"],
              "tail_points": values["tail_points"], "dtype": values["dtype"]}
    if values["init"] == "explicit":
        fields["a"], fields["b"] = vector("a", values["a"]), vector("b", values["b"])
    else:
        fields["d"], fields["init_scale"] = values["d"], values["init_scale"]
        if values["init"] == "random":
            fields["seeds"] = parse_list("seed", values["seed"], int)
    for name in ("phi", "max_iters", "tol", "history_points", "tail_points"):
        if fields[name] is None:
            raise SpecError(name, "needs a value")
    return make_spec(**fields)


def flow_spec(gd_spec, gd_result):
    """Gradient flow for the same initial points, reported at t = kη up to GD's last step."""
    horizon = max([r.last_iteration for r in gd_result.runs] + [10])
    return gd_spec.replace(algorithm="gradient_flow", max_iters=min(horizon, gd_spec.max_iters),
                           history_points=min(gd_spec.history_points, GF_HISTORY_POINTS),
                           dtype="float64", tail_points=0, run_to_max=False)


def theorem1_text(gd) -> str:
    record = gd.runs[0]
    eps0 = abs(float(record.history["residual"][0]))
    lam0 = record.extras["initial_norm"]
    phi = float(gd.spec.phi)
    c0 = float(record.history["invariant"][0])
    first = "∞" if eps0 == 0 else f"{1 / (2 * eps0):.5g}"
    second = 2 / math.hypot(lam0, 2 * phi) if lam0 or phi else math.inf   # no overflow at 1e150
    bound = record.extras["theorem1_step_bound"]
    where = ", ".join(f"η = {r.step_size:.4g} is **{r.step_size / bound if bound else math.inf:.3g} η\\***" for r in gd.runs
                      if r.seed == record.seed)
    text = (f"**Theorem 1** at this start: ε(0) = {record.history['residual'][0]:.5g}, "
            f"λ(0) = {lam0:.5g}, C₀ = {c0:.5g}; η\\* = min{{1/(2|ε(0)|) = {first}, "
            f"2/√(λ(0)² + 4Φ²) = {second:.5g}}} = **{bound:.5g}**. {where}.")
    if len(gd.spec.seeds) > 1:
        text += " (Random starts: first seed; every run's ratio is in the table.)"
    if c0 <= 0:
        text += " ⚠ C₀ = 0 (a₀ = ±b₀): the theorem does not apply."
    return text


def flow_outcome(spec, gd_result):
    """Gradient flow from the same starts; a solver that stops is a result: one line says so
    and the GD charts are drawn without it."""
    try:
        (outcome,), cached, seconds = run_specs([flow_spec(spec, gd_result)], "gradient flow")
    except (SpecError, ArithmeticError, ValueError) as error:
        st.warning(literal(f"gradient flow stopped: {error}"), icon=":material/warning:")
        return None, 0, 0.0
    for run in outcome.result.runs:          # the integrator itself gave up: still a result
        if " stopped" in str(run.extras.get("integrator", "")):
            st.warning(literal(f"gradient flow stopped: η = {run.step_size:g}: "
                               f"{run.extras['integrator']}"), icon=":material/warning:")
    return outcome, cached, seconds


def pins(state: UrlState, spec) -> list[tuple[str, object]]:
    """Pin the current GD runs (their spec goes into the URL) and load the pins: (label,
    result) each, the label naming what differs from the live view. Pins are computed under
    the page's compute guard, from the cache when they are there."""
    current = spec.canonical()
    pinned = list(state.get("pins"))
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.button("Pin these runs", icon=":material/push_pin:",
                disabled=current in pinned or len(pinned) >= MAX_PINS,
                on_click=lambda: state.set("pins", list(state.get("pins")) + [current]),
                help=f"Keep these GD runs on the four charts to compare with later settings "
                     f"(at most {MAX_PINS}; they live in the URL)")
    if pinned:
        right.button("Clear pins", on_click=lambda: state.set("pins", []))
        state.mark_shown("pins")
    out = []
    for index, pin in enumerate(pinned):
        pin_spec = RunSpec.from_query(pin)
        if pin_spec == spec:
            continue
        try:
            (outcome,), _, _ = run_specs([pin_spec], f"loading pin {index + 1}")
        except SpecError as error:
            st.warning(literal(f"pin {index + 1} could not be loaded ({error})"),
                       icon=":material/push_pin:")
            continue
        out.append((f"pin {index + 1} ({ps.spec_difference(pin_spec, spec)})", outcome.result))
    return out


def gd_gf_view(state: UrlState) -> None:
    values = model_controls(state)
    formulas_on_demand(PAGE, 'What the GD vs gradient-flow charts show, in formulas', FORMULAS + GD_GF_TEXT)
    try:
        spec = build_gd_spec(values)
        (gd_outcome,), cached, seconds = run_specs([spec], f"GD, {spec.batch_size} run(s)")
    except SpecError as error:
        show_error(error)
        return
    gd_result = gd_outcome.result
    gf_outcome, gf_cached, gf_seconds = flow_outcome(spec, gd_result)
    gf_result = gf_outcome.result if gf_outcome is not None else None
    # Figures and captions are built once per process for these runs (a cached view redraws
    # without rebuilding them): the key names the GD and flow runs.
    runs_key = ("shallow.gd_gf", gd_result.spec.canonical(),
                gf_result.spec.canonical() if gf_result is not None else "")
    look_for(memoised(runs_key + ("caption",),
                      lambda: ps.GdGfFacts.build(gd_result, gf_result).caption))
    charts_box = st.container()          # the charts come first; the pin buttons and text below them
    st.markdown(theorem1_text(gd_result))
    pinned = pins(state, spec)
    pins_key = tuple((label, result.spec.canonical()) for label, result in pinned)

    metrics = ("residual", "norm", "imbalance", "sharpness")

    def metric_figures() -> tuple:
        """The four panels, and how many a row: two, or one (full width) in presentation mode
        and when a legend has more than SIDE_BY_SIDE_ENTRIES entries (beside a half-width
        plot, ten entries left it 140 px wide with a scrolling legend)."""
        figures = [ps.history_figure(gd_result, gf_result, m, pins=pinned) for m in metrics]
        entries = max(sum(1 for t in f.data if t.showlegend is not False and t.name) for f in figures)
        per_row = 1 if presenting() or entries > SIDE_BY_SIDE_ENTRIES else 2
        if per_row > 1:                               # side by side: one plot box a row
            for start in range(0, len(figures), per_row):
                share_legend(figures[start:start + per_row])    # the same runs: one legend a row
                align_panels(figures[start:start + per_row])
        return tuple(figures), per_row

    figures, per_row = memoised(runs_key + ("metrics", pins_key, presenting()), metric_figures)
    for start in range(0, len(metrics), per_row):
        columns = charts_box.columns(per_row)
        for column, metric, figure in zip(columns, metrics[start:start + per_row],
                                          figures[start:start + per_row]):
            chart(figure, f"shallow_{metric}", column)
    left, right = (st.container(), st.container()) if presenting() else st.columns([3, 2])
    trajectory = memoised(runs_key + ("trajectory display",),
                          lambda: ps.TrajectoryDisplay.build(gd_result, gf_result))
    chart(memoised(runs_key + ("trajectory", "figure"), trajectory.to_plotly), "shallow_trajectory", left)
    left.caption(trajectory.caption())
    chart(memoised(runs_key + ("theorem1",), lambda: ps.theorem1_figure(gd_result)),
          "shallow_theorem1", right)
    right.caption("Markers: steps until |ε| ≤ tol (▲ not within the budget, × diverged).")
    if gd_result.spec.tail_points:
        chart(memoised(runs_key + ("tail",), lambda: ps.tail_figure(gd_result)), "shallow_tail")
    st.subheader("Where each run ends")
    bounded_table(ps.summary_rows(gd_result, gf_result))
    outcomes = [o for o in (gd_outcome, gf_outcome) if o is not None]
    downloads(outcomes, ["shallow_gd", "shallow_gradient_flow"][:len(outcomes)])
    flow_line = () if gf_result is None else (
        f"Gradient flow: {gf_result.meta.get('device', '')}, up to t = "
        f"{gf_result.spec.max_iters}·η (GD's last step).",)
    run_details(outcomes, cached + gf_cached, seconds + gf_seconds, flow_line)


def figure3_view(state: UrlState) -> None:
    st.sidebar.header("Model")
    phi = state.draw("phi")
    st.sidebar.header("Figure 3 sweep")
    scales_text = state.draw("scales")
    init_kind = state.draw("fig3_init")
    low = state.draw("eta_lambda_min")
    high = state.draw("eta_lambda_max")
    count = state.draw("eta_lambda_count")
    iters = state.draw("fig3_iters")
    tol = state.draw("fig3_tol")
    formulas_on_demand(PAGE, 'What Figure 3 shows, in formulas', FORMULAS + FIGURE3_TEXT)
    try:
        scales = parse_list("scales", scales_text, float)
        low = positive("eta_lambda_min", low)
        high = positive("eta_lambda_max", high)
        if high <= low:
            raise SpecError("eta_lambda_max", f"must be larger than the smallest ηλ(0) {low:g}")
        count = positive("eta_lambda_count", count, 2, 2000, int)
        grid = np.linspace(low, high, count)
        specs = []
        for scale in scales:
            if not scale > 0:
                raise SpecError("scales", f"must be > 0, got {scale:g}")
            base = make_spec(model="shallow_linear", phi=phi, step_sizes=(1.0,), max_iters=iters,
                             tol=tol, history_points=32, **figure3_spec_fields(init_kind, scale))
            lam0 = initial_norm(base)
            specs.append(base.replace(step_sizes=tuple(float(x / lam0) for x in grid)))
        outcomes, cached, seconds = run_specs(specs, f"{len(specs)} sweeps of {count} step sizes")
    except SpecError as error:
        show_error(as_control(error, {"init_scale": "scales", "step_size": "scales", "max_iters": "fig3_iters", "tol": "fig3_tol"}))
        return
    results = [o.result for o in outcomes]
    ratio_figure, steps_figure, caption = memoised(
        ("shallow.figure3", tuple(r.spec.canonical() for r in results), tuple(scales)),
        lambda: figure3_charts(results, scales))
    look_for(caption)
    chart(ratio_figure, "figure3_imbalance")       # full width: legends beside the plot
    chart(steps_figure, "figure3_steps")
    with st.expander("The numbers, one row per run"):
        bounded_table(ps.figure3_rows(results, scales), height=320)
    downloads(outcomes, [f"figure3_s{scale:g}" for scale in scales])
    run_details(outcomes, cached, seconds)


def figure3_charts(results: list, scales) -> tuple:
    """Figure 3's two figures and the caption built from both displays."""
    ratio = ps.figure3_display(results, "ratio", scales)
    steps = ps.figure3_display(results, "steps", scales)
    return ratio.to_plotly(), steps.to_plotly(), ps.figure3_look_for(ratio, steps)


def orbit_chart(result, quantity: str) -> tuple:
    diagram = ps.orbit_diagram(result, quantity)
    return diagram.to_plotly(520), diagram.caption


def orbit_view(state: UrlState) -> None:
    st.sidebar.header("Model")
    phi = state.draw("phi")
    st.sidebar.header("Orbit diagram")
    low = state.draw("orbit_min")
    high = state.draw("orbit_max")
    count = state.draw("orbit_count")
    x0 = state.draw("orbit_x0")
    iters = state.draw("orbit_iters")
    tail = state.draw("orbit_tail")
    quantity = state.draw("orbit_y")
    formulas_on_demand(PAGE, 'What the orbit diagram shows, in formulas', FORMULAS + ORBIT_TEXT)
    try:
        if phi is None or phi == 0:
            raise SpecError("phi", "the orbit diagram is drawn over η|Φ|: needs Φ ≠ 0")
        low = positive("orbit_min", low)
        high = positive("orbit_max", high)
        if high <= low:
            raise SpecError("orbit_max", f"must be larger than the smallest η|Φ| {low:g}")
        count = positive("orbit_count", count, MIN_ORBIT, MAX_ORBIT, int)
        if x0 is None or not math.isfinite(x0):
            raise SpecError("orbit_x0", "needs a number")
        steps = tuple(float(x) for x in np.linspace(low, high, count) / abs(phi))
        spec = make_spec(model="shallow_linear", phi=phi, a=(x0,), b=(x0,), step_sizes=steps,
                         max_iters=iters, run_to_max=True, tail_points=tail, history_points=16)
        (outcome,), cached, seconds = run_specs([spec], f"{count} step sizes")
    except SpecError as error:
        show_error(as_control(error, {"a": "orbit_x0", "b": "orbit_x0", "step_size": "orbit_min", "max_iters": "orbit_iters", "tail_points": "orbit_tail"}))
        return
    result = outcome.result
    figure, caption = memoised(("shallow.orbit", result.spec.canonical(), quantity),
                               lambda: orbit_chart(result, quantity))
    look_for(caption)
    chart(figure, "orbit_diagram")
    rows = orbit_periods(result)
    with st.expander("Distinct values among the last K residuals, per η|Φ|"):
        bounded_table(rows, height=320)
    downloads([outcome], ["shallow_orbit"])
    run_details([outcome], cached, seconds)


def catapult_view(state: UrlState) -> None:
    st.sidebar.header("Catapult  (Φ = 0)")
    a_text = state.draw("cat_a")
    b_text = state.draw("cat_b")
    fractions = state.draw("cat_eta_lambda")
    iters = state.draw("cat_iters")
    log_loss = state.draw("cat_log")
    formulas_on_demand(PAGE, 'What the catapult shows, in formulas', FORMULAS + CATAPULT_TEXT)
    try:
        a, b = vector("cat_a", a_text), vector("cat_b", b_text)
        if len(a) != len(b):
            raise SpecError("cat_b", f"a₀ and b₀ need the same length, got {len(a)} and {len(b)}")
        xs = parse_list("cat_eta_lambda", fractions, float)
        if any(not x > 0 for x in xs):
            raise SpecError("cat_eta_lambda", "values must be > 0")
        base = make_spec(model="shallow_linear", phi=0.0, a=a, b=b, step_sizes=(1.0,),
                         max_iters=iters, tol=1e-10)
        lam0 = initial_norm(base)
        if lam0 == 0:
            raise SpecError("cat_a", "a₀ = b₀ = 0 is a stationary point; start elsewhere")
        spec = base.replace(step_sizes=tuple(float(x / lam0) for x in xs))
        (outcome,), cached, seconds = run_specs([spec], "catapult runs")
    except SpecError as error:
        show_error(as_control(error, {"a": "cat_a", "b": "cat_b", "step_size": "cat_eta_lambda", "max_iters": "cat_iters"}))
        return
    result = outcome.result
    runs_key = ("shallow.catapult", result.spec.canonical())
    look_for(memoised(runs_key + ("caption",), lambda: ps.catapult_look_for(result)))
    # Full width, one above the other: the spike and the 2/η lines need the room.
    chart(memoised(runs_key + ("loss", bool(log_loss)),
                   lambda: ps.catapult_figure(result, "loss", linear=not log_loss)),
          "catapult_loss")
    chart(memoised(runs_key + ("norm",), lambda: ps.catapult_figure(result, "norm")),
          "catapult_norm")
    table(missing_as_text(ps.catapult_rows(result)))
    downloads([outcome], ["shallow_catapult"])
    run_details([outcome], cached, seconds)


def figures12_view(state: UrlState) -> None:
    st.sidebar.header("Model")
    phi = state.draw("phi")
    st.sidebar.header("Starts and step")
    a_text = state.draw("fig12_a")
    b_text = state.draw("fig12_b")
    eta = state.draw("fig12_eta")
    iters = state.draw("fig12_iters")
    formulas_on_demand(PAGE, 'What Figures 1–2 show, in formulas', FORMULAS + FIGURES12_TEXT)
    try:
        if str(a_text).count(",") >= MAX_FIG12_STARTS:          # counted before it is split
            raise SpecError("fig12_a", f"at most {MAX_FIG12_STARTS} starts")
        a, b = vector("fig12_a", a_text), vector("fig12_b", b_text)
        if len(a) != len(b):
            raise SpecError("fig12_b", f"one b₀ per a₀: got {len(a)} a₀ and {len(b)} b₀")
        eta = positive("fig12_eta", eta)
        iters = positive("fig12_iters", iters, 1, MAX_FIG12_ITERS, int)
        specs = [make_spec(model="shallow_linear", phi=phi, a=(x,), b=(y,), step_sizes=(eta,),
                           max_iters=iters, tol=1e-10, history_points=max(iters, 8))
                 for x, y in zip(a, b)]
        outcomes, cached, seconds = run_specs(specs, f"GD from {len(specs)} start(s)")
    except SpecError as error:
        show_error(error)
        return
    flows = [flow_outcome(spec, outcome.result) for spec, outcome in zip(specs, outcomes)]
    display = ps.regions_display([o.result for o in outcomes],
                                 [f[0].result if f[0] is not None else None for f in flows])
    look_for(display.caption)
    chart(display.to_plotly(), "figures12_plane")
    chart(display.norm_plotly(), "figures12_norm")
    downloads(outcomes, [f"figures12_start{i + 1}" for i in range(len(outcomes))])
    run_details(outcomes, cached + sum(f[1] for f in flows), seconds + sum(f[2] for f in flows),
                (f"gradient flow from {sum(1 for f in flows if f[0] is not None)} start(s)",))


VIEW_FUNCTIONS = {"gd_gf": gd_gf_view, "figure3": figure3_view, "figures12": figures12_view,
                  "orbit": orbit_view, "catapult": catapult_view}


def main() -> None:
    state = open_page(PAGE, CONTROLS, "Shallow linear networks", INTRO, keep_hidden=True)
    view = state.draw("view")
    VIEW_FUNCTIONS[view](state)
    state.publish()


if __name__ == "__main__":      # Streamlit runs a page as __main__; tests import its table
    main()
