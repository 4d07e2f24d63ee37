"""The one error type for bad input: ``SpecError(field, message)``, whose ``str()`` is one
line "field: message". The CLI turns it into exit code 2, the pages into an error banner."""
from __future__ import annotations


class SpecError(ValueError):
    """A field (a spec field, a flag, a URL parameter or an environment variable) holds a
    value outside what it allows."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")
