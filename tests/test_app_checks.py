"""AppTest: the Paper checks page (a table generated from core.claims.catalog.CLAIMS)."""
import re

import pytest

from core.claims.catalog import CLAIMS, CLAIMS_BY_NAME, check
from core.report.site import ALIASES, PAGE_FILES
from tests.app_helpers import ROOT, assert_clean, errors, table_rows
from tests.extra_helpers import link_query, open_extra

KEY = "checks."
QUICK = [claim.name for claim in CLAIMS if claim.fast]


def summary_line(at):
    lines = [e.value for e in list(at.success) + list(at.warning)
             if re.fullmatch(r"\d+ passed, \d+ weak, \d+ failed", e.value)]
    assert len(lines) == 1, [e.value for e in list(at.success) + list(at.warning)]
    passed, weak, failed = map(int, re.findall(r"\d+", lines[0]))
    return passed, weak, failed


@pytest.mark.slow
def test_quick_claims_by_default_with_verdicts_links_and_summary():
    at = open_extra("checks")
    assert_clean(at)
    rows = table_rows(at)
    assert [row["claim"] for row in rows] == QUICK
    for row in rows:
        claim = CLAIMS_BY_NAME[row["claim"]]
        assert row["paper & section"] == claim.paper
        assert row["what the paper says"] == claim.statement
        assert row["tolerance"] == claim.tolerance
        # a relative link to the dashboard view of the claim's spec
        assert not row["view"].startswith("/") and "://" not in row["view"]
        assert "/" + row["view"] == claim.link()
    passed, weak, failed = summary_line(at)
    assert passed + weak + failed == len(QUICK)
    assert passed == sum(row["result"] == "PASS" for row in rows) == len(QUICK)
    # every row lists its negative controls, all rejected
    for row in rows:
        controls = row["negative controls"].split("; ")
        assert controls and all(c.startswith("rejected: ") for c in controls), row
        names = [c.name for c in CLAIMS_BY_NAME[row["claim"]].controls]
        assert [c.split(": ", 1)[1] for c in controls] == names
    # The measurement shown is the core's verdict (the runs come from the same cache).
    for name in ("q_contraction", "figure3_trends", "period_doubling"):
        verdict = check(CLAIMS_BY_NAME[name])
        row = [r for r in rows if r["claim"] == name][0]
        assert row["what we measure"] == verdict.measurement.measured
        assert row["result"] == verdict.status.upper()
    assert any(b.label == "verdicts.json" for b in at.get("download_button"))
    assert "python -m core reproduce --all" in at.markdown[0].value
    assert at.query_params["slow"] == "0"


@pytest.mark.slow
def test_slow_checks_from_the_url_and_the_checkbox():
    at = open_extra("checks", {"slow": "1"})
    assert_clean(at)
    assert at.checkbox(key=KEY + "slow").value is True
    assert [row["claim"] for row in table_rows(at)] == [claim.name for claim in CLAIMS]
    assert sum(summary_line(at)) == len(CLAIMS)
    at.checkbox(key=KEY + "slow").set_value(False).run()
    assert [row["claim"] for row in table_rows(at)] == QUICK
    assert at.query_params["slow"] == "0"


@pytest.mark.slow
def test_bad_query_parameter_is_reported():
    at = open_extra("checks", {"slow": "maybe"})
    assert not at.exception
    assert any(m.startswith("URL parameter slow:") for m in errors(at)), errors(at)
    assert len(table_rows(at)) == len(QUICK)


@pytest.mark.slow
def test_claim_links_open_registered_pages_and_shallow_views_cleanly():
    registered = set(PAGE_FILES) | set(ALIASES)
    for claim in CLAIMS:
        page, _ = link_query(claim.link())
        assert page in registered, (claim.name, page)
    # Every shallow-network claim opens its run on the shallow page without URL errors.
    for claim in CLAIMS:
        page, query = link_query(claim.link())
        if page != "shallow":
            continue
        at = open_extra("shallow", query)
        assert_clean(at)
        if "step_size" in query:
            assert at.text_input(key="shallow.step_size").value == query["step_size"], claim.name
        elif query.get("view") == "catapult":     # the catapult view: its start and ηλ₀ values
            assert at.text_input(key="shallow.cat_a").value == query["cat_a"], claim.name
            assert at.text_input(key="shallow.cat_eta_lambda").value == query["cat_eta_lambda"]
        else:   # a Figure-3 view: its scales and init come back from the link
            assert at.text_input(key="shallow.scales").value == query["scales"], claim.name
            assert at.selectbox(key="shallow.fig3_init").value == query["fig3_init"] == "generic"
