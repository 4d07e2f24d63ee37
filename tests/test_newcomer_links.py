"""Every claim's link opens the view of that claim's run, read from the cache
(the same spec, nothing recomputed for it)."""
from __future__ import annotations

import pytest

import torch

from core import api
from core.claims.catalog import CLAIMS
from core.report.site import ALIASES, PAGE_FILES
from streamlit.testing.v1 import AppTest
from tests.app_helpers import APP, TIMEOUT, assert_clean, charts, title
from tests.extra_helpers import link_query

# Links that show a related view, not the claim's own first spec (not held to this test):
# the Figure-3 claims open the page's Figure-3 scan (21 ratios per scale, 32 recorded points),
# wider than the claim's five or six ratios; gf_conservation's gradient flow runs to t = 5000·η,
# while the GD-vs-GF view integrates the flow only up to GD's last step; figure12_regions checks
# every step to |ε| ≤ 1e-12 over 2000 iterations, while the Figures 1–2 view stops at 1e-10.
FIGURE_LINKS = {"figure3_trends", "figure3_scales", "figure3_paper_axes", "gf_conservation",
                "figure12_regions"}
WITH_SPECS = [claim for claim in CLAIMS if claim.specs and claim.name not in FIGURE_LINKS]


def open_link(link: str) -> AppTest:
    page, query = link_query(link)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params = query
    return at.switch_page(PAGE_FILES[ALIASES.get(page, page)]).run()


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("claim", WITH_SPECS, ids=[claim.name for claim in WITH_SPECS])
def test_a_claim_link_shows_the_claims_spec_from_the_cache(claim, monkeypatch):
    torch.set_num_threads(1)    # as in the dashboard: float32 results (and keys) depend on it
    api.run_spec(claim.specs[0])                     # the claim's run, cached as `reproduce` does
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


def test_a_link_without_perceptron_twins_says_why_the_distance_is_missing():
    """A claim's link sets perceptron_gap=0 (its runs carry no perceptron twins) so that the
    page asks for the claim's own spec; the distance chart then says why it is empty."""
    at = open_link("/dynamics?perceptron_gap=0&section=charts&charts=perceptron_gap&max_iters=50")
    assert_clean(at)
    (empty,) = [f for f in charts(at) if title(f) == "distance to the perceptron"]
    assert "perceptron_gap=0" in empty["layout"]["annotations"][0]["text"]
    # negative control: by default the twins are run and the distance is drawn
    drawn = open_link("/dynamics?section=charts&charts=perceptron_gap&max_iters=50")
    (full,) = [f for f in charts(drawn) if title(f) == "distance to the perceptron"]
    assert full["data"] and not full["layout"].get("annotations")
