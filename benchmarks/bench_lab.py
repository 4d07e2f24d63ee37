"""The hypothesis lab at scale (run by hand): a 2,000-run sweep over three fields, cold.

    python benchmarks/bench_lab.py [--format text|json] [--repeat 1]

Workload (issue 25): the minimal example, model = linear, two_layer_conv × d = 16..256 (x2) ×
200 seeds, GD at the scaled step γ = n/λ₂(d, μ), max_iters 2000: 2,000 runs in 10 batched
runs, nothing from the cache. Measured: planning (every check), running, the tidy table, the
fits and the lab page's chart (built and serialised, as the page sends it), and the bytes the
page would send for the chart and its table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import add_format, configure, emit, machine  # noqa: E402
from core.analysis import lab# noqa: E402
from core.report import lab_chart# noqa: E402

BASE = "dataset=minimal&algorithm=gd&max_iters=2000&history_points=16"
VARY = ("model=linear,two_layer_conv", "d=16:256:x2", "seed=0:199")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--vary", action="append", default=None)
    parser.add_argument("--step-rule", default="scaled")
    parser.add_argument("--repeat", type=int, default=1, help="cold sweeps; the figure is the best")
    args = add_format(parser).parse_args()
    configure(args)
    vary = args.vary or list(VARY)
    rounds = []
    for _ in range(args.repeat):
        times = {}
        started = time.perf_counter()
        plan = lab.plan(args.base, vary, step_rule=args.step_rule, time_budget=None)
        times["plan"] = time.perf_counter() - started
        begun = time.perf_counter()
        result = lab.run(plan, use_cache=False)
        times["run"] = time.perf_counter() - begun
        table = result.table
        begun = time.perf_counter()
        fits = lab.fit(table, x="d", measure="iterations_to_solve")
        times["fit"] = time.perf_counter() - begun
        begun = time.perf_counter()
        figure = lab_chart.figure(table, "iterations_to_solve", "d", "model", None, fits)
        chart_json = figure.to_json()
        times["draw"] = time.perf_counter() - begun
        times["total"] = time.perf_counter() - started
        rounds.append(times)
    best = {key: min(r[key] for r in rounds) for key in rounds[0]}
    shown = table.head(1000)     # the page's table (pages/lab.py MAX_TABLE_ROWS)
    table_bytes = len(shown.to_json(orient="split"))
    payload = {"chart_bytes": len(chart_json), "table_bytes_approx": table_bytes}
    slopes = {row.model: round(row.slope, 3) for row in fits.itertuples()}
    workload = {"base": args.base, "vary": vary, "step_rule": args.step_rule, "runs": len(table),
                "batched_runs": len(plan.specs), "rounds": args.repeat,
                "estimated_seconds_upper_bound": round(plan.estimated_seconds, 1)}
    ratios = {"runs_per_second": len(table) / best["run"],
              "payload_share_of_10MB": (payload["chart_bytes"] + table_bytes) / 10e6}
    lines = [f"lab sweep, cold: {len(table)} runs in {len(plan.specs)} batched runs "
             f"({' × '.join(vary)}), {args.step_rule} step rule",
             *(f"  {key:6s} {value:8.2f} s" for key, value in best.items()),
             f"  chart {payload['chart_bytes'] / 1e6:.2f} MB, table ~{table_bytes / 1e6:.2f} MB "
             f"(bound 10 MB)", f"  slopes of the median against d: {json.dumps(slopes)}"]
    emit(args.format, "lab", best, ratios, machine(), workload, lines,
         extra={"payload": payload, "slopes": slopes})


if __name__ == "__main__":
    main()
