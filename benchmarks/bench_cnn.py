"""CNN sweep: one batched run over step sizes vs the same runs one after another, and the cost
of measuring the sharpness during the sweep (run by hand).

    python benchmarks/bench_cnn.py [--dataset digits|cifar10 --path DIR] [--n 300] [--device cpu]
                                   [--repeat 3] [--format text|json]

Workload: two digit classes, N = 300, CNN with kernel size 3,
8 step sizes x 500 iterations, every run to the end, float32. Variants, in interleaved rounds:
the batched sweep; the same sweep measuring the sharpness every 20 steps (goal:
<= 25 % more; batched Lanczos on closed-form Hessian-vector products, warm-started); the 8 runs
one after another. Also the cost of one sharpness estimate of one run, the old way (autograd
Hessian-vector products, ARPACK) and the new (all runs at once).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import add_format, configure, emit, interleaved, machine  # noqa: E402
from core.datasets import builtin as datasets# noqa: E402
from core.engine.batched import run_sweep  # noqa: E402
from core.models.builtin import build  # noqa: E402
from core.analysis.sharpness import top_eigenvalues, top_hessian_eigenvalue  # noqa: E402
from core.kernel.spec import make_spec  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--path", default="")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--sharpness-every", type=int, default=20)
    parser.add_argument("--sharpness-samples", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best")
    parser.add_argument("--no-sequential", action="store_true", help="skip the one-after-another runs")
    args = add_format(parser).parse_args()
    configure(args)

    spec = make_spec(model="cnn", dataset=args.dataset, path=args.path, classes=(3, 8) if
                     args.dataset == "digits" else (3, 5), n=args.n, kernel_size=3,
                     step_sizes=tuple(np.logspace(-1, 1, args.steps)), max_iters=args.iters,
                     run_to_max=True, perceptron_gap=False, device=args.device, dtype=args.dtype)
    sharp_spec = spec.replace(sharpness_every=args.sharpness_every)
    data = datasets.load(spec)
    run_sweep(spec.replace(max_iters=3), data)            # warm-up
    run_sweep(sharp_spec.replace(max_iters=3), data)

    contenders = {"batched": lambda: run_sweep(spec, data),
                  "batched_sharpness": lambda: run_sweep(sharp_spec, data)}
    if not args.no_sequential:
        contenders["sequential"] = lambda: [run_sweep(spec.single(g, 0), data) for g in spec.step_sizes]
    best, rounds, values = interleaved(contenders, args.repeat, args.device)
    batched = values["batched"]
    agree = None
    if "sequential" in values:
        # float32 rounding differs with the batch size and large steps amplify it (the chaos the
        # paper shows), so compare the first 20 iterations.
        agree = all(np.allclose(b.history["loss"][:20], s.runs[0].history["loss"][:20], rtol=1e-3)
                    for b, s in zip(batched.runs, values["sequential"]))

    model = build(spec)
    device = torch.device(args.device)
    shared = model.prepare(torch.as_tensor(data.features, dtype=torch.float64, device=device),
                           torch.as_tensor(data.labels, dtype=torch.float64, device=device))
    theta = torch.as_tensor(np.stack([run.params[-1] if run.params is not None else model.init(data.d, 0)
                                      for run in batched.runs]), dtype=torch.float64, device=device)
    started = time.perf_counter()
    for sample in range(args.sharpness_samples):
        oracle = top_hessian_eigenvalue(model, shared, theta[0], seed=sample)
    one_oracle = (time.perf_counter() - started) / args.sharpness_samples
    started = time.perf_counter()
    for _ in range(args.sharpness_samples):
        batched_values, _ = top_eigenvalues(model, shared, theta)
    all_batched = (time.perf_counter() - started) / args.sharpness_samples
    step_seconds = best["batched"] / (args.iters + 1)
    best.update(one_sharpness_autograd=one_oracle, all_runs_sharpness_batched=all_batched)

    ratios = {"sharpness_overhead": best["batched_sharpness"] / best["batched"] - 1,   # goal <= 0.25
              "sharpness_estimate_speedup_per_run": one_oracle * args.steps / all_batched}
    if "sequential" in best:
        ratios["batched_vs_sequential"] = best["sequential"] / best["batched"]
    workload = {"dataset": args.dataset, "n": data.n, "steps": args.steps, "iters": args.iters,
                "dtype": args.dtype, "kernel_size": 3, "params": model.num_params(data.d),
                "sharpness_every": args.sharpness_every, "rounds": args.repeat}
    lines = [f"cnn k=3 on {args.dataset} n={data.n}, {args.steps} step sizes x {args.iters} iterations, "
             f"{args.dtype}, {device} ({torch.get_num_threads()} threads), p={model.num_params(data.d)}; "
             f"best of {args.repeat} interleaved rounds"]
    lines += [f"  {name:18s} rounds: " + " ".join(f"{t:7.2f}" for t in rounds[name]) for name in contenders]
    lines.append(f"batched sweep        {best['batched']:8.2f} s")
    lines.append(f"  with sharpness every {args.sharpness_every} steps {best['batched_sharpness']:6.2f} s = "
                 f"+{100 * ratios['sharpness_overhead']:.0f} % (goal <= 25 %)")
    if "sequential" in best:
        lines.append(f"{args.steps} sequential runs   {best['sequential']:8.2f} s -> batched "
                     f"{ratios['batched_vs_sequential']:.1f} x faster (losses agree: {agree})")
    lines.append(f"one batched GD step  {1e3 * step_seconds:8.2f} ms ({args.steps} runs)")
    lines.append(f"sharpness of one run, autograd + ARPACK: {1e3 * one_oracle:8.1f} ms "
                 f"(= {one_oracle / step_seconds:.0f} batched steps); of all {args.steps} runs, batched "
                 f"closed-form Lanczos: {1e3 * all_batched:.1f} ms; top eigenvalue "
                 f"{oracle:.6g} vs {float(batched_values[0]):.6g}")
    emit(args.format, "cnn", best, ratios, machine(args.device), workload, lines,
         {"rounds_seconds": rounds, "losses_agree": agree})


if __name__ == "__main__":
    main()
