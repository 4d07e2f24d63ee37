"""Files that dashboard visitors hand to the server: CSV uploads, and paths from a URL.

Uploads live in ``<cache>/uploads/<sha256>.csv`` and count against a quota
(``GDX_UPLOAD_QUOTA_MB``); the oldest are evicted first. A path that arrives in a URL is
accepted only inside the uploads folder or a folder of ``GDX_DATA_DIRS``, and the refusal
reads the same whether or not the path exists, so a visitor learns nothing about the
server's folders."""
from __future__ import annotations

import hashlib
import os

from core.store.cache import default_directory
from core.kernel.errors import SpecError
from core.kernel.settings import data_directories, env_number


def upload_directory() -> str:
    return os.path.join(default_directory(), "uploads")


def _uploads() -> list[os.DirEntry]:
    try:
        with os.scandir(upload_directory()) as entries:
            return [e for e in entries if e.is_file(follow_symlinks=False) and e.name.endswith(".csv")]
    except OSError:
        return []


def upload_usage() -> dict:
    files = _uploads()
    return {"files": len(files), "bytes": sum(e.stat().st_size for e in files),
            "quota_bytes": int(env_number("GDX_UPLOAD_QUOTA_MB") * 2**20)}


def clear_uploads() -> int:
    removed = 0
    for entry in _uploads():
        try:
            os.remove(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


def save_upload(content: bytes) -> str:
    """Store uploaded bytes once (named by their hash), evicting the oldest uploads to stay
    within the quota; returns the path. Raises SpecError naming ``path`` when it cannot fit."""
    limit = env_number("GDX_UPLOAD_LIMIT_MB") * 2**20
    quota = env_number("GDX_UPLOAD_QUOTA_MB") * 2**20
    if len(content) > min(limit, quota):
        raise SpecError("path", f"the file has {len(content) / 2**20:.1f} MB; at most "
                        f"{min(limit, quota) / 2**20:g} MB")
    directory = upload_directory()
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, hashlib.sha256(content).hexdigest() + ".csv")
    if os.path.exists(path):
        os.utime(path)                       # recently used: evicted last
        return path
    others = sorted(_uploads(), key=lambda e: e.stat().st_mtime)
    used = sum(e.stat().st_size for e in others)
    while others and used + len(content) > quota:
        oldest = others.pop(0)
        used -= oldest.stat().st_size
        try:
            os.remove(oldest.path)
        except OSError:
            pass
    temporary = f"{path}.{os.getpid()}.part"
    try:
        with open(temporary, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except OSError as error:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise SpecError("path", f"the upload could not be stored ({error.strerror or error})") from None
    return path


# The dashboard process turns this on (app.py): from then on every dataset path, whichever
# page or link it came from, must pass check_visitor_path before a file is opened.
RESTRICTION = {"visitor_paths": False}


def restrict_paths_to_visitors(enabled: bool = True) -> None:
    RESTRICTION["visitor_paths"] = enabled


def allowed_roots() -> list[str]:
    return [os.path.realpath(upload_directory())] + data_directories()


# The one refusal of a visitor's path, whatever the reason (outside the allowed folders,
# missing, unreadable, not a file): it names no server path and does not tell whether a
# file (an upload's content hash) exists.
VISITOR_PATH_REFUSAL = ("not an allowed location or no readable data there: upload the file "
                        "again, or name one under the folders this server's administrator "
                        "lists in GDX_DATA_DIRS")


def check_visitor_path(path: str) -> str:
    """A path from a URL or a form: its real path when it lies under an allowed folder and
    exists, otherwise the one refusal (VISITOR_PATH_REFUSAL)."""
    if not path:
        raise SpecError("path", "upload a file (or give a folder under GDX_DATA_DIRS)")
    if len(path) > 4096 or "\x00" in path:
        raise SpecError("path", VISITOR_PATH_REFUSAL)
    real = os.path.realpath(path)
    for root in allowed_roots():
        if (real == root or real.startswith(root.rstrip(os.sep) + os.sep)) and \
                os.access(real, os.R_OK):
            return real
    raise SpecError("path", VISITOR_PATH_REFUSAL)


def refuse_revealing(error: SpecError, path: str) -> SpecError:
    """A data set's own refusal of a visitor's path (could not read it, not a regular file,
    not a CIFAR folder …) carries the server's path: the one refusal replaces it."""
    if error.field == "path" and path and (path in str(error)
                                           or os.path.basename(path.rstrip(os.sep)) in str(error)):
        return SpecError("path", VISITOR_PATH_REFUSAL)
    return error
