"""AppTest: the Shallow linear networks page (GD vs gradient flow, Figure 3, orbit diagram,
catapult): defaults, widgets, errors, URL state, and the numbers of science.md §3."""
import math

import numpy as np
import pytest

from core.claims.catalog import CLAIMS_BY_NAME
from tests.app_helpers import dot_values, shown_text, assert_clean, chart, charts, errors, table_rows, title, trace_names, values
from tests.extra_helpers import link_query, open_extra

KEY = "shallow."
A0, B0, PHI = np.array([1.0, 0.5, -0.2]), np.array([0.3, -0.4, 0.6]), 1.0


def rows_by_step(at):
    return {row["η"]: row for row in table_rows(at)}


def test_defaults_show_gd_against_gradient_flow_with_the_papers_numbers():
    at = open_extra("shallow")
    assert_clean(at)
    titles = [title(f) for f in charts(at)]
    assert len(titles) == 6, titles
    names = trace_names(chart(at, "|ε|"))
    for eta in ("0.05", "0.3", "0.6"):
        assert f"GD η={eta}" in names and f"GF η={eta}" in names

    # Q(t)/Q(0): gradient flow conserves Q, GD multiplies it by Π(1 − η²ε²) < 1.
    ratio = chart(at, "S(t) = Qᵢ(t)/Qᵢ(0)")
    for trace in ratio["data"]:
        if trace.get("name", "").startswith("GF"):
            assert np.allclose(values(trace, "y"), 1.0, atol=1e-9)
    rows = rows_by_step(at)
    c0 = np.sum((A0 + B0) ** 2) * np.sum((A0 - B0) ** 2)      # C = ‖a+b‖²‖a−b‖²
    lam_gf = math.sqrt(4 * PHI**2 + c0)
    for eta, row in rows.items():
        gd_q = [t for t in ratio["data"] if t.get("name") == f"GD η={eta:g}"][0]
        assert math.isclose(values(gd_q, "y")[-1], row["S = Qᵢ(T)/Qᵢ(0)"], rel_tol=1e-9)
        s = row["S = Π(1 − η²ε²)"]
        assert math.isclose(row["λ_GD = √(4Φ² + S²C₀)"], math.sqrt(4 * PHI**2 + s * s * c0), rel_tol=1e-12)
        assert math.isclose(row["λ_GF = √(4Φ² + C₀)"], lam_gf, rel_tol=1e-12)
        # GD ends flatter than gradient flow, at the predicted sharpness (claim of §3).
        assert 2 * abs(PHI) <= row["GD final sharpness"] < lam_gf
        assert math.isclose(row["GD final sharpness"], row["λ_GD = √(4Φ² + S²C₀)"], rel_tol=1e-6)
        assert math.isclose(row["GF final λ (t = kη)"], lam_gf, rel_tol=1e-6)
    # Larger steps regularize more: S falls with η.
    ordered = [rows[eta]["S = Qᵢ(T)/Qᵢ(0)"] for eta in sorted(rows)]
    assert ordered == sorted(ordered, reverse=True)

    # Theorem 1: η* = min{1/(2|ε(0)|), 2/√(λ(0)² + 4Φ²)}.
    eps0, lam0 = float(A0 @ B0 - PHI), float(A0 @ A0 + B0 @ B0)
    bound = min(1 / (2 * abs(eps0)), 2 / math.sqrt(lam0**2 + 4 * PHI**2))
    assert any(f"**{bound:.5g}**" in m.value for m in at.markdown)
    for eta, row in rows.items():
        assert math.isclose(row["η / η* (Theorem 1)"], eta / bound, rel_tol=1e-12)
    theorem = chart(at, "Theorem 1")
    assert any(n.startswith("Theorem 1") and f"{bound:.4g}" in n for n in trace_names(theorem))

    # λ chart carries a 2/η line per step size.
    # λ chart: a 2/η guide per step size, drawn when near the data, else named on the edge;
    # the y axis is set by the runs (λ_∞ ≈ 2.3 against λ_GF ≈ 2.7), not by a far 2/η line.
    norm = chart(at, "λ = ‖a‖² + ‖b‖²")
    drawn = {t["name"]: values(t, "y")[0] for t in norm["data"] if t.get("name", "").startswith("2/η")}
    edge = norm["layout"]["title"]["subtitle"]["text"]
    low, high = norm["layout"]["yaxis"]["range"]
    for eta in rows:
        label = f"2/η (η = {eta:g})"
        if low <= 2 / eta <= high:
            assert math.isclose(drawn[label], 2 / eta)
        else:
            assert label not in drawn
    assert low > 1 and high < 2 / 0.6 and high > lam_gf
    assert edge.startswith("↑ above the view: 2/η (η = 0.05) = 40, 2/η (η = 0.3) = 6.67 and 1 more")
    # The trajectory has the set of minima x² − y² = 4Φ and one GF path.
    path = chart(at, "trajectory")
    minima = [t for t in path["data"] if t.get("name", "").startswith("minima")][0]
    x, y = values(minima, "x"), values(minima, "y")
    keep = np.isfinite(x)
    assert np.allclose(x[keep] ** 2 - y[keep] ** 2, 4 * PHI)
    assert "gradient flow" in trace_names(path)
    assert at.query_params["step_size"] == "0.05, 0.3, 0.6" and at.query_params["view"] == "gd_gf"
    assert any("computed" in c.value or "from cache" in c.value for c in at.caption)


@pytest.mark.slow
def test_changing_step_sizes_and_phi_changes_the_figures():
    at = open_extra("shallow")
    before = chart(at, "|ε|")
    at.text_input(key=KEY + "step_size").set_value("0.1, 0.2").run()
    assert_clean(at)
    after = chart(at, "|ε|")
    assert trace_names(after) == ["GD η=0.1", "GF η=0.1", "GD η=0.2", "GF η=0.2"]
    at.number_input(key=KEY + "phi").set_value(2.0).run()
    assert_clean(at)
    moved = chart(at, "|ε|")
    assert not np.allclose(values(moved["data"][0], "y")[:5], values(after["data"][0], "y")[:5])
    assert trace_names(before) != trace_names(after)
    assert at.query_params["phi"] == "2" and at.query_params["step_size"] == "0.1, 0.2"


@pytest.mark.slow
def test_bad_inputs_name_the_field_and_the_page_recovers():
    at = open_extra("shallow")
    at.text_input(key=KEY + "step_size").set_value("0.1, abc").run()
    assert not at.exception
    assert any(m.startswith("step_size:") for m in errors(at)), errors(at)
    assert not charts(at)
    at.text_input(key=KEY + "step_size").set_value("0.1").run()
    at.text_input(key=KEY + "b").set_value("1, 2").run()
    assert any(m.startswith("b:") for m in errors(at)), errors(at)
    at.text_input(key=KEY + "b").set_value("0.3, -0.4, 0.6").run()
    at.number_input(key=KEY + "max_iters").set_value(0).run()       # below the field's range:
    assert at.number_input(key=KEY + "max_iters").value == 1          # the widget holds its minimum
    at.number_input(key=KEY + "max_iters").set_value(500).run()
    assert_clean(at)
    assert trace_names(chart(at, "|ε|")) == ["GD η=0.1", "GF η=0.1"]


def test_a_run_over_the_memory_budget_is_refused_naming_the_field():
    at = open_extra("shallow", {"init": "random", "d": "100000", "step_size": "1e-3:1:log4000"})
    assert not at.exception
    assert any(m.startswith("d:") and "GiB" in m for m in errors(at)), errors(at)
    assert not charts(at)


def test_a_claim_link_restores_its_run():
    page, query = link_query(CLAIMS_BY_NAME["q_contraction"].link())
    assert page == "shallow"
    at = open_extra("shallow", query)
    assert_clean(at)
    assert at.text_input(key=KEY + "a").value == "1,0.5,-0.2"
    assert at.text_input(key=KEY + "step_size").value == "0.05,0.3"
    assert at.number_input(key=KEY + "max_iters").value == 200
    assert at.number_input(key=KEY + "history_points").value == 256
    assert at.checkbox(key=KEY + "run_to_max").value is True
    for name in ("a", "b", "step_size", "max_iters", "history_points", "run_to_max", "tol", "phi"):
        assert at.query_params[name] == query[name], name
    # run_to_max: every GD run goes to k = 200.
    residual = chart(at, "|ε|")
    gd = [t for t in residual["data"] if t["name"].startswith("GD")]
    assert [values(t, "x")[-1] for t in gd] == [200, 200]


@pytest.mark.slow
def test_period_doubling_claim_link_shows_the_tail():
    page, query = link_query(CLAIMS_BY_NAME["period_doubling"].link())
    at = open_extra(page, query)
    assert_clean(at)
    assert at.number_input(key=KEY + "tail_points").value == 64
    tail = chart(at, "last K iterations")
    x, y = dot_values(tail, "x"), dot_values(tail, "y")
    distinct = [len(np.unique(np.round(y[x == eta], 8))) for eta in (0.9, 1.1, 1.25)]
    assert distinct == [1, 2, 4]
    # d = 1: the (a, b) plane, with the minima ab = Φ.
    path = chart(at, "(a, b) plane")
    minima = [t for t in path["data"] if t.get("name", "").startswith("minima")][0]
    mx, my = values(minima, "x"), values(minima, "y")
    keep = np.isfinite(mx)
    assert np.allclose(mx[keep] * my[keep], 1.0)


def test_bad_query_parameters_are_reported():
    at = open_extra("shallow", {"init": "sideways", "max_iters": "lots", "view": "gd_gf"})
    assert not at.exception
    messages = errors(at)
    assert any(m.startswith("URL parameter init:") for m in messages), messages
    assert any(m.startswith("URL parameter max_iters:") for m in messages), messages
    assert at.selectbox(key=KEY + "init").value == "explicit"
    assert len(charts(at)) == 6


def test_random_init_with_seeds():
    at = open_extra("shallow", {"init": "random", "d": "4", "init_scale": "1.5", "seed": "0,1",
                                "step_size": "0.2"})
    assert_clean(at)
    names = trace_names(chart(at, "|ε|"))
    assert names == ["GD η=0.2 seed 0", "GF η=0.2 seed 0", "GD η=0.2 seed 1", "GF η=0.2 seed 1"]
    rows = table_rows(at)
    assert {row["seed"] for row in rows} == {0, 1}
    for row in rows:    # ‖a₀‖ = ‖b₀‖ = s, so λ(0) = 2s²
        assert math.isclose(row["ηλ(0)"], 0.2 * 2 * 1.5**2, rel_tol=1e-12)


@pytest.mark.slow
def test_figure3_view():
    at = open_extra("shallow", {"view": "figure3", "scales": "1, 8", "eta_lambda_count": "40"})
    assert_clean(at)
    ratio, steps = chart(at, "S = Qᵢ(T)/Qᵢ(0) against"), chart(at, "steps to |ε|")
    curves = [t for t in ratio["data"] if t["name"].startswith("s = ")]
    assert [t["name"].split(" (")[0] for t in curves] == ["s = 1", "s = 8"]
    for trace in curves:
        x, y = values(trace, "x"), values(trace, "y")
        assert len(x) == 40 and math.isclose(x[0], 0.05) and math.isclose(x[-1], 3.0)
        # S = Π(1 − η²ε²) ≤ 1 for the runs that converge, and ≈ 1 at small ηλ(0).
        converged = [v for v, text in zip(y, trace["text"]) if "|ε| ≤ tol" in text]
        assert converged and max(converged) <= 1 + 1e-12 and y[0] > 0.98
    # s = 8: the slowest converging step is near ηλ(0) = 2 (Figure 3, right).
    s8 = [t for t in steps["data"] if t["name"].startswith("s = 8")][0]
    x, y = values(s8, "x"), values(s8, "y")
    assert 1.8 <= x[np.nanargmax(y)] <= 2.2
    # Beyond ηλ(0) ≈ 2.4 (s = 1) runs turn chaotic with S ≈ −1e292: off the view, marked and counted.
    axis = ratio["layout"]["yaxis"]["range"]
    finite = [v for t in curves for v in values(t, "y") if np.isfinite(v)]
    outside = [v for v in finite if not axis[0] <= v <= axis[1]]
    assert outside and axis[0] > -10, axis
    marks = [t for t in ratio["data"] if t["name"].endswith("the view (hover for each)")]
    assert sum(len(values(t, "x")) for t in marks) == len(outside)
    note = ratio["layout"]["title"]["subtitle"]["text"]          # under the title, not on the data
    assert f"{len(outside)} values outside the view" in note
    assert "e+" not in note and "·10" in note                     # S = −4.2·10³⁰³, for people
    assert not ratio["layout"].get("annotations")                  # "ηλ(0) ≈ 2: slow" is in the legend
    assert any(shown_text(m.value).startswith("What to look for: s = 1: S falls from") for m in at.info)
    at.text_input(key=KEY + "scales").set_value("4").run()
    assert_clean(at)
    assert [t["name"].split(" (")[0] for t in chart(at, "S = Qᵢ(T)/Qᵢ(0) against")["data"]
            if t["name"].startswith("s = ")] == ["s = 4"]
    at.number_input(key=KEY + "eta_lambda_max").set_value(0.01).run()
    assert any(m.startswith("eta_lambda_max:") for m in errors(at)), errors(at)


@pytest.mark.slow
def test_orbit_view_period_doubling_in_one_sweep():
    at = open_extra("shallow", {"view": "orbit", "orbit_count": "200", "orbit_iters": "1500"})
    assert_clean(at)
    orbit = chart(at, "orbit diagram")
    x = dot_values(orbit, "x")
    assert len(np.unique(x)) == 200                       # 200 step sizes, one batched sweep
    assert sum("1 batched sweep from cache" in c.value or "1 batched sweep computed" in c.value
               for c in at.caption) == 1
    periods = {round(row["η|Φ|"], 6): row["distinct values"] for row in table_rows(at)}
    grid = sorted(periods)
    assert periods[grid[0]] == 1                          # η|Φ| = 0.8: converges
    assert max(periods.values()) > 16                     # chaos at the top of the range
    assert at.number_input(key=KEY + "orbit_count").proto.min == 200     # the declared range
    coarse = open_extra("shallow", {"view": "orbit", "orbit_count": "50"})
    assert any("orbit_count: must be in [200, 4096], got 50" in m for m in errors(coarse)), \
        errors(coarse)
    at.number_input(key=KEY + "phi").set_value(0.0).run()
    assert any(m.startswith("phi:") for m in errors(at)), errors(at)


def test_catapult_view():
    at = open_extra("shallow", {"view": "catapult", "cat_eta_lambda": "3, 4.5"})
    assert_clean(at)
    rows = table_rows(at)
    spike, beyond = rows
    assert math.isclose(spike["ηλ(0)"], 3.0) and math.isclose(beyond["ηλ(0)"], 4.5)
    # columns with a diverged run's words are text: numbers to 4 digits, words, never None
    assert float(spike["peak loss / initial loss"]) > 1 and spike["λ_∞ < 2/η"] == "yes"
    assert float(spike["final sharpness λ_∞"]) < spike["2/η"]
    assert beyond["status"].startswith("diverged")
    assert beyond["peak loss / initial loss"] == beyond["final sharpness λ_∞"] == "diverged"
    norm = chart(at, "against 2/η")
    curves = [t for t in norm["data"] if t.get("name", "").startswith("ηλ(0)") and t.get("mode") == "lines"]
    assert len(curves) == 2
    # the divergence is told in the legend, not in a note across the axis ticks
    assert any(t.get("name") == f"ηλ(0) = 4.5: diverged at k = {beyond['status'].split('k=')[1]} "
               "(off the scale)" for t in norm["data"])
    assert not any("diverged" in a["text"] for a in norm["layout"].get("annotations", []))
    # the x axis is a window around the spike (at k = 1 here), and says that it is one
    solved = int(spike["status"].split("k=")[1])
    assert norm["layout"]["xaxis"]["range"][1] == 30 < solved
    assert f"0–30 of {solved};" in norm["layout"]["xaxis"]["title"]["text"]
    # the look-for text states each run's spike and end, from the table's numbers
    info = shown_text(" ".join(m.value for m in at.info))
    assert f"the loss spikes ×{float(spike['peak loss / initial loss']):.2g}" in info, info
    assert f"ηλ(0) = 4.5 diverges at k = {beyond['status'].split('k=')[1]}" in info, info
    at.text_input(key=KEY + "cat_b").set_value("0.2").run()
    assert any(m.startswith("cat_b:") for m in errors(at)), errors(at)


@pytest.mark.slow
def test_figure3_generic_init_from_the_claim_link_shows_the_blow_up_near_one_over_phi():
    from core.claims.catalog import CLAIMS_BY_NAME
    from tests.extra_helpers import link_query

    _, query = link_query(CLAIMS_BY_NAME["figure3_scales"].link())
    at = open_extra("shallow", query)
    assert_clean(at)
    assert at.selectbox(key=KEY + "fig3_init").value == "generic"
    steps = chart(at, "steps to |ε|")
    assert any(name.startswith("η|Φ| = 1 per s") for name in trace_names(steps))
    for trace in [t for t in steps["data"] if t["name"].startswith("s = ")]:
        lam0 = float(trace["name"].split("λ(0) = ")[1].rstrip(")"))
        x, y = values(trace, "x"), values(trace, "y")
        below = (x < lam0) & np.isfinite(y)             # η|Φ| < 1 (Φ = 1)
        assert below.sum() >= 5
        # the slowest converging run is the one closest to η|Φ| = 1, far slower than the fastest
        assert np.argmax(np.where(below, y, -1)) == np.flatnonzero(below)[-1]
        assert y[below][-1] > 5 * y[below].min()


@pytest.mark.slow
def test_pins_keep_their_runs_with_their_own_dash_and_a_label_naming_the_change():
    at = open_extra("shallow")
    at.button[0].click().run()                         # "Pin these runs"
    assert at.query_params["pins"]
    at.number_input(key=KEY + "phi").set_value(2.0).run()
    assert_clean(at)
    residual = chart(at, "|ε|")
    pinned = [t for t in residual["data"] if t.get("name", "").startswith("pin 1")]
    assert [t["name"] for t in pinned] == [f"pin 1 (Φ = 1): GD η={eta}" for eta in ("0.05", "0.3", "0.6")]
    live = {t["name"]: t for t in residual["data"] if t.get("name", "").startswith("GD")}
    for trace in pinned:                               # same colour per η, a dash of its own
        twin = live[trace["name"].split(": ")[1]]
        assert trace["line"]["color"] == twin["line"]["color"] and trace["line"]["dash"] == "dot"
        assert not np.allclose(values(trace, "y")[:5], values(twin, "y")[:5])   # Φ = 1 against 2
    # negative control: cleared pins leave only the live runs
    next(b for b in at.button if b.label == "Clear pins").click().run()
    assert not any(t.get("name", "").startswith("pin") for t in chart(at, "|ε|")["data"])


def test_figures12_view_gd_crosses_to_smaller_q_while_gradient_flow_keeps_it():
    """Figures 1–2 (d = 1): each start's GD path, its gradient flow, the level sets Q = Q(0) and
    Q = Q(T), the three regions; Q(T)/Q(0) = Π(1 − η²ε²) computed here from the drawn points."""
    at = open_extra("shallow", {"view": "figures12", "fig12_a": "1.5, 0.3, 1.2",
                                "fig12_b": "1.0, 1.2, -0.4", "fig12_eta": "0.3"})
    assert_clean(at)
    plane, norm = chart(at, "Figures 1–2"), chart(at, "λ = a² + b² along GD")
    names = trace_names(plane)
    for region in ("ε > 0", "ε < 0 < aᵀb", "aᵀb < 0"):
        assert region in names
    info = shown_text(" ".join(m.value for m in at.info))
    for start, region in (("(1.5, 1)", "ε > 0"), ("(0.3, 1.2)", "ε < 0 < aᵀb"), ("(1.2, −0.4)", "aᵀb < 0")):
        gd = [t for t in plane["data"] if t.get("name") == f"{start}: GD"][0]
        flow = [t for t in plane["data"] if t.get("name") == f"{start}: gradient flow"][0]
        a, b = values(gd, "x"), values(gd, "y")
        eps = a * b - 1.0
        q = a * a - b * b
        # every step: Q⁺ = (1 − η²ε²)Q, and Q(T) < Q(0) in size; the flow keeps Q(0)
        assert np.allclose(q[1:], (1 - 0.09 * eps[:-1] ** 2) * q[:-1], rtol=0, atol=1e-12)
        assert abs(q[-1]) < abs(q[0]) and abs(eps[-1]) <= 1e-10
        fa, fb = values(flow, "x"), values(flow, "y")
        assert np.allclose(fa * fa - fb * fb, q[0], atol=1e-8)
        assert f"{start} starts in {region}: GD takes Q from" in info, info
        ratio = float(np.prod(1 - 0.09 * eps[:-1] ** 2))
        assert f"Π(1 − η²ε²) = {ratio:.4g})" in info, (ratio, info)
    assert "λ grew at every one of the" in info
    # λ along GD: one line per start, markers filled with the region of each step
    assert len([t for t in norm["data"] if t.get("name", "").endswith(": λ")]) == 3
    at.text_input(key=KEY + "fig12_b").set_value("1.0").run()
    assert any(m.startswith("fig12_b:") for m in errors(at)), errors(at)
    at.text_input(key=KEY + "fig12_a").set_value("1, 2, 3, 4, 5, 6, 7").run()
    assert any(m.startswith("fig12_a:") for m in errors(at)), errors(at)


def test_non_default_settings_draw_what_the_runs_did():
    """Audit B, on the page: diverged runs' × on the edge they leave (not at |ε| = 10²²⁸ off
    the view); float32 GD beside its gradient flow; a diverged Figures 1–2 path does not
    stretch the plane to ±10¹⁴³; a 5-step orbit is no period doubling."""
    at = open_extra("shallow", {"step_size": "0.05,0.6,1.5,5"})
    assert_clean(at)
    residual = chart(at, "|ε| = |aᵀb − Φ|")
    low, high = residual["layout"]["yaxis"]["range"]
    crosses = [t for t in residual["data"] if t.get("name") == "diverged"][0]
    assert np.allclose(np.log10(values(crosses, "y")), high)        # on the top edge, in view
    assert any("2 runs diverged (× where each left the chart)" in shown_text(m.value) for m in at.info)

    at = open_extra("shallow", {"dtype": "float32", "step_size": "0.05,0.6"})
    assert_clean(at)
    names = trace_names(chart(at, "λ = ‖a‖² + ‖b‖²"))
    assert "GF η=0.05" in names and "GF η=0.6" in names
    assert "GF final λ (t = kη)" in table_rows(at)[0]

    at = open_extra("shallow", {"view": "figures12", "fig12_eta": "1.5", "fig12_iters": "50"})
    assert_clean(at)
    plane = chart(at, "Figures 1–2")
    x0, x1 = plane["layout"]["xaxis"]["range"]
    assert x1 - x0 < 50
    norm = chart(at, "λ = a² + b² along GD")
    assert norm["layout"]["yaxis"]["range"][1] < 50

    at = open_extra("shallow", {"view": "orbit", "orbit_iters": "5", "orbit_tail": "3"})
    assert_clean(at)
    text = " ".join(shown_text(m.value) for m in at.info)
    assert "still moving" in text and "period doubling" not in text
    # negative control: the default orbit still reads period doubling and chaos
    at = open_extra("shallow", {"view": "orbit"})
    text = " ".join(shown_text(m.value) for m in at.info)
    assert "(period doubling), from η|Φ| = 1.0" in text and "(chaos)" in text and "still moving" not in text


def test_gd_gf_panels_go_one_a_row_when_their_legends_are_long():
    """Four step sizes: ten legend entries beside a half-width panel left a 140 px plot.
    The four panels then go full width, each with its legend; three step sizes stay two a row
    with one legend a row."""
    def with_next(at):
        return [title(f) for f in charts(at)[:4]
                if "legend: with the next chart" in f["layout"]["title"].get("subtitle", {}).get("text", "")]
    many = open_extra("shallow", {"view": "gd_gf", "step_size": "0.05,0.3,0.6,1.5"})
    assert_clean(many)
    assert with_next(many) == []
    default = open_extra("shallow", {"view": "gd_gf"})         # negative control
    assert len(with_next(default)) == 2
