"""Batched engine vs per-configuration PyTorch loops (run by hand).

    python benchmarks/bench_engine.py [--device cpu|cuda] [--steps 64] [--iters 300] [--repeat 3]
                                      [--format text|json]

Workload: LR+GD on gaussian n = 2000, d = 200, float64, 64 step sizes x 300
iterations, every run to the end; also the same sweep with the perceptron-gap companion the
dashboard shows by default. Two per-run baselines, both timed in the same process as the
engine:

* ``autograd``: the straightforward PyTorch loop - a parameter tensor, the loss, backward(),
  torch.optim.SGD;
* ``hand``: a stricter baseline with the gradient written out (two matrix-vector products).

Also printed: a bare batched loop with nothing but the two matmuls and the sigmoid (the most
any batched engine could gain here), the sweep's achieved GFLOP/s and torch's own matmul
GFLOP/s on the same shapes, as the practical ceiling.
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

from common import add_format, configure, emit, interleaved, machine, synchronize  # noqa: E402
from core.datasets import builtin as datasets# noqa: E402
from core.engine.batched import run_sweep  # noqa: E402
from core.kernel.spec import make_spec  # noqa: E402


def naive_loop(features, labels, step_sizes, iterations):
    """What one would write first: one run at a time, matrix-vector products."""
    n = features.shape[0]
    finals = []
    for gamma in step_sizes:
        theta = torch.zeros(features.shape[1], dtype=features.dtype, device=features.device)
        losses = []
        for _ in range(iterations + 1):
            margins = labels * (features @ theta)
            losses.append(F.softplus(-margins).mean())
            grad = -(features.T @ (torch.sigmoid(-margins) * labels)) / n
            theta = theta - gamma * grad
        finals.append(float(torch.stack(losses)[-1]))
    return finals


def autograd_loop(features, labels, step_sizes, iterations):
    """The straightforward way: autograd and torch.optim.SGD, one run at a time."""
    finals = []
    for gamma in step_sizes:
        theta = torch.zeros(features.shape[1], dtype=features.dtype, device=features.device,
                            requires_grad=True)
        optimizer = torch.optim.SGD([theta], lr=float(gamma))
        losses = []
        for _ in range(iterations + 1):
            optimizer.zero_grad()
            loss = F.softplus(-labels * (features @ theta)).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        finals.append(float(losses[-1]))
    return finals


def bare_batched_loop(features, labels, step_sizes, iterations):
    """Only what every batched GD step must do: two matmuls and a sigmoid, into reused
    buffers. No stopping, no divergence checks, no history: the ceiling for the engine."""
    signed = labels[:, None] * features
    n = signed.shape[0]
    rates = torch.tensor(step_sizes, dtype=features.dtype, device=features.device)[:, None] / n
    theta = torch.zeros(len(step_sizes), signed.shape[1], dtype=features.dtype,
                        device=features.device)
    margins = torch.empty(len(step_sizes), n, dtype=features.dtype, device=features.device)
    weights = torch.empty_like(margins)
    gradient = torch.empty_like(theta)
    for _ in range(iterations + 1):
        torch.mm(theta, signed.T, out=margins)
        torch.neg(margins, out=weights).sigmoid_()
        torch.mm(weights, signed, out=gradient)
        theta = theta + rates * gradient
    return theta


def matmul_gflops(batch, n, d, dtype, device, seconds=1.0):
    a = torch.randn(batch, d, dtype=dtype, device=device)
    b = torch.randn(n, d, dtype=dtype, device=device)
    for _ in range(3):
        a @ b.T
    synchronize(device)
    best, started = float("inf"), time.perf_counter()
    while time.perf_counter() - started < seconds:      # the best burst (noise only adds time)
        begun = time.perf_counter()
        for _ in range(10):
            a @ b.T
        synchronize(device)
        best = min(best, (time.perf_counter() - begun) / 10)
    return 2 * batch * n * d / best / 1e9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best")
    parser.add_argument("--no-per-run", action="store_true",
                        help="skip the two per-run loops (the slowest part)")
    args = add_format(parser).parse_args()
    configure(args)
    device = torch.device(args.device)
    dtype = {"float64": torch.float64, "float32": torch.float32}[args.dtype]

    step_sizes = tuple(np.logspace(-2, 3, args.steps))
    spec = make_spec(dataset="gaussian", n=args.n, d=args.d, margin=0.1, algorithm="gd",
                     step_sizes=step_sizes, max_iters=args.iters, run_to_max=True,
                     perceptron_gap=False, device=args.device, dtype=args.dtype)
    gap_spec = spec.replace(perceptron_gap=True)
    # the same sweep recording its metrics every ~iters/16 steps instead of every step (where
    # the default 512 history points put them): what the per-step history costs
    sparse_spec = spec.replace(history_points=16)
    data = datasets.load(spec)
    features = torch.as_tensor(data.features, dtype=dtype, device=device)
    labels = torch.as_tensor(data.labels, dtype=dtype, device=device)

    run_sweep(spec.replace(max_iters=5), data)   # warm-up
    run_sweep(gap_spec.replace(max_iters=5), data)

    contenders = {"engine": lambda: run_sweep(spec, data),
                  "engine_gap": lambda: run_sweep(gap_spec, data),
                  "engine_sparse_history": lambda: run_sweep(sparse_spec, data),
                  "bare": lambda: bare_batched_loop(features, labels, step_sizes, args.iters)}
    if not args.no_per_run:
        contenders["hand"] = lambda: naive_loop(features, labels, step_sizes, args.iters)
        contenders["autograd"] = lambda: autograd_loop(features, labels, step_sizes, args.iters)
    best, rounds, values = interleaved(contenders, args.repeat, device)
    engine, bare = best["engine"], best["bare"]

    engine_finals = [run.final_loss for run in values["engine"].runs]
    agree = all(np.allclose(engine_finals, values[name], rtol=1e-6, atol=1e-12)
                for name in ("hand", "autograd") if name in values)
    flops = 2 * 2 * args.steps * args.n * args.d * (args.iters + 1)
    achieved = flops / engine / 1e9
    ceiling = matmul_gflops(args.steps, args.n, args.d, dtype, device)
    ratios = {"engine_share_of_bare_speed": bare / engine,          # goal >= 0.85
              "gap_companion_overhead": best["engine_gap"] / engine - 1,   # goal <= 0.30
              "sparse_history_share_of_bare_speed": bare / best["engine_sparse_history"],
              "sweep_share_of_matmul_gflops": achieved / ceiling}
    if "hand" in best:
        ratios.update(engine_vs_autograd=best["autograd"] / engine, engine_vs_hand=best["hand"] / engine,
                      bare_vs_hand=best["hand"] / bare)
    workload = {"steps": args.steps, "iters": args.iters, "n": args.n, "d": args.d,
                "dtype": args.dtype, "rounds": args.repeat}

    lines = [f"device {device} ({torch.get_num_threads()} threads), {args.dtype}, "
             f"{args.steps} step sizes x {args.iters} iterations, n={args.n}, d={args.d}; "
             f"best of {args.repeat} interleaved rounds"]
    lines += [f"  {name:10s} rounds: " + " ".join(f"{value:7.3f}" for value in rounds[name])
              for name in contenders]
    lines.append(f"batched engine      {engine:8.3f} s   = {100 * bare / engine:.0f} % of the bare "
                 f"batched loop's speed (bare {bare:.3f} s; goal >= 85 %)")
    lines.append(f"with the history on a stride (16 points, not every step) {best['engine_sparse_history']:.3f} s "
                 f"= {100 * ratios['sparse_history_share_of_bare_speed']:.0f} % of the bare loop's speed")
    lines.append(f"with the perceptron-gap companion {best['engine_gap']:.3f} s = "
                 f"+{100 * ratios['gap_companion_overhead']:.0f} % (goal <= 30 %)")
    if "hand" in best:
        lines.append(f"autograd per-run    {best['autograd']:8.3f} s   -> engine "
                     f"{ratios['engine_vs_autograd']:5.1f} x faster")
        lines.append(f"hand-gradient per-run {best['hand']:6.3f} s   -> engine "
                     f"{ratios['engine_vs_hand']:5.1f} x faster (bare loop: {ratios['bare_vs_hand']:.1f} x)")
        lines.append(f"final losses agree (engine, autograd, hand): {agree}")
    lines.append(f"sweep throughput    {achieved:8.1f} GFLOP/s; torch matmul on the same shapes "
                 f"({args.steps}x{args.d} @ {args.d}x{args.n}) {ceiling:.1f} GFLOP/s -> sweep at "
                 f"{100 * achieved / ceiling:.0f} %")
    emit(args.format, "engine", best, ratios, machine(args.device), workload, lines,
         {"rounds_seconds": rounds, "losses_agree": agree, "gflops": achieved})


if __name__ == "__main__":
    main()
