"""The layering the design card asks for: core never imports streamlit, ui does not use the
CLI, and imports only point downwards (pages -> ui -> core), with no cycles inside core."""
from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys

import core
from tests.conftest import ROOT


def imported_modules(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return set(done.stdout.split())


def test_core_never_imports_streamlit():
    names = [f"core.{m.name}" for m in pkgutil.iter_modules(core.__path__) if m.name != "__main__"]
    loaded = imported_modules("\n".join(f"import {name}" for name in names))
    assert set(names) <= loaded
    assert not {name for name in loaded if name.split(".")[0] == "streamlit"}


def test_ui_does_not_use_the_cli():
    loaded = imported_modules("import ui.boundary, ui.display, ui.compute, ui.controls, ui.state, "
                              "ui.sidebar, ui.page, ui.navigation")
    assert "core.cli" not in loaded


def local_imports(path, package: str) -> set[str]:
    """Modules of ``package`` that the file imports at its top level (module scope)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith(package + "."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith(package + "."))
    return found


def test_no_import_cycles_inside_core():
    folder = ROOT / "core"
    graph = {path.stem: local_imports(path, "core") for path in folder.glob("*.py")}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in graph.get(name, ()):
            if state.get(other) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail + [name, other]))
            if other in graph and not state.get(other):
                visit(other, trail + [name])
        state[name] = 2

    for module in graph:
        if not state.get(module):
            visit(module, [])


def test_layers_point_downwards():
    for folder, forbidden in (("core", ("ui", "pages", "streamlit")), ("ui", ("pages",))):
        for path in (ROOT / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                         else [])
                for name in names:
                    assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
