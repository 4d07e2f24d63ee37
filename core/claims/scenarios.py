"""The scenario gallery of the landing page, as data: each scenario is one phenomenon of
science.md, the page that shows it (its url_path in app.py) and the settings (the page's
URL query string) under which it shows, with one line saying what to look for.

Pure data (no streamlit): the landing page draws the cards, the browser tests open every
link and the AppTests check that each one opens its page without a URL error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from core.report.site import PAGE_FILES      # url_path -> file (for st.page_link and AppTest.switch_page)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    page: str                                   # url_path in app.py
    query: dict[str, str] = field(default_factory=dict)
    look_for: str = ""
    source: str = ""                            # the paper / result it illustrates

    @property
    def page_file(self) -> str:
        return PAGE_FILES[self.page]

    def link(self, base: str = "") -> str:
        """The permalink: '<base>/<page>?<query>' (relative when ``base`` is empty)."""
        query = urlencode({**self.query, "scenario": self.key}, safe=",:")
        return f"{base}/{self.page}" + (f"?{query}" if query else "")


WORST_CASE = {"model": "linear", "dataset": "worst_case", "n": "1000", "seed": "0"}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "table1", "Table 1: normalized GD against GD", "perceptron_dynamics",
        {**WORST_CASE, "algorithm": "gd,normalized_gd", "step_size": "0.1,1,10,100",
         "max_iters": "1000"},
        "The table under the charts: normalized GD solves in 157 / 16 / 2 / 2 iterations for "
        "γ = 0.1 / 1 / 10 / 100, GD with γ = 100 needs 308 — the paper's Table 1.",
        "Tyurin 2025, Table 1"),
    Scenario(
        "two_point", "The two-point surprise: larger loss, faster solve", "perceptron_dynamics",
        {"model": "linear", "dataset": "two_point", "algorithm": "gd",
         "step_size": "0.1,1,10,100,1000", "seed": "0", "max_iters": "50"},
        "At large γ the loss after one step is huge (f(θ₁) grows with γ), yet those runs "
        "separate both points at t = 2, faster than γ = 0.1: loss is a poor measure of progress.",
        "Tyurin 2025, §1"),
    Scenario(
        "batch_perceptron", "GD becomes the batch perceptron", "perceptron_dynamics",
        {"model": "linear", "dataset": "gaussian", "n": "200", "d": "20", "margin": "0.1",
         "data_seed": "0", "algorithm": "gd,batch_perceptron",
         "step_size": "1,100,10000,1000000", "seed": "0", "max_iters": "300",
         "section": "charts", "charts": "accuracy,perceptron_gap"},
        "As γ grows, GD's solid lines merge with the dotted batch-perceptron lines of the same "
        "colour, and the distance to the perceptron falls towards 0.",
        "Tyurin 2025, §1"),
    Scenario(
        "boundary", "The worst case, animated", "perceptron_dynamics",
        {**WORST_CASE, "algorithm": "gd", "step_size": "100", "max_iters": "1000",
         "section": "trajectory", "animate": "1"},
        "Press ▶: the boundary of GD with γ = 100 turns step by step while the single +1 point "
        "stays misclassified (red outline) for about 300 iterations — the Θ(n) of the batch "
        "perceptron on the worst case.",
        "Tyurin 2025, §1"),
    Scenario(
        "sqrt_d", "Ω(d) against Õ(√d)", "complexity",
        {"curves": "linear:batch_perceptron:1,two_layer_conv:gd:scaled",
         "dims": "16:1024:x2", "seed": "0:63", "c": "1", "init_scale": "1"},
        "Iterations to solve grow like d for the linear model (slope ≈ 1) but like √d for the "
        "two-layer model (slope ≈ ½): the fitted slopes' 95 % intervals do not overlap.",
        "Tyurin 2025b, minimal example"),
    Scenario(
        "chaos", "Period doubling and chaos", "shallow",
        {"view": "orbit"},
        "Past η|Φ| = 1 the last iterates split into 2, 4, 8, … values and then fill bands: "
        "chaos, although every step is deterministic.",
        "Beneventano & Woodworth, §3"),
    Scenario(
        "step_map", "Chaos on real data, and fewer iterations at large γ", "step_size_map",
        {},
        "Orbit diagram: one dot per γ where the loss settles, vertical smears where it "
        "oscillates; below, iterations to solve fall as γ grows.",
        "Tyurin 2025, §1"),
    Scenario(
        "flatter", "GD ends flatter than gradient flow", "shallow",
        {"view": "gd_gf"},
        "Larger steps end at a smaller sharpness λ_∞ (a flatter minimum) than gradient flow "
        "from the same start, and the imbalance Q shrinks instead of staying constant.",
        "Beneventano & Woodworth, §3"),
    Scenario(
        "figure3", "Regularization against speed (Figure 3)", "shallow",
        {"view": "figure3"},
        "Q(T)/Q(0) falls as ηλ(0) grows (more implicit regularization), while the steps "
        "to converge blow up near ηλ(0) ≈ 2.",
        "Beneventano & Woodworth, Figure 3"),
    Scenario(
        "catapult", "Catapult", "shallow",
        {"view": "catapult"},
        "For 2 < ηλ₀ < 4 the loss spikes first, then GD settles at a flatter minimum with "
        "λ_∞ < 2/η; beyond ηλ₀ = 4 it diverges.",
        "Lewkowycz et al. 2020"),
    Scenario(
        "edge_of_stability", "Edge of stability on a CNN", "images",
        {},
        "The sharpness of the CNN rises to the dotted 2/η line and hovers there while the "
        "loss keeps falling, non-monotonically; the k = 5 CNN reaches 100 % accuracy.",
        "Cohen et al. 2021"),
)



# ---------------------------------------------------------------------- lab scenarios
def lab_scenario(key: str, title: str, look_for: str, base: str, vary: tuple[tuple[str, str], ...],
                 source: str = "the hypothesis lab", **view: str) -> Scenario:
    """A question for the hypothesis lab (pages/lab.py): a base spec, the varied fields and
    the view; the page states the answer (``look_for``, measured) above its chart."""
    query = {"base": base, "scenario": key}
    for index, (name, values) in enumerate(vary, start=1):
        query[f"field{index}"], query[f"values{index}"] = name, values
    query.update(view)
    return Scenario(key, title, "lab", query, look_for, source)


LAB_SCENARIOS: tuple[Scenario, ...] = (
    lab_scenario(
        "lab_sqrt_d_leaky", "Lab: does the √d advantage survive leaky ReLU?",
        "Perceptron limits at the scaled step, 16 seeds: the linear model (no activation: the "
        "same runs in both panels) grows like d, slope 0.97 and slope 0.97; the two-layer model "
        "with the identity slope 0.41 (95 % interval −0.12 to 0.69) and with leaky ReLU slope "
        "0.61 (0.12 to 0.92): slower (a median of 89 against 10 iterations at d = 256) but "
        "still sublinear, neither interval reaching the linear model's.",
        "algorithm=generalized_perceptron&dataset=minimal&history_points=16&max_iters=20000"
        "&seed=0:15",
        (("d", "16:256:x2"), ("model", "linear,two_layer_conv"),
         ("activation", "identity,leaky_relu")),
        source="Tyurin 2025b, minimal example, with another activation",
        step_rule="scaled", measure="iterations_to_solve", x="d", color="model",
        facet="activation", fit="power"),
    lab_scenario(
        "lab_n_large_step", "Lab: LR+GD's iterations against n at a large step",
        "On the worst case at γ = 100, GD needs 39, 77, 154, 308, 616 iterations for "
        "n = 125 … 2000: slope 1.00, linear in n like the batch perceptron it becomes, while "
        "normalized GD solves in 2 at every n: slope 0.00.",
        "dataset=worst_case&history_points=16&max_iters=5000&step_size=100",
        (("n", "125:2000:x2"), ("algorithm", "gd,normalized_gd")),
        source="Tyurin 2025, Table 1 and §1, extended in n",
        step_rule="fixed", measure="iterations_to_solve", x="n", color="algorithm", fit="power"),
    lab_scenario(
        "lab_real_data", "Lab: the large-step speed-up on every bundled real data set",
        "Iterations to solve fall from 51 (digits 0/1), 112 (iris) and 90 (wine) at γ = 0.1 to "
        "2–6 at γ ≥ 10: slope -0.25, slope -0.35 and slope -0.26 over γ = 0.1 … 1000. Breast "
        "cancer is not separable through the origin: no step size solves it in 3000 "
        "iterations (every run censored, slope 0.00), its accuracy stays at 98.8–99.1 %.",
        "algorithm=gd&classes=0,1&history_points=16&max_iters=3000&model=linear",
        (("step_size", "0.1:1000:x10"), ("dataset", "digits,iris,wine,breast_cancer")),
        source="Tyurin 2025, §1, on scikit-learn's bundled data",
        step_rule="fixed", measure="iterations_to_solve", x="step_size", color="dataset",
        fit="power"),
    lab_scenario(
        "lab_flatter_random", "Lab: GD's flatter minimum from random starts, in any d",
        "From 8 random starts at d = 2, 8 and 32, λ_∞/λ_GF (GD's limit sharpness over gradient "
        "flow's from the same start) stays below 1 and falls as η grows: medians 0.98, 0.89 and "
        "0.90 at η = 0.4; power-law slope -0.01 (d = 2), slope -0.03 (d = 8) and slope -0.03 "
        "(d = 32).",
        "history_points=16&init=random&max_iters=20000&model=shallow_linear&seed=0:7",
        (("step_size", "0.02,0.05,0.1,0.2,0.4"), ("d", "2,8,32")),
        source="Beneventano & Woodworth, §3, at random starts",
        step_rule="fixed", measure="sharpness_ratio", x="step_size", color="d", fit="power"),
)
LAB_SCENARIOS += (
    lab_scenario(
        "lab_sqrt_d_momentum", "Lab: does the √d advantage survive momentum?",
        "The two-layer model at the scaled step, 16 seeds: GD slope 0.70 (95 % interval 0.34 to "
        "1.11), heavy-ball (β = 0.9) slope 0.27 (−0.01 to 0.52), a median of 11 against 48.5 "
        "iterations at d = 128: with momentum the count grows even more slowly, its interval "
        "well below the linear model's slope of 1.",
        "dataset=minimal&history_points=16&max_iters=20000&model=two_layer_conv&seed=0:15",
        (("d", "16:128:x2"), ("algorithm", "gd,heavy_ball")),
        source="Tyurin 2025b, minimal example, with heavy-ball momentum",
        step_rule="scaled", measure="iterations_to_solve", x="d", color="algorithm",
        fit="power"),
    lab_scenario(
        "lab_flatter_momentum", "Lab: is GD's flatter minimum still flatter with momentum?",
        "Yes, and more so: from the same 8 random starts (d = 8), heavy-ball (β = 0.9) ends with "
        "a median λ_∞/λ_GF between 0.73 and 0.81 at every η, against GD's 0.89 (η = 0.4) to "
        "1.00 (η = 0.02); power-law slope -0.03 for GD and slope -0.03 for heavy-ball (one "
        "heavy-ball run diverges at η = 0.4: no value, counted on the chart).",
        "d=8&history_points=16&init=random&max_iters=20000&model=shallow_linear&seed=0:7",
        (("step_size", "0.02,0.05,0.1,0.2,0.4"), ("algorithm", "gd,heavy_ball")),
        source="Beneventano & Woodworth, §3, with heavy-ball momentum",
        step_rule="fixed", measure="sharpness_ratio", x="step_size", color="algorithm",
        fit="power"),
)
SCENARIOS = SCENARIOS + LAB_SCENARIOS

