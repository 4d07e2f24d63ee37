"""Every environment variable the project reads, declared once with its default and range.

A value outside its range is a :class:`SpecError` naming the variable (the CLI exits 2 with
one line; the dashboard shows it), never a crash or a silent fallback. The README's
"Running it for a group" section lists these."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

from core.kernel.errors import SpecError
from core.kernel.lists import parse_number


@dataclass(frozen=True)
class Setting:
    name: str
    default: float
    low: float
    high: float
    kind: type
    help: str


SETTINGS = {s.name: s for s in (
    Setting("GDX_MEMORY_FRACTION", 0.25, 0.001, 0.9, float,
            "share of RAM one computation may plan to use (the memory guard's budget)"),
    Setting("GDX_TORCH_THREADS", 1, 1, 256, int, "torch threads per dashboard process"),
    Setting("GDX_SESSION_SECONDS", 120, 1, 86_400, float,
            "wall-time budget of one dashboard page load (its runs, pins and drawing)"),
    Setting("GDX_CONCURRENT_RUNS", 1, 1, 64, int,
            "dashboard computations allowed at once; later ones wait for a slot"),
    Setting("GDX_UPLOAD_QUOTA_MB", 200, 1, 1_000_000, float,
            "total size of stored CSV uploads; the oldest are evicted first"),
    Setting("GDX_UPLOAD_LIMIT_MB", 50, 0.001, 10_000, float, "largest CSV file accepted"),
    Setting("GDX_CACHE_SIZE_MB", 2048, 1, 10_000_000, float,
            "size limit of the result cache (least recently used evicted)"),
)}


# The variables that hold text (folders, URLs, names, switches), declared here with what they
# do; read them with :func:`env_text`.
TEXT_SETTINGS = {
    "GDX_CACHE_DIR": "folder of the result cache (default: cache/ next to core/)",
    "GDX_DATA_DIRS": "folders (os.pathsep-separated) the dashboard may read data sets from",
    "GDX_BASE_URL": "where the dashboard is served, for the CLI's full view links",
    "GDX_BACKEND": "where sweeps run: local or ray",
    "GDX_RAY_ADDRESS": "a running Ray cluster (unset: a local Ray instance)",
    "GDX_DEBUG": "1: the CLI prints tracebacks of unexpected errors",
    "GDX_MALLOC_TUNING": "0: leave glibc's allocator thresholds alone (core.engine.runtime)",
    "RAY_USE_TLS": "Ray's own switch for TLS, read to reach a cluster the same way Ray does",
}


def env_text(name: str, default: str = "") -> str:
    """The value of a declared text setting (``default`` when unset)."""
    if name not in TEXT_SETTINGS:
        raise KeyError(f"{name} is not declared in core/kernel/settings.py")
    return os.environ.get(name, default)


@contextlib.contextmanager
def env_overridden(name: str, value: str) -> Iterator[None]:
    """A declared text setting set to ``value`` inside the block, restored on exit."""
    if name not in TEXT_SETTINGS:
        raise KeyError(f"{name} is not declared in core/kernel/settings.py")
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def env_number(name: str) -> int | float:
    """The value of a numeric setting (its default when unset or empty)."""
    setting = SETTINGS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return setting.kind(setting.default)
    value = parse_number(name, raw, setting.kind)
    if not setting.low <= value <= setting.high:
        raise SpecError(name, f"must be in [{setting.low:g}, {setting.high:g}], got {value:g}")
    return value


def data_directories() -> list[str]:
    """GDX_DATA_DIRS: folders (os.pathsep-separated) the dashboard may read datasets from."""
    raw = env_text("GDX_DATA_DIRS")
    return [os.path.realpath(part) for part in raw.split(os.pathsep) if part.strip()]


def ram_budget_bytes() -> int:
    """GDX_MEMORY_FRACTION of this machine's RAM: what one computation may plan to use."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(total * env_number("GDX_MEMORY_FRACTION"))


def base_url() -> str:
    """GDX_BASE_URL: where the dashboard is served (e.g. http://lab-server:8501), so that the
    CLI's view links open it; unset: the local dashboard (core.report.site.DEFAULT_BASE_URL). Only
    http(s) URLs are accepted."""
    from core.report.site import DEFAULT_BASE_URL

    raw = env_text("GDX_BASE_URL").strip().rstrip("/")
    if raw and (not raw.startswith(("http://", "https://")) or any(c.isspace() for c in raw)
                or len(raw) > 2048):
        raise SpecError("GDX_BASE_URL", "must be an http:// or https:// URL without spaces")
    return raw or DEFAULT_BASE_URL
