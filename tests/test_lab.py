"""The hypothesis lab (core.analysis.lab): the plan, the tidy table, censored fits, and the same
answers as sweep-d and `run`."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from core.analysis import lab
from core.cli import main
from core.kernel.fields import FIELDS
from core.analysis.scaling import Curve, fit_loglog, sweep_dimensions
from core.kernel.spec import RunSpec, SpecError, make_spec

MINIMAL = "dataset=minimal&algorithm=gd&seed=0:7&max_iters=20000&history_points=16"


def cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------- same answers
@pytest.mark.slow
def test_a_sweep_of_d_and_model_gives_the_counts_and_slopes_of_sweep_d():
    dims = [16, 32, 64]
    table = lab.sweep(MINIMAL, vary={"d": "16:64:x2", "model": "linear,two_layer_conv"},
                      measures=["iterations_to_solve"], step_rule="scaled")
    base = make_spec(**{"dataset": "minimal", "algorithm": "gd", "seeds": tuple(range(8)),
                        "max_iters": 20000, "history_points": 16, "d": 16})
    curves = [Curve("linear", "gd", "scaled"), Curve("two_layer_conv", "gd", "scaled")]
    reference = sweep_dimensions(base, curves, dims)
    assert len(table) == 2 * 3 * 8
    for curve in curves:
        for d in dims:
            rows = table[(table.model == curve.model) & (table.d == d)].sort_values("seed")
            expected = reference.iterations[(curve, d)]
            got = rows.iterations_to_solve.astype(float).fillna(math.inf).to_numpy()
            np.testing.assert_array_equal(got, expected)
            assert np.allclose(rows.step_size, reference.step_sizes[(curve, d)], rtol=1e-15)
    fits = lab.fit(table, x="d").set_index("model")
    for curve in curves:   # the lab fits the medians (sweep-d's own fit is of the p90)
        medians = np.array([np.median(reference.iterations[(curve, d)]) for d in dims])
        slope, intercept = fit_loglog(np.asarray(dims, dtype=float), medians)
        mine = fits.loc[curve.model]
        assert (mine.slope, mine.intercept) == pytest.approx((slope, intercept), rel=1e-12)
        assert mine.ci_low <= mine.slope + 1e-12 and mine.slope <= mine.ci_high + 1e-12
    assert fits.loc["two_layer_conv"].slope < fits.loc["linear"].slope or \
        fits.loc["linear"].slope < 0.2          # linear GD at the scaled step solves in 2


@pytest.mark.slow
def test_a_sweep_of_step_size_and_data_set_matches_run_row_for_row(capsys):
    table = lab.sweep("model=linear&algorithm=gd&max_iters=300&classes=0,1",
                      vary=["step_size=0.1,10,1000", "dataset=iris,wine"],
                      measures=["iterations_to_solve", "final_loss", "final_accuracy"])
    assert len(table) == 6 and set(table.dataset) == {"iris", "wine"}
    for row in table.itertuples():
        code, out, err = cli(capsys, "run", "--dataset", row.dataset, "--classes", "0,1",
                             "--step-size", repr(row.step_size), "--max-iters", "300",
                             "--format", "json")
        assert code == 0, err
        run = json.loads(out)["runs"][0]
        assert run["id"] == row.spec
        assert run["iterations_to_solve"] == (None if pd.isna(row.iterations_to_solve)
                                              else int(row.iterations_to_solve))
        assert run["final_loss"] == pytest.approx(row.final_loss, rel=1e-12)
        assert run["final_accuracy"] == pytest.approx(row.final_accuracy, rel=1e-12)


# ---------------------------------------------------------------------- the tidy table
def test_the_table_has_a_row_per_run_and_a_column_per_field_and_measure():
    table = lab.sweep("dataset=two_point&max_iters=50", vary={"step_size": "0.1,1,10",
                                                                "algorithm": "gd,normalized_gd"})
    assert len(table) == 6
    for f in FIELDS:
        assert f.url_name in table.columns
    for name in lab.DEFAULT_MEASURES:
        assert name in table.columns
    assert len(set(table.columns)) == len(table.columns)        # no field named like a measure
    for row in table.itertuples():
        spec = RunSpec.from_query(row.spec)
        assert spec.step_sizes == (row.step_size,) and spec.seeds == (row.seed,)
        assert spec.algorithm == row.algorithm
        assert row.view.startswith("/perceptron_dynamics?") and row.view.endswith(row.spec)
    rows = lab.to_rows(table)
    json.dumps(rows, allow_nan=False)
    assert rows[0]["seed"] == 0 and "iterations_to_solve" in rows[0]
    back = pd.read_parquet(io.BytesIO(lab.to_parquet(table)))
    assert list(back.columns) == list(table.columns) and len(back) == 6
    assert back.iterations_to_solve.tolist() == table.iterations_to_solve.tolist()


def test_the_a_b_network_reports_s_and_its_limit_sharpness():
    table = lab.sweep("model=shallow_linear&init=random&d=4&max_iters=4000&seed=0:1",
                      vary={"step_size": "0.05,0.3"})
    assert len(table) == 4 and table.view.str.startswith("/shallow?view=gd_gf&").all()
    assert table.final_accuracy.isna().all()                       # a classifier's measure
    solved = table[table.iterations_to_solve.notna()]
    assert len(solved) and (solved.limit_sharpness > 0).all()
    # λ_∞ ≤ λ_GF: GD ends at least as flat as gradient flow, flatter at the larger step
    assert (solved.sharpness_ratio <= 1 + 1e-9).all()
    big = solved[solved.step_size == 0.3]
    assert (big.imbalance_ratio < 1).all() and (big.sharpness_ratio < 1).all()


# ---------------------------------------------------------------------- fits
def _synthetic(values: dict[float, list[float | None]], budget: int = 40) -> pd.DataFrame:
    rows = [{"d": x, "seed": s, "max_iters": budget, "iterations_to_solve": v}
            for x, vs in values.items() for s, v in enumerate(vs)]
    table = pd.DataFrame(rows)
    table["iterations_to_solve"] = table.iterations_to_solve.astype("Int64")
    table.attrs.update({"varied": ["d"], "measures": ["iterations_to_solve"]})
    return table


def test_unsolved_runs_are_censored_at_the_budget_not_dropped():
    table = _synthetic({1.0: [10, 10, 10], 2.0: [20, None, None]}, budget=40)
    fit = lab.fit(table, x="d").iloc[0]
    assert fit.slope == pytest.approx(2.0)          # median 40 at d = 2: log2(40 / 10)
    assert fit.censored == 2 and fit.points == 2
    # negative control: dropping the unsolved runs would give the median 20, slope 1
    dropped = _synthetic({1.0: [10, 10, 10], 2.0: [20]})
    assert lab.fit(dropped, x="d").iloc[0].slope == pytest.approx(1.0)


def test_the_power_fit_is_the_slope_of_the_medians_the_page_states_and_draws():
    # medians 20 (of 10, 30) and 60 (of 20, 100): slope log2(3). The p90 (30 -> 100) or the
    # lower middle value (10 -> 20) would give another slope; the lab's table, chart, CLI
    # and scenarios all say "median".
    table = _synthetic({1.0: [10, 30], 2.0: [20, 100]}, budget=1000)
    fit = lab.fit(table, x="d").iloc[0]
    assert fit.slope == pytest.approx(math.log2(3))
    assert fit.intercept == pytest.approx(math.log(20))


def test_a_flat_groups_slope_reads_0_not_float_noise():
    """The lab_n_large_step scenario: normalized GD solves in 2 at every n, a slope the fit
    returns as -1.15e-17; the comparison, the chart's fit legend and the page say 0."""
    from core.report import lab_chart

    rows = [{"n": n, "seed": 0, "algorithm": a, "max_iters": 5000,
             "iterations_to_solve": n * 308 // 1000 if a == "gd" else 2}
            for n in (125, 250, 500, 1000, 2000) for a in ("gd", "normalized_gd")]
    table = pd.DataFrame(rows)
    table["iterations_to_solve"] = table.iterations_to_solve.astype("Int64")
    table.attrs.update({"varied": ["n", "algorithm"], "measures": ["iterations_to_solve"]})
    fits = lab.fit(table, x="n")
    assert fits.slope.iloc[1] != 0 and abs(fits.slope.iloc[1]) < 1e-12   # the noise is there
    sentence = lab.compare(fits).sentence
    assert "algorithm=normalized_gd: slope 0;" in sentence and "e-" not in sentence, sentence
    figure = lab_chart.figure(table, "iterations_to_solve", "n", "algorithm", None, fits)
    names = [t.name for t in figure.data if t.name and t.name.startswith("fit: slope")]
    assert any(name.startswith("fit: slope 0 [0, 0]") for name in names), names
    assert not any("e-" in name for name in names), names
    assert lab.clean_slope(fits.slope.iloc[1]) == 0 and lab.slope_text(-0.2512) == "-0.251"


def test_a_faceted_chart_names_each_facets_fit_and_every_group_once():
    """Facets by model, colours by algorithm: each facet's own fit is in the legend (its name
    says its group), and a group first drawn in the second facet is named too (the legend
    used to list the first facet's entries only)."""
    from core.report import lab_chart

    rows = [{"n": n, "seed": 0, "model": m, "algorithm": a, "max_iters": 5000,
             "iterations_to_solve": (n // 10 if m == "linear" else n // 100) + 1}
            for n in (100, 200, 400, 800) for m in ("linear", "mlp")
            for a in (("gd",) if m == "linear" else ("gd", "normalized_gd"))]
    table = pd.DataFrame(rows)
    table["iterations_to_solve"] = table.iterations_to_solve.astype("Int64")
    table.attrs.update({"varied": ["n", "model", "algorithm"], "measures": ["iterations_to_solve"]})
    fits = lab.fit(table, x="n")
    figure = lab_chart.figure(table, "iterations_to_solve", "n", "algorithm", "model", fits)
    named = [t.name for t in figure.data if t.showlegend is not False]
    assert len(named) == len(set(named))                                   # each entry once
    assert {"algorithm=gd", "algorithm=normalized_gd"} <= set(named)     # the second only in facet 2
    fit_names = [n for n in named if n.startswith("fit: slope")]        # they name their group
    assert any("model=linear" in n for n in fit_names), fit_names
    assert any("model=mlp" in n for n in fit_names), fit_names


def test_linear_fit_and_comparison_of_two_groups():
    rows = [{"n": n, "seed": s, "algorithm": a, "max_iters": 10**6,
             "iterations_to_solve": (3 * n if a == "gd" else 2) + s}
            for n in (10, 20, 40) for s in range(3) for a in ("gd", "normalized_gd")]
    table = pd.DataFrame(rows)
    table.attrs.update({"varied": ["n", "algorithm"], "measures": ["iterations_to_solve"]})
    fits = lab.fit(table, x="n", kind="linear")
    assert fits.set_index("algorithm").slope.to_dict() == pytest.approx({"gd": 3, "normalized_gd": 0})
    comparison = lab.compare(fits)
    assert comparison.separated and "do not overlap" in comparison.sentence
    same = lab.compare(pd.concat([fits.iloc[[0]], fits.iloc[[0]]], ignore_index=True))
    assert not same.separated and "overlap" in same.sentence


# ---------------------------------------------------------------------- the plan's checks
@pytest.mark.parametrize("vary, field, message", [
    ({"d": "1:1000000:x1.0001"}, "d", "at most 256 values"),
    ({"colour": "1,2"}, "vary", "cannot be varied"),
    ({"classes": "1,2"}, "vary", "cannot be varied"),
    ({"model": "linear,resnet"}, "model", "is not one of"),
    ({"d": "16,0"}, "d", "must be in"),
    ({"d": "1:200", "n": "2:200", "max_iters": "1,2"}, "vary", "at most 4096 batched runs"),
    ({"step_size": "1e-3:1e3:log4096", "seed": "0:1"}, "step_size", "at most 4096"),
    ({"activation": "relu,swish"}, "activation", "is not one of"),
])
def test_bad_plans_are_refused_before_anything_runs(vary, field, message):
    with pytest.raises(SpecError) as error:
        lab.plan("dataset=gaussian&model=mlp", vary, time_budget=None)
    assert error.value.field == field and message in str(error.value)


def test_the_plan_checks_memory_time_and_measures_first():
    with pytest.raises(SpecError, match=r"\(at d=1000000\)"):
        lab.plan("dataset=gaussian&n=1000&seed=0:4095", {"d": "10,1000000"})
    with pytest.raises(SpecError, match="over the budget of 1 s") as error:
        lab.plan("dataset=gaussian&max_iters=100000", {"d": "10:1000:x10"}, time_budget=1)
    assert error.value.field == "max_iters"
    with pytest.raises(SpecError, match="sharpness_every > 0"):
        lab.plan("dataset=gaussian", {"d": "10,20"}, measures=["sharpness"])
    with pytest.raises(SpecError, match="step_rule: scaled is defined on the minimal example"):
        lab.plan("dataset=gaussian", {"d": "10,20"}, step_rule="scaled")
    with pytest.raises(SpecError, match=r"^d: .*\(at d=1\)"):
        lab.plan("dataset=gaussian&model=two_layer_conv", {"d": "8,1"})
    # a data set brings its own shape and defaults; the base's classes stay where they fit
    chosen = lab.plan("dataset=digits&classes=3,8", {"dataset": "digits,iris"})
    assert [(p.spec.dataset, p.spec.classes, p.spec.d) for p in chosen.specs] == [
        ("digits", (3, 8), 64), ("iris", (0, 1), 2)]
    planned = lab.plan("dataset=gaussian&seed=0:3", {"d": "10,20", "step_size": "1,10"})
    assert planned.runs == 2 * 2 * 4 and len(planned.specs) == 2
    assert all(item.spec.batch_size == 8 for item in planned.specs)


def test_a_value_the_spec_ignores_runs_once_and_keeps_its_rows():
    planned = lab.plan("dataset=gaussian&model=two_layer_conv&activation=relu&d=8&n=20"
                       "&max_iters=20", {"leak": "0.01,0.1"})
    assert len(planned.specs) == 1 and len(planned.combinations) == 2   # leak: leaky_relu only
    table = lab.run(planned).table
    assert table.leak.tolist() == [0.01, 0.1] and table.spec.nunique() == 1


# ---------------------------------------------------------------------- CLI
def test_cli_sweep_json_csv_parquet_and_summary(capsys, tmp_path):
    args = ("sweep", "--base", "dataset=two_point&max_iters=50", "--vary", "step_size=0.1,1,10",
            "--vary", "algorithm=gd,normalized_gd", "--measure", "iterations_to_solve",
            "--measure", "final_loss")
    code, out, err = cli(capsys, *args, "--fit", "power", "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert len(document["rows"]) == 6 and "/lab?base=" in document["link"]
    row = document["rows"][0]
    assert {f.url_name for f in FIELDS} | {"seed", "iterations_to_solve", "final_loss"} <= set(row)
    assert {fit["algorithm"] for fit in document["fits"]} == {"gd", "normalized_gd"}
    code, out, err = cli(capsys, *args, "--format", "csv")
    assert code == 0 and out.count("\n") == 7 and "/lab?base=" in err
    target = tmp_path / "lab.parquet"
    code, out, err = cli(capsys, *args, "--format", "parquet", "--output", str(target))
    assert code == 0 and len(pd.read_parquet(target)) == 6
    code, out, err = cli(capsys, *args, "--fit", "power")
    assert code == 0 and "slope of the median" in out and "/lab?base=" in out


@pytest.mark.parametrize("args, flag", [
    (("--vary", "d"), "--vary"),
    (("--vary", "d=1,2", "--measure", "speed"), "--measure"),
    (("--vary", "model=linear", "--base", "modle=linear"), "modle"),
])
def test_cli_sweep_bad_input_exits_2_with_one_line(capsys, args, flag):
    code, out, err = cli(capsys, "sweep", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and flag in err


@pytest.mark.slow
def test_the_docs_example_runs(tmp_path, monkeypatch):
    import runpy

    from tests.app_helpers import ROOT

    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(ROOT / "docs" / "lab_example.py"), run_name="__main__")
    assert namespace["fits"].slope.notna().all()


# ---------------------------------------------------------------------- off the defaults
def test_a_power_fit_leaves_out_x_at_0_and_medians_at_or_below_0_and_counts_them():
    """momentum = 0, 0.5, 0.9 (or a margin that turns positive): a log–log fit has no point at
    x = 0 or a median ≤ 0. It used to reach the least squares with log 0 = -inf (a traceback
    on the page), or count such points as fitted and draw the line over them."""
    from core.report import lab_chart

    table = _synthetic({0.0: [100, 100], 0.5: [50, 50], 0.9: [20, 20]}, budget=1000)
    fit = lab.fit(table, x="d").iloc[0]
    assert fit.points == 2 and fit.left_out == 1
    assert fit.slope == pytest.approx(math.log(20 / 50) / math.log(0.9 / 0.5))
    linear = lab.fit(table, x="d", kind="linear").iloc[0]          # a straight line uses every x
    assert linear.points == 3 and linear.left_out == 0
    # negative control: without x = 0 the same slope, and nothing left out
    positive = lab.fit(_synthetic({0.5: [50, 50], 0.9: [20, 20]}, budget=1000), x="d").iloc[0]
    assert positive.slope == pytest.approx(fit.slope) and positive.left_out == 0
    # a signed measure: only the positive medians are fitted, and the line is drawn over them
    rows = [{"d": x, "seed": 0, "max_iters": 100, "min_margin": m}
            for x, m in ((1.0, -1.0), (10.0, -0.5), (100.0, 2.0), (1000.0, 20.0))]
    signed = pd.DataFrame(rows)
    signed.attrs.update({"varied": ["d"], "measures": ["min_margin"]})
    fits = lab.fit(signed, x="d", measure="min_margin")
    assert (fits.points.iloc[0], fits.left_out.iloc[0]) == (2, 2)
    assert fits.slope.iloc[0] == pytest.approx(1.0)
    figure = lab_chart.figure(signed, "min_margin", "d", None, None, fits)
    [line] = [t for t in figure.data if t.name and t.name.startswith("fit: slope")]
    assert list(line.x) == [100.0, 1000.0]


def test_a_diverged_runs_peak_loss_is_inf_whatever_its_thinned_history_kept():
    """η = 10 on the a·b network: the recorded loss is [0.63, nan] (it passed 1e263 between
    the recorded iterations); the peak loss was read as 0.63, the starting loss."""
    from types import SimpleNamespace

    history = {"loss": np.array([0.63, math.nan])}
    diverged = SimpleNamespace(history=history, tail=None, diverged=True)
    assert lab._peak_loss(diverged, None, None) == math.inf
    bounded = SimpleNamespace(history={"loss": np.array([0.63, 0.2])}, tail=None, diverged=False)
    assert lab._peak_loss(bounded, None, None) == pytest.approx(0.63)      # negative control


def test_a_comparison_says_when_an_interval_has_no_width_or_a_group_no_fit():
    """Identical runs at every x (the linear model on the minimal example, 8 seeds): its
    interval [0.956, 0.956] 'does not overlap' any other, which says nothing of a spread; a
    group with one x value has no slope ('slope nan; the intervals overlap' before)."""
    def fits(*rows):
        return pd.DataFrame([{"model": name, "x": "d", "measure": "iterations_to_solve",
                              "kind": "power", "slope": slope, "ci_low": low, "ci_high": high,
                              "intercept": 0.0, "points": points, "runs": 32, "censored": 0,
                              "no_value": 0, "left_out": 0}
                             for name, slope, low, high, points in rows])

    flat = lab.compare(fits(("linear", 0.956, 0.956, 0.956, 4), ("conv", 0.257, -0.41, 0.854, 4)))
    assert flat.separated and "The interval of model=linear has no width" in flat.sentence
    spread = lab.compare(fits(("linear", 0.956, 0.9, 1.0, 4), ("conv", 0.257, -0.41, 0.854, 4)))
    assert spread.separated and "no width" not in spread.sentence          # negative control
    none = lab.compare(fits(("linear", math.nan, math.nan, math.nan, 0),
                            ("conv", math.nan, math.nan, math.nan, 0)))
    assert not none.separated and "nan" not in none.sentence
    assert none.sentence.startswith("No slopes to compare: model=linear and model=conv have no fit")


def test_the_chart_says_how_many_unsolved_runs_diverged():
    from core.report import lab_chart

    rows = [{"step_size": g, "seed": s, "max_iters": 100, "iterations_to_solve": solved,
             "diverged": diverged}
            for g, s, solved, diverged in ((0.1, 0, 50, False), (1.0, 0, None, False),
                                           (10.0, 0, None, True), (10.0, 1, None, True))]
    table = pd.DataFrame(rows)
    table["iterations_to_solve"] = table.iterations_to_solve.astype("Int64")
    table.attrs.update({"varied": ["step_size", "seed"], "measures": ["iterations_to_solve"]})
    title = lab_chart.figure(table, "iterations_to_solve", "step_size").layout.title.text
    assert "3 unsolved runs at their budget (open triangles, 2 of them diverged)" in title
    calm = table.assign(diverged=False)                                    # negative control
    assert "diverged" not in lab_chart.figure(calm, "iterations_to_solve", "step_size").layout.title.text
