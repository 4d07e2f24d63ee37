"""CNN sweep: one batched run over step sizes vs the same runs one after another (by hand).

    python benchmarks/bench_cnn.py [--dataset digits|cifar10 --path DIR] [--n 300] [--device cpu] [--repeat 3]

Workload (the image-classifier issue): two digit classes, N = 300, CNN with kernel size 3,
8 step sizes x 500 iterations, every run to the end. Also prints the cost of one sharpness
estimate (Lanczos on Hessian-vector products) relative to one batched GD step.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import datasets  # noqa: E402
from core.engine import run_sweep, top_hessian_eigenvalue  # noqa: E402
from core.models import build  # noqa: E402
from core.spec import make_spec  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--path", default="")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--sharpness-samples", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best")
    args = parser.parse_args()

    spec = make_spec(model="cnn", dataset=args.dataset, path=args.path, classes=(3, 8) if
                     args.dataset == "digits" else (3, 5), n=args.n, kernel_size=3,
                     step_sizes=tuple(np.logspace(-1, 1, args.steps)), max_iters=args.iters,
                     run_to_max=True, perceptron_gap=False, device=args.device, dtype=args.dtype)
    data = datasets.load(spec)
    run_sweep(spec.replace(max_iters=3), data)            # warm-up

    # Interleaved rounds, best of each (noise on a shared machine only ever adds time).
    batched_times, sequential_times = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        batched = run_sweep(spec, data)
        batched_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        sequential = [run_sweep(spec.single(g, 0), data) for g in spec.step_sizes]
        sequential_times.append(time.perf_counter() - started)
    batched_seconds, sequential_seconds = min(batched_times), min(sequential_times)
    # float32 rounding differs with the batch size and large steps amplify it (the chaos the
    # paper shows), so compare the first 20 iterations.
    agree = all(np.allclose(b.history["loss"][:20], s.runs[0].history["loss"][:20], rtol=1e-3)
                for b, s in zip(batched.runs, sequential))

    model = build(spec)
    dtype = torch.float64
    device = torch.device(args.device)
    shared = model.prepare(torch.as_tensor(data.features, dtype=dtype, device=device),
                           torch.as_tensor(data.labels, dtype=dtype, device=device))
    theta = torch.as_tensor(batched.runs[0].params[-1] if batched.runs[0].params is not None
                            else model.init(data.d, 0), dtype=dtype, device=device)
    started = time.perf_counter()
    for sample in range(args.sharpness_samples):
        value = top_hessian_eigenvalue(model, shared, theta, seed=sample)
    sharpness_seconds = (time.perf_counter() - started) / args.sharpness_samples
    step_seconds = batched_seconds / (args.iters + 1)

    print(f"cnn k=3 on {args.dataset} n={data.n}, {args.steps} step sizes x {args.iters} iterations, "
          f"{args.dtype}, {device}, p={model.num_params(data.d)}")
    print(f"best of {args.repeat} rounds; batched " + " ".join(f"{t:.2f}" for t in batched_times)
          + " s, sequential " + " ".join(f"{t:.2f}" for t in sequential_times) + " s")
    print(f"batched sweep        {batched_seconds:8.2f} s")
    print(f"{args.steps} sequential runs   {sequential_seconds:8.2f} s")
    print(f"speed-up             {sequential_seconds / batched_seconds:8.1f} x   (losses agree: {agree})")
    print(f"one batched GD step  {1e3 * step_seconds:8.2f} ms ({args.steps} runs)")
    print(f"one sharpness (one run, float64 Lanczos) {1e3 * sharpness_seconds:8.1f} ms = "
          f"{sharpness_seconds / step_seconds:.1f} batched steps; top eigenvalue {value:.4g}")


if __name__ == "__main__":
    main()
