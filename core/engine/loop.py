"""Loop control shared by the batched loops (the engine and the shallow networks): the device
and dtype choice, stopping and progress reports."""
from __future__ import annotations

import time
from typing import Callable

from core.kernel.errors import SpecError
from core.kernel.spec import RunSpec
from core.kernel.lazy import lazy_module

torch = lazy_module("torch", globals())

Progress = Callable[[float], None]
# A progress report at least this often (seconds), whatever max_iters is: the reports are where
# a caller can stop the run (the dashboard stops it within a second of the visitor closing the
# tab; at one report per 1 % of max_iters a slow sweep reported only every ~9 s).
REPORT_SECONDS = 0.25


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpecError("device", "cuda was asked for but no CUDA GPU is available; use auto or cpu")
    return torch.device(name)


def torch_dtype(name: str) -> torch.dtype:
    return {"float64": torch.float64, "float32": torch.float32}[name]


class LoopControl:
    """Ends a batched loop at max_iters or once every run has stopped, and reports progress.
    On a GPU the "all stopped?" check (a device sync) runs every 16 steps, not every step."""

    def __init__(self, spec: RunSpec, device: torch.device, progress: Progress | None):
        self.max_iters = spec.max_iters
        self.progress = progress
        self.check_every = 1 if device.type == "cpu" else 16
        self.report_every = max(1, spec.max_iters // 100)
        self.next_report = time.monotonic() + REPORT_SECONDS

    def done(self, t: int, active: torch.Tensor, changed: bool = True) -> bool:
        """``changed``: whether ``active`` may have changed since the last call."""
        if t == self.max_iters:
            return True
        if self.progress is not None and (t % self.report_every == 0
                                          or time.monotonic() >= self.next_report):
            self.next_report = time.monotonic() + REPORT_SECONDS
            self.progress(t / self.max_iters)
        return changed and t % self.check_every == 0 and not bool(active.any())

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(1.0)
