"""The on-disk result cache (diskcache). Values are bytes of an ``.npz`` archive holding
plain numpy arrays and one JSON document — never pickles — so a stale, truncated or
foreign entry is detected and recomputed, never trusted and never a crash."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import time
from pathlib import Path

import diskcache
import numpy as np
import torch

from core.engine.results import SweepResult
from core.kernel.errors import SpecError
from core.kernel.settings import env_number, env_text
from core.kernel.spec import RunSpec



# The code that computes results: the engines (classifiers, the a·b network, sharding and
# merging) and every module of the plug-in packages, with everything they import. Report,
# claims, the CLI and the pages are not in it: changing them keeps every cached result.
_PACKAGE = Path(__file__).resolve().parents[1]          # the core package folder
COMPUTE_ROOTS = ("engine.batched", "engine.shallow", "engine.distributed")
PLUGIN_PACKAGES = ("datasets", "models", "algorithms")


def compute_modules(root: Path | None = None) -> list[Path]:
    """The files of the code that computes results (COMPUTE_ROOTS, the plug-in packages, and
    what they import, found by reading their imports)."""
    from core.kernel import imports

    here = Path(root) if root is not None else _PACKAGE
    start = list(COMPUTE_ROOTS) + [name for package in PLUGIN_PACKAGES
                                   for name in imports.modules(here, package)]
    files = (imports.module_file(here, name) for name in imports.closure(here, start))
    return sorted({path for path in files if path is not None})


def code_version(root: Path | None = None) -> str:
    """Hash of the code that computes results (:func:`compute_modules`; or of the package at
    ``root``): editing it invalidates old entries, editing a plot does not. Each module is
    hashed as its syntax tree without docstrings, so comments, docstrings and formatting don't
    count; a file that does not parse is hashed as its bytes."""
    import ast

    from core.kernel import imports

    digest = hashlib.sha256()
    here = Path(root) if root is not None else _PACKAGE
    for path in compute_modules(here):
        digest.update(path.relative_to(here).as_posix().encode())
        tree = imports.parse(path)          # shared with the import reader: restored below
        if tree is None:
            digest.update(path.read_bytes())
            continue
        stripped = [(node, node.body) for node in ast.walk(tree)
                    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                    and node.body and isinstance(node.body[0], ast.Expr)
                    and isinstance(node.body[0].value, ast.Constant)
                    and isinstance(node.body[0].value.value, str)]
        for node, body in stripped:
            node.body = body[1:] or [ast.Pass()]
        try:
            digest.update(ast.dump(tree, annotate_fields=False).encode())
        finally:
            for node, body in stripped:
                node.body = body
    return digest.hexdigest()[:12]


CODE_VERSION = code_version()


def default_directory() -> str:
    return env_text("GDX_CACHE_DIR") or str(_PACKAGE.parent / "cache")


def cache_key(spec: RunSpec, device_type: str, fingerprint: str = "",
              version: str = CODE_VERSION) -> str:
    parts = [spec.canonical(), device_type, fingerprint, version]
    if spec.dtype == "float32" and device_type == "cpu":
        # float32 reductions round differently with torch's thread count (float64 does not
        # differ measurably): a run on another thread count is another result.
        parts.append(f"threads={torch.get_num_threads()}")
    text = "|".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def encode(result: SweepResult) -> bytes:
    payload = result.to_payload()
    arrays = dict(payload["arrays"])
    arrays["__json__"] = np.frombuffer(payload["json"].encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def decode(blob: bytes) -> SweepResult:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    document = arrays.pop("__json__").tobytes().decode()
    json.loads(document)  # fail early on a damaged document
    return SweepResult.from_payload({"json": document, "arrays": arrays})


DATABASE = "cache.db"
# One result may take at most this share of the cache's size limit: a larger one is shown
# and exported but not stored, so that one visitor cannot evict everyone else's results.
LARGEST_SHARE = 1 / 8
# A value file that no entry names (left by a process killed while writing it) is removed
# once it is this old (at start-up); `cache clear` removes every one.
ORPHAN_GRACE_S = 600
_READ_ONLY_HINTS = ("readonly", "read-only", "unable to open", "permission denied")
_FULL_HINTS = ("disk is full", "no space")


def _describe(error: BaseException) -> str:
    return (getattr(error, "strerror", None) or str(error) or type(error).__name__).splitlines()[0]


class ResultCache:
    """diskcache with every fault turned into a warning line (``self.warnings``), never an
    exception: a damaged database is moved aside and rebuilt; a read-only cache is read
    (through sqlite's read-only mode) but not written; a full disk or a folder removed
    mid-run means the result is returned unstored, with a warning saying so."""

    def __init__(self, directory: str | None = None, size_limit: int | None = None):
        self.directory = directory or default_directory()
        self.size_limit = size_limit or int(env_number("GDX_CACHE_SIZE_MB") * 2**20)
        self.warnings: list[str] = []
        self.read_only = False
        self._store: diskcache.Cache | None = None
        self._open()
        self.orphans_removed = self.remove_orphans(ORPHAN_GRACE_S)

    # ------------------------------------------------------------------ opening
    def _open(self) -> None:
        self._store, self.read_only = None, False
        for attempt in range(2):
            try:
                os.makedirs(self.directory, exist_ok=True)
                self._store = diskcache.Cache(self.directory, size_limit=self.size_limit,
                                              eviction_policy="least-recently-used")
                return
            except sqlite3.DatabaseError as error:
                text = str(error).lower()
                if attempt == 0 and not any(h in text for h in _READ_ONLY_HINTS + _FULL_HINTS) \
                        and "locked" not in text:
                    self._move_aside(_describe(error))
                    continue
                self._degrade(error)
                return
            except OSError as error:
                self._degrade(error)
                return

    def _degrade(self, error: BaseException) -> None:
        self.read_only = os.path.exists(os.path.join(self.directory, DATABASE))
        mode = "read only" if self.read_only else "off"
        self.warnings.append(f"warning: the result cache in {self.directory} is {mode} "
                             f"({_describe(error)}); results are not stored")

    def _move_aside(self, reason: str) -> None:
        database = os.path.join(self.directory, DATABASE)
        aside = f"{database}.damaged-{int(time.time())}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(database + suffix):
                try:
                    os.replace(database + suffix, aside + suffix)
                except OSError:
                    pass
        self.warnings.append(f"warning: the cache database was damaged ({reason}); moved it to "
                             f"{os.path.basename(aside)} and started a new one")

    # ------------------------------------------------------------------ reading
    def get(self, key: str) -> SweepResult | None:
        """The stored result, or None when absent, unreadable or corrupt (then it is dropped)."""
        try:
            blob = self._read(key)
        except sqlite3.DatabaseError as error:
            if self._store is not None and "locked" not in str(error).lower():
                self.close()
                self._move_aside(_describe(error))
                self._open()
            return None
        except Exception:
            self._discard(key)
            return None
        if blob is None:
            return None
        try:
            if not isinstance(blob, bytes):
                raise ValueError("not a byte string")
            result = decode(blob)
            if result.meta.get("key") != key:
                raise ValueError("entry belongs to another key")
            return result
        except Exception:
            self._discard(key)
            return None

    def stamp(self, key: str) -> tuple | None:
        """What identifies the stored entry of ``key`` (its row and store time: one index
        lookup, no read of the value), None when there is none or on any fault. Another
        value stored under the key, or a cleared cache, changes it."""
        if self._store is None:
            return None
        try:
            row = self._store._sql("SELECT rowid, store_time FROM Cache WHERE key = ? AND raw = 1",
                                   (key,)).fetchone()
        except Exception:
            return None
        return None if row is None else tuple(row)

    def _read(self, key: str):
        if self._store is not None:
            return self._store.get(key, default=None, retry=True)
        if self.read_only:
            return self._read_without_writing(key)
        return None

    def _read_without_writing(self, key: str) -> bytes | None:
        """diskcache's layout read through sqlite's read-only mode (diskcache itself writes
        its settings when it opens, which a read-only folder refuses)."""
        uri = Path(self.directory, DATABASE).resolve().as_uri() + "?mode=ro&immutable=1"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as connection:
            row = connection.execute("SELECT mode, filename, value FROM Cache "
                                     "WHERE key = ? AND raw = 1", (key,)).fetchone()
        if row is None:
            return None
        mode, filename, value = row
        if mode == diskcache.core.MODE_RAW:
            return bytes(value)
        if mode == diskcache.core.MODE_BINARY and filename:
            return Path(self.directory, filename).read_bytes()
        return None

    # ------------------------------------------------------------------ writing
    def put(self, key: str, result: SweepResult) -> bool:
        """Store a result; False (with a warning line) when it could not be stored."""
        result.meta["key"] = key
        if self._store is None:
            return False
        database = os.path.join(self.directory, DATABASE)
        blob = encode(result)
        if len(blob) > self.size_limit * LARGEST_SHARE:
            self.warnings.append(
                f"note: this result ({len(blob) / 2**20:.1f} MiB) is larger than "
                f"1/{round(1 / LARGEST_SHARE)} of the cache ({self.size_limit / 2**20:.0f} MiB, "
                "GDX_CACHE_SIZE_MB): it is shown and exported but not stored")
            return False
        try:
            self._store.set(key, blob, retry=True)
        except (OSError, sqlite3.Error) as error:
            self.warnings.append(f"warning: the result was not stored in the cache "
                                 f"({_describe(error)}); it is shown but will be recomputed")
            return False
        if not os.path.exists(database):
            self.warnings.append(f"warning: the cache folder {self.directory} was removed during "
                                 "the run; the result was not stored")
            self.close()
            self._open()
            return False
        return True

    def _discard(self, key: str) -> None:
        try:
            if self._store is not None:
                self._store.delete(key, retry=True)
        except Exception:
            pass

    def take_warnings(self) -> list[str]:
        taken, self.warnings = self.warnings, []
        return taken

    # ------------------------------------------------------------------ upkeep
    def volume(self) -> int:
        """Bytes on disk (0 when the cache is unavailable)."""
        try:
            return self._store.volume() if self._store is not None else 0
        except (OSError, sqlite3.Error):
            return 0

    def __len__(self) -> int:
        try:
            if self._store is not None:
                return len(self._store)
            if self.read_only:
                uri = Path(self.directory, DATABASE).resolve().as_uri() + "?mode=ro&immutable=1"
                with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as connection:
                    return int(connection.execute("SELECT COUNT(*) FROM Cache").fetchone()[0])
        except (OSError, sqlite3.Error):
            pass
        return 0

    def clear(self) -> int:
        if self._store is None:
            raise SpecError("GDX_CACHE_DIR", f"the cache in {self.directory} cannot be written")
        removed = self._store.clear(retry=True)
        self.orphans_removed += self.remove_orphans(0)
        return removed

    def orphans(self, older_than: float = 0.0) -> list[Path]:
        """Value files under the cache folder that no entry names, last written at least
        ``older_than`` seconds ago (a younger one may be another process's write in progress)."""
        if self._store is None:
            return []
        try:
            named = {row[0] for row in self._store._sql(
                "SELECT filename FROM Cache WHERE filename IS NOT NULL").fetchall()}
        except (OSError, sqlite3.Error):
            return []
        now = time.time()
        found = []
        root = Path(self.directory)
        for path in root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*.val"):
            try:
                if (path.relative_to(root).as_posix() not in named
                        and now - path.stat().st_mtime >= older_than):
                    found.append(path)
            except OSError:
                continue
        return found

    def remove_orphans(self, older_than: float = 0.0) -> int:
        """Remove the orphan value files (see :meth:`orphans`); returns how many."""
        removed = 0
        for path in self.orphans(older_than):
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        return removed

    def info(self) -> dict:
        """What ``cache info`` reports: entries, bytes on disk, orphan value files removed by
        this process (at start-up or by clear) and those still found (younger than the grace)."""
        return {"directory": self.directory, "entries": len(self), "bytes": self.volume(),
                "size_limit": self.size_limit, "largest_share": LARGEST_SHARE,
                "read_only": self.read_only, "orphans_removed": self.orphans_removed,
                "orphans": len(self.orphans())}

    def close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                pass
