"""The layering of docs/architecture.md: core never imports streamlit, ui does not use the
CLI, and imports only point downwards (pages -> ui -> core), with no cycles inside core (imports
inside functions included)."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import core
from core.kernel import imports
from tests.conftest import ROOT


def imported_modules(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    return set(done.stdout.split())


@pytest.mark.slow
def test_core_never_imports_streamlit():
    names = ["core." + name for name in imports.modules(ROOT / "core") if name and name != "__main__"]
    loaded = imported_modules("\n".join(f"import {name}" for name in names))
    assert set(names) <= loaded
    assert not {name for name in loaded if name.split(".")[0] == "streamlit"}


@pytest.mark.slow
def test_ui_does_not_use_the_cli():
    loaded = imported_modules("import ui.boundary, ui.display, ui.compute, ui.controls, ui.state, "
                              "ui.sidebar, ui.page, ui.navigation")
    assert "core.cli" not in loaded


def test_the_import_reader_sees_imports_inside_functions(tmp_path):
    """Negative control: a cycle made only by an import inside a function is found, an import
    under ``if TYPE_CHECKING`` is not, and a module imported from its package is told apart
    from the package."""
    package = tmp_path / "core"
    (package / "report").mkdir(parents=True)
    for name in ("__init__.py", "engine.py", "cache.py", "report/__init__.py", "report/plots.py"):
        (package / name).write_text("")
    (package / "hidden.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.report import plots\n"
        "def late():\n    from .engine import run_sweep\n    import core.cache\n"
        "    from core.report import plots, other\n")
    assert imports.imported(package, "hidden") == {"engine", "cache", "report.plots", "report"}


def core_import_graph(root=ROOT / "core") -> dict[str, set[str]]:
    """Every module of core and the modules of core it imports (inside functions too)."""
    return {name: imports.imported(root, name) for name in imports.modules(root)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> list[str] | None:
        state[name] = 1
        for other in sorted(graph.get(name, ())):
            if state.get(other) == 1:
                return trail + [name, other]
            if other in graph and not state.get(other):
                found = visit(other, trail + [name])
                if found:
                    return found
        state[name] = 2
        return None

    for module in sorted(graph):
        if not state.get(module):
            found = visit(module, [])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles_inside_core():
    graph = core_import_graph()
    assert len(graph) > 40 and "engine.batched" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(name or "core" for name in cycle)


def test_core_folders_say_what_goes_where():
    """Each sub-package of core says in its docstring what it holds; no module sits loose at
    the top besides the two interfaces (API and CLI)."""
    top = {path.name for path in (ROOT / "core").glob("*.py")}
    assert top == {"__init__.py", "__main__.py", "api.py", "cli.py"}, top
    for folder in sorted(p for p in (ROOT / "core").iterdir() if p.is_dir() and p.name != "__pycache__"):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc and len(doc) > 30, folder.name


def test_layers_point_downwards():
    for folder, forbidden in (("core", ("ui", "pages", "streamlit")), ("ui", ("pages",))):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                         else [])
                for name in names:
                    assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"


def test_environment_variables_are_read_in_core_settings_only():
    """No os.environ / os.getenv outside core/kernel/settings.py, and every GDX_ variable the code
    names is declared there (a number setting or a text setting)."""
    import re

    from core.kernel.settings import SETTINGS, TEXT_SETTINGS

    files = [ROOT / "app.py", *(ROOT / "core").rglob("*.py"), *(ROOT / "ui").glob("*.py"),
             *(ROOT / "pages").glob("*.py")]
    named = set()
    for path in files:
        source = path.read_text()
        named.update(re.findall(r"\bGDX_[A-Z_]+\b", source))
        if path == ROOT / "core" / "kernel" / "settings.py":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and (
                    isinstance(node.value, ast.Name) and node.value.id == "os"):
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} reads the "
                                     "environment; declare the variable in core/kernel/settings.py")
    assert named <= set(SETTINGS) | set(TEXT_SETTINGS), named - set(SETTINGS) - set(TEXT_SETTINGS)


@pytest.mark.slow
def test_the_architecture_example_adds_a_working_update_rule(tmp_path):
    """docs/architecture.md's RMSprop example, dropped as a new file into a copy of the tree,
    is found by the registry, runs, and matches a numpy RMSprop loop (1e-12); the same loop
    with another decay does not (negative control)."""
    import re
    import shutil

    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text[text.index("### Example: adding an update rule"):]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(ROOT / "core", tmp_path / "core", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "core" / "algorithms" / "rmsprop.py").write_text(block)
    script = '''
import json, numpy as np
from core.datasets import builtin as datasets
from core.engine.batched import run_sweep
from core.kernel.spec import make_spec
spec = make_spec(model="linear", dataset="gaussian", n=30, d=4, margin=0.0, algorithm="rmsprop",
                 beta2=0.9, step_sizes=(0.05,), seeds=(0,), max_iters=30, run_to_max=True,
                 history_points=30)
data = datasets.load(spec)
run = run_sweep(spec, data).runs[0]
print(json.dumps({"params": np.asarray(run.params).tolist(), "b": np.asarray(data.features).tolist(),
                  "y": np.asarray(data.labels).tolist()}))
'''
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    import numpy as np

    out = json.loads(done.stdout)
    params, b, y = (np.array(out[k]) for k in ("params", "b", "y"))

    def numpy_rmsprop(alpha):
        theta, square, history = params[0].copy(), np.zeros_like(params[0]), [params[0].copy()]
        for _ in range(30):
            gradient = -(b.T @ (y / (1 + np.exp(y * (b @ theta))))) / len(y)
            square = alpha * square + (1 - alpha) * gradient ** 2
            theta = theta - 0.05 * gradient / (np.sqrt(square) + 1e-8)
            history.append(theta.copy())
        return np.array(history)

    assert np.max(np.abs(params - numpy_rmsprop(0.9))) < 1e-12
    assert np.max(np.abs(params - numpy_rmsprop(0.99))) > 1e-6
