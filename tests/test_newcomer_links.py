"""Issue 21 §2: every claim's link opens the view of that claim's run, read from the cache
(the same spec, nothing recomputed for it)."""
from __future__ import annotations

import pytest

from core import api
from core.claims import CLAIMS, check
from core.site import ALIASES, PAGE_FILES
from streamlit.testing.v1 import AppTest
from tests.app_helpers import APP, TIMEOUT, assert_clean
from tests.extra_helpers import link_query

# The Figure-3 claims link to the page's Figure-3 scan (21 ratios per scale, 32 recorded
# points), a wider sweep than the claim's own five ratios: that link shows the figure, not the
# claim's runs, so it is not held to this test.
FIGURE_LINKS = {"figure3_trends", "figure3_scales"}
WITH_SPECS = [claim for claim in CLAIMS if claim.specs and claim.name not in FIGURE_LINKS]


def open_link(link: str) -> AppTest:
    page, query = link_query(link)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params = query
    return at.switch_page(PAGE_FILES[ALIASES.get(page, page)]).run()


@pytest.mark.slow
@pytest.mark.parametrize("claim", WITH_SPECS, ids=[claim.name for claim in WITH_SPECS])
def test_a_claim_link_shows_the_claims_spec_from_the_cache(claim, monkeypatch):
    check(claim)                                     # the claim's runs, cached like any run
    read, computed = [], []
    cache_key, compute = api.cache_key, api.compute

    def reading(spec, *args):
        read.append(spec.canonical())
        return cache_key(spec, *args)

    def computing(spec, *args, **kwargs):
        computed.append(spec.canonical())
        return compute(spec, *args, **kwargs)

    monkeypatch.setattr(api, "cache_key", reading)
    monkeypatch.setattr(api, "compute", computing)
    at = open_link(claim.link())
    assert_clean(at)
    wanted = claim.specs[0].canonical()
    assert wanted in read, (claim.name, read)
    assert wanted not in computed, claim.name


def test_the_catapult_claim_opens_the_catapult_view():
    claim = next(c for c in CLAIMS if c.name == "catapult")
    page, query = link_query(claim.link())
    assert (page, query["view"]) == ("shallow", "catapult")
