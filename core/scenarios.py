"""The scenario gallery of the landing page, as data: each scenario is one phenomenon of
science.md, the page that shows it (its url_path in app.py) and the settings (the page's
URL query string) under which it shows, with one line saying what to look for.

Pure data (no streamlit): the landing page draws the cards, the browser tests open every
link and the AppTests check that each one opens its page without a URL error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from .site import PAGE_FILES      # url_path -> file (for st.page_link and AppTest.switch_page)


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
