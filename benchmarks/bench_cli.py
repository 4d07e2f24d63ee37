"""The CLI's start-up for people (run by hand; goal ≤ 1.5 s on the 2-core machine).

    python benchmarks/bench_cli.py [--rounds 5] [--format text|json]

Each variant is a fresh process, timed from spawn to exit (wall clock), interleaved with the
others and the best of its rounds: `python -c pass` (the interpreter alone), `python -m core
--help`, `run --help`, `reproduce --list`, `schema`, an argument error, and `import torch` for
scale. The figure of merit is the slowest CLI variant, and that minus `python -c pass`."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_format, configure, emit, interleaved, machine  # noqa: E402

GOAL_SECONDS = 1.5
VARIANTS = {
    "python -c pass": ["-c", "pass"],
    "--help": ["-m", "core", "--help"],
    "run --help": ["-m", "core", "run", "--help"],
    "reproduce --list": ["-m", "core", "reproduce", "--list"],
    "schema": ["-m", "core", "schema"],
    "argument error": ["-m", "core", "run", "--step-size", "abc"],
    "import torch (for scale)": ["-c", "import torch"],
}


def spawn(arguments: list[str]):
    def once():
        return subprocess.run([sys.executable, *arguments], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
                              ).returncode
    return once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = add_format(parser).parse_args()
    if args.clock != "wall":
        parser.error("--clock: a start-up is measured on the wall clock (child processes)")
    configure(args)
    for arguments in VARIANTS.values():       # warm the file cache and the byte-code once
        spawn(arguments)()
    seconds, _, codes = interleaved({name: spawn(a) for name, a in VARIANTS.items()}, args.rounds)
    cli = {name: s for name, s in seconds.items() if name not in ("python -c pass", "import torch (for scale)")}
    slowest = max(cli.values())
    ratios = {"slowest_startup_s": round(slowest, 3),
              "slowest_startup_over_python_s": round(slowest - seconds["python -c pass"], 3),
              "python_c_pass_s": round(seconds["python -c pass"], 3),
              "goal_s": GOAL_SECONDS, "met": slowest <= GOAL_SECONDS}
    lines = [f"{name:28s} {value:7.3f} s   exit {codes[name]}" for name, value in seconds.items()]
    lines.append(f"slowest CLI variant {slowest:.3f} s ({slowest - seconds['python -c pass']:.3f} s "
                 f"over python -c pass); goal ≤ {GOAL_SECONDS} s: {'met' if ratios['met'] else 'not met'}")
    emit(args.format, "cli", seconds, ratios, machine(),
         {"rounds": args.rounds, "variants": {k: " ".join(v) for k, v in VARIANTS.items()}}, lines,
         {"clock_note": "wall clock, fresh processes", "time": time.strftime("%H:%M", time.gmtime())})


if __name__ == "__main__":
    main()
