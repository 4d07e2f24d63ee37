"""The Ray backend against the local one (run by hand).

    python benchmarks/bench_ray.py [--dims 1024,2048,4096,8192] [--seeds 32] [--iters 20000]
                                   [--workers 2] [--repeat 2] [--format text|json]

Workload: ``sweep-d`` on the minimal example, curves linear:batch_perceptron and
two_layer_conv:gd:scaled, one spec per (curve, d), float64, on the CPU, uncached. Variants:

* ``local``: the local backend, the specs one after the other in this process;
* ``ray``: a local Ray instance with ``--workers`` CPUs (one worker per CPU), every spec's
  shards submitted at once; timed warm (the workers have imported torch), and the cold start
  (ray.init plus the first round of workers) is reported on its own.

Overhead per shard: the same tiny spec (1 iteration) cut into many shards, run on Ray and
locally; the difference divided by the shard count (task submission, pickling the data and
the result, the driver's bookkeeping). Every figure is the best of ``--repeat`` interleaved
rounds; the Ray result is checked identical to the local one.

torch runs on one thread in the driver and, pinned by the backend, in every worker.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.engine import distributed# noqa: E402
from core.api import run_spec  # noqa: E402
from core.analysis.scaling import parse_curves, sweep_dimensions  # noqa: E402
from core.kernel.spec import make_spec  # noqa: E402

CURVES = "linear:batch_perceptron,two_layer_conv:gd:scaled"


def timed(function):
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def same_arrays(a, b) -> bool:
    """Every array of two results' cache payloads equal, bit for bit."""
    import numpy as np

    arrays_a, arrays_b = a.to_payload()["arrays"], b.to_payload()["arrays"]
    return arrays_a.keys() == arrays_b.keys() and all(
        arrays_a[k].dtype == arrays_b[k].dtype and np.array_equal(arrays_a[k], arrays_b[k],
                                                                   equal_nan=True)
        for k in arrays_a)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", default="1024,2048,4096,8192")
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--iters", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shards", type=int, default=64, help="shards of the overhead probe")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--format", default="text", choices=("text", "json"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    dims = [int(d) for d in args.dims.split(",")]
    curves = parse_curves(CURVES, "gd", "scaled")
    base = make_spec(model="linear", dataset="minimal", d=dims[0], seeds=tuple(range(args.seeds)),
                     max_iters=args.iters, history_points=16, device="cpu")

    def sweep():
        return sweep_dimensions(base, curves, dims, use_cache=False)

    # the overhead probe: one iteration per run, one run per shard
    probe = make_spec(model="linear", dataset="minimal", d=16, seeds=tuple(range(args.shards)),
                      max_iters=1, history_points=8, device="cpu")

    def probe_run():
        saved = distributed.SHARD_WORK
        distributed.SHARD_WORK = distributed.row_work(probe, 2, 16)      # 1 run per shard
        try:
            return run_spec(probe, use_cache=False).result
        finally:
            distributed.SHARD_WORK = saved

    distributed.LOCAL_RAY_CPUS = args.workers
    cold, _ = timed(lambda: distributed.ensure_ray(distributed.Backend("ray", "")))
    with distributed.use_backend("ray"):
        warm_up, _ = timed(probe_run)           # starts the workers, imports torch there
    cold += warm_up

    best = {"local": float("inf"), "ray": float("inf"),
            "probe_local": float("inf"), "probe_ray": float("inf")}
    identical = True
    for _ in range(args.repeat):
        with distributed.use_backend("local"):
            seconds, local = timed(sweep)
            best["local"] = min(best["local"], seconds)
            seconds, probe_local = timed(probe_run)
            best["probe_local"] = min(best["probe_local"], seconds)
        with distributed.use_backend("ray"):
            seconds, remote = timed(sweep)
            best["ray"] = min(best["ray"], seconds)
            seconds, probe_remote = timed(probe_run)
            best["probe_ray"] = min(best["probe_ray"], seconds)
        identical &= json.dumps(local.to_dict()) == json.dumps(remote.to_dict())
        identical &= same_arrays(probe_local, probe_remote)
    distributed.shutdown()

    shards_in_sweep = len(curves) * len(dims)
    report = {
        "workload": f"sweep-d minimal, {CURVES}, d={args.dims}, {args.seeds} seeds, "
                    f"max_iters={args.iters}, float64, uncached ({shards_in_sweep} specs)",
        "seconds": {"local": best["local"], f"ray_{args.workers}_workers": best["ray"],
                    "ray_cold_start": cold,
                    "probe_local": best["probe_local"], "probe_ray": best["probe_ray"]},
        "ratios": {"local_over_ray": best["local"] / best["ray"],
                   "ray_over_local": best["ray"] / best["local"]},
        "overhead_per_shard_ms": 1000 * (best["probe_ray"] - best["probe_local"]) / args.shards,
        "probe_shards": args.shards,
        "identical": bool(identical),
        "device": "cpu",
        "gpu": torch.cuda.is_available(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
        "torch": torch.__version__,
        "ray": __import__("ray").__version__,
        "python": platform.python_version(),
        "repeat": args.repeat,
    }
    if args.format == "json":
        print(json.dumps(report, indent=1))
        return 0
    s = report["seconds"]
    print(report["workload"])
    print(f"local backend            {s['local']:8.2f} s")
    print(f"ray, {args.workers} workers (warm)   {s[f'ray_{args.workers}_workers']:8.2f} s   "
          f"local/ray = {report['ratios']['local_over_ray']:.2f}x")
    print(f"ray cold start           {s['ray_cold_start']:8.2f} s   (ray.init + first workers)")
    print(f"overhead per shard       {report['overhead_per_shard_ms']:8.1f} ms  "
          f"({args.shards} one-iteration shards: {s['probe_ray']:.2f} s on Ray, "
          f"{s['probe_local']:.2f} s locally)")
    print(f"identical results: {report['identical']}   device cpu, {report['threads']} torch "
          f"thread(s), {report['cpu_count']} CPUs, load {report['load_average_1m']:.1f}, "
          f"torch {report['torch']}, ray {report['ray']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
