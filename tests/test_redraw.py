"""A cached view redraws without redoing work (issue 23 §4; the figures are in
benchmarks/bench_redraw.py): a cache hit reports no progress (so the page takes no compute
slot and frees no memory after it), a hit is read from disk once per process, and a rerun of
a page draws the figures it built before."""
from __future__ import annotations

import pytest

import core.store.cache as store_cache
from core import api
from core.api import open_cache, run_spec
from core.kernel.spec import make_spec
from tests.app_helpers import assert_clean, charts, open_page

SMALL = dict(dataset="two_point", step_sizes=(1.0, 10.0), max_iters=5)


def test_a_cache_hit_reports_no_progress_and_a_computation_does(tmp_path):
    spec = make_spec(**SMALL)
    run_spec(spec, cache_dir=str(tmp_path))
    reports: list[float] = []
    outcome = run_spec(spec, cache_dir=str(tmp_path), progress=reports.append)
    assert outcome.cached and reports == []
    # negative control: a computation reports, starting at 0 (where the page takes a slot)
    computed = run_spec(spec.replace(seeds=(1,)), cache_dir=str(tmp_path), progress=reports.append)
    assert not computed.cached and reports[0] == 0.0 and reports[-1] == 1.0


def test_a_hit_is_decoded_once_per_process_until_the_cache_is_cleared(tmp_path, monkeypatch):
    spec = make_spec(**SMALL, seeds=(2,))
    run_spec(spec, cache_dir=str(tmp_path))
    first = run_spec(spec, cache_dir=str(tmp_path))           # read from disk, remembered
    decodes = []
    original = store_cache.decode
    monkeypatch.setattr(store_cache, "decode", lambda blob: decodes.append(1) or original(blob))
    again = run_spec(spec, cache_dir=str(tmp_path))
    assert again.cached and again.result is first.result and decodes == []
    # negative control: once the cache is cleared the remembered result is not used
    open_cache(str(tmp_path)).clear()
    after = run_spec(spec, cache_dir=str(tmp_path))
    assert not after.cached and after.result is not first.result


def test_the_remembered_hits_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "HIT_MEMO_ENTRIES", 2)
    monkeypatch.setattr(api, "_HITS", type(api._HITS)())
    for seed in range(4):
        spec = make_spec(**SMALL, seeds=(10 + seed,))
        run_spec(spec, cache_dir=str(tmp_path))
        run_spec(spec, cache_dir=str(tmp_path))
    assert len(api._HITS) == 2


@pytest.mark.slow
def test_a_rerun_draws_the_figures_it_built_before(monkeypatch):
    from core.report import plots_shallow

    built = []
    original = plots_shallow.catapult_figure
    monkeypatch.setattr(plots_shallow, "catapult_figure",
                        lambda *a, **k: built.append(a[1]) or original(*a, **k))
    query = {"view": "catapult", "cat_eta_lambda": "1.5, 3.3"}
    at = open_page("shallow", query)
    assert_clean(at)
    drawn = charts(at)
    count = len(built)
    at.run()
    assert charts(at) == drawn and len(built) == count          # the same figures, not rebuilt
    # negative control: another setting builds its own figures
    other = open_page("shallow", {**query, "cat_eta_lambda": "1.5, 3.4"})
    assert_clean(other)
    assert len(built) > count and charts(other) != drawn


def test_streamlit_does_not_collect_garbage_after_every_script_run():
    """Streamlit's default full gc.collect() after each run took ~0.3 s of every cached
    redraw; memory is handed back after computing page loads instead (ui/compute.py)."""
    import tomllib

    from tests.app_helpers import ROOT

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
