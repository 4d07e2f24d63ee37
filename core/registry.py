"""Registries: what the core can run, declared once per entry. A new data set is one module
``core/data_<name>.py`` that calls :func:`register_dataset`; it is found automatically, and
the field table, validation, the CLI's choices, the schema and the dashboard's labels and
controls all follow from its entry."""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

# (features b (n x d), labels y in {-1, +1}) or (b, y, fingerprint of the file it came from)
Builder = Callable[[Any], tuple]


@dataclass(frozen=True)
class DatasetKind:
    name: str
    label: str                                   # the dashboard's name for it
    build: Builder                               # spec -> (b, y) or (b, y, fingerprint)
    fields: tuple[str, ...] = ()                 # spec fields it reads, besides n and d
    fixed_shape: tuple[int | None, int | None] = (None, None)    # (n, d) set by its definition
    default_shape: tuple[int | None, int | None] = (None, None)  # used when the spec leaves them
    min_n: int = 2
    max_n: int | None = None
    image_shape: tuple[int, int, int] | None = None             # (channels, height, width)
    needs_path: bool = False
    description: str = ""
    defaults: tuple[tuple[str, Any], ...] = ()   # its parameters' own defaults, e.g. classes


_DATASETS: dict[str, DatasetKind] = {}
_DISCOVERED = False


def register_dataset(kind: DatasetKind) -> DatasetKind:
    if kind.name in _DATASETS and _DATASETS[kind.name] != kind:
        raise ValueError(f"dataset {kind.name!r} is registered twice")
    _DATASETS[kind.name] = kind
    return kind


def datasets() -> dict[str, DatasetKind]:
    """Every registered data set: the built-ins (core.datasets), then each core/data_*.py."""
    global _DISCOVERED
    if not _DISCOVERED:
        _DISCOVERED = True
        import core

        importlib.import_module("core.datasets")
        for module in sorted(m.name for m in pkgutil.iter_modules(core.__path__)):
            if module.startswith("data_"):
                importlib.import_module(f"core.{module}")
    return _DATASETS


def dataset_kind(name: str) -> DatasetKind:
    return datasets()[name]


def datasets_reading(field: str) -> tuple[str, ...]:
    """The data sets whose builder reads ``field`` (which decides when the field matters)."""
    return tuple(name for name, kind in datasets().items() if field in kind.fields)
