"""The iteration-complexity sweep, cold (run by hand).

    python benchmarks/bench_scaling.py [--dims 16:2048:x2] [--seeds 8] [--repeat 1] [--format text|json]

Workload (goal: <= 30 s on 2 cores): the Iteration-complexity page's two default curves
(linear · batch perceptron, γ = 1; two-layer conv · GD, γ = c·n/λ2) on its default dataset
(the minimal example) and iteration budget (20 000), d = 16, 32, ..., 2048, 8 seeds — every
(curve, d) one batched run over the seeds, nothing from the cache.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import add_format, configure, emit, machine  # noqa: E402
from core.analysis.scaling import parse_curves, sweep_dimensions  # noqa: E402
from core.kernel.spec import make_spec  # noqa: E402

DEFAULT_CURVES = "linear:batch_perceptron:1,two_layer_conv:gd:scaled"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--curves", default=DEFAULT_CURVES)
    parser.add_argument("--dims", default="16,32,64,128,256,512,1024,2048")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--max-iters", type=int, default=20000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=1, help="cold sweeps; the figure is the best")
    args = add_format(parser).parse_args()
    configure(args)

    curves = parse_curves(args.curves, "gd", "scaled")
    dims = [int(d) for d in args.dims.split(",")]
    base = make_spec(model=curves[0].model, algorithm=curves[0].algorithm, d=dims[0],
                     dataset="minimal", seeds=tuple(range(args.seeds)), max_iters=args.max_iters,
                     history_points=16, device=args.device)
    rounds, per_d = [], {}
    for _ in range(args.repeat):
        started = time.perf_counter()
        for d in dims:            # one d at a time, to report where the time goes
            begun = time.perf_counter()
            result = sweep_dimensions(base, curves, [d], use_cache=False)
            per_d.setdefault(d, []).append(time.perf_counter() - begun)
        rounds.append(time.perf_counter() - started)
    total = min(rounds)
    seconds = {"sweep": total, **{f"d={d}": min(v) for d, v in per_d.items()}}
    unsolved = {curve.label: result.stats(curve, dims[-1])["unsolved"] for curve in curves}
    ratios = {"share_of_30s_goal": total / 30.0}
    workload = {"curves": args.curves, "dims": dims, "seeds": args.seeds, "max_iters": args.max_iters,
                "dataset": "minimal", "rounds": args.repeat}
    lines = [f"iteration-complexity sweep, cold: {len(curves)} curves x d = {dims[0]}..{dims[-1]} "
             f"({len(dims)} values) x {args.seeds} seeds, max_iters {args.max_iters}, {args.device} "
             f"({__import__('torch').get_num_threads()} threads)"]
    lines += [f"  d = {d:5d}  {min(v):7.2f} s" for d, v in per_d.items()]
    lines.append(f"total {total:.2f} s (goal <= 30 s) -> {100 * total / 30:.0f} % of the goal"
                 + (f"; rounds " + " ".join(f"{r:.2f}" for r in rounds) if len(rounds) > 1 else ""))
    emit(args.format, "scaling", seconds, ratios, machine(args.device), workload, lines,
         {"unsolved_at_largest_d": unsolved})


if __name__ == "__main__":
    main()
