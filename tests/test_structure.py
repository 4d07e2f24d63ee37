"""The layering of docs/architecture.md: core never imports streamlit, ui does not use the
CLI, and imports only point downwards (pages -> ui -> core), with no cycles inside core (imports
inside functions included)."""
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


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks (annotations, never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for child in node.body for inner in ast.walk(child))
    return skipped


def local_imports(path, package: str) -> set[str]:
    """Modules of ``package`` that the file imports anywhere it runs: at its top level and
    inside functions (an import inside a function still runs, and can hide a cycle); not
    under ``if TYPE_CHECKING``. ``__init__`` stands for the package itself."""
    tree = ast.parse(path.read_text())
    skipped = _type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module == package:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith(package + "."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package:
                    found.add("__init__")
                elif alias.name.startswith(package + "."):
                    found.add(alias.name.split(".")[1])
    return found


def test_the_import_reader_sees_imports_inside_functions(tmp_path):
    """Negative control: a cycle made only by an import inside a function is found."""
    source = tmp_path / "hidden.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .plots import x\n"
                      "def late():\n    from .engine import run_sweep\n    import core.cache\n")
    assert local_imports(source, "core") == {"engine", "cache"}


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


def test_environment_variables_are_read_in_core_settings_only():
    """No os.environ / os.getenv outside core/settings.py, and every GDX_ variable the code
    names is declared there (a number setting or a text setting)."""
    import re

    from core.settings import SETTINGS, TEXT_SETTINGS

    files = [ROOT / "app.py", *(ROOT / "core").glob("*.py"), *(ROOT / "ui").glob("*.py"),
             *(ROOT / "pages").glob("*.py")]
    named = set()
    for path in files:
        source = path.read_text()
        named.update(re.findall(r"\bGDX_[A-Z_]+\b", source))
        if path.name == "settings.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and (
                    isinstance(node.value, ast.Name) and node.value.id == "os"):
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} reads the "
                                     "environment; declare the variable in core/settings.py")
    assert named <= set(SETTINGS) | set(TEXT_SETTINGS), named - set(SETTINGS) - set(TEXT_SETTINGS)
