"""What drawing an orbit diagram costs after its sweep is computed (issue 20 §1): the
seconds to build the figure and serialise it, and the bytes the browser would receive, at the
issue's setting (/shallow?view=orbit&orbit_count=4096&orbit_tail=1000&orbit_iters=1000: 4.1
million values; before this bound: 163 MB and 123 s) and at the page's defaults.

    python benchmarks/bench_orbit_payload.py --format json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import add_format, configure, machine  # noqa: E402
from core.report import plots_shallow# noqa: E402
from core.api import run_spec  # noqa: E402
from core.kernel.spec import make_spec  # noqa: E402

CASES = {"defaults (300 × 64)": (300, 64, 2000), "issue 20 (4096 × 1000)": (4096, 1000, 1000)}


def measure(count: int, tail: int, iters: int) -> dict:
    steps = tuple(float(x) for x in np.linspace(0.8, 1.6, count))
    spec = make_spec(model="shallow_linear", phi=1.0, a=(0.7,), b=(0.7,), step_sizes=steps,
                     max_iters=iters, run_to_max=True, tail_points=tail, history_points=16)
    started = time.perf_counter()
    result = run_spec(spec, use_cache=False).result
    computed = time.perf_counter() - started
    started = time.perf_counter()
    diagram = plots_shallow.orbit_diagram(result)
    numbers = time.perf_counter() - started
    started = time.perf_counter()
    figure = diagram.to_plotly()
    drawn = time.perf_counter() - started
    started = time.perf_counter()
    text = figure.to_json()
    serialised = time.perf_counter() - started
    return {"values": diagram.total_values, "density_image": diagram.density,
            "compute_s": round(computed, 3), "numbers_s": round(numbers, 3),
            "draw_s": round(drawn, 3), "json_s": round(serialised, 3), "json_bytes": len(text)}


def main() -> None:
    args = add_format(argparse.ArgumentParser(description=__doc__)).parse_args()
    configure(args)
    results = {name: measure(*case) for name, case in CASES.items()}
    if args.format == "json":
        print(json.dumps({"cases": results, "machine": machine()}, indent=2))
        return
    for name, row in results.items():
        print(f"{name}: {row['values']:,} values, compute {row['compute_s']} s, numbers "
              f"{row['numbers_s']} s, draw {row['draw_s']} s, JSON {row['json_s']} s, "
              f"{row['json_bytes'] / 1e6:.2f} MB{' (density image)' if row['density_image'] else ''}")


if __name__ == "__main__":
    main()
