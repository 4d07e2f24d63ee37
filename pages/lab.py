"""The hypothesis lab: vary one to three fields of any base spec, choose a measure, and read
the answer — a chart of every run (click a point to open its view), medians, a fitted power
law with its 95 % interval per group, and the table of runs (CSV, JSON, Parquet)."""
from __future__ import annotations

import json
import math
import time
from urllib.parse import parse_qsl

import pandas as pd
import streamlit as st

from core.analysis import lab
from core.report import lab_chart
from core.report.display import plural
from core.report.plots import display_rows
from core.claims.scenarios import SCENARIOS
from core.kernel.settings import env_number
from core.report.site import PAGE_FILES
from core.kernel.spec import SpecError
from ui.display import cache_note, literal, run_with_progress, show_error
from ui.page import details_box, open_page
from ui.state import UrlState, choice, hidden, text

PAGE = "lab"
INTRO = """
Ask the question the other pages do not: vary one to three fields of any run (a list in the
usual syntax: `16:2048:x2`, `gd,normalized_gd`, `relu,leaky_relu`), pick a measure, and read
the answer from every run. Step sizes and seeds are batched inside one run; every other
combination is one batched run, cached like every page's.
"""
DEFAULT_BASE = ("algorithm=generalized_perceptron&dataset=minimal&history_points=16"
                "&max_iters=20000&seed=0:7")
VARY_OPTIONS = lab.varied_fields()
MEASURE_LABELS = {m.name: m.label for m in lab.MEASURES}
NONE = ""
FIT_LABELS = {"none": "no fit", "power": "power law (log–log slope)", "linear": "straight line"}
STEP_RULE_LABELS = {"fixed": "step sizes as given", "scaled": "scaled: γ = c·n/λ₂(d, μ) "
                    "(minimal example; the step sizes are c)"}
MAX_TABLE_ROWS = 1_000       # rows shown in the page's table (the downloads have them all)
MEMO_SIZE = 8
LAB_SCENARIOS = {s.key: s for s in SCENARIOS if s.page == PAGE}


def _optional(options):
    return (NONE,) + tuple(options)


def _field_label(name: str) -> str:
    return name or "—"


CONTROLS = [
    text("base", DEFAULT_BASE, "Base spec (a canonical string, as `run` prints it)",
         help="Every field not varied below keeps this value; paste the spec string of any "
              "run, e.g. from a page's export or `python -m core run --format summary`"),
    choice("step_rule", "scaled", tuple(lab.STEP_RULES), "Step-size rule",
           labels=STEP_RULE_LABELS),
    choice("field1", "d", VARY_OPTIONS, "Vary (1)", format_func=_field_label),
    text("values1", "16:128:x2", "Values (1)", help="a list 1,2,4, a range 16:2048:x2 or "
         "1e-3:1e3:log7, or names gd,normalized_gd"),
    choice("field2", "model", _optional(VARY_OPTIONS), "Vary (2)", format_func=_field_label),
    text("values2", "linear,two_layer_conv", "Values (2)"),
    choice("field3", NONE, _optional(VARY_OPTIONS), "Vary (3)", format_func=_field_label),
    text("values3", "", "Values (3)"),
    choice("measure", "iterations_to_solve", tuple(MEASURE_LABELS), "Measure",
           labels=MEASURE_LABELS),
    choice("x", None, None, "x axis"),
    choice("color", None, None, "Colour by", format_func=_field_label),
    choice("facet", None, None, "Facet by", format_func=_field_label),
    choice("fit", "power", tuple(FIT_LABELS), "Fit", labels=FIT_LABELS),
    choice("group_a", None, None, "Compare the slope of"),
    choice("group_b", None, None, "with"),
    hidden("scenario", NONE),
]


def controls(state: UrlState) -> dict:
    st.sidebar.header("Sweep")
    values = {"base": state.draw("base"), "step_rule": state.draw("step_rule")}
    vary = {}
    for index in (1, 2, 3):
        name = state.draw(f"field{index}")
        given = state.draw(f"values{index}")
        if name and not str(given).strip():
            st.sidebar.caption(f"Type the values of {name} to vary it.")
        elif name:
            if name in vary:
                raise SpecError(f"field{index}", f"{name} is varied twice")
            vary[name] = given
    values["vary"] = vary
    return values


@st.cache_resource
def recent_sweeps() -> dict:
    """The last MEMO_SIZE sweeps in memory, shared by the sessions: changing the measure, the
    axes or the fit, or clicking a point, redraws without reading the cache again."""
    return {}


def compute(values: dict):
    """Plan (checked against the counts, memory and the session's time budget before anything
    runs), then run or recall the sweep."""
    lab_plan = lab.plan(values["base"], values["vary"], step_rule=values["step_rule"],
                        time_budget=float(env_number("GDX_SESSION_SECONDS")))
    key = tuple(item.spec.canonical() for item in lab_plan.specs) + (lab_plan.step_rule,
                                                                      tuple(lab_plan.vary))
    memo = recent_sweeps()
    if key in memo:
        return memo[key], True
    result = run_with_progress(lambda progress: lab.run(lab_plan, progress=progress),
                               f"sweeping {plural(lab_plan.runs, 'run')} in {plural(len(lab_plan.specs), 'batched run')}")
    memo[key] = result
    while len(memo) > MEMO_SIZE:
        memo.pop(next(iter(memo)))
    return result, False


def open_clicked_run(event, table) -> None:
    """A click on a point: open that run's own view (its permalink)."""
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) \
        else getattr(getattr(event, "selection", None), "points", []) or []
    for point in points:
        index = point.get("customdata")
        if isinstance(index, list):
            index = index[0] if index else None
        if index is None or not 0 <= int(index) < len(table):
            continue
        link = table["view"].iloc[int(index)]
        page, _, query = link.lstrip("/").partition("?")
        if page in PAGE_FILES:
            st.switch_page(PAGE_FILES[page], query_params=dict(parse_qsl(query)))


def measure_options(table) -> list[str]:
    """The measures with a value in some run; iterations to solve also when no run solves
    (every run is drawn and fitted at its budget, censored)."""
    return [m for m in table.attrs["measures"]
            if table[m].notna().any() or lab.MEASURE_BY_NAME[m].censored_at]


def draw_measure(state: UrlState, table) -> str:
    """The measure control; a measure asked for (the URL) that no run has a value of is
    named, not swapped for another in silence."""
    asked = state.get("measure")
    measure = state.draw("measure", options=measure_options(table) or list(MEASURE_LABELS))
    if asked in MEASURE_LABELS and asked != measure:
        entry = lab.MEASURE_BY_NAME[asked]
        why = (f"it needs {entry.needs}" if entry.needs else
               "every run diverged, did not finish or is one it does not apply to")
        st.info(literal(f"No run of this sweep has a value of {entry.label}: {why}. Showing "
                        f"{MEASURE_LABELS[measure]} instead.", limit=600), icon=":material/info:")
    return measure


def plot_controls(state: UrlState, table) -> dict:
    varied = [name for name in table.attrs["varied"]]
    numeric = [name for name in varied if lab._numeric(table, lab.column_of(table, name))]
    st.sidebar.header("Answer")
    chosen = {"measure": draw_measure(state, table)}
    x_options = [n for n in varied if n != "seed"] or varied
    chosen["x"] = state.draw("x", options=x_options)
    others = [n for n in varied if n not in (chosen["x"], "seed")]
    # colour by the next varied field by default, and again whenever the varied fields change
    seen_key = state.key("color_options")
    if state.get("color") not in [NONE] + others or (
            seen_key in st.session_state and st.session_state[seen_key] != others):
        state.set("color", others[0] if others else NONE)
    st.session_state[seen_key] = others
    chosen["color"] = state.draw("color", options=[NONE] + others) or None
    rest = [n for n in others if n != chosen["color"]]
    chosen["facet"] = state.draw("facet", options=[NONE] + rest) or None
    chosen["fit"] = state.draw("fit") if chosen["x"] in numeric else "none"
    return chosen


def fit_rows(fits, labels, censored: bool) -> list[dict]:
    """The fit table as read: slopes to three digits, "—" where a group has no fit; the
    unsolved count for a censored measure, the runs without a value where there are any."""
    def text(value):
        return lab.slope_text(value) if math.isfinite(float(value)) else "—"

    missing = bool(fits["no_value"].any())
    shown = []
    for label, (_, row) in zip(labels, fits.iterrows()):
        line = {"group": label, "slope": text(row.slope),
                "95 % interval": f"[{text(row.ci_low)}, {text(row.ci_high)}]"
                if math.isfinite(float(row.slope)) else "—",
                "points (x values)": row.points, "runs": row.runs}
        if censored:
            line["unsolved (censored at max_iters)"] = row.censored
        if missing:
            line["without a value (left out)"] = row.no_value
        shown.append(line)
    return shown


def fit_notes(fits, labels, chosen) -> list[str]:
    """What the fit table's numbers leave unsaid: groups with no fit, x values a power law
    cannot use, groups whose every run is censored at the budget."""
    notes = []
    unfitted = [label for label, slope in zip(labels, fits.slope) if not math.isfinite(slope)]
    if unfitted:
        notes.append(f"No fit for {', '.join(unfitted)}: a fit needs two x values with a value"
                     + (" (x and the median > 0 for a power law)" if chosen["fit"] == "power" else "")
                     + ".")
    left_out = int(fits["left_out"].sum())
    if left_out:
        notes.append(f"{left_out} x value{'s' if left_out > 1 else ''} left out of the power "
                     "law: x ≤ 0 or a median ≤ 0 has no logarithm (the straight-line fit uses "
                     "every x).")
    budget = [label for label, (_, row) in zip(labels, fits.iterrows())
              if row.censored and row.censored == row.runs]
    if budget:
        notes.append(f"Every run of {', '.join(budget)} is unsolved: its slope is that of the "
                     "budget (max_iters), not of the runs.")
    return notes


def show_fits(state: UrlState, fits, chosen) -> None:
    by = [c for c in fits.columns if c not in lab.FIT_COLUMNS]
    labels = [lab.group_label(row, by) for _, row in fits.iterrows()]
    censored = bool(lab.MEASURE_BY_NAME[chosen["measure"]].censored_at)
    kind = "log–log slope" if chosen["fit"] == "power" else "slope"
    st.markdown(f"**Fitted {kind} of the median {MEASURE_LABELS[chosen['measure']]} against "
                f"{literal(chosen['x'])}** (95 % bootstrap intervals over the runs at each x"
                + ("; unsolved runs count at their budget)" if censored else ")"))
    st.dataframe(fit_rows(fits, labels, censored), hide_index=True)
    for note in fit_notes(fits, labels, chosen):
        st.caption(literal(note, limit=600))
    if len(fits) >= 2:
        left, right = st.columns(2)
        first = state.draw("group_a", left, options=labels)
        rest = [label for label in labels if label != first]
        if state.get("group_b") not in rest:        # by default, the first group against the last
            state.set("group_b", rest[-1])
        second = state.draw("group_b", right, options=rest)
        comparison = lab.compare(fits, labels.index(first), labels.index(second))
        (st.success if comparison.separated else st.info)(literal(comparison.sentence, limit=600),
                                                          icon=":material/compare_arrows:")


def downloads(table) -> None:
    left, middle, right = st.columns(3)
    left.download_button("lab.csv", data=lambda: lab.to_csv(table), file_name="lab.csv",
                         mime="text/csv", key="lab-csv", on_click="ignore", icon=":material/table:")
    middle.download_button("lab.json", data=lambda: json.dumps(
        {"base": table.attrs["base"], "vary": table.attrs["vary"], "rows": lab.to_rows(table)},
        indent=1, allow_nan=False), file_name="lab.json", mime="application/json",
        key="lab-json", on_click="ignore", icon=":material/data_object:")
    right.download_button("lab.parquet", data=lambda: lab.to_parquet(table),
                          file_name="lab.parquet", mime="application/vnd.apache.parquet",
                          key="lab-parquet", on_click="ignore", icon=":material/database:")


def show_table(table, chosen) -> None:
    varied = [lab.column_of(table, n) for n in table.attrs["varied"]]
    columns = list(dict.fromkeys(varied + ["seed", "step_size"] + table.attrs["measures"] + ["view"]))
    # numbers to 4 significant digits and "—" for a missing measure (the downloads keep them raw)
    shown = pd.DataFrame(display_rows(table[columns].head(MAX_TABLE_ROWS).to_dict("records")))
    st.dataframe(shown, hide_index=True, column_config={
        "view": st.column_config.LinkColumn("view", display_text="open run",
                                            help="this run's own page (its permalink)")})
    if len(table) > MAX_TABLE_ROWS:
        st.caption(f"The first {MAX_TABLE_ROWS} of {len(table)} runs; the downloads hold all "
                   "of them.")


def main() -> None:
    state = open_page(PAGE, CONTROLS, "Hypothesis lab", INTRO)
    scenario = LAB_SCENARIOS.get(state.get("scenario"))
    if scenario is not None:       # its title and look-for: open_page's scenario header
        state.mark_shown("scenario")
    try:
        values = controls(state)
        started = time.perf_counter()
        result, memoised = compute(values)
        seconds = time.perf_counter() - started
    except SpecError as error:
        show_error(error)
        state.publish()
        return
    table = result.table
    plan = result.plan
    specs = len(plan.specs)
    with details_box():           # developer text: not shown in presentation mode
        cache_note(specs, specs if memoised else result.cached, seconds)
        st.caption(literal(f"{plural(len(table), 'run')} in {plural(specs, 'batched run')} · base: "
                           f"{plan.base.canonical()}", limit=600))
    try:
        chosen = plot_controls(state, table)
        fits = None
        if chosen["fit"] != "none":
            fits = lab.fit(table, x=chosen["x"], measure=chosen["measure"], kind=chosen["fit"])
        figure = lab_chart.figure(table, chosen["measure"], chosen["x"], chosen["color"],
                                  chosen["facet"], fits)
    except SpecError as error:
        show_error(error)
        state.publish()
        return
    event = st.plotly_chart(figure, theme=None, key="lab-chart", on_select="rerun",
                            selection_mode="points", config={"displaylogo": False})
    st.caption("Each point is one run: click it to open that run's view. Lines are medians "
               "over the runs at each x; dashed lines the fits.")
    open_clicked_run(event, table)
    if fits is not None:
        show_fits(state, fits, chosen)
    show_table(table, chosen)
    downloads(table)
    state.publish()


if __name__ == "__main__":      # Streamlit runs a page as __main__; tests import its table
    main()
