"""Display objects of the shallow a·b charts and the shared orbit diagram: the numbers they
hold, the bound on what they draw, and captions that state what the runs show (issue 23,
issue 20 §1). Assertions are on the objects' numbers, each with a negative control."""
import math

import numpy as np
import pytest

from core.report import payload
from core.report import plots_shallow as ps
from core.api import run_spec
from core.report.display import MAX_FRAMES, human_number
from core.report.display_orbit import OrbitColumn, OrbitDiagram
from core.report.player import frame_positions
from core.report.plots import missing_as_text
from core.kernel.spec import make_spec

A, B = (1.0, 0.5, -0.2), (0.3, -0.4, 0.6)


def column(x, values, diverged=False):
    values = np.asarray(values, dtype=float)
    return OrbitColumn(x, values, np.arange(values.size), diverged, 5 if diverged else None)


def orbit(columns):
    return OrbitDiagram.build(columns, title="orbit", x_title="x", y_title="y", x_name="x")


def test_orbit_diagram_reads_fixed_points_cycles_bands_and_divergence():
    rng = np.random.default_rng(0)
    diagram = orbit([column(0.5, np.full(64, 0.2)), column(0.9, np.tile([0.1, 0.4], 32)),
                     column(1.3, rng.uniform(-1, 1, 64)), column(1.7, [1.0, np.inf], diverged=True)])
    facts = diagram.facts
    assert (facts["settled"], facts["cycles"], facts["bands"], facts["diverged"]) == (1, 1, 1, 1)
    assert (facts["last_fixed"], facts["first_cycle"], facts["first_band"]) == (0.5, 0.9, 1.3)
    assert facts["first_diverged"] == 1.7
    text = diagram.caption
    assert "1 run settles" in text and "1 runs" not in text and "from x = 0.9" in text and "(chaos), from x = 1.3" in text
    assert "1 diverged" in text and "No period doubling" not in text
    # each value once at a thousandth of the view's height: 1 dot, 2 dots, the band's 62
    assert not diagram.density and diagram.points[0].size == 1 + 2 + 62   # the diverged run is a mark
    assert sorted(set(diagram.points[0])) == [0.5, 0.9, 1.3]
    # negative control: only fixed points, and the caption says there is no period doubling
    calm = orbit([column(x, np.full(64, x)) for x in (0.1, 0.2, 0.3)])
    assert calm.facts["cycles"] == calm.facts["bands"] == 0
    assert "No period doubling in this window" in calm.caption


def test_orbit_dots_are_one_raster_whose_frames_build_it_up_by_iteration():
    """The dots are drawn as one heatmap: each cell holds the first iteration k of a dot in
    it, and build-up frame j shows exactly the cells reached by then (by colour scale alone)."""
    diagram = orbit([column(0.5, np.full(64, 0.2)), column(0.9, np.tile([0.1, 0.4], 32)),
                     column(1.3, np.linspace(-1, 1, 64))])
    figure = diagram.to_plotly()
    dots = figure.data[0]
    assert dots.type == "heatmap" and [t.type for t in figure.data].count("heatmap") == 1
    z = np.asarray(dots.z, dtype=float)                       # rows × columns
    x_edges = np.asarray(dots.x)
    # each run has a column of its own, centred on its x, with an empty column between
    middles = (x_edges[1:] + x_edges[:-1]) / 2
    filled = np.flatnonzero(np.isfinite(z).any(axis=0))
    assert np.allclose(middles[filled], [0.5, 0.9, 1.3])
    assert [int(np.isfinite(z[:, c]).sum()) for c in filled][:2] == [1, 2]   # a dot, a 2-cycle
    # a cell's value is the first k of the values in it: the settled run's dot at k = 0,
    # the band's values in the order they came
    assert np.nanmin(z[:, filled[0]]) == 0 and np.nanmax(z[:, filled[2]]) > 32
    low, high = dots.zmin, dots.zmax
    for frame in figure.frames:
        scale = frame.data[0].colorscale
        cut = scale[1][0] if len(scale) > 2 else 1.0
        reached = low + cut * (high - low)
        shown = int((np.isfinite(z) & (z <= reached)).sum())
        label = [s.label for s in figure.layout.sliders[0].steps][figure.frames.index(frame)]
        expected = np.isfinite(z).sum() if label == "all" else \
            int((np.isfinite(z) & (z <= int(label.removeprefix("≤ ")))).sum())
        assert shown == expected, label
    # negative control: the first frame hides some cells, the last shows them all
    first = figure.frames[0].data[0].colorscale
    assert len(first) == 4 and first[2][1].endswith(",0)")
    assert len(figure.frames[-1].data[0].colorscale) == 2


@pytest.mark.parametrize("kept,diverged,log_x", [
    (np.geomspace(0.1, 10, 20)[:8], np.geomspace(0.1, 10, 20)[8:], True),   # diverged runs widen the view
    ([0.1], [1.0, 2.0, 5.0], True),
    ([0.5, 0.6], [1.5, 2.5], False),
    ([0.1, 0.1001, 10.0], [], True),                                        # two runs closer than a pixel
    (np.linspace(0.8, 1.6, 300), [], False),
])
def test_every_run_with_dots_has_a_column_of_a_pixel_or_more(kept, diverged, log_x):
    """plotly rounds a heatmap cell's edges to whole pixels and skips a cell under one: each
    run's column must be at least a pixel wide on a 700 px plot, in the view the chart shows."""
    columns = [column(x, np.tile([0.1, 0.3], 8)) for x in kept]
    columns += [OrbitColumn(x, np.array([1.0, np.inf]), np.arange(2), True, 1) for x in diverged]
    figure = OrbitDiagram.build(columns, title="o", x_title="x", y_title="y", x_name="x",
                                log_x=log_x).to_plotly()
    dots = figure.data[0]
    edges = np.log10(np.asarray(dots.x)) if log_x else np.asarray(dots.x)
    low, high = figure.layout.xaxis.range
    filled = np.isfinite(np.asarray(dots.z, dtype=float)).any(axis=0)
    widths = np.diff(edges)[filled] / (high - low) * 700
    assert widths.min() >= 1.0, widths
    assert filled.sum() >= min(len(kept), 2)                   # no run lost


def test_orbit_diagram_becomes_a_bounded_density_image_above_the_scatter_limit():
    rng = np.random.default_rng(1)
    count, tail = 300, payload.SCATTER_POINTS // 300 + 10
    columns = [column(x, rng.normal(0, 1, tail)) for x in np.linspace(0.8, 1.6, count)]
    diagram = orbit(columns)
    assert diagram.density and diagram.points is None
    x_edges, y_edges, counts = diagram.image
    assert counts.shape == (count, payload.DENSITY_ROWS)                 # one column per run here
    assert counts.size <= payload.DENSITY_CELLS
    assert counts.sum() + diagram.outside == count * tail                # every value counted once
    assert any(note.startswith("density image") for note in diagram.notes)
    figure = diagram.to_plotly()
    assert figure.data[0].type == "heatmap" and len(figure.to_json()) < 2_000_000
    # more runs than image columns: the columns are binned, the cells stay bounded
    wide = orbit([column(x, rng.normal(0, 1, 8)) for x in np.linspace(0, 1, 4000)])
    assert wide.density and wide.image[2].shape == (payload.DENSITY_COLUMNS, payload.DENSITY_ROWS)
    # negative control: just under the limit, every dot is drawn
    few_columns = [column(x, rng.normal(0, 1, 50)) for x in np.linspace(0, 1, 10)]
    few = orbit(few_columns)
    assert not few.density and few.points[0].size <= 500
    # every value is drawn: a dot of its run lies within a thousandth of the view's height
    span = few.y_window[1] - few.y_window[0]
    for x, values in zip(np.linspace(0, 1, 10), (c.values for c in few_columns)):
        drawn = few.points[1][few.points[0] == x]
        assert np.all(np.min(np.abs(values[:, None] - drawn[None, :]), axis=1) <= span / 1000)


def test_envelope_thinning_keeps_a_period_two_oscillation():
    series = np.tile([1.0, 3.0], 5000)
    keep = payload.envelope_indices(series, 200)
    assert keep.size <= 200 and set(series[keep]) == {1.0, 3.0}
    assert keep[0] == 0 and keep[-1] == series.size - 1
    every_kth = series[::50]                                   # the aliasing it avoids
    assert set(every_kth) == {1.0}
    diverging = np.r_[np.linspace(1, 2, 5000), np.inf, np.full(10, np.nan)]
    assert 5000 in payload.envelope_indices(diverging, 100)    # where the run left


def test_compact_arrays_keep_huge_values_and_gaps():
    values = payload.compact([1.0, math.inf, -2.44e292])
    assert values.dtype == np.float64 and np.isnan(values[1]) and values[2] == -2.44e292
    assert payload.compact([1.0, 2.0], single=True).dtype == np.float32
    assert payload.compact([1e300], single=True).dtype == np.float64


def test_frames_are_every_kth_and_end_at_the_last():
    positions = frame_positions(1000)
    assert positions.size <= MAX_FRAMES + 1 and positions[0] == 0 and positions[-1] == 999
    assert list(frame_positions(5)) == [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def gd_and_gf():
    spec = make_spec(model="shallow_linear", phi=1.0, a=A, b=B, step_sizes=(0.05, 0.3, 0.6),
                     max_iters=2000, tol=1e-10)
    gd = run_spec(spec, use_cache=False).result
    horizon = max(r.last_iteration for r in gd.runs)
    gf = run_spec(spec.replace(algorithm="gradient_flow", max_iters=horizon),
                  use_cache=False).result
    return gd, gf


def test_lambda_axis_is_set_by_the_runs_not_by_a_far_2_over_eta_line(gd_and_gf):
    gd, gf = gd_and_gf
    norm = ps.history_display(gd, gf, "norm")
    low, high = norm.window
    finals = [r.extras["final_sharpness"] for r in gd.runs]
    lam_gf = gd.runs[0].extras["gf_sharpness"]
    assert low < min(finals) and lam_gf < high < 2 / 0.6             # 2.3 … 2.7 fill the axis
    assert {g.label for g in norm.outside} >= {"2/η (η = 0.05)", "2/η (η = 0.3)"}
    assert all(low <= g.value <= high for g in norm.inside)
    figure = norm.to_plotly()
    assert figure.layout.title.subtitle.text.startswith("↑ above the view: 2/η (η = 0.05) = 40")
    # negative control: the residual has no guides and a log window over the runs
    residual = ps.history_display(gd, gf, "residual")
    assert not residual.inside and not residual.outside and residual.log_y


def test_gd_gf_caption_states_the_measured_sharpness(gd_and_gf):
    gd, gf = gd_and_gf
    facts = ps.GdGfFacts.build(gd, gf)
    text = facts.caption
    assert text.startswith("What to look for: GD ends flatter than gradient flow at every step size")
    for record in gd.runs:
        sharpness = human_number(record.extras["final_sharpness"])
        assert f"{sharpness} at η = {record.step_size:g}" in text
    # gradient flow that failed: the GD facts stay, one sentence says what is missing
    alone = ps.GdGfFacts.build(gd, None)
    assert "Gradient flow did not finish" in alone.caption and "GD ends flatter" in alone.caption
    assert ps.history_display(gd, None, "norm").series                 # GD still drawn


@pytest.mark.slow
def test_charts_draw_a_bounded_number_of_runs_and_points():
    steps = tuple(float(x) for x in np.geomspace(1e-3, 0.6, 40))
    spec = make_spec(model="shallow_linear", phi=1.0, a=A, b=B, step_sizes=steps, max_iters=3000,
                     run_to_max=True, history_points=4000)
    gd = run_spec(spec, use_cache=False).result
    display = ps.history_display(gd, None, "residual")
    assert len(display.series) == ps.RUNS_DRAWN
    assert sum(s.x.size for s in display.series) <= ps.CHART_POINTS
    assert any("12 of 40 runs drawn" in note for note in display.notes)
    # negative control: three runs of few points are drawn whole, with no note
    small = ps.history_display(gd.__class__(spec, gd.runs[:3], gd.meta), None, "residual")
    assert len(small.series) == 3 and not any(small.notes)


def test_catapult_window_shows_the_spike_on_a_linear_axis():
    a, b = (1.0, 0.3), (0.2, 0.9)
    lam0 = sum(v * v for v in a + b)
    spec = make_spec(model="shallow_linear", phi=0.0, a=a, b=b, max_iters=5000, tol=1e-10,
                     step_sizes=tuple(x / lam0 for x in (1.5, 3.0, 4.5)))
    result = run_spec(spec, use_cache=False).result
    rows = ps.catapult_rows(result)
    loss = ps.catapult_display(result, "loss", linear=True)
    peak = max(float(np.nanmax(s.y)) for s, r in zip(loss.series, result.runs) if not r.diverged)
    assert loss.window_y[0] == 0 and peak <= loss.window_y[1] < 2 * peak   # the spike fills it
    assert loss.window_x is not None and loss.window_x < loss.last
    text = ps.catapult_look_for(result)
    spike = human_number(rows[1]["peak loss / initial loss"], 2)
    assert f"ηλ(0) = 3: the loss spikes ×{spike}" in text
    assert "ηλ(0) = 1.5: the loss falls without a spike" in text
    assert f"ηλ(0) = 4.5 diverges at k = {result.runs[2].diverged_at}" in text
    assert rows[2]["peak loss / initial loss"] == "diverged"             # not the blow-up
    assert rows[2]["final sharpness λ_∞"] == "diverged" and rows[2]["λ_∞ < 2/η"] == "—"
    assert rows[1]["λ_∞ < 2/η"] is True and isinstance(rows[1]["final sharpness λ_∞"], float)
    shown = [cell for row in missing_as_text(rows) for cell in row.values()]
    assert None not in shown and not any(str(cell) in ("None", "nan") for cell in shown)
    table = missing_as_text(rows)
    assert table[2]["λ_∞ < 2/η"] == "—" and table[1]["λ_∞ < 2/η"] == "yes"
    assert table[0]["η"] == rows[0]["η"]              # a column without gaps keeps its numbers
    # negative control: on the log axis the window spans many decades
    log = ps.catapult_display(result, "loss", linear=False)
    assert log.window_y[1] - log.window_y[0] > 5


def _curve(x, y, solved=None) -> "ps.ScaleCurve":
    x, y = np.asarray(x, float), np.asarray(y, float)
    solved = np.ones(x.size, bool) if solved is None else np.asarray(solved)
    return ps.ScaleCurve(4.0, 20.0, x, y, solved, ["solved"] * x.size, "#000", None, None)


def _figure3(curve, quantity) -> "ps.Figure3Display":
    display = ps.Figure3Display(title="", quantity=quantity, budget_iters=3000, curves=[curve])
    display.facts = ps._figure3_facts([curve], quantity == "steps")
    return display


def test_figure3_caption_names_where_the_steps_bottom_out_and_the_peak_after_it():
    """At s = 4 the most steps are at the smallest ηλ(0) (small steps are slow): the caption
    said "the steps peak at 358 at ηλ(0) = 0.05"; it now says where they bottom out and the
    peak after it, the blow-up near ηλ(0) ≈ 2 that the figure is about."""
    x = [0.05, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    steps = _figure3(_curve(x, [358, 30, 2, 40, 130, 20, 70]), "steps")
    ratio = _figure3(_curve(x, [1.0, 0.9, 0.8, 0.5, 0.3, 0.2, 0.05]), "ratio")
    text = ps.figure3_look_for(ratio, steps)
    assert "the steps to converge fall to 2 at ηλ(0) = 1, then rise to 130 at ηλ(0) = 2" in text
    assert "358" not in text and "S falls from 1 at ηλ(0) = 0.05 to 0.05 at 3" in text
    # negative control: steps that only fall name no rise
    falling = _figure3(_curve(x, [358, 200, 100, 50, 20, 10, 5]), "steps")
    text = ps.figure3_look_for(ratio, falling)
    assert "fall to 5 at ηλ(0) = 3" in text and "rise" not in text
    # S that moves by less than its written digits does not "fall from 1 to 1"
    flat = _figure3(_curve(x, [1.0, 1.0, 0.99999, 0.99998, 0.99997, 0.99996, 0.99995]), "ratio")
    text = ps.figure3_look_for(flat, steps)
    assert "S does not fall below its value at the smallest ηλ(0) (1)" in text
    assert "falls from 1 at ηλ(0) = 0.05 to 1" not in text


def test_gd_gf_caption_says_as_flat_when_the_sharpness_agrees_to_the_digits_shown():
    # A tiny random start (d = 50, s = 0.01) is already balanced: GD ends at λ_∞ = 2.0000000035
    # and 2.0000000002, gradient flow at 2.0000000099; the caption said "GD ends flatter than
    # gradient flow at every step size that converged: λ_∞ = 2 …, against λ_GF = 2".
    spec = make_spec(model="shallow_linear", phi=1.0, init="random", d=50, init_scale=0.01,
                     step_sizes=(0.1, 0.9), max_iters=3000)
    gd = run_spec(spec).result
    gf = run_spec(spec.replace(algorithm="gradient_flow",
                               max_iters=max(r.last_iteration for r in gd.runs))).result
    text = ps.GdGfFacts.build(gd, gf).caption
    assert "GD ends flatter" not in text
    assert text.startswith("What to look for: GD ends as flat as gradient flow (within 0.1 %) "
                           "at every step size that converged")


def test_figures12_note_counts_the_steps_that_grow_q():
    # η = 1.5 from (2, 0.1): η|ε| > √2, so |1 − η²ε²| > 1 and |Q| grows (3.99 -> 1.8·10¹⁹¹);
    # the note said "each step lands on a level set of smaller |Q|".
    def regions(eta, a, b, iters=300):
        specs = [make_spec(model="shallow_linear", phi=1.0, a=(x,), b=(y,), step_sizes=(eta,),
                           max_iters=iters, tol=1e-10, history_points=max(iters, 8))
                 for x, y in zip(a, b)]
        return ps.regions_display([run_spec(s).result for s in specs], [None] * len(specs))
    large = regions(1.5, (2.0, 0.1), (0.1, -2.0))
    assert "smaller |Q|" not in large.note
    assert large.note.startswith("|Q| grew at ") and "η|ε| > √2" in large.note
    assert "holds to" not in large.caption and "is off by up to" in large.caption   # 8·10¹²⁶
    # negative control: the view's defaults (η = 0.3) shrink |Q| at every step
    small = regions(0.3, (1.5, 0.3, 1.2), (1.0, 1.2, -0.4))
    assert small.note.startswith("each step lands on a level set of smaller |Q|")
    assert "Q⁺ = (1 − η²ε²)Q holds to" in small.caption


def test_values_beyond_the_orbit_view_are_marked_on_its_edges():
    rng = np.random.default_rng(1)
    columns = [column(x, rng.normal(0, 1, 50)) for x in np.linspace(0, 1, 100)]
    columns.append(column(1.1, np.r_[rng.normal(0, 1, 47), 1e6, 2e6, -3e6]))   # 3 of 5 050 values
    diagram = orbit(columns)
    assert (1.1, 2, 1) in diagram.beyond
    assert diagram.outside == sum(a + b for _, a, b in diagram.beyond) > 0
    figure = diagram.to_plotly()
    edges = {t.name: t for t in figure.data if t.meta == "edge"}
    above, below = edges["values above the view"], edges["values below the view"]
    assert 1.1 in above.x and 1.1 in below.x
    assert set(above.y) == {diagram.y_window[1]} and set(below.y) == {diagram.y_window[0]}
    assert "2 values above the view" in " ".join(above.text)
    # negative control: values all inside the view, no edge marks
    inside = orbit(columns[:100])
    assert inside.outside == 0 and not any(t.meta == "edge" for t in inside.to_plotly().data)


def test_theorem1_legend_states_eta_star_where_a_narrow_column_still_shows_it(gd_and_gf):
    """The flatter scenario draws this chart in a ~420 px column: a one-line legend entry
    "Theorem 1: η* = min{1/(2|ε₀|), 2/√(λ₀² + 4Φ²)} = 0.4902" was cut at the chart's edge
    and read "… = 0". Each legend line fits in 40 characters and the value comes first."""
    gd, _ = gd_and_gf
    figure = ps.theorem1_figure(gd)
    names = [trace.name for trace in figure.data if trace.showlegend is not False and trace.name]
    lines = [line for name in names for line in name.split("<br>")]
    assert all(len(line) <= 40 for line in lines), lines
    bound = gd.runs[0].extras["theorem1_step_bound"]
    (theorem,) = [name for name in names if "Theorem 1" in name]
    assert f"η* = {human_number(bound, 4)}" in theorem.split("<br>")[0], theorem
    assert "differs per start" not in (figure.layout.title.subtitle.text or "")


def test_theorem1_chart_says_why_it_draws_no_eta_star_for_random_starts():
    """Random inits with several seeds: η* is one per start, so no line was drawn, without a
    word, on the chart titled "η against Theorem 1's η*"."""
    spec = make_spec(model="shallow_linear", init="random", d=3, seeds=(0, 1, 2),
                     step_sizes=(0.05, 0.3), max_iters=300, tol=1e-10)
    gd = run_spec(spec, use_cache=False).result
    figure = ps.theorem1_figure(gd)
    bounds = sorted(r.extras["theorem1_step_bound"] for r in gd.runs)
    assert not any("Theorem 1" in (t.name or "") for t in figure.data)
    assert (f"η* differs per start: {human_number(bounds[0], 3)} to {human_number(bounds[-1], 3)}"
            in figure.layout.title.subtitle.text)


# ---------------------------------------------------------------------- audit B (non-default settings)
def _gd_gf(step_sizes, dtype="float64", max_iters=2000, phi=1.0):
    spec = make_spec(model="shallow_linear", phi=phi, a=A, b=B, step_sizes=step_sizes,
                     max_iters=max_iters, tol=1e-10, dtype=dtype)
    gd = run_spec(spec, use_cache=False).result
    horizon = min(max([r.last_iteration for r in gd.runs] + [10]), max_iters)
    gf = run_spec(spec.replace(algorithm="gradient_flow", max_iters=horizon, dtype="float64"),
                  use_cache=False).result
    return gd, gf


def test_a_diverged_runs_cross_sits_on_the_edge_it_leaves_not_at_its_last_finite_value():
    """step_size=0.05,0.6,1.5,5: the × of η = 1.5 and 5 sat at |ε| = 4.8·10²²⁸ and 2.3·10¹²⁹,
    far above the log view [10⁻¹³, 10¹·³], so the '× where it left the chart' of the caption
    was on no chart."""
    gd, gf = _gd_gf((0.05, 0.6, 1.5, 5.0))
    for metric in ("residual", "norm", "imbalance", "sharpness"):
        display = ps.history_display(gd, gf, metric)
        low, high = display.window
        assert len(display.crosses) == 2, metric
        for k, y, text in display.crosses:
            units = math.log10(y) if display.log_y else y
            assert math.isclose(units, low) or math.isclose(units, high), (metric, y)
            assert "diverged at k =" in text
    # S(t) of a diverged run falls to −8·10²²⁸: its × is on the bottom edge
    imbalance = ps.history_display(gd, gf, "imbalance")
    assert all(math.isclose(y, imbalance.window[0]) for _, y, _ in imbalance.crosses)
    # negative control: a run that stays finite has no ×, and one that leaves no view (no
    # window) keeps its last finite point
    calm = ps.history_display(*_gd_gf((0.05, 0.6)), "residual")
    assert not calm.crosses
    record = gd.runs[2]
    values = np.abs(np.asarray(record.history["residual"], dtype=float))
    assert ps._divergence_mark(record, values, False)[1] == values[np.isfinite(values)][-1]


def test_float32_gd_is_drawn_beside_its_gradient_flow():
    """dtype=float32: GD keeps η = 0.6000000238418579, the flow 0.6, and every GF line, the
    table's GF columns and the flow's part of the caption went missing without a word."""
    gd, gf = _gd_gf((0.05, 0.6), dtype="float32")
    names = [s.name for s in ps.history_display(gd, gf, "norm").series]
    assert "GF η=0.05" in names and "GF η=0.6" in names
    rows = ps.summary_rows(gd, gf)
    assert all("GF final λ (t = kη)" in row for row in rows)
    text = ps.GdGfFacts.build(gd, gf).caption
    # tol 10⁻¹⁰ is below float32's 1.2·10⁻⁷ near Φ = 1: more iterations would not help
    assert "raise the iterations" not in text and "raise the tolerance or use float64" in text
    # negative control: float64 runs match their flow as before, and with a reachable tol the
    # float32 caption says where GD ends
    assert "GF η=0.6" in [s.name for s in ps.history_display(*_gd_gf((0.05, 0.6)), "norm").series]
    spec = gd.spec.replace(tol=1e-5)
    reachable = run_spec(spec, use_cache=False).result
    assert ps.GdGfFacts.build(reachable, gf).caption.startswith("What to look for: GD ends flatter")


def test_catapult_states_no_lambda_infinity_for_a_run_that_has_not_converged():
    """cat_eta_lambda=3&cat_iters=50: |ε| = 3·10⁻¹⁰ > tol at k = 50 ('not converged'), yet
    the caption said 'ending at λ_∞ = 0.0967 < 2/η' and the table 'λ_∞ < 2/η: True'."""
    a, b = (1.0, 0.3), (0.2, 0.9)
    lam0 = sum(v * v for v in a + b)
    spec = make_spec(model="shallow_linear", phi=0.0, a=a, b=b, max_iters=50, tol=1e-10,
                     step_sizes=(1.5 / lam0, 3.0 / lam0))
    result = run_spec(spec, use_cache=False).result
    assert result.runs[1].iterations_to_solve is None and not result.runs[1].diverged
    rows = ps.catapult_rows(result)
    assert rows[1]["final sharpness λ_∞"] == "no minimum reached" and rows[1]["λ_∞ < 2/η"] == "—"
    text = ps.catapult_look_for(result)
    assert "ηλ(0) = 3: the loss spikes" in text and "not at a minimum within 50 steps" in text
    assert text.count("ending at λ_∞") == 1
    # negative control: the run that converged (k = 12) keeps its λ_∞ and comparison
    assert rows[0]["λ_∞ < 2/η"] is True and "ηλ(0) = 1.5: the loss falls without a spike, ending at" in text


def _regions(eta, a, b, iters=50, phi=1.0):
    specs = [make_spec(model="shallow_linear", phi=phi, a=(x,), b=(y,), step_sizes=(eta,),
                       max_iters=iters, tol=1e-10, history_points=max(iters, 8))
             for x, y in zip(a, b)]
    return ps.regions_display([run_spec(s, use_cache=False).result for s in specs], [None] * len(specs))


def test_figures12_views_are_set_by_the_paths_that_stay_finite():
    """fig12_eta=1.5&fig12_iters=50: the start (1.2, −0.4) diverges (λ = 10²⁸⁶), and the
    (a, b) plane spanned ±10¹⁴³ and the λ axis 10²⁸⁶: the two other paths were dots."""
    display = _regions(1.5, (1.5, 0.3, 1.2), (1.0, 1.2, -0.4))
    assert [p.diverged for p in display.paths] == [False, False, True]
    (x0, x1), (y0, y1) = display.box
    assert x1 - x0 < 50 and y1 - y0 < 50
    figure = display.norm_plotly()
    low, high = figure.layout.yaxis.range
    assert high < 50 and max(float(np.max(p.norm)) for p in display.paths[:2]) <= high
    marks = [t for t in figure.data if t.name == "diverged (leaves the view)"]
    assert len(marks) == 1 and math.isclose(marks[0].y[0], high)
    # negative control: without a diverged path the λ axis is left to plotly and no ×
    calm = _regions(0.3, (1.5, 0.3), (1.0, 1.2), iters=300).norm_plotly()
    assert calm.layout.yaxis.range is None and not [t for t in calm.data if t.name and "diverged" in t.name]


def test_figures12_a_start_on_the_minima_is_named_and_not_called_thinned():
    """fig12_a=1,0.5&fig12_b=1,0.5: (1, 1) is a minimum of Φ = 1 (no step): the caption said
    '(1, 1) starts in —' and the chart '1 path recorded thinned'."""
    display = _regions(0.3, (1.0, 0.5), (1.0, 0.5), iters=3)
    assert "(1, 1) starts on the minima aᵀb = Φ" in display.caption and "starts in —" not in display.caption
    assert not any("thinned" in note for note in display.notes)
    # negative control: the other start still names its region
    assert "(0.5, 0.5) starts in ε < 0 < aᵀb" in display.caption


def test_orbit_transients_of_a_short_run_are_not_called_period_doubling_or_chaos():
    """orbit_iters=5&orbit_tail=3: the 3 last values of converging runs (η|Φ| = 0.8 …) were
    '199 end on a cycle of 2–16 values (period doubling), from η|Φ| = 0.8'; with
    orbit_iters=100 'chaos from η|Φ| = 0.977', below the first doubling at η|Φ| = 1."""
    def diagram(iters, tail, low=0.8, high=1.6, count=200):
        steps = tuple(float(x) for x in np.linspace(low, high, count))
        spec = make_spec(model="shallow_linear", phi=1.0, a=(0.7,), b=(0.7,), step_sizes=steps,
                         max_iters=iters, run_to_max=True, tail_points=tail, history_points=16)
        return ps.orbit_diagram(run_spec(spec, use_cache=False).result)
    short = diagram(5, 3)
    assert short.facts["cycles"] == short.facts["bands"] == 0 and short.facts["moving"] > 190
    assert "still moving" in short.caption and "period doubling" not in short.caption
    hundred = diagram(100, 64)
    assert hundred.facts["first_cycle"] > 1 and hundred.facts["first_band"] > 1
    # negative control: with the default 2000 iterations the cycles start just past 1 and the
    # chaos past 1.3, and none of them is a transient
    full = diagram(2000, 64)
    assert 1 < full.facts["first_cycle"] < 1.01 and 1.29 < full.facts["first_band"] < 1.32
    assert full.facts["moving"] == 0


def test_a_true_period_two_cycle_and_a_decaying_alternation_are_told_apart():
    decaying = column(0.99, 0.3 * (-0.95) ** np.arange(64))
    cycle = column(1.05, np.tile([-0.03, 0.03], 32))
    facts = orbit([decaying, cycle]).facts
    assert facts["cycles"] == 1 and facts["first_cycle"] == 1.05 and facts["moving"] == 1


def test_orbit_with_a_negative_target_says_the_balanced_runs_settle_at_the_saddle():
    spec = make_spec(model="shallow_linear", phi=-2.0, a=(0.7,), b=(0.7,),
                     step_sizes=tuple(float(x) for x in np.linspace(0.4, 0.8, 8)), max_iters=500,
                     run_to_max=True, tail_points=16, history_points=16)
    text = ps.orbit_diagram(run_spec(spec, use_cache=False).result, "product").caption
    assert "saddle a = b = 0" in text
    # negative control: Φ > 0 says nothing of a saddle
    positive = ps.orbit_diagram(run_spec(spec.replace(phi=2.0), use_cache=False).result).caption
    assert "saddle" not in positive


def test_figure3_s_axis_ignores_a_blow_up_among_two_values_and_names_far_regime_lines():
    """scales=1&eta_lambda_count=2&fig3_iters=5: S = 0.99 and −2.6·10⁵⁰ gave the S axis
    [−2.7·10⁵⁰, 10⁴⁹] (0.99 on the zero line); the default's η|ε(0)| = 1 lines of s = 2, 4, 8
    (ηλ(0) = 5, 20, 80) lay right of the view [0, 3] without a word."""
    assert ps.robust_linear_range([0.9934, -2.553e50]) == (0.9934, 0.9934)
    assert ps.robust_linear_range([-2.553e50, 1e49]) == (-2.553e50, 1e49)      # only blow-ups: kept
    curves = [ps.ScaleCurve(s, 1.25 * s * s, np.array([0.05, 3.0]), np.array([1.0, 0.5]),
                            np.array([True, True]), ["", ""], "#000", 1.25 * s * s, None)
              for s in (1.0, 2.0)]
    note = ps._off_view_lines(curves)
    assert "s = 2: η|ε(0)| = 1 at ηλ(0) = 5" in note and "s = 1" not in note
    # negative control: lines inside the range are drawn, not named
    assert ps._off_view_lines(curves[:1]) == ""


def test_a_loose_tolerance_is_not_read_as_gd_ending_flatter():
    """tol=0.3: GD stops at |ε| ≤ 0.3 after 12, 2 and 1 steps with sharpness 2.23, 2.28,
    2.68 (limits λ_GD = 2.74, 2.62, 2.33); the caption called those 'final sharpness λ_∞' and
    said 'GD ends flatter than gradient flow at every step size'. tol=1e5: no step at all."""
    for tol in (0.3, 1e5):
        spec = make_spec(model="shallow_linear", phi=1.0, a=A, b=B, step_sizes=(0.05, 0.3, 0.6),
                         max_iters=2000, tol=tol)
        gd = run_spec(spec, use_cache=False).result
        text = ps.GdGfFacts.build(gd, None).caption
        assert "GD ends flatter" not in text and "λ_∞ =" not in text, tol
        assert "3 runs stopped at |ε| ≤ tol" in text and "lower the tolerance" in text
        assert "raise the iterations" not in text
    # negative control: at the default tol every run is at its limit and GD ends flatter
    gd = run_spec(spec.replace(tol=1e-10), use_cache=False).result
    text = ps.GdGfFacts.build(gd, None).caption
    assert text.startswith("What to look for: GD ends flatter") and "stopped at" not in text


def test_trajectory_view_keeps_the_paths_that_stay_near_beside_one_that_diverges():
    """step_size=0.05,0.6,1.5,5: the two diverged paths kept the box from growing to the
    converged η = 0.6 path, which ended below the view without a word."""
    gd, gf = _gd_gf((0.05, 0.6, 1.5, 5.0))
    display = ps.trajectory_display(gd, gf)
    (x0, x1), (y0, y1) = display.box
    for line, _ in display.gd_paths[:2]:                     # η = 0.05 and 0.6: converged
        assert x0 <= line.x[-1] <= x1 and y0 <= line.y[-1] <= y1, line.name
    note = display.notes[1]
    assert note.startswith("GD η=1.5, GD η=5 end outside the view")
    # negative control: converged runs only: no note
    calm = ps.trajectory_display(*_gd_gf((0.05, 0.6)))
    assert calm.notes[1] == ""


def test_figure3_steps_that_are_fewest_at_the_first_value_do_not_fall():
    """phi=0 (axes init): every start is a minimum, 0 steps everywhere; the caption said
    'the steps to converge fall to 0 at ηλ(0) = 0.05', the smallest ηλ(0)."""
    x = [0.05, 1.0, 2.0]
    steps = _figure3(_curve(x, [0, 0, 0]), "steps")
    ratio = _figure3(_curve(x, [1.0, 1.0, 1.0]), "ratio")
    text = ps.figure3_look_for(ratio, steps)
    assert "are fewest (0) at the smallest ηλ(0) = 0.05" in text and "fall to 0" not in text
    assert "costs steps" not in text                     # no step is spent anywhere
    drawn = steps.to_plotly()
    (line,) = [t for t in drawn.data if (t.name or "").startswith("s = 4")]
    assert list(line.y) == [1.0, 1.0, 1.0] and list(line.customdata) == [0.0, 0.0, 0.0]
    assert "customdata" in line.hovertemplate             # the hover reads 0, not the axis's 1
    assert "0 steps (a start already within tol) drawn at 1" in drawn.layout.title.subtitle.text
    # negative control: steps that do fall say so, and that a rise after costs steps
    falling = _figure3(_curve(x, [50, 3, 40]), "steps")
    assert "fall to 3 at ηλ(0) = 1" in ps.figure3_look_for(ratio, falling)
    assert "it costs steps" in ps.figure3_look_for(ratio, falling)
    assert "drawn at 1" not in (falling.to_plotly().layout.title.subtitle.text or "")


@pytest.mark.parametrize("a, b, d", [((1.0, 0.5), (1.0, 0.5), 2), ((0.8,), (0.8,), 1)])
def test_the_trajectory_caption_says_a_balanced_start_stays_balanced(gd_and_gf, a, b, d):
    """A balanced start (a = b: C₀ = 0) has no C for GD to shrink: the caption said GD "lands
    closer to the balanced point" there too."""
    spec = make_spec(model="shallow_linear", phi=1.0, a=a, b=b, step_sizes=(0.05, 0.3),
                     max_iters=500, tol=1e-10)
    balanced = ps.TrajectoryDisplay.build(run_spec(spec, use_cache=False).result, None)
    assert balanced.balanced_start()
    assert "balanced (C = 0)" in balanced.caption() and "lands closer" not in balanced.caption()
    assert ("(a, b) plane" in balanced.caption()) == (d == 1)
    # negative control: the default unbalanced start keeps the sentence on shrinking C
    unbalanced = ps.TrajectoryDisplay.build(*gd_and_gf)
    assert not unbalanced.balanced_start()
    assert "shrinks C" in unbalanced.caption() and "balanced (C = 0)" not in unbalanced.caption()


def test_the_gradient_flow_path_merges_every_flow_run_into_one_dense_curve_on_c_const():
    """Every flow run of a start follows one curve (C = x²y² const), sampled at t = kη: the
    path came from the largest η's run alone, 3 samples at η = 5: a chord across the curve."""
    gd, gf = _gd_gf((0.05, 5.0))
    display = ps.TrajectoryDisplay.build(gd, gf)
    (flow,) = display.gf_paths
    alone = max(gf.runs, key=lambda r: r.step_size)
    assert flow.x.size > len(alone.history["iteration"])          # denser than that run
    conserved = (flow.x * flow.y) ** 2
    assert np.allclose(conserved, conserved[0], rtol=1e-6), conserved     # on C = C₀
    # negative control: GD's own path (η = 0.05) shrinks C, so it is not that curve
    path = next(line for line, _ in display.gd_paths if "0.05" in line.name)
    c_gd = (path.x * path.y) ** 2
    assert c_gd[-1] < 0.99 * c_gd[0]


@pytest.mark.parametrize("log_y", [False, True])
def test_an_orbit_diagram_of_only_diverged_runs_says_so_and_shows_no_y_scale(log_y):
    """Every run diverged: the × marks sat at an arbitrary height (loss 10) on an unlabelled
    1–100 axis with no note; now the axis has no tick labels, the × lie on the top edge and
    the chart says why nothing else is drawn. Negative control: one finite run keeps its scale."""
    diverged = [OrbitColumn(x, np.array([1.0, np.inf]), np.arange(2), True, 1)
                for x in (1.0, 2.0, 3.0)]
    build = lambda cols: OrbitDiagram.build(cols, title="o", x_title="x", y_title="y",
                                            x_name="x", log_y=log_y)
    figure = build(diverged).to_plotly()
    assert figure.layout.yaxis.showticklabels is False
    low, high = figure.layout.yaxis.range
    top = math.log10(figure.data[-1].y[0]) if log_y else figure.data[-1].y[0]
    assert top == high
    assert "every run diverged" in figure.layout.title.subtitle.text
    kept = build(diverged + [column(0.5, np.tile([0.1, 0.3], 8))]).to_plotly()
    assert kept.layout.yaxis.showticklabels is not False
    subtitle = kept.layout.title.subtitle.text if kept.layout.title.subtitle else ""
    assert "every run diverged" not in (subtitle or "")


def test_the_player_names_its_frame_in_a_visible_colour():
    """The slider's tick labels are transparent (40 would overlap); the current frame's name
    above the rail inherited that colour and was invisible. Negative control: the ticks stay
    transparent."""
    figure = OrbitDiagram.build([column(x, np.tile([0.1, 0.3], 8)) for x in (1.0, 2.0)],
                                title="o", x_title="x", y_title="y", x_name="x").to_plotly()
    slider = figure.layout.sliders[0]
    assert slider.currentvalue.font.color not in (None, "rgba(0,0,0,0)")
    assert slider.font.color == "rgba(0,0,0,0)"


def test_shallow_panels_grow_to_show_their_whole_legend(gd_and_gf):
    """Four step sizes on GD vs GF: ten legend entries beside a 226 px plot scrolled, hiding
    runs; the catapult's λ chart with 14 entries likewise. The chart grows (up to a cap)."""
    from core.report import plots
    gd, gf = _gd_gf((0.05, 0.6, 1.5, 5.0))
    figure = ps.history_figure(gd, gf, "norm", height=360)
    rows = sum(1 for t in figure.data if t.showlegend is not False and t.name)
    plot = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
    assert rows >= 9 and plot >= min(rows * 2 * figure.layout.legend.font.size + 24, plots.MAX_LEGEND_PLOT)
    # negative control: one step size, a short legend: the chart keeps its height
    small = ps.history_figure(*_gd_gf((0.05,)), "norm", height=460)
    assert small.layout.height == 460


def test_figures12_caption_reads_q_at_rounding_level_and_names_regions_it_counts():
    """fig12_eta=1.5: (0.3, 1.2) ends with Q = a² − b² = 0 at rounding level, and the caption
    read "×0 = Π(1 − η²ε²) = −1.16·10⁻¹⁶"; phi=-1 from (1, −0.5), whose steps all lie outside
    ε < 0 < aᵀb, read "In the other two regions λ fell at 0 of 21 steps and grew at 21"."""
    caption = _regions(1.5, (1.5, 0.3, 1.2), (1.0, 1.2, -0.4)).caption
    assert "(0.3, 1.2) starts in ε < 0 < aᵀb: GD takes Q from −1.35 to ≈ 0, the rounding level" in caption
    assert "×0 =" not in caption
    one = _regions(0.3, (1.0,), (-0.5,), phi=-1.0).caption
    assert "other two regions" not in one and "fell at 0 of" not in one
    assert "λ grew at every one of the 21 steps taken outside ε < 0 < aᵀb" in one
    # negative control: a Q that shrinks by a readable factor keeps its ratio
    assert "(×0.9773 = Π(1 − η²ε²) = 0.9773)" in _regions(0.3, (1.5,), (1.0,)).caption


def test_figure3_reads_s_by_its_size_and_says_where_the_imbalance_grew():
    """scales=0.5: S went to −9.24 at ηλ(0) = 1 (|Q| grew ninefold, its sign flipped) and the
    caption said "S falls from 0.859 … to −9.24", then "smaller S is more regularization"."""
    x = [0.05, 0.5, 1.0, 1.5]
    ratio = _figure3(_curve(x, [0.86, 0.3, -9.24, 0.5]), "ratio")
    steps = _figure3(_curve(x, [300, 20, 4, 40]), "steps")
    text = ps.figure3_look_for(ratio, steps)
    assert "S falls from 0.86 at ηλ(0) = 0.05 to 0.3 at 0.5" in text and "to −9.24" not in text
    assert "|S| > 1 at 1 value of ηλ(0): the imbalance grew there" in text
    assert "Smaller |S| is more implicit regularization" in text
    # negative control: S within [0, 1] names no growth
    calm = _figure3(_curve(x, [0.86, 0.3, 0.1, 0.5]), "ratio")
    assert "|S| > 1" not in ps.figure3_look_for(calm, steps)
    assert "to 0.1 at 1" in ps.figure3_look_for(calm, steps)
