"""The import graph of the core package, read from source (nothing is imported): which of its
modules a file imports, anywhere it runs (inside functions too, not under ``if TYPE_CHECKING``).
The cache uses it to hash only the code that computes results, and the structure test to find
import cycles."""
from __future__ import annotations

import ast
import functools
from pathlib import Path


def module_file(root: Path, name: str) -> Path | None:
    """The file of module ``name`` (dotted, relative to the package folder ``root``; "" is the
    package itself)."""
    base = root.joinpath(*name.split(".")) if name else root
    for path in (base.with_suffix(".py") if name else None, base / "__init__.py"):
        if path is not None and path.is_file():
            return path
    return None


def modules(root: Path, package: str = "") -> list[str]:
    """Every module under ``package`` (dotted, relative to ``root``), sub-packages included."""
    folder = root.joinpath(*package.split(".")) if package else root
    prefix = f"{package}." if package else ""
    found = []
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        found.append((prefix + ".".join(parts)).rstrip("."))
    return found


def parents(name: str) -> list[str]:
    """The packages whose ``__init__`` runs when ``name`` is imported ("" is the root)."""
    parts = name.split(".") if name else []
    return [".".join(parts[:k]) for k in range(len(parts))]


@functools.lru_cache(maxsize=512)
def _parsed(path: Path, stamp: tuple[int, int]) -> ast.Module | None:
    try:
        return ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return None


def parse(path: Path) -> ast.Module | None:
    """The syntax tree of a file (None if it does not parse), read once per version of it.
    Callers must not change the tree."""
    try:
        status = path.stat()
    except OSError:
        return None
    return _parsed(path, (status.st_mtime_ns, status.st_size))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            skipped.update(id(inner) for child in node.body for inner in ast.walk(child))
    return skipped


def imported(root: Path, name: str) -> set[str]:
    """The modules of the package at ``root`` (named ``root.name``) that module ``name`` imports."""
    path = module_file(root, name)
    tree = parse(path) if path is not None else None
    if tree is None:
        return set()
    top, skipped = root.name, _type_checking_only(tree)
    here = name.split(".") if name else []
    if path is not None and path.name != "__init__.py":
        here = here[:-1]
    found: set[str] = set()

    def add(target: str, names=()) -> None:
        for alias in names:
            if module_file(root, f"{target}.{alias}".strip(".")) is not None:
                found.add(f"{target}.{alias}".strip("."))
            else:
                found.add(target)
        if not names:
            found.add(target)

    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                add(target, [alias.name for alias in node.names])
            elif node.module == top or (node.module or "").startswith(top + "."):
                add(node.module[len(top) + 1:], [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == top or alias.name.startswith(top + "."):
                    add(alias.name[len(top) + 1:])
    return {target for target in found if module_file(root, target) is not None}


def closure(root: Path, start: list[str]) -> set[str]:
    """``start`` and every module they import, directly or not, with the packages that run."""
    pending, seen = list(start), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending.extend(imported(root, name))
        pending.extend(parents(name))
    return seen
