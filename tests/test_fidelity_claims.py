"""The pieces the negative controls rely on are themselves right."""
import numpy as np
import pytest

from core.analysis import theory
from core.api import run_spec
from core.claims.catalog import CLAIMS, CLAIMS_BY_NAME, check, numpy_two_layer_gd
from core.kernel.spec import make_spec


@pytest.mark.parametrize("d", [8, 32])
def test_numpy_two_layer_gd_with_the_cyclic_shift_reproduces_the_engine(d):
    """The identity-shift control runs a numpy GD; with P the cyclic shift it must give the
    engine's iteration counts, seed by seed, or the control would test the simulator."""
    seeds = tuple(range(6))
    spec = make_spec(model="two_layer_conv", dataset="minimal", d=d, mu=0.7, seeds=seeds,
                     step_sizes=(theory.minimal_step_size(d, 0.7, 1.0),), max_iters=5000,
                     perceptron_gap=False, history_points=16)
    engine = [r.iterations_to_solve for r in run_spec(spec, use_cache=False).result.runs]
    numpy_counts = numpy_two_layer_gd(d, lambda b: np.roll(b, 1, axis=1), seeds=seeds)
    assert numpy_counts.tolist() == engine
    identity = numpy_two_layer_gd(d, lambda b: b, seeds=seeds)
    assert identity.tolist() != engine            # the wrong variant is really different


def test_every_control_names_what_is_wrong_and_none_reuses_the_claims_runs_and_judge():
    for claim in CLAIMS:
        for control in claim.controls:
            assert control.specs is not None or control.judge is not None, (claim.name, control.name)
            if control.specs is not None:
                assert control.specs != claim.specs


@pytest.mark.parametrize("name", ["q_collapse", "theorem1_local_rate", "figure3_trends", "perceptron_theta_n"])
def test_new_claims_pass_and_reject_their_controls(name):
    verdict = check(CLAIMS_BY_NAME[name])
    assert verdict.status == "pass", verdict.measurement
    assert verdict.controls and not any(c.passed for c in verdict.controls)


def test_the_repository_carries_its_own_science_and_the_readme_lists_every_claim():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    science = (root / "docs" / "science.md").read_text()
    for convention in ("½ first step", "γ = c · n/λ₂", "Figure 3", "Project convention"):
        assert convention in science, convention
    readme = (root / "README.md").read_text()
    assert "../shared" not in readme and "docs/science.md" in readme
    for claim in CLAIMS:
        assert f"| `{claim.name}` |" in readme, claim.name
    for page in ("pages/shallow.py", "pages/checks.py", "core/claims/catalog.py"):
        text = (root / page).read_text()
        assert "docs/science.md" in text and "../shared" not in text, page


def test_the_p90_slope_window_is_declared_once_and_the_science_page_quotes_it():
    from pathlib import Path

    from core.claims.catalog import P90_SLOPE

    science = (Path(__file__).resolve().parent.parent / "docs" / "science.md").read_text()
    assert f"slope in [{P90_SLOPE[0]}, {P90_SLOPE[1]}]" in science
    assert "[0.3, 0.7]" not in science
    assert CLAIMS_BY_NAME["minimal_two_layer_slope"].tolerance == f"[{P90_SLOPE[0]}, {P90_SLOPE[1]}]"


def test_unsolved_seeds_are_censored_at_the_budget_not_left_out():
    from core.analysis.scaling import Curve, ScalingResult, censored_at, censored_quantile, fit_curve
    from core.kernel.spec import make_spec

    values = np.array([3, 5, 7, 9, 11, 13, 15, 17, np.inf, np.inf])
    # the p90 of ten seeds is the 9th smallest: an unsolved seed, so at least the budget
    assert censored_quantile(values, 0.9, 100) == 100 and censored_at(values, 0.9, 100)
    assert censored_quantile(values, 0.5, 100) == 11 and not censored_at(values, 0.5, 100)
    dropped = np.quantile(values[np.isfinite(values)], 0.9, method="inverted_cdf")
    assert dropped == 17 < censored_quantile(values, 0.9, 100)      # leaving them out biases down
    curve = Curve("linear", "gd", "1")
    result = ScalingResult([curve], [16], list(range(10)), 1.0, {(curve, 16): values}, {(curve, 16): 1.0},
                           base=make_spec(max_iters=100))
    stats = result.stats(curve, 16)
    assert stats["p90"] == 100 and stats["p90_lower_bound"] and stats["unsolved"] == 2
    dims = [16, 64, 256]
    per_d = [np.full(10, float(d)) for d in dims]
    per_d[2][[8, 9]] = np.inf                                    # censored at 100 < 256
    fit = fit_curve(dims, per_d, budget=100)
    assert fit.slope < 1 - 0.2                                  # the p90 at d = 256 is the budget


def test_numpy_gd_counts_reproduce_the_engine_for_both_models_and_the_wrong_variant_differs():
    """nonlinear_faster_real_data's absolute part: its numpy GD gives the engine's counts for
    LR+GD and the bilinear MLP run by run (iris and wine: cheap), and the control's reference
    (W frozen) does not."""
    from core.claims.catalog import numpy_gd_counts

    for dataset in ("iris", "wine"):
        common = dict(dataset=dataset, classes=(0, 1), algorithm="gd", max_iters=400,
                      history_points=20, perceptron_gap=False, step_sizes=(0.5, 1.0))
        for spec in (make_spec(model="linear", **common),
                     make_spec(model="mlp", activation="identity", width=16, train="both",
                               seeds=(0, 1, 2), **common)):
            engine = [np.inf if r.iterations_to_solve is None else r.iterations_to_solve
                      for r in run_spec(spec, use_cache=False).result.runs]
            assert numpy_gd_counts(spec) == engine, (dataset, spec.model)
            if spec.model == "mlp":
                assert numpy_gd_counts(spec, train="output") != engine


@pytest.mark.slow
def test_nonlinear_faster_real_data_passes_rejects_its_controls_and_reports_the_exception():
    verdict = check(CLAIMS_BY_NAME["nonlinear_faster_real_data"])
    assert verdict.status == "pass", verdict.measurement
    assert verdict.controls and not any(c.passed for c in verdict.controls)
    measured = verdict.measurement.measured
    assert "sooner on 6 of 7 sets; not on digits 1/7" in measured
    assert "engine = numpy for every run" in measured and "LR+GD at γ = 100" in measured
