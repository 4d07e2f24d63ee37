"""One call from a spec to a result: validate, load data, look in the cache, run, store."""
from __future__ import annotations

import contextvars
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

from core.datasets import builtin as datasets
from core.engine import distributed
from core.engine.distributed import compute
from core.store.cache import ResultCache, cache_key, default_directory
from core.engine.loop import Progress, resolve_device
from core.engine.memory import check_memory
from core.engine.results import SweepResult
from core.kernel.registry import model_family
from core.kernel.spec import RunSpec, validate


@dataclass
class Outcome:
    result: SweepResult
    cached: bool
    seconds: float
    warnings: list[str] = field(default_factory=list)   # cache faults: one line each


# Every warning of this process's runs, newest last (the CLI prints them when it is done).
_WARNINGS: deque[str] = deque(maxlen=100)


def drain_warnings() -> list[str]:
    taken = list(_WARNINGS)
    _WARNINGS.clear()
    return taken


@lru_cache(maxsize=8)
def _open_cache(directory: str) -> ResultCache:
    return ResultCache(directory)


# Results read back from the cache stay decoded in this process: the dashboard reads the same
# specs again on every rerun, and decoding a sweep of 64 runs (70 arrays) takes 30–80 ms.
# Keyed by the cache folder and the cache key (a result is fixed by both); bounded in count
# and in bytes; used only while the cache holds the same entry (ResultCache.stamp), so a
# cleared cache or a value stored anew is read again. Only hits are kept: a fresh folder computes.
HIT_MEMO_ENTRIES = 32
HIT_MEMO_BYTES = 64 * 2**20
_HITS: OrderedDict[tuple[str, str], tuple[SweepResult, int, tuple]] = OrderedDict()
_HITS_LOCK = threading.Lock()


def result_bytes(result: SweepResult) -> int:
    """The bytes of a result's arrays (histories, tails, parameters)."""
    total = 0
    for record in result.runs:
        arrays = list(record.history.values()) + list((record.tail or {}).values())
        arrays.append(record.params)
        total += sum(int(getattr(array, "nbytes", 0)) for array in arrays)
    return total


def _remembered_hit(place: tuple[str, str], stamp: tuple | None) -> SweepResult | None:
    """The remembered result, while the cache still holds the same entry for its key."""
    if stamp is None:
        return None
    with _HITS_LOCK:
        entry = _HITS.get(place)
        if entry is None or entry[2] != stamp:
            return None
        _HITS.move_to_end(place)
        return entry[0]


def _remember_hit(place: tuple[str, str], result: SweepResult, stamp: tuple | None) -> None:
    size = result_bytes(result)
    if stamp is None or size > HIT_MEMO_BYTES // 4:
        return
    with _HITS_LOCK:
        _HITS[place] = (result, size, stamp)
        while len(_HITS) > HIT_MEMO_ENTRIES or sum(e[1] for e in _HITS.values()) > HIT_MEMO_BYTES:
            _HITS.popitem(last=False)


def open_cache(directory: str | None = None) -> ResultCache:
    """The cache at ``directory`` (default: ``GDX_CACHE_DIR`` or ./cache), opened once per process."""
    return _open_cache(directory or default_directory())


def run_spec(spec: RunSpec, use_cache: bool = True, progress: Progress | None = None,
             cache_dir: str | None = None) -> Outcome:
    """Run (or fetch) a sweep. Raises :class:`SpecError` for bad input, nothing else for
    divergence: non-finite runs come back flagged ``diverged``."""
    started = time.perf_counter()
    spec = validate(spec)
    device = resolve_device(spec.device)
    shallow = model_family(spec.model) == "shallow"
    if spec.d is not None and (shallow or spec.n is not None):
        stiff = None
        if shallow:
            from core.algorithms.builtin import algorithm
            from core.engine.shallow import flow_is_stiff

            stiff = flow_is_stiff(spec) if algorithm(spec.algorithm).continuous else None
        check_memory(spec, spec.n or 0, spec.d, device, stiff)   # before any data is made
    dataset = None if shallow else datasets.load(spec)
    if dataset is not None:
        check_memory(spec, dataset.n, dataset.d, device)    # every backend (Ray too), before it starts
    key = cache_key(spec, device.type, "" if shallow else dataset.fingerprint)
    cache = open_cache(cache_dir) if use_cache else None
    if cache is not None:
        place = (cache.directory, key)
        stamp = cache.stamp(key)
        hit = _remembered_hit(place, stamp)
        if hit is None:
            hit = cache.get(key)
            if hit is not None:
                _remember_hit(place, hit, stamp)
        if hit is not None:
            # No progress report for a hit: a caller that spreads reports over several specs
            # would turn this one's 1.0 into a fraction < 1, which the dashboard reads as
            # "computing" (it takes a compute slot and frees memory after the page load).
            warnings = cache.take_warnings()
            _WARNINGS.extend(warnings)
            return Outcome(hit, True, time.perf_counter() - started, warnings)
    if progress is not None:
        progress(0.0)          # about to compute: the dashboard takes a compute slot here
    result = compute(spec, dataset, device, cache, progress)   # local or Ray, in shards
    result.meta["key"] = key
    if dataset is not None and dataset.label_mapping:
        result.meta["label_mapping"] = dataset.label_mapping     # stated with the result
    warnings: list[str] = []
    if cache is not None:
        cache.put(key, result)
        warnings = cache.take_warnings()
        _WARNINGS.extend(warnings)
    return Outcome(result, False, time.perf_counter() - started, warnings)


# ---------------------------------------------------------------------- several specs
def run_all(specs: Sequence[RunSpec], use_cache: bool = True, progress: Progress | None = None,
            cache_dir: str | None = None) -> list:
    """:func:`run_spec` for each spec, in order. Local: one after the other (progress spread
    evenly over the specs). Ray: every spec at once, so the shards of all of them (one spec
    per d in ``sweep-d``) share the cluster; progress is shards done of all planned."""
    backend = distributed.current_backend()
    total = len(specs)
    if backend.name == "local" or total <= 1:
        outcomes = []
        for index, spec in enumerate(specs):
            report = None if progress is None else (
                lambda f, index=index: progress((index + f) / total))
            outcomes.append(run_spec(spec, use_cache=use_cache, progress=report,
                                     cache_dir=cache_dir))
        return outcomes
    with distributed.use_backend(backend.name, backend.address), distributed._tracking(True) as tracker:
        context = contextvars.copy_context()       # the backend and the shard counter
        with ThreadPoolExecutor(max_workers=min(total, 32), thread_name_prefix="gdx-ray") as pool:
            futures = [pool.submit(context.copy().run, run_spec, spec, use_cache, None, cache_dir)
                       for spec in specs]
            try:
                while True:
                    done, waiting = wait(futures, timeout=distributed.POLL_S, return_when=FIRST_EXCEPTION)
                    failed = [f for f in done if f.exception() is not None]
                    if failed:
                        raise failed[0].exception()
                    if progress is not None:
                        progress(tracker.fraction() if waiting else 1.0)
                    if not waiting:
                        break
            except BaseException:
                tracker.cancelled.set()
                raise
        return [future.result() for future in futures]
