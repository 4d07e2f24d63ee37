"""The Paper checks page, cold, says which claim runs, what is done and the
verdicts as they arrive (not only a percentage)."""
from __future__ import annotations

from core.claims.catalog import CLAIMS, check


def checks_page():
    import importlib.util

    from tests.app_helpers import ROOT

    spec = importlib.util.spec_from_file_location("gdx_checks_page", ROOT / "pages" / "checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_board_names_the_running_claim_the_verdicts_so_far_and_what_is_left():
    page = checks_page()
    claims = [c for c in CLAIMS if c.name in ("perceptron_limit", "two_point_loss", "conv_hessian_eigenvalues")]
    first = page.progress_board(claims, [])
    assert "0 done" in first and "RUNNING] `perceptron_limit` (1/3)" in first
    assert "then 2 more: `two_point_loss`, `conv_hessian_eigenvalues`" in first
    verdict = check(claims[0])
    second = page.progress_board(claims, [verdict])
    assert "1 done (1 passed, 0 weak, 0 failed)" in second
    assert ":green[PASS] `perceptron_limit`" in second and "RUNNING] `two_point_loss` (2/3)" in second
    assert "then 1 more: `conv_hessian_eigenvalues`" in second
    assert "\\_" in second or "_" not in verdict.measurement.measured    # measured text shown literally
    last = page.progress_board(claims, [verdict] * 3)
    assert "3 done" in last and "RUNNING" not in last and "more" not in last


def test_a_failed_claim_shows_as_failed_on_the_board():
    page = checks_page()
    from core.claims.catalog import Measurement, Verdict

    failed = Verdict(CLAIMS[0], Measurement("could not run: boom", False), 0.5, False)
    board = page.progress_board(CLAIMS[:2], [failed])
    assert ":red[FAIL] `" + CLAIMS[0].name + "`" in board and "0 passed, 0 weak, 1 failed" in board
