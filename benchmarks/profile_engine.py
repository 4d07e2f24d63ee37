"""Where a step of the batched engine goes, next to the bare batched loop (run by hand).

    python benchmarks/profile_engine.py [--threads 1] [--clock cpu] [--steps 64] [--iters 300]
                                        [--repeat 5] [--format text|json]

Workload: bench_engine.py's (LR+GD, gaussian n = 2000, d = 200, float64, 64 step sizes x 300
iterations, every run to the end, every iteration on the history grid).

Two kinds of figures, so each checks the other:

* whole loops, in interleaved best-of rounds: the engine, the engine with the history on a
  stride (16 points: no per-step metrics), the engine with its loss column replaced by zeros
  (profiling only: what the softplus costs in place) and the bare loop (two matmuls + sigmoid);
* every tensor operation of a step alone, repeated on the margins of a run half-way through,
  best of ``--repeat`` bursts: the two matmuls, the sigmoid, the update, the loss (softplus + row
  sums), the accuracy count, the minimum margin, the norms, writing the history row and the
  host-side solve/divergence test. What a loop's step costs beyond the sum of its operations is
  "Python and the rest" (interpreter, dispatch, allocation, cache misses between operations).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
from common import add_format, configure, emit, interleaved, machine  # noqa: E402
from bench_engine import bare_batched_loop  # noqa: E402
from core.datasets import builtin as datasets# noqa: E402
import core.engine.batched as engine  # noqa: E402
from core.kernel.spec import make_spec  # noqa: E402


def time_op(function, repeat: int, count: int = 50) -> float:
    """Best seconds per call of ``function`` over ``repeat`` bursts of ``count`` calls."""
    for _ in range(5):
        function()
    best = float("inf")
    for _ in range(repeat):
        started = common._clock()
        for _ in range(count):
            function()
        best = min(best, (common._clock() - started) / count)
    return best


def midway_state(features, labels, step_sizes, iterations):
    """θ of every run after ``iterations`` bare GD steps (real margins, not random ones)."""
    return bare_batched_loop(features, labels, step_sizes, iterations)


def without_loss(*args, **kwargs):
    """engine._metrics with the loss's softplus skipped (the row sums of the margins instead:
    wrong values, for profiling only)."""
    saved = F.softplus
    F.softplus = lambda x, beta=1, threshold=20: x
    try:
        return engine_metrics(*args, **kwargs)
    finally:
        F.softplus = saved


engine_metrics = engine._metrics


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="rounds; each figure is the best")
    args = add_format(parser).parse_args()
    configure(args)
    dtype = torch.float64
    step_sizes = tuple(np.logspace(-2, 3, args.steps))
    spec = make_spec(dataset="gaussian", n=args.n, d=args.d, margin=0.1, algorithm="gd",
                     step_sizes=step_sizes, max_iters=args.iters, run_to_max=True,
                     perceptron_gap=False, device="cpu", dtype="float64")
    data = datasets.load(spec)
    features = torch.as_tensor(data.features, dtype=dtype)
    labels = torch.as_tensor(data.labels, dtype=dtype)
    engine.run_sweep(spec.replace(max_iters=5), data)      # warm-up

    def no_loss_engine():
        engine._metrics = without_loss
        try:
            return engine.run_sweep(spec, data)
        finally:
            engine._metrics = engine_metrics

    contenders = {"engine": lambda: engine.run_sweep(spec, data),
                  "engine_no_loss": no_loss_engine,
                  "engine_sparse_history": lambda: engine.run_sweep(spec.replace(history_points=16), data),
                  "bare": lambda: bare_batched_loop(features, labels, step_sizes, args.iters)}
    best, rounds, _ = interleaved(contenders, args.repeat)
    per_step = {name: seconds / (args.iters + 1) for name, seconds in best.items()}

    # ---- every operation of a step alone, on the margins half-way through
    batch, n, d = args.steps, args.n, args.d
    signed = labels[:, None] * features
    theta = midway_state(features, labels, step_sizes, args.iters // 2)
    margins = torch.mm(theta, signed.T)
    scratch, other = torch.empty_like(margins), torch.empty_like(margins)
    pulled = torch.empty_like(theta)
    rates = torch.tensor(step_sizes, dtype=dtype)[:, None] / n
    row = torch.empty(batch, 6, dtype=dtype)
    minimum = margins.amin(dim=1)
    book_view = np.ones(batch, dtype=bool), np.full(batch, -1)
    limit = -torch.finfo(dtype).max / (4 * n)

    def host_check():
        margin, (active, solve) = minimum.numpy(), book_view
        (active & ~(np.isfinite(margin) & (margin > limit))).any()
        (active & (margin > 0) & (solve < 0)).any()

    ops = {
        "matmul margins (θ Sᵀ)": lambda: torch.mm(theta, signed.T, out=scratch),
        "sigmoid coefficients": lambda: torch.neg(margins, out=scratch).sigmoid_(),
        "matmul pullback (c S)": lambda: torch.mm(scratch, signed, out=pulled),
        "update θ + γ/n·pullback": lambda: theta + rates * pulled,
        "loss: softplus": lambda: F.softplus(margins, beta=-1),
        "loss: row sums": lambda: other.sum(dim=1),
        "accuracy: m > 0, row sums": lambda: torch.gt(margins, 0, out=scratch).sum(dim=1),
        "min margin (amin)": lambda: margins.amin(dim=1),
        "norms ‖θ‖, ‖∇‖": lambda: (pulled.norm(dim=1), theta.norm(dim=1)),
        "history row (stack, out=)": lambda: torch.stack([minimum] * 6, dim=1, out=row),
        "host solve/divergence test": host_check,
    }
    op_seconds = {name: time_op(function, args.repeat) for name, function in ops.items()}

    bare_ops = ["matmul margins (θ Sᵀ)", "sigmoid coefficients", "matmul pullback (c S)",
                "update θ + γ/n·pullback"]
    table = []
    for name, seconds in op_seconds.items():
        table.append((name, seconds, seconds if name in bare_ops else 0.0))
    engine_rest = per_step["engine"] - sum(op_seconds.values())
    bare_rest = per_step["bare"] - sum(op_seconds[name] for name in bare_ops)
    table.append(("Python and the rest", engine_rest, bare_rest))
    table.append(("step (whole loop / iterations)", per_step["engine"], per_step["bare"]))

    softplus = op_seconds["loss: softplus"]
    ratios = {"engine_share_of_bare_speed": best["bare"] / best["engine"],
              "no_loss_share_of_bare_speed": best["bare"] / best["engine_no_loss"],
              "sparse_history_share_of_bare_speed": best["bare"] / best["engine_sparse_history"],
              "softplus_share_of_bare_step": softplus / per_step["bare"],
              # the most the engine can reach while it computes the loss every step
              "ceiling_with_softplus": per_step["bare"] / (per_step["bare"] + softplus)}
    lines = [f"cpu ({torch.get_num_threads()} threads, {'cpu' if common._clock is time.process_time else 'wall'} "
             f"clock), float64, {batch} step sizes x {args.iters} iterations, n={n}, d={d}; "
             f"best of {args.repeat}",
             f"{'per step':34s} {'engine ms':>10s} {'%':>6s} {'bare ms':>10s} {'%':>6s}"]
    for name, seconds, bare_seconds in table:
        lines.append(f"{name:34s} {1e3 * seconds:10.3f} {100 * seconds / per_step['engine']:6.1f} "
                     f"{1e3 * bare_seconds:10.3f} {100 * bare_seconds / per_step['bare']:6.1f}")
    lines.append(f"whole loops, ms per step: engine {1e3 * per_step['engine']:.3f}, without its loss "
                 f"softplus {1e3 * per_step['engine_no_loss']:.3f}, history on a stride "
                 f"{1e3 * per_step['engine_sparse_history']:.3f}, bare {1e3 * per_step['bare']:.3f}")
    lines.append(f"engine / bare speed {ratios['engine_share_of_bare_speed']:.3f}; without the loss "
                 f"{ratios['no_loss_share_of_bare_speed']:.3f}; the softplus is "
                 f"{100 * ratios['softplus_share_of_bare_step']:.0f} % of a bare step, so computing it "
                 f"every step caps the ratio at {ratios['ceiling_with_softplus']:.3f}")
    emit(args.format, "profile_engine", best, ratios, machine("cpu"),
         {"steps": batch, "iters": args.iters, "n": n, "d": d, "dtype": "float64",
          "rounds": args.repeat},
         lines, {"per_step_ms": {name: {"engine": round(1e3 * s, 4), "bare": round(1e3 * b, 4)}
                                 for name, s, b in table},
                 "rounds_seconds": rounds})


if __name__ == "__main__":
    main()
