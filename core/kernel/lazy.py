"""Heavy modules (torch) imported on first use, so that the CLI's help, ``--list``, ``schema``
and argument errors answer without loading them (a test checks ``sys.modules``).

``torch = lazy_module("torch", globals())`` binds a stand-in; the first attribute read imports
the real module and puts it in the stand-in's place in that module's globals, so later reads
cost nothing extra. Annotations stay strings (``from __future__ import annotations``)."""
from __future__ import annotations

import importlib
from typing import Any


class _LazyModule:
    __slots__ = ("_name", "_namespace", "_alias")

    def __init__(self, name: str, namespace: dict, alias: str):
        self._name, self._namespace, self._alias = name, namespace, alias

    def _load(self):
        module = importlib.import_module(self._name)
        if self._namespace.get(self._alias) is self:
            self._namespace[self._alias] = module
        return module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._load(), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str, namespace: dict, alias: str | None = None) -> Any:
    """A stand-in for ``import name as alias`` in ``namespace`` (a module's ``globals()``)."""
    return _LazyModule(name, namespace, alias or name.rpartition(".")[2])
