"""`python -m core reproduce`: the quick subset of the papers' claims passes, and failures show."""
import json
from dataclasses import replace

import numpy as np
import pytest

from core.claims.catalog import (CLAIMS, CLAIMS_BY_NAME, Control, Measurement, batch_perceptron_reference,
                                 check, format_text, select)
from core.cli import main
from core.kernel.spec import make_spec


@pytest.mark.slow
def test_quick_claims_pass_through_the_cli(capsys):
    code = main(["reproduce", "--format", "json"])
    verdicts = json.loads(capsys.readouterr().out)
    failed = [(v["name"], v["measured"]) for v in verdicts if not v["passed"]]
    assert code == 0 and not failed, failed
    names = {v["name"] for v in verdicts}
    assert names == {c.name for c in CLAIMS if c.fast}
    for verdict in verdicts:
        assert set(verdict) >= {"paper", "statement", "expected", "measured", "tolerance", "link",
                                "controls", "status"}
        assert verdict["link"].startswith(("/", "http://", "https://"))
        assert verdict["status"] == "pass"
        # every negative control was run through the same judge and rejected
        assert verdict["controls"], verdict["name"]
        for control in verdict["controls"]:
            assert set(control) == {"name", "measured", "passed"}
            assert control["passed"] is False, (verdict["name"], control)


def test_every_claim_has_its_parts_a_dashboard_link_and_a_negative_control():
    pages = {"dynamics", "complexity", "step_size_map", "shallow", "images", "checks"}
    for claim in CLAIMS:
        assert claim.paper and claim.statement and claim.expected and claim.tolerance
        assert claim.page in pages
        assert claim.controls and all(c.name for c in claim.controls), claim.name
        if claim.view:
            assert claim.link().split("?", 1)[1] == claim.view
        elif claim.specs:
            assert claim.link().split("?", 1)[1] == claim.specs[0].canonical()
    new = {"theorem1_local_rate", "q_collapse", "figure3_scales", "perceptron_theta_n", "real_data_large_step"}
    assert new <= set(CLAIMS_BY_NAME)
    assert {c.name for c in select(None, include_slow=True)} == set(CLAIMS_BY_NAME)


@pytest.mark.slow          # runs Table 1's full sweeps through the CLI
def test_a_claim_that_does_not_hold_fails_and_exits_nonzero(capsys, monkeypatch):
    claim = CLAIMS_BY_NAME["table1"]
    # the same judge, on a spec that does not reproduce the paper's numbers (n = 50)
    wrong = replace(claim, specs=tuple(spec.replace(n=50) for spec in claim.specs))
    verdict = check(wrong, use_cache=False)
    assert not verdict.measurement.passed
    assert "FAIL" in format_text([verdict]) and "1 failed" in format_text([verdict])

    broken = replace(claim, specs=(make_spec(dataset="csv", path="/nonexistent.csv"),))
    verdict = check(broken, use_cache=False)
    assert not verdict.measurement.passed and "could not run" in verdict.measurement.measured

    monkeypatch.setitem(CLAIMS_BY_NAME, "table1", replace(claim, judge=lambda r: Measurement("x", False)))
    assert main(["reproduce", "table1"]) == 1
    assert "[FAIL] table1" in capsys.readouterr().out


def test_unknown_claim_is_a_usage_error(capsys):
    assert main(["reproduce", "no_such_claim"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "claim" in err and "table1" in err


def test_a_claim_whose_control_passes_is_weak_and_exits_nonzero(capsys, monkeypatch):
    claim = CLAIMS_BY_NAME["q_contraction"]
    # a "control" that is in fact the right implementation: the judge accepts it
    weak = replace(claim, controls=(Control("the same runs again (not wrong at all)"),))
    verdict = check(weak)
    assert verdict.judged and verdict.weak and verdict.status == "weak"
    assert not verdict.measurement.passed and "weak" in verdict.measurement.detail
    document = verdict.to_dict()
    assert document["status"] == "weak" and document["controls"][0]["passed"] is True
    assert "[WEAK] q_contraction" in format_text([verdict]) and "1 weak" in format_text([verdict])
    monkeypatch.setitem(CLAIMS_BY_NAME, "q_contraction", weak)
    assert main(["reproduce", "q_contraction", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)[0]["status"] == "weak"
    # without any control a claim cannot pass either
    assert check(replace(claim, controls=())).status == "weak"


def test_a_control_that_cannot_run_counts_as_not_rejected():
    claim = CLAIMS_BY_NAME["q_contraction"]
    broken = replace(claim, controls=(Control("unreadable data", specs=(make_spec(dataset="csv", path="/nonexistent.csv"),)),))
    verdict = check(broken, use_cache=False)
    assert verdict.status == "weak" and "could not run" in verdict.controls[0].measured


def test_batch_perceptron_reference_halves_the_first_step_only():
    features = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]])
    labels = np.array([1.0, -1.0, 1.0])
    half, full = batch_perceptron_reference(features, labels, 3), batch_perceptron_reference(features, labels, 3, 1.0)
    signed = features * labels[:, None]
    np.testing.assert_allclose(half[1], signed.mean(0) / 2)
    np.testing.assert_allclose(full[1], signed.mean(0))
    wrong = signed @ half[1] <= 0
    np.testing.assert_allclose(half[2], half[1] + signed[wrong].sum(0) / 3)
