"""Registries: what the core can run, declared once per entry. A new data set is one module
in ``core/datasets/`` that calls :func:`register_dataset`; a new model one in ``core/models/``
that calls :func:`register_model`; a new update rule one in ``core/algorithms/`` that calls
``register_algorithm``. The built-ins are registered in each package's ``builtin`` module; the
other modules of the package are found automatically, and the field table, validation, the
CLI's choices, the schema and the dashboard's labels and controls all follow from their
entries. One :class:`Registry` class keeps all three."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from dataclasses import dataclass
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable

class Registry:
    """Entries of one kind, by name. The built-ins are registered by importing the package's
    ``builtin`` module; more come from every other module of the package (``core.<package>``),
    imported the first time the entries are read. ``check`` refuses an inconsistent entry
    (ValueError)."""

    def __init__(self, what: str, package: str, check: Callable[[Any], None] | None = None):
        self.what, self.package, self.check = what, package, check
        self._entries: dict[str, Any] = {}
        self._discovered = False

    def register(self, entry):
        if self.check is not None:
            self.check(entry)
        if entry.name in self._entries and self._entries[entry.name] != entry:
            raise ValueError(f"{self.what} {entry.name!r} is registered twice")
        self._entries[entry.name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry (for tests that register one of their own)."""
        self._entries.pop(name, None)

    def entries(self) -> dict[str, Any]:
        if not self._discovered:
            self._discovered = True
            _discover(self.package)
        return self._entries


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
    upload: bool = False                         # the path is a file the visitor uploads
    description: str = ""
    defaults: tuple[tuple[str, Any], ...] = ()   # its parameters' own defaults, e.g. classes
    class_names: tuple[str, ...] = ()            # what the class numbers mean (default: the numbers)


DATASET_REGISTRY = Registry("dataset", "core.datasets")
register_dataset = DATASET_REGISTRY.register


def datasets() -> dict[str, DatasetKind]:
    """Every registered data set: the built-ins (core.datasets.builtin), then each other module of core.datasets."""
    return DATASET_REGISTRY.entries()


def dataset_kind(name: str) -> DatasetKind:
    return datasets()[name]


def datasets_reading(field: str) -> tuple[str, ...]:
    """The data sets whose builder reads ``field`` (which decides when the field matters)."""
    return tuple(name for name, kind in datasets().items() if field in kind.fields)


# ---------------------------------------------------------------------- models
MODEL_FAMILIES = ("linear", "nonlinear", "shallow")


@dataclass(frozen=True)
class ModelKind:
    """A model: its name, its builder and what the rest of the code needs to know about it.
    ``family`` decides the algorithms it runs (core.algorithms.builtin) and the kind of perceptron gap;
    the 'shallow' family (the a·b networks of science.md §3) is run by core/engine/shallow.py, the
    others by the batched classifier engine through ``build``. The homogeneity hook is the
    built model's ``homogeneity()`` (2-homogeneous rows of a perceptron are renormalised)."""

    name: str
    label: str                                   # the dashboard's name for it
    family: str                                  # one of MODEL_FAMILIES
    build: Callable[[Any], Any] | None = None    # spec -> core.models.builtin.Model (None: shallow)
    fields: tuple[str, ...] = ()                 # spec fields it reads (model parameters)
    default_activation: str = "identity"         # when the spec leaves the activation empty
    needs_images: bool = False                   # only runs on data sets with an image shape
    min_d: int = 1
    min_d_reason: str = ""                       # why, for the "d: ..." error
    collapses: bool = False                      # can lose its dependence on the input
    description: str = ""

    @property
    def classifier(self) -> bool:
        return self.family != "shallow"


def _check_model(kind: ModelKind) -> None:
    if kind.family not in MODEL_FAMILIES:
        raise ValueError(f"model {kind.name!r}: family must be one of {', '.join(MODEL_FAMILIES)}")


MODEL_REGISTRY = Registry("model", "core.models", _check_model)
register_model = MODEL_REGISTRY.register
unregister_model = MODEL_REGISTRY.unregister


def models() -> dict[str, ModelKind]:
    """Every registered model: the built-ins (core.models.builtin), then each other module of core.models."""
    return MODEL_REGISTRY.entries()


def model_kind(name: str) -> ModelKind:
    return models()[name]


def model_family(name: str) -> str | None:
    kind = models().get(name)
    return kind.family if kind is not None else None


def models_of(family: str) -> tuple[str, ...]:
    return tuple(name for name, kind in models().items() if kind.family == family)


def models_reading(field: str) -> tuple[str, ...]:
    """The models that read ``field`` (which decides when the field matters)."""
    return tuple(name for name, kind in models().items() if field in kind.fields)


def _discover(package: str) -> None:
    importlib.import_module(f"{package}.builtin")
    folder = Path(importlib.import_module(package).__file__).parent
    for module in sorted(m.name for m in pkgutil.iter_modules([str(folder)])):
        if module != "builtin" and not module.startswith("_"):
            importlib.import_module(f"{package}.{module}")


# ---------------------------------------------------------------------- live views
class Names(Sequence):
    """A tuple-like view of names that is read from a registry each time it is used, so a
    registered entry appears in every derived list (choices, validation, the dashboard)."""

    def __init__(self, source: Callable[[], Iterable[str]]):
        self._source = source

    def _names(self) -> tuple[str, ...]:
        return tuple(self._source())

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self):
        return iter(self._names())

    def __contains__(self, name) -> bool:
        return name in self._names()

    def __eq__(self, other) -> bool:
        return isinstance(other, (tuple, list, Names)) and self._names() == tuple(other)

    __hash__ = object.__hash__

    def __add__(self, other):
        return self._names() + tuple(other)

    def __radd__(self, other):
        return tuple(other) + self._names()

    def __repr__(self) -> str:
        return repr(self._names())


class Lookup(Mapping):
    """A dict-like view computed from a registry each time it is read (see :class:`Names`)."""

    def __init__(self, source: Callable[[], dict]):
        self._source = source

    def __getitem__(self, key):
        return self._source()[key]

    def __iter__(self):
        return iter(self._source())

    def __len__(self) -> int:
        return len(self._source())

    def __repr__(self) -> str:
        return repr(self._source())
