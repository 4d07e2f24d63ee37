"""Mutation testing (core/claims/mutants.py): each mutant is installed in-process and undone, runs
uncached, and is killed by the claims meant to kill it. The full kill matrix (every mutant ×
every claim) is ``python -m core reproduce --mutants``; these tests run a representative subset
(fast tier) and every mutant against its own expected claims (slow tier)."""
import os
from pathlib import Path

import numpy as np
import pytest

from core.algorithms import builtin as algorithms
from core.engine import shallow
from core.claims.catalog import CLAIMS_BY_NAME
from core.claims.mutants import (MUTANTS, MUTANTS_BY_NAME, applied, can_change, changes_results,
                                 claim_scope, judge_under, replaced_module)


def test_the_mutants_cover_every_kind_and_the_issue_table():
    assert len(MUTANTS) >= 25 and len(MUTANTS_BY_NAME) == len(MUTANTS)
    assert {m.kind for m in MUTANTS} == {"rule", "sign", "factor", "order", "convention", "constant"}
    for name in ("perceptron_full_first_step", "shallow_gauss_seidel", "shallow_half_step",
                 "gd_without_mean", "two_layer_identity_shift"):
        assert name in MUTANTS_BY_NAME
    for mutant in MUTANTS:
        assert mutant.replaces and mutant.description and mutant.expected
        assert set(mutant.expected) <= set(CLAIMS_BY_NAME), mutant.name
        # a mutant is only run against claims whose runs it can change: its expected killers are
        assert all(mutant.scope in claim_scope(CLAIMS_BY_NAME[c]) for c in mutant.expected), mutant.name
        assert all(can_change(mutant, CLAIMS_BY_NAME[c]) for c in mutant.expected), mutant.name


def test_a_mutant_of_one_update_rule_runs_only_the_claims_that_can_use_that_rule():
    adam = MUTANTS_BY_NAME["adam_without_bias_correction"]
    assert [c for c in CLAIMS_BY_NAME if can_change(adam, CLAIMS_BY_NAME[c])] == ["adam_recursion"]
    gd = MUTANTS_BY_NAME["gd_without_mean"]
    # LR+GD runs carry the batch perceptron beside them; the scaling judges name GD
    assert can_change(gd, CLAIMS_BY_NAME["perceptron_limit"])
    assert can_change(gd, CLAIMS_BY_NAME["minimal_two_layer_bound"])
    assert not can_change(gd, CLAIMS_BY_NAME["perceptron_bounds"])
    assert not can_change(gd, CLAIMS_BY_NAME["q_contraction"])         # another scope
    batch = MUTANTS_BY_NAME["batch_perceptron_over_count"]
    assert can_change(batch, CLAIMS_BY_NAME["two_point_loss"])        # GD's perceptron companion
    # a mutant of one built-in data set: only the claims that run on it
    two_point = MUTANTS_BY_NAME["two_point_constant"]
    assert [c for c in CLAIMS_BY_NAME if can_change(two_point, CLAIMS_BY_NAME[c])] == ["two_point_loss"]
    assert not can_change(MUTANTS_BY_NAME["worst_case_constant"], CLAIMS_BY_NAME["minimal_two_layer_bound"])


def test_a_mutant_is_installed_only_inside_its_context_with_an_empty_cache():
    entry, cache = algorithms.algorithm("gd"), os.environ.get("GDX_CACHE_DIR")
    with applied(MUTANTS_BY_NAME["gd_without_mean"]):
        assert algorithms.algorithm("gd") is not entry
        assert os.environ["GDX_CACHE_DIR"] != cache and not os.listdir(os.environ["GDX_CACHE_DIR"])
    assert algorithms.algorithm("gd") is entry
    assert os.environ.get("GDX_CACHE_DIR") == cache


@pytest.mark.slow
def test_only_mutants_of_the_judges_helpers_share_the_cache_of_unmutated_runs():
    import importlib

    from core.store.cache import compute_modules

    computing = {path.resolve() for path in compute_modules()}
    shared = {m.name for m in MUTANTS if not changes_results(m)}
    # the helpers the claims' judges use, none of which the result cache's key hashes
    helpers = {"core.analysis.theory", "core.analysis.scaling", "core.analysis.sweeps"}
    assert {replaced_module(MUTANTS_BY_NAME[name]) for name in shared} == helpers
    file_of = lambda name: Path(importlib.import_module(name).__file__).resolve()
    assert not {file_of(name) for name in helpers} & computing
    assert all(file_of(replaced_module(m)) in computing for m in MUTANTS if m.name not in shared)
    cache = os.environ.get("GDX_CACHE_DIR")
    with applied(MUTANTS_BY_NAME["fit_on_linear_d"]):
        assert os.environ.get("GDX_CACHE_DIR") == cache


def test_the_gauss_seidel_rewrite_changes_exactly_the_b_update():
    from core.api import run_spec
    from core.kernel.spec import make_spec

    spec = make_spec(model="shallow_linear", phi=1.0, a=(1.0, 0.5), b=(0.3, -0.4), step_sizes=(0.3,),
                     max_iters=1, run_to_max=True, history_points=8)
    a, b, eta = np.array([1.0, 0.5]), np.array([0.3, -0.4]), 0.3
    eps = a @ b - 1.0
    with applied(MUTANTS_BY_NAME["shallow_gauss_seidel"]):
        moved = run_spec(spec).result.runs[0].params[-1]
    a1 = a - eta * eps * b
    assert np.allclose(moved, np.concatenate([a1, b - eta * eps * a1]), rtol=0, atol=1e-15)


# one cheap claim per area (the solver's update, the logistic gradient, the closed forms, the flow)
QUICK = [("shallow_gauss_seidel", "q_contraction"), ("shallow_half_step", "theorem1_step_factor"),
         ("gd_without_mean", "two_point_loss"), ("cyclic_shift_identity", "conv_hessian_eigenvalues"),
         ("gf_half_speed", "gf_conservation"), ("adam_without_bias_correction", "adam_recursion"),
         ("minibatch_over_n", "minibatch_epochs")]


@pytest.mark.parametrize("mutant,claim", QUICK)
def test_representative_mutants_are_killed(mutant, claim):
    cells = judge_under(MUTANTS_BY_NAME[mutant], [CLAIMS_BY_NAME[claim]])
    assert cells[claim].status == "killed", cells[claim].measured


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("mutant", [m.name for m in MUTANTS])
def test_every_mutant_is_killed_by_its_expected_claims(mutant):
    entry = MUTANTS_BY_NAME[mutant]
    cells = judge_under(entry, [CLAIMS_BY_NAME[c] for c in entry.expected])
    assert all(cell.status == "killed" for cell in cells.values()), cells


def test_reproduce_mutants_prints_the_kill_matrix(capsys):
    import json

    from core.cli import main

    code = main(["reproduce", "q_contraction", "--mutants", "--mutant", "shallow_gauss_seidel",
                 "--format", "json"])
    matrix = json.loads(capsys.readouterr().out)
    assert code == 0 and matrix["ok"]
    assert matrix["mutants"][0]["killed_by"] == ["q_contraction"]
    assert matrix["claims"][0]["unique_kills"] == ["shallow_gauss_seidel"]
    assert main(["reproduce", "--mutants", "--mutant", "no_such_mutant"]) == 2


@pytest.mark.slow
def test_every_mutant_installs_on_the_current_code_and_is_undone():
    from core.engine import batched as engine
    from core.models import builtin as models
    from core.analysis import scaling
    from core.analysis import theory

    before = {name: getattr(module, name) for module, name in (
        (shallow, "gd_limit_sharpness"), (theory, "minimal_lambda2"), (scaling, "fit_loglog"),
        (engine, "_gap"))}
    methods = (models.TwoLayerConv.__dict__["prepare"], engine.RunBook.__dict__["mark"])
    entries = dict(algorithms.ALGORITHM_REGISTRY.entries())
    for mutant in MUTANTS:
        with applied(mutant):                 # NotApplied if the code it rewrites moved
            pass
    assert {name: getattr(module, name) for module, name in (
        (shallow, "gd_limit_sharpness"), (theory, "minimal_lambda2"), (scaling, "fit_loglog"),
        (engine, "_gap"))} == before
    assert (models.TwoLayerConv.__dict__["prepare"], engine.RunBook.__dict__["mark"]) == methods
    assert algorithms.ALGORITHM_REGISTRY.entries() == entries


def test_the_mlp_gradient_mutant_moves_counts_away_from_the_numpy_reference():
    """What lets nonlinear_faster_real_data kill mlp_hidden_grad_without_output, on wine
    (cheap): unmutated, the engine's counts equal numpy's; under the mutant they do not."""
    from core.claims.catalog import numpy_gd_counts
    from core.api import run_spec
    from core.kernel.spec import make_spec

    spec = make_spec(model="mlp", activation="identity", width=16, train="both", dataset="wine",
                     classes=(0, 1), algorithm="gd", step_sizes=(1.0,), seeds=(0, 1, 2),
                     max_iters=400, history_points=20, perceptron_gap=False)

    def counts():
        return [np.inf if r.iterations_to_solve is None else r.iterations_to_solve
                for r in run_spec(spec, use_cache=False).result.runs]
    assert counts() == numpy_gd_counts(spec)
    with applied(MUTANTS_BY_NAME["mlp_hidden_grad_without_output"]):
        assert counts() != numpy_gd_counts(spec)
