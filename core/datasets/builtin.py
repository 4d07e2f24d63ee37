"""Datasets as float64 numpy arrays: features ``b`` (n x d) and labels ``y`` in {-1, +1}."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import stat
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.kernel.errors import SpecError
from core.kernel.registry import DatasetKind, dataset_kind, model_kind, register_dataset
from core.kernel.settings import ram_budget_bytes

CSV_MAX_BYTES = 50 * 2**20


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray   # (n, d) float64
    labels: np.ndarray     # (n,) float64 in {-1, +1}
    name: str
    fingerprint: str = ""  # content hash for file-backed data (part of the cache key)
    image_shape: tuple[int, int, int] | None = None   # (channels, height, width) for images
    label_mapping: str = ""   # file-backed labels: which label became −1 and which +1

    @property
    def n(self) -> int:
        return self.features.shape[0]

    @property
    def d(self) -> int:
        return self.features.shape[1]


def worst_case(n: int) -> tuple[np.ndarray, np.ndarray]:
    """science.md §1: one point (0.5, -1) labelled +1 and n-1 copies of (-0.5, -1) labelled -1."""
    b = np.tile([-0.5, -1.0], (n, 1))
    b[0] = [0.5, -1.0]
    y = -np.ones(n)
    y[0] = 1.0
    return b, y


def two_point() -> tuple[np.ndarray, np.ndarray]:
    """science.md §1: (1, -1) labelled +1 and (-1, -4) labelled -1."""
    return np.array([[1.0, -1.0], [-1.0, -4.0]]), np.array([1.0, -1.0])


def minimal(d: int, mu: float) -> tuple[np.ndarray, np.ndarray]:
    """science.md §2: b1 = (1,...,1) labelled +1, b2 = (1+mu, 1, ..., 1) labelled -1."""
    b = np.ones((2, d))
    b[1, 0] += mu
    return b, np.array([1.0, -1.0])


def gaussian(n: int, d: int, margin: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal points labelled by a random unit direction w*, then pushed
    ``margin`` away from the hyperplane along w*, so every point has w*-margin >= margin."""
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    b = rng.standard_normal((n, d))
    projection = b @ direction
    y = np.where(projection >= 0, 1.0, -1.0)
    if n >= 2 and np.all(y == y[0]):
        y[-1] = -y[0]
        b[-1] -= 2 * projection[-1] * direction
    b += (margin * y)[:, None] * direction[None, :]
    return b, y


def two_classes(target: np.ndarray, classes: tuple[int, ...], n: int | None, names: tuple[str, ...],
                what: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a bundled labelled set that belong to the pair ``classes`` (the first labelled
    −1), at most ``n`` of them drawn with a fixed seed from both classes: (row indices, labels)."""
    if any(c >= len(names) for c in classes):
        raise SpecError("classes", f"{what} has classes 0, 1, 2 ({', '.join(names)}), "
                        f"got {','.join(map(str, classes))}")
    keep = np.flatnonzero(np.isin(target, classes))
    if n is not None:
        if n > keep.size:
            raise SpecError("n", f"must be in [2, {keep.size}] for two {what} classes, got {n}")
        keep = np.sort(np.random.default_rng(0).permutation(keep)[:n])
    return keep, np.where(target[keep] == classes[1], 1.0, -1.0)


def breast_cancer(n: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    b = (data.data - data.data.mean(0)) / data.data.std(0)
    y = np.where(data.target == 1, 1.0, -1.0)
    return b[:n], y[:n]


def _two_classes(images: np.ndarray, targets: np.ndarray, classes: tuple[int, ...], n: int | None,
                 name: str) -> tuple[np.ndarray, np.ndarray]:
    negative, positive = classes
    keep = np.flatnonzero((targets == negative) | (targets == positive))
    if n is not None:
        if n > keep.size:
            raise SpecError("n", f"must be in [2, {keep.size}] for {name} classes "
                            f"{negative},{positive}, got {n}")
        keep = keep[:n]
    y = np.where(targets[keep] == positive, 1.0, -1.0)
    if np.all(y == y[0]):
        raise SpecError("n", f"the first {keep.size} samples of {name} hold one class only; raise n")
    return images[keep].astype(np.float64), y


@lru_cache(maxsize=1)
def _digits_source() -> tuple[np.ndarray, np.ndarray]:
    """All 1 797 digits, pixels scaled to [0, 1], read-only: parsing scikit-learn's CSV takes
    25 ms, which a cached page paid on every rerun."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images, targets = data.data / 16.0, np.asarray(data.target)
    images.flags.writeable = targets.flags.writeable = False
    return images, targets


def digits(classes: tuple[int, ...], n: int | None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits, two classes (first is -1, second +1), pixels scaled to [0, 1]."""
    images, targets = _digits_source()
    return _two_classes(images, targets, classes, n, "digits")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches (dicts, lists, numpy arrays) and nothing executable."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


CIFAR_BATCH_MAX_BYTES = 256 * 2**20


def _cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    content = read_file_bounded(path, CIFAR_BATCH_MAX_BYTES)
    try:
        batch = _ArrayUnpickler(io.BytesIO(content), encoding="bytes").load()
    except Exception as error:
        raise SpecError("path", f"{os.path.basename(path)} is not a CIFAR-10 python batch "
                        f"({str(error)[:200]})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise SpecError("path", f"{path} is not a CIFAR-10 python batch (no data/labels)")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise SpecError("path", f"{path}: expected data of shape (N, 3072) and N labels, "
                        f"got {data.shape} and {labels.shape}")
    return data, labels


def cifar10(path: str, classes: tuple[int, ...], n: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Official CIFAR-10 python batches from a local folder (never downloaded)."""
    if not os.path.isdir(path):
        raise SpecError("path", f"{path!r} is not a folder holding CIFAR-10 python batches")
    files = [os.path.join(path, f) for f in CIFAR_FILES if os.path.exists(os.path.join(path, f))]
    if not files:
        raise SpecError("path", f"no CIFAR-10 batch ({', '.join(CIFAR_FILES)}) in {path!r}")
    digest = hashlib.sha256()
    images, labels = [], []
    total = 0
    for file in files:
        digest.update(_file_digest(file).encode())
        data, target = _cifar_batch(file)
        images.append(data)
        labels.append(target)
        total += int(np.isin(target, classes).sum())
        if n is not None and total >= n:
            break
    b, y = _two_classes(np.concatenate(images) / 255.0, np.concatenate(labels), classes, n, "cifar10")
    return b, y, digest.hexdigest()[:16]


@lru_cache(maxsize=64)
def _file_digest_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_digest(path: str) -> str:
    stat = os.stat(path)
    return _file_digest_cached(path, stat.st_size, stat.st_mtime_ns)


MAX_CSV_COLUMNS = 10_000
CSV_BYTES_PER_CELL = 64     # what pandas may hold per parsed cell, at worst (object columns)


def _shown_names(names, limit: int = 8) -> str:
    shown = ", ".join(repr(str(name)[:40]) for name in names[:limit])
    return shown + (f", … ({len(names)} columns)" if len(names) > limit else "")


def csv_header(text: str) -> list[str]:
    """The header row's names (read alone, before anything else is parsed)."""
    import csv

    first_line = text.split("\n", 1)[0]
    if len(first_line) > CSV_MAX_BYTES:
        raise SpecError("path", "the header line is too long")
    try:
        names = next(csv.reader([first_line]))
    except (csv.Error, StopIteration):
        raise SpecError("path", "could not read the CSV header line") from None
    return [name.strip() for name in names]


def check_csv_shape(text: str, names: list[str], label_column: str) -> str:
    """Refuse, before pandas parses anything, a CSV that is too wide or too big for the
    memory guard, has duplicated names or lacks the label column; returns the label column."""
    if len(names) > MAX_CSV_COLUMNS:
        raise SpecError("path", f"the CSV file has {len(names)} columns; at most {MAX_CSV_COLUMNS}")
    rows = text.count("\n") + 1
    cells, budget = rows * len(names), ram_budget_bytes() // CSV_BYTES_PER_CELL
    if cells > budget:
        raise SpecError("path", f"the CSV file has about {rows} rows x {len(names)} columns = "
                        f"{cells:.3g} cells; the memory budget allows {budget:.3g} "
                        "(GDX_MEMORY_FRACTION)")
    seen: set[str] = set()
    duplicated = [name for name in names if name in seen or seen.add(name)]
    if duplicated:
        raise SpecError("path", f"the header repeats the column name(s) {_shown_names(duplicated)}")
    column = label_column or "label"
    if column not in names:
        raise SpecError("label_column", f"no column named {column[:40]!r}; name the label column "
                        f"(columns: {_shown_names(names)})")
    if len(names) < 2:
        raise SpecError("path", "the CSV file needs a label column and at least one feature column")
    return column


def parse_csv(content: bytes, label_column: str = "") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Parse a CSV with one label column (``label`` unless named) and numeric feature columns;
    labels map to -1/+1 (sorted: the first value is -1). Raises SpecError with a one-line
    message on bad input, and refuses wide or huge files from their header before parsing."""
    import pandas as pd

    if len(content) > CSV_MAX_BYTES:
        raise SpecError("path", f"the CSV file is {len(content) / 2**20:.1f} MiB; "
                        f"the limit is {CSV_MAX_BYTES // 2**20} MiB")
    if not content.strip():
        raise SpecError("path", "the CSV file is empty")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError("path", "the CSV file is not UTF-8 text") from None
    names = csv_header(text)
    column = check_csv_shape(text, names, label_column)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skipinitialspace=True)
    except Exception as error:  # pandas raises several parser error types
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SpecError("path", f"could not parse the CSV file: {first_line[:200]}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[0] == 0:
        raise SpecError("path", "the CSV file has a header but no rows")
    labels_raw = frame[column].str.strip()
    features = frame.drop(columns=[column])
    empty_labels = (labels_raw == "").to_numpy()
    if empty_labels.any():
        raise SpecError("path", f"label column {column[:40]!r} has empty cells "
                        f"(row {int(np.flatnonzero(empty_labels)[0]) + 2})")
    stripped = features.apply(lambda col: col.str.strip())
    empty = (stripped == "").to_numpy()
    if empty.any():
        row, col = np.argwhere(empty)[0]
        raise SpecError("path", f"missing value in column {str(features.columns[col])[:40]!r}, "
                        f"row {row + 2}")
    numeric = stripped.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().to_numpy() | ~np.isfinite(numeric.to_numpy(dtype=np.float64))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise SpecError("path", f"value {str(stripped.iat[row, col])[:40]!r} in column "
                        f"{str(features.columns[col])[:40]!r}, row {row + 2} is not a finite number")
    values = np.array(numeric.to_numpy(dtype=np.float64))
    y, classes = label_classes(labels_raw, column)
    return values, y, classes


def label_classes(labels_raw, column: str) -> tuple[np.ndarray, list[str]]:
    """Labels as ±1 and the two classes' names (the first is −1). Labels that all parse as
    finite numbers are numbers: "1" and "1.0" are one class, and the smaller value is −1 (so
    −1/+1 and 0/1 keep their meaning); other labels are text, sorted."""
    import pandas as pd

    numbers = pd.to_numeric(labels_raw, errors="coerce").to_numpy(dtype=np.float64)
    if np.isfinite(numbers).all():
        keys = numbers
        values = np.unique(numbers)
        classes = [f"{value:g}" for value in values]
    else:
        keys = labels_raw.to_numpy()
        values = np.array(sorted(labels_raw.unique(), key=str), dtype=object)
        classes = [str(value) for value in values]
    if len(values) < 2:
        raise SpecError("path", f"label column {column[:40]!r} has a single class "
                        f"({classes[0][:40]!r}); need two")
    if len(values) > 2:
        shown = ", ".join(repr(c[:20]) for c in classes[:5]) + (", ..." if len(values) > 5 else "")
        raise SpecError("path", f"label column {column[:40]!r} has {len(values)} classes "
                        f"({shown}); need two")
    return np.where(keys == values[1], 1.0, -1.0), classes


def label_mapping(classes: list[str]) -> str:
    """The line a result carries: which label became −1 and which +1."""
    return f"labels: {classes[0][:40]!r} → −1, {classes[1][:40]!r} → +1"


def read_file_bounded(path: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (special files and /proc files,
    which claim size 0, are read only up to the limit and then refused)."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError("path", f"{path[:200]!r} is not a regular file")
        with open(path, "rb") as handle:
            content = handle.read(limit + 1)
    except OSError as error:
        raise SpecError("path", f"could not read {path[:200]!r} ({error.strerror or error})") from None
    if len(content) > limit:
        raise SpecError("path", f"the file is over the limit of {limit // 2**20} MiB")
    return content


def csv_file(path: str, label_column: str, n: int | None) -> tuple[np.ndarray, np.ndarray, str, str]:
    content = read_file_bounded(path, CSV_MAX_BYTES)
    b, y, classes = parse_csv(content, label_column)
    if n is not None:
        if n > b.shape[0]:
            raise SpecError("n", f"must be in [2, {b.shape[0]}] for this CSV file, got {n}")
        b, y = b[:n], y[:n]
    return b, y, hashlib.sha256(content).hexdigest()[:16], label_mapping(classes)


def load(spec) -> Dataset:
    """The dataset a (validated) spec names, built by its registry entry."""
    from core.store.uploads import RESTRICTION, check_visitor_path, refuse_revealing

    kind = dataset_kind(spec.dataset)
    visitor = kind.needs_path and RESTRICTION["visitor_paths"]
    if visitor:
        check_visitor_path(spec.path)
    try:
        built = kind.build(spec)
    except SpecError as error:
        if not visitor:
            raise
        raise refuse_revealing(error, spec.path) from None
    b, y, fingerprint, labels = (*built, "", "")[:4]
    if spec.d is not None and spec.d != b.shape[1]:
        raise SpecError("d", f"this {spec.dataset} data has d = {b.shape[1]}, got {spec.d}")
    model = model_kind(spec.model)
    if b.shape[1] < model.min_d:
        why = f" ({model.min_d_reason})" if model.min_d_reason else ""
        raise SpecError("d", f"{spec.model} needs d >= {model.min_d}{why}")
    return Dataset(np.ascontiguousarray(b, dtype=np.float64), np.asarray(y, dtype=np.float64),
                   spec.dataset, fingerprint, kind.image_shape, labels)


# ---------------------------------------------------------------------- the built-in data sets
register_dataset(DatasetKind(
    "worst_case", "worst case (d = 2)", lambda spec: worst_case(spec.n),
    fixed_shape=(None, 2), default_shape=(1000, 2), min_n=3,
    description="one point (0.5, -1) labelled +1, n-1 copies of (-0.5, -1) labelled -1"))
register_dataset(DatasetKind(
    "two_point", "two points (d = 2)", lambda spec: two_point(),
    fixed_shape=(2, 2), default_shape=(2, 2), description="(1, -1) → +1 and (-1, -4) → -1"))
register_dataset(DatasetKind(
    "minimal", "minimal example (n = 2)", lambda spec: minimal(spec.d, spec.mu), fields=("mu",),
    fixed_shape=(2, None), default_shape=(2, 64),
    description="b₁ = (1, …, 1) → +1, b₂ = (1+μ, 1, …, 1) → -1"))
register_dataset(DatasetKind(
    "gaussian", "Gaussian with a margin",
    lambda spec: gaussian(spec.n, spec.d, spec.margin, spec.data_seed),
    fields=("margin", "data_seed"), default_shape=(200, 20),
    description="standard normal points labelled by a random direction, pushed margin away"))
register_dataset(DatasetKind(
    "breast_cancer", "breast cancer (scikit-learn)", lambda spec: breast_cancer(spec.n),
    fixed_shape=(None, 30), default_shape=(569, 30), max_n=569,
    description="scikit-learn's Wisconsin breast cancer data, standardised"))
register_dataset(DatasetKind(
    "digits", "digits, two classes (scikit-learn)", lambda spec: digits(spec.classes, spec.n),
    fields=("classes",), fixed_shape=(None, 64), default_shape=(None, 64), image_shape=(1, 8, 8),
    description="scikit-learn's 8×8 digits, two classes, pixels in [0, 1]"))
register_dataset(DatasetKind(
    "cifar10", "CIFAR-10, two classes (local folder)",
    lambda spec: cifar10(spec.path, spec.classes, spec.n), fields=("classes", "path"),
    fixed_shape=(None, 3072), default_shape=(1000, 3072), image_shape=(3, 32, 32),
    needs_path=True, description="the official python batches in a local folder",
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck")))
register_dataset(DatasetKind(
    "csv", "CSV upload", lambda spec: csv_file(spec.path, spec.label_column, spec.n),
    fields=("path", "label_column"), needs_path=True, upload=True,
    description="a file with a label column and numeric features"))
