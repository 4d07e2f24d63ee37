"""Process-level settings that make the batched loops fast on the CPU."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

from core.kernel.settings import env_text

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20     # blocks below this come from the heap, not fresh mmap()s
TRIM_THRESHOLD = 256 << 20    # free memory kept at the top of the heap before returning it

_tuned: bool | None = None


def tune_allocator() -> bool:
    """Keep glibc from handing every freed multi-megabyte tensor back to the kernel.

    A GD step allocates and frees the same few (B, n)-sized tensors every iteration. With
    glibc's defaults those pages are returned to the kernel and faulted in again on the next
    step: 800 page faults per step on the CNN sweep, doubling its time. Raising the mmap and
    trim thresholds (what ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` do) keeps
    them in the process. Linux/glibc only; ``GDX_MALLOC_TUNING=0`` turns it off. Returns
    whether the setting is in force."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if env_text("GDX_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return _tuned
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):     # not glibc (e.g. musl): leave the allocator alone
        return _tuned
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned


def trim_heap() -> bool:
    """Return free heap memory to the system (glibc's malloc_trim; a no-op elsewhere).
    Called when a dashboard computation and its drawing are done: the tuned thresholds above
    keep freed blocks for the next loop step, which should not outlast the computation."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False
