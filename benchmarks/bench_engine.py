"""Batched engine vs per-configuration PyTorch loops (run by hand).

    python benchmarks/bench_engine.py [--device cpu|cuda] [--steps 64] [--iters 1000] [--repeat 3]

Workload (the core-engine issue): LR+GD on gaussian n = 2000, d = 200, float64, 64 step
sizes x 1000 iterations, every run to the end. Two per-run baselines, both timed in the same
process as the engine:

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

from core import datasets  # noqa: E402
from core.engine import run_sweep  # noqa: E402
from core.spec import make_spec  # noqa: E402


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


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(batch, n, d, dtype, device, seconds=1.0):
    a = torch.randn(batch, d, dtype=dtype, device=device)
    b = torch.randn(n, d, dtype=dtype, device=device)
    for _ in range(3):
        a @ b.T
    synchronize(device)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(10):
            a @ b.T
        count += 10
        synchronize(device)
    return 2 * batch * n * d * count / (time.perf_counter() - started) / 1e9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=200)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = {"float64": torch.float64, "float32": torch.float32}[args.dtype]

    step_sizes = tuple(np.logspace(-2, 3, args.steps))
    spec = make_spec(dataset="gaussian", n=args.n, d=args.d, margin=0.1, algorithm="gd",
                     step_sizes=step_sizes, max_iters=args.iters, run_to_max=True,
                     perceptron_gap=False, device=args.device, dtype=args.dtype)
    data = datasets.load(spec)
    features = torch.as_tensor(data.features, dtype=dtype, device=device)
    labels = torch.as_tensor(data.labels, dtype=dtype, device=device)

    run_sweep(spec.replace(max_iters=5), data)   # warm-up

    def engine(*_):
        return run_sweep(spec, data)

    # Rounds interleave the contenders, so a noisy spell on a shared machine hits all of them;
    # each figure is the best of its rounds (noise only ever adds time).
    contenders = {"engine": engine, "hand": naive_loop, "autograd": autograd_loop,
                  "bare": bare_batched_loop}
    times = {name: [] for name in contenders}
    values = {}
    for _ in range(args.repeat):
        for name, function in contenders.items():
            synchronize(device)
            started = time.perf_counter()
            values[name] = function(features, labels, step_sizes, args.iters)
            synchronize(device)
            times[name].append(time.perf_counter() - started)
    batched, naive, autograd, bare = (min(times[name]) for name in contenders)
    result, finals, autograd_finals = values["engine"], values["hand"], values["autograd"]

    engine_finals = [run.final_loss for run in result.runs]
    agree = (np.allclose(engine_finals, finals, rtol=1e-6, atol=1e-12)
             and np.allclose(engine_finals, autograd_finals, rtol=1e-6, atol=1e-12))
    flops = 2 * 2 * args.steps * args.n * args.d * (args.iters + 1)
    achieved = flops / batched / 1e9
    ceiling = matmul_gflops(args.steps, args.n, args.d, dtype, device)
    square = matmul_gflops(2048, 2048, 2048, dtype, device)
    with_gap = run_sweep(spec.replace(perceptron_gap=True), data).meta["seconds"]

    print(f"device {device} ({torch.get_num_threads()} threads), {args.dtype}, "
          f"{args.steps} step sizes x {args.iters} iterations, n={args.n}, d={args.d}; "
          f"best of {args.repeat} interleaved rounds")
    for name in contenders:
        print(f"  {name:9s} rounds: " + " ".join(f"{value:7.3f}" for value in times[name]))
    print(f"batched engine      {batched:8.3f} s   (with perceptron-gap companion: {with_gap:.3f} s)")
    print(f"autograd per-run    {autograd:8.3f} s   -> engine {autograd / batched:5.1f} x faster")
    print(f"hand-gradient per-run {naive:6.3f} s   -> engine {naive / batched:5.1f} x faster")
    print(f"bare batched loop   {bare:8.3f} s   -> the most any batched loop gains over the "
          f"hand-gradient one here: {naive / bare:.1f} x")
    print(f"final losses agree (engine, autograd, hand): {agree}")
    print(f"sweep throughput    {achieved:8.1f} GFLOP/s")
    print(f"torch matmul, same shapes ({args.steps}x{args.d} @ {args.d}x{args.n}) "
          f"{ceiling:8.1f} GFLOP/s -> sweep at {100 * achieved / ceiling:.0f} %")
    print(f"torch matmul, 2048^3 {square:8.1f} GFLOP/s -> sweep at {100 * achieved / square:.0f} %")


if __name__ == "__main__":
    main()
