"""What every benchmark script shares: ``--format text|json``, interleaved best-of rounds, and the
machine description that goes with every figure."""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Callable

import torch


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def add_format(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--format, and --threads / --clock for measuring on a shared machine."""
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default) or one JSON object: seconds per variant, ratios, machine")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall (default) or cpu: process CPU time, steadier on a busy machine "
                             "with --threads 1")
    return parser


def configure(args) -> None:
    """Apply --threads and --clock."""
    global _clock
    if args.threads:
        torch.set_num_threads(args.threads)
    _clock = CLOCKS[args.clock]


def machine(device: str = "cpu") -> dict:
    info = {"device": device, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "clock": "cpu" if _clock is time.process_time else "wall",
            "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d", time.gmtime())}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int,
                device="cpu") -> tuple[dict[str, float], dict[str, list[float]], dict[str, object]]:
    """Run each contender once per round, in turn, so a noisy spell on a shared machine hits all
    of them; each figure is the best of its rounds (noise only ever adds time). Returns the
    best seconds, every round's seconds and each contender's last value."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    values: dict[str, object] = {}
    for _ in range(rounds):
        for name, function in contenders.items():
            synchronize(device)
            started = _clock()
            values[name] = function()
            synchronize(device)
            times[name].append(_clock() - started)
    return {name: min(seconds) for name, seconds in times.items()}, times, values


def emit(fmt: str, benchmark: str, seconds: dict, ratios: dict, info: dict, workload: dict,
         lines: list[str], extra: dict | None = None) -> None:
    """Print the text lines, or one JSON object."""
    if fmt == "json":
        document = {"benchmark": benchmark, "workload": workload,
                    "seconds": {k: round(v, 6) for k, v in seconds.items()},
                    "ratios": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in ratios.items()},
                    **info}
        if extra:
            document.update(extra)
        print(json.dumps(document))
    else:
        print("\n".join(lines))
