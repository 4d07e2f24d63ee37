"""The on-disk result cache (diskcache). Values are bytes of an ``.npz`` archive holding
plain numpy arrays and one JSON document — never pickles — so a stale, truncated or
foreign entry is detected and recomputed, never trusted and never a crash."""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import diskcache
import numpy as np

from .results import SweepResult
from .spec import RunSpec

DEFAULT_SIZE_LIMIT = 2 * 2**30


def code_version(root: Path | None = None) -> str:
    """Hash of every module of the ``core`` package (found, not listed; or of the package at
    ``root``): editing one invalidates old entries. Each module is hashed as its syntax tree
    without docstrings, so comments, docstrings and formatting don't count; a file that does
    not parse is hashed as its bytes."""
    import ast

    digest = hashlib.sha256()
    here = Path(root) if root is not None else Path(__file__).parent
    for path in sorted(here.rglob("*.py")):
        digest.update(path.relative_to(here).as_posix().encode())
        source = path.read_bytes()
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            digest.update(source)
            continue
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                    and body and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
        digest.update(ast.dump(tree, annotate_fields=False).encode())
    return digest.hexdigest()[:12]


CODE_VERSION = code_version()


def default_directory() -> str:
    return os.environ.get("GDX_CACHE_DIR") or str(Path(__file__).resolve().parent.parent / "cache")


def cache_key(spec: RunSpec, device_type: str, fingerprint: str = "",
              version: str = CODE_VERSION) -> str:
    text = "|".join([spec.canonical(), device_type, fingerprint, version])
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


class ResultCache:
    def __init__(self, directory: str | None = None, size_limit: int = DEFAULT_SIZE_LIMIT):
        self.directory = directory or default_directory()
        self._store = diskcache.Cache(self.directory, size_limit=size_limit,
                                      eviction_policy="least-recently-used")

    def get(self, key: str) -> SweepResult | None:
        """The stored result, or None when absent, unreadable or corrupt (then it is dropped)."""
        try:
            blob = self._store.get(key, default=None, retry=True)
        except Exception:
            blob = None
            self._discard(key)
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

    def put(self, key: str, result: SweepResult) -> None:
        result.meta["key"] = key
        self._store.set(key, encode(result), retry=True)

    def _discard(self, key: str) -> None:
        try:
            self._store.delete(key, retry=True)
        except Exception:
            pass

    def volume(self) -> int:
        """Bytes on disk."""
        return self._store.volume()

    def __len__(self) -> int:
        return len(self._store)

    def clear(self) -> int:
        return self._store.clear(retry=True)

    def close(self) -> None:
        self._store.close()
