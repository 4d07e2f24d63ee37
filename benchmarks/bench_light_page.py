"""A cached light page beside a heavy sweep in the same server process (issue 20 §2: within
1.5x of its idle time). Run by hand:

    python benchmarks/bench_light_page.py [--rounds 5] [--format text|json]

The light page is the dynamics page of the browser test (two points, cached), run through
AppTest (the script run of a visitor, in this process). The heavy sweep is the browser
test's (n = 2000, d = 200, 64 step sizes, 200 000 iterations), computed in another thread
under the dashboard's compute guard exactly as a visitor's run is (ui.compute.ComputeGuard),
once with the compute thread at the light page's priority (COMPUTE_NICE = 0: before) and
once at ui.compute.COMPUTE_NICE (after). Rounds are interleaved (idle, beside a sweep at
equal priority, beside a niced sweep) so a noisy spell on the shared machine hits all three;
the figures are medians of the rounds and the ratios are against the idle median."""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from common import add_format, configure, emit, machine  # noqa: E402

LIGHT = {"dataset": "two_point", "step_size": "1,100", "max_iters": "50", "algorithm": "gd"}
HEAVY = ("model=linear&dataset=gaussian&n=2000&d=200&step_size=1e-3:1e3:log64&max_iters=200000"
         "&run_to_max=1&algorithm=gd&seed={}")
GOAL_RATIO = 1.5


class Sweep:
    """A heavy visitor's computation in its own thread, stopped on demand."""

    def __init__(self, seed: int, nice: int):
        self.seed, self.nice, self.stop = seed, nice, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        from core.api import run_spec
        from core.kernel.spec import RunSpec
        from ui import compute

        compute.COMPUTE_NICE = self.nice
        with compute.page_load():
            guard = compute.ComputeGuard()
            guard.session_id = "bench"               # a visitor's run: the guard nices it

            def progress(fraction):
                if self.stop.is_set():
                    raise compute.VisitorLeft()
                guard.check(fraction)
            try:
                run_spec(RunSpec.from_query(HEAVY.format(self.seed)), use_cache=False,
                         progress=progress)
            except compute.VisitorLeft:
                pass
            finally:
                guard.release()

    def __enter__(self):
        self.thread.start()
        time.sleep(1.0)                               # computing, past its start-up
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = add_format(parser).parse_args()
    configure(args)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    import torch
    from ui import compute
    from tests.app_helpers import open_page

    torch.set_num_threads(1)                          # the dashboard's setting
    compute.visitor_present = lambda session: True
    after_nice = compute.COMPUTE_NICE

    def light() -> float:
        started = time.perf_counter()
        page = open_page("dynamics", LIGHT)
        assert not page.exception and not page.error
        return time.perf_counter() - started

    light()                                           # computes it once: cached from now on
    light()
    rounds = {"idle": [], "beside a sweep, equal priority (before)": [],
              f"beside a sweep, nice {after_nice} (after)": []}
    for index in range(args.rounds):
        rounds["idle"].append(light())
        for name, nice in zip(list(rounds)[1:], (0, after_nice)):
            with Sweep(1000 + 2 * index + (nice > 0), nice):
                rounds[name].append(light())
    seconds = {name: statistics.median(values) for name, values in rounds.items()}
    idle = seconds["idle"]
    ratios = {name: value / idle for name, value in seconds.items() if name != "idle"}
    after = ratios[list(ratios)[-1]]
    summary = {"ratio_before": round(ratios[list(ratios)[0]], 3), "ratio_after": round(after, 3),
               "goal_ratio": GOAL_RATIO, "met": after <= GOAL_RATIO}
    lines = [f"{name:42s} {value:6.3f} s  (rounds: {', '.join(f'{v:.2f}' for v in rounds[name])})"
             for name, value in seconds.items()]
    lines.append(f"ratio to idle: before {summary['ratio_before']:.2f}x, after "
                 f"{summary['ratio_after']:.2f}x; goal ≤ {GOAL_RATIO}x: "
                 f"{'met' if summary['met'] else 'not met'}")
    emit(args.format, "light_page", seconds, summary, machine(),
         {"rounds": args.rounds, "light": LIGHT, "heavy": HEAVY},
         lines, {"clock_note": "wall clock, medians of interleaved rounds",
                 "time": time.strftime("%H:%M", time.gmtime())})


if __name__ == "__main__":
    main()
