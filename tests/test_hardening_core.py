"""Hardening of the core: bounded lists, settings, CSV files, uploads, cache faults, outputs."""
from __future__ import annotations

import errno
import json
import os
import stat
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.store import cache as cache_module
from core.api import open_cache, run_spec
from core.store.cache import ResultCache, cache_key
from core.cli import check_output, format_summary, main
from core.datasets.builtin import MAX_CSV_COLUMNS, parse_csv
from core.kernel.errors import SpecError
from core.kernel.lists import parse_list, parse_number
from core.kernel.settings import env_number
from core.kernel.spec import make_spec
from core.store.uploads import (check_visitor_path, clear_uploads, save_upload, upload_directory,
                                upload_usage)


# ---------------------------------------------------------------------- lists
def test_list_forms():
    assert parse_list("d", "16,32,...,256", int, geometric=True) == (16, 32, 64, 128, 256)
    assert parse_list("seed", "0,...,4", int) == (0, 1, 2, 3, 4)
    assert parse_list("seed", "0:3", int) == (0, 1, 2, 3)
    assert parse_list("step_size", "1:100:x10") == (1.0, 10.0, 100.0)
    values = parse_list("step_size", "1e-3:1e3:log7")
    assert len(values) == 7 and values[0] == pytest.approx(1e-3) and values[-1] == pytest.approx(1e3)
    assert parse_list("step_size", "0.5; 2") == (0.5, 2.0)
    assert parse_list("d", "16,32,...,100", int, geometric=True) == (16, 32, 64, 100)


@pytest.mark.parametrize("text, words", [
    ("1:inf:x2", "finite"), ("1:1e12:x1.0000000001", "at most 4096"),
    ("1,2,...,1e12", "at most 4096"), ("0,1,...,1e15", "at most 4096"),
    ("0:100000000", "at most 4096"), ("1:10:x1", "> 1"), ("1:10:xinf", "finite"),
    ("1:10:xnan", "finite"), ("1:10:x0.5", "> 1"), ("nan", "finite"), ("-inf", "finite"),
    ("１,2", "ASCII"), ("١٢", "ASCII"), ("1_000", "ASCII"), ("1e400", "finite"),
    ("1:10:log0", "log count"), ("1:10:log1e9", "log count"), ("10:1:x2", "empty"),
    ("0:10:x2", "start > 0"), ("1,2,...,0", "empty"), ("", "at least one"),
    (",".join(["1"] * 5000), "at most 4096"), ("1:2:3:4", "expected start:stop"),
])
def test_bad_lists_are_refused_naming_the_field(text, words):
    kind = int if text.startswith(("0:", "0,")) else float
    with pytest.raises(SpecError) as caught:
        parse_list("step_size", text, kind, limit=4096)
    assert str(caught.value).startswith("step_size:") and words in str(caught.value)


def test_a_huge_range_is_refused_before_anything_is_allocated():
    tracemalloc.start()
    for text in ("1:1e300:x1.000000000000001", "0,1,...,1e15", "1,2,...,1e300"):
        with pytest.raises(SpecError):
            parse_list("seed", text, float, limit=4096)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100_000


@pytest.mark.slow
def test_a_wrong_parser_would_fail_the_count_check():
    """Negative control: building the list first (what the old parser did) allocates with
    the count; the bounded parser does not, which is what the test above measures."""
    tracemalloc.start()
    built = list(range(2_000_000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(built) and peak > 100_000


LIST_TEXT = st.one_of(
    st.text(alphabet="0123456789.,:-+ex" + "login.", max_size=30),
    st.builds(lambda a, b, r: f"{a}:{b}:{r}", st.floats(allow_nan=True), st.floats(allow_nan=True),
              st.sampled_from(["x2", "x1", "xinf", "xnan", "x1.0000001", "log5", "log0", "log99999", "y"])),
    st.builds(lambda a, b, c: f"{a},{b},...,{c}", st.integers(-10, 10**6), st.integers(-10, 10**6),
              st.one_of(st.integers(-10, 10**18), st.floats())),
    st.builds(lambda a, b: f"{a}:{b}", st.integers(-10**12, 10**12), st.integers(-10**12, 10**12)),
    st.text(max_size=20),
)


@given(LIST_TEXT, st.sampled_from([int, float]), st.booleans())
def test_fuzzed_lists_are_bounded_fast_and_refused_in_one_line(text, kind, geometric):
    started = time.perf_counter()
    try:
        values = parse_list("step_size", text, kind, geometric=geometric, limit=4096)
    except SpecError as error:
        message = str(error)
        assert message.startswith("step_size: ") and "\n" not in message
    else:
        assert 1 <= len(values) <= 4096
        assert all(isinstance(v, kind) for v in values)
        assert all(np.isfinite(values))
    assert time.perf_counter() - started < 10


def test_numbers_are_ascii_and_finite():
    assert parse_number("n", "1e3", int) == 1000
    for text in ("inf", "NaN", "0x10", "٣", "１", " ", "1e400", "1.5"):
        with pytest.raises(SpecError):
            parse_number("n", text, int)


# ---------------------------------------------------------------------- settings
@pytest.mark.parametrize("raw", ["nan", "inf", "lots", "0", "-1", "1e9", "٠٫٥"])
def test_bad_environment_settings_are_named(monkeypatch, raw):
    monkeypatch.setenv("GDX_MEMORY_FRACTION", raw)
    with pytest.raises(SpecError) as caught:
        env_number("GDX_MEMORY_FRACTION")
    assert caught.value.field == "GDX_MEMORY_FRACTION"


def test_settings_defaults(monkeypatch):
    monkeypatch.delenv("GDX_MEMORY_FRACTION", raising=False)
    assert env_number("GDX_MEMORY_FRACTION") == 0.25
    monkeypatch.setenv("GDX_MEMORY_FRACTION", "0.5")
    assert env_number("GDX_MEMORY_FRACTION") == 0.5


# ---------------------------------------------------------------------- CSV files
def test_a_wide_csv_is_refused_from_its_header_before_parsing():
    columns = 200_000
    content = (",".join(f"c{i}" for i in range(columns)) + ",label\n"
               + ",".join(["1"] * columns) + ",a\n").encode()
    tracemalloc.start()
    with pytest.raises(SpecError, match=f"at most {MAX_CSV_COLUMNS}"):
        parse_csv(content)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40 * len(content)      # the header's names, not a parsed frame


def test_a_long_csv_is_refused_by_the_memory_budget(monkeypatch):
    monkeypatch.setenv("GDX_MEMORY_FRACTION", "0.001")
    rows = 400_000
    content = ("x,label\n" + "1,a\n2,b\n" * (rows // 2)).encode()
    with pytest.raises(SpecError, match="GDX_MEMORY_FRACTION"):
        parse_csv(content)


def test_csv_label_column_must_exist_and_names_be_unique():
    with pytest.raises(SpecError) as caught:
        parse_csv(b"x,y,z\n1,2,0\n3,4,1\n")
    assert caught.value.field == "label_column" and "'label'" in str(caught.value)
    with pytest.raises(SpecError, match="repeats"):
        parse_csv(b"x,x,label\n1,2,a\n3,4,b\n")
    features, labels, classes = parse_csv(b"x,y,z\n1,2,0\n3,4,1\n", label_column="z")
    assert features.shape == (2, 2) and list(labels) == [-1, 1] and classes == ["0", "1"]


def test_csv_messages_show_plain_values():
    with pytest.raises(SpecError) as caught:
        parse_csv(b"x,label\n1,1\n2,1\n")
    assert "np." not in str(caught.value) and "'1'" in str(caught.value)


def test_a_proc_file_or_a_folder_is_refused_in_one_line(capsys, tmp_path):
    for path in ("/proc/self/mem", str(tmp_path), "/dev/zero"):
        code = main(["run", "--dataset", "csv", "--path", path, "--no-cache"])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: --path:") and err.count("\n") == 1, err


# ---------------------------------------------------------------------- uploads and paths
def test_uploads_are_evicted_oldest_first_within_the_quota(monkeypatch, tmp_path):
    monkeypatch.setenv("GDX_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GDX_UPLOAD_QUOTA_MB", "1")
    paths = []
    for index in range(3):
        paths.append(save_upload(bytes([index]) * 400_000))
        os.utime(paths[-1], (time.time() - 100 + index, time.time() - 100 + index))
    assert not os.path.exists(paths[0]) and os.path.exists(paths[1]) and os.path.exists(paths[2])
    usage = upload_usage()
    assert usage["files"] == 2 and usage["bytes"] == 800_000 and usage["quota_bytes"] == 2**20
    with pytest.raises(SpecError, match="at most 1 MB"):
        save_upload(b"x" * (2**20 + 1))
    assert clear_uploads() == 2 and upload_usage()["files"] == 0


def test_visitor_paths_only_under_uploads_or_data_dirs(monkeypatch, tmp_path):
    monkeypatch.setenv("GDX_CACHE_DIR", str(tmp_path / "cache"))
    allowed = tmp_path / "data"
    allowed.mkdir()
    refusals = set()
    for path in ("/etc", "/nonexistent/folder", "/etc/passwd", str(allowed), str(allowed / "x"),
                 upload_directory() + "/../../etc"):
        with pytest.raises(SpecError) as caught:
            check_visitor_path(path)
        refusals.add(str(caught.value))
    assert len(refusals) == 1          # the same words whether or not the path exists
    monkeypatch.setenv("GDX_DATA_DIRS", str(allowed))
    with pytest.raises(SpecError) as caught:       # allowed folder, missing file: the same words
        check_visitor_path(str(allowed / "x"))
    assert str(caught.value) in refusals
    (allowed / "x").write_text("x,label\n")
    assert check_visitor_path(str(allowed / "x")) == str((allowed / "x").resolve())
    os.symlink("/etc", allowed / "escape")
    with pytest.raises(SpecError):
        check_visitor_path(str(allowed / "escape"))


# ---------------------------------------------------------------------- cache faults
SMALL = dict(dataset="two_point", step_sizes=(1.0,), max_iters=5)


def test_a_damaged_database_is_moved_aside_and_rebuilt(tmp_path):
    directory = str(tmp_path)
    run_spec(make_spec(**SMALL), cache_dir=directory)
    (tmp_path / "cache.db").write_bytes(b"this is not a database")
    cache = ResultCache(directory)
    assert any("damaged" in line for line in cache.warnings)
    assert list(tmp_path.glob("cache.db.damaged-*"))
    spec = make_spec(**SMALL)
    key = cache_key(spec, "cpu")
    outcome = run_spec(spec, use_cache=False)
    assert cache.put(key, outcome.result) and cache.get(key) is not None


def test_a_full_disk_returns_the_result_with_a_warning(tmp_path, monkeypatch):
    import core.api

    cache = ResultCache(str(tmp_path))

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(cache._store, "set", no_space)
    monkeypatch.setattr(core.api, "open_cache", lambda directory=None: cache)
    outcome = run_spec(make_spec(**SMALL, seeds=(3,)))
    assert outcome.result.runs and not outcome.cached     # the computed result is not lost
    assert len(outcome.warnings) == 1 and "No space left" in outcome.warnings[0]


def test_a_cache_folder_removed_mid_run_is_reported(tmp_path):
    import shutil

    directory = tmp_path / "cache"
    cache = ResultCache(str(directory))
    spec = make_spec(**{**SMALL, "step_sizes": (2.0,)})
    result = run_spec(spec, use_cache=False).result
    shutil.rmtree(directory)
    assert cache.put("key", result) is False
    assert any("removed during the run" in line for line in cache.take_warnings())
    assert cache.put("key", result) is True        # reopened: later results are stored again


def test_a_read_only_cache_is_read_but_not_written(tmp_path, monkeypatch):
    import sqlite3

    directory = str(tmp_path)
    writer = ResultCache(directory)
    spec = make_spec(**{**SMALL, "step_sizes": (4.0,)})
    key = cache_key(spec, "cpu")
    writer.put(key, run_spec(spec, use_cache=False).result)
    writer.close()
    real_cache = cache_module.diskcache.Cache

    def read_only(*args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")
    monkeypatch.setattr(cache_module.diskcache, "Cache", read_only)
    reader = ResultCache(directory)
    assert reader.read_only and any("read only" in line for line in reader.warnings)
    assert reader.get(key) is not None and len(reader) == 1
    assert reader.put("other", run_spec(spec, use_cache=False).result) is False
    monkeypatch.setattr(cache_module.diskcache, "Cache", real_cache)


def test_float32_keys_include_the_thread_count():
    import torch

    spec = make_spec(**SMALL, dtype="float32")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = cache_key(spec, "cpu")
        torch.set_num_threads(2)
        two = cache_key(spec, "cpu")
    finally:
        torch.set_num_threads(threads)
    assert one != two
    spec64 = make_spec(**SMALL)
    assert cache_key(spec64, "cpu") == cache_key(spec64, "cpu")


# ---------------------------------------------------------------------- outputs
def test_output_paths_are_checked_before_the_run(tmp_path):
    for bad in (str(tmp_path), str(tmp_path / "missing" / "x.json"), "/dev/null"):
        with pytest.raises(SpecError) as caught:
            check_output(bad)
        assert caught.value.field == "output"
    check_output(str(tmp_path / "new.json"))


def test_output_is_written_through_links_with_the_umask_and_no_temporaries(tmp_path, capsys):
    target = tmp_path / "target.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.json"
    os.symlink(target, link)
    assert main(["run", "--dataset", "two_point", "--max-iters", "3", "-o", str(link)]) == 0
    assert link.is_symlink() and json.loads(target.read_text())["runs"]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    old = os.umask(0o077)
    try:
        fresh = tmp_path / "fresh.json"
        assert main(["run", "--dataset", "two_point", "--max-iters", "3", "-o", str(fresh)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600
    assert not list(tmp_path.glob(".gdx-*"))


def test_summary_is_a_table_without_json_tokens(capsys):
    code = main(["run", "--model", "shallow_linear", "--a", "0", "--b", "0", "--phi", "0",
                 "--step-size", "0.1", "--max-iters", "3", "--format", "summary", "--no-cache"])
    out = capsys.readouterr().out
    assert code == 0 and "Infinity" not in out and "{" not in out
    rows = format_summary("x=1", False, [{"step_size": 1.0, "seed": 0, "iterations_to_solve": None,
                                          "final_loss": float("inf")}]).splitlines()
    assert "not solved" in rows[-1] and "inf" in rows[-1]


@pytest.mark.parametrize("fields", [
    dict(model="shallow_linear", a=(0.7,), b=(0.7,), step_sizes=(0.9, 1.1, 1.3), max_iters=300,
         tail_points=16, run_to_max=True),
    dict(dataset="two_point", step_sizes=(1.0, 100.0), seeds=(0, 1), max_iters=20, tail_points=3),
    dict(model="mlp", dataset="gaussian", n=12, d=3, width=4, step_sizes=(0.1, 1e12),
         max_iters=30, run_to_max=True),
])
def test_a_cached_result_reads_back_array_for_array(fields):
    from core.store.cache import decode, encode

    result = run_spec(make_spec(**fields), use_cache=False).result
    back = decode(encode(result))
    assert back.spec == result.spec and len(back.runs) == len(result.runs)
    for original, copy in zip(result.runs, back.runs):
        assert original.summary() == copy.summary()
        assert original.history.keys() == copy.history.keys()
        for name in original.history:
            assert np.array_equal(original.history[name], copy.history[name], equal_nan=True)
        assert (original.tail is None) == (copy.tail is None)
        for name in original.tail or {}:
            assert np.array_equal(original.tail[name], copy.tail[name], equal_nan=True)
        assert (original.params is None) == (copy.params is None)
        if original.params is not None:
            assert np.array_equal(original.params, copy.params, equal_nan=True)


def test_a_list_over_its_limit_names_the_count_it_asks_for_in_full():
    # 5001 values read "this asks for 5e+03"
    from core.kernel.lists import parse_list
    from core.kernel.spec import SpecError

    with pytest.raises(SpecError) as error:
        parse_list("values1", ",".join(["0.1"] * 5001), limit=4096)
    assert "this asks for 5,001" in str(error.value) and "e+" not in str(error.value)
    with pytest.raises(SpecError) as huge:                      # a range's count, worked out first
        parse_list("values1", "1:1e300:x1.0000001", limit=4096)
    assert "this asks for 6,907,755,621" in str(huge.value)
