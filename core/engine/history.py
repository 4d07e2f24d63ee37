"""Histories of a batched loop: an evenly spaced grid whose stride doubles when it fills, and
an exact ring buffer of the last iterations (orbit diagrams)."""
from __future__ import annotations

import numpy as np

from core.kernel.lazy import lazy_module

torch = lazy_module("torch", globals())

# Values of θ kept per sweep on the history grid (trajectory views), for every dynamics (the
# classifiers and the a·b network); a sweep over it keeps no θ history. The memory guard
# (core.engine.memory) counts on this same number.
PARAM_HISTORY_LIMIT = 500_000


class HistoryGrid:
    """Keeps rows recorded at t = 0, s, 2s, ...; when full, drops every other and doubles s."""

    def __init__(self, capacity: int, shape: tuple[int, ...], dtype, device, length: int = 0):
        """``length``: the number of iterations when it is known in advance (every run goes
        to max_iters); then the stride starts where doubling would end, and no iteration is
        recorded only to be dropped later."""
        self.capacity = capacity + (capacity % 2)
        self.buffer = torch.empty((self.capacity + 1,) + shape, dtype=dtype, device=device)
        self.iterations: list[int] = []
        self.stride = 1
        while length // self.stride > self.capacity:
            self.stride *= 2

    def due(self, t: int) -> bool:
        """Whether iteration t is on the grid as it stands (it may still drop off when the
        grid is full and its stride doubles)."""
        return t % self.stride == 0

    def slot(self, t: int) -> torch.Tensor | None:
        """The row iteration t's values go in (written in place by the caller), or None when
        t is not kept."""
        if t % self.stride:
            return None
        if len(self.iterations) == self.capacity + 1:
            keep = self.buffer[::2].clone()
            self.buffer[: keep.shape[0]] = keep
            self.iterations = self.iterations[::2]
            self.stride *= 2
            if t % self.stride:
                return None
        self.iterations.append(t)
        return self.buffer[len(self.iterations) - 1]

    def maybe_record(self, t: int, values: torch.Tensor) -> None:
        row = self.slot(t)
        if row is not None:
            row.copy_(values)

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        count = len(self.iterations)
        return np.asarray(self.iterations, dtype=np.int64), self.buffer[:count].cpu().numpy()


class TailBuffer:
    """The last ``size`` iterations of every row, exactly (a ring buffer written while the row
    is active), for orbit diagrams where an evenly thinned history would alias periods."""

    def __init__(self, size: int, rows: int, keys: int, dtype, device):
        self.size = size
        self.buffer = torch.full((size, rows, keys), float("nan"), dtype=dtype, device=device)
        self.values: np.ndarray | None = None

    def record(self, t: int, values: torch.Tensor, active: torch.Tensor) -> None:
        slot = t % self.size
        self.buffer[slot] = torch.where(active[:, None], values, self.buffer[slot])

    def for_row(self, row: int, last: int, keys: list[str], columns: list[int]) -> dict[str, np.ndarray]:
        if self.values is None:
            self.values = self.buffer.cpu().numpy()
        iterations = np.arange(max(0, last - self.size + 1), last + 1)
        at = self.values[iterations % self.size, row]
        tail = {"iteration": iterations}
        tail.update({key: at[:, column].astype(np.float64) for key, column in zip(keys, columns)})
        return tail
