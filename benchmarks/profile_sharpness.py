"""Where one sharpness measurement of the CNN sweep goes (run by hand).

    python benchmarks/profile_sharpness.py [--threads 1] [--clock cpu] [--repeat 5] [--format text|json]

bench_cnn.py's workload (digits 3/8, N = 300, kernel 3, 8 step sizes x 500 iterations, float32):
the sweep is run once keeping θ; then the measurements the engine makes every 20 steps are
replayed on those θ (warm-started from the previous one, the forward pass's activations
reused, as in the engine), best of ``--repeat`` passes. Per measurement: the Hessian-vector
product's setup (``hvp_at``: what depends on θ alone), the products (and how many the warm-started
Lanczos needs) and the rest (Lanczos bookkeeping, the start vector). Also the sweep's own time per
step, so the ratio shows what a measurement every 20 steps adds.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402
from common import add_format, configure, emit, machine  # noqa: E402
from core.datasets import builtin as datasets# noqa: E402
from core.analysis import sharpness# noqa: E402
from core.engine.batched import prepare, run_sweep  # noqa: E402
from core.kernel.spec import make_spec  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5, help="passes; each figure is the best")
    args = add_format(parser).parse_args()
    configure(args)
    clock = common._clock
    spec = make_spec(model="cnn", dataset="digits", classes=(3, 8), n=args.n, kernel_size=3,
                     step_sizes=tuple(np.logspace(-1, 1, args.steps)), max_iters=args.iters,
                     run_to_max=True, perceptron_gap=False, dtype="float32")
    data = datasets.load(spec)
    sweep = prepare(spec, data)
    run_sweep(spec.replace(max_iters=3), data)
    best_sweep = float("inf")
    for _ in range(args.repeat):
        started = clock()
        result = run_sweep(spec, data)
        best_sweep = min(best_sweep, clock() - started)
    iterations = result.runs[0].history["iteration"]         # θ kept on the history grid
    thetas = [torch.as_tensor(np.stack([run.params[i] for run in result.runs]), dtype=torch.float32)
              for i, t in enumerate(iterations) if t % args.every == 0]
    saved = [sweep.model.margins(theta, sweep.shared)[1] for theta in thetas]
    running = torch.ones(len(result.runs), dtype=torch.bool)

    totals = {"setup": 0.0, "products": 0.0, "count": 0}
    original = sharpness.hvp_at

    def timed_hvp_at(*arguments, **keywords):
        started = clock()
        product = original(*arguments, **keywords)
        totals["setup"] += clock() - started

        def timed(vectors):
            begun = clock()
            out = product(vectors)
            totals["products"] += clock() - begun
            totals["count"] += 1
            return out
        return timed

    sharpness.hvp_at = timed_hvp_at
    best = None
    try:
        for _ in range(args.repeat + 1):
            totals.update(setup=0.0, products=0.0, count=0)
            meter = sharpness.SharpnessMeter(sweep.model, sweep.shared)
            started = clock()
            for index, (theta, forward) in enumerate(zip(thetas, saved)):
                meter.measure(theta, running, index * args.every, forward)
            total = clock() - started
            if best is None or total < best["total"]:
                best = dict(totals, total=total)
    finally:
        sharpness.hvp_at = original
    count = len(thetas)
    per = {"setup": best["setup"] / count, "products": best["products"] / count,
           "rest": (best["total"] - best["setup"] - best["products"]) / count,
           "measurement": best["total"] / count}
    step = best_sweep / (args.iters + 1)
    ratios = {"products_per_measurement": best["count"] / count,
              "measurement_in_sweep_steps": per["measurement"] / step,
              "added_by_one_every_%d_steps" % args.every: per["measurement"] / (args.every * step)}
    lines = [f"cnn sweep, {args.steps} runs, float32, cpu ({torch.get_num_threads()} threads); "
             f"{count} measurements, best of {args.repeat}",
             f"sweep step {1e3 * step:.3f} ms; one measurement {1e3 * per['measurement']:.3f} ms = "
             f"{ratios['measurement_in_sweep_steps']:.1f} steps -> +{100 * ratios['added_by_one_every_%d_steps' % args.every]:.0f} % "
             f"at one every {args.every} steps",
             f"  setup {1e3 * per['setup']:.3f} ms, products {1e3 * per['products']:.3f} ms "
             f"({ratios['products_per_measurement']:.1f} a measurement), rest {1e3 * per['rest']:.3f} ms"]
    emit(args.format, "profile_sharpness", {**per, "sweep_step": step}, ratios, machine("cpu"),
         {"n": args.n, "steps": args.steps, "iters": args.iters, "every": args.every,
          "rounds": args.repeat}, lines)


if __name__ == "__main__":
    main()
