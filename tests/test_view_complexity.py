"""The view layer stays readable: no function of the plot builders, display objects, the
shared UI layer or the pages of this layer has a cyclomatic complexity of 15 or more
(counted like radon/mccabe: 1 + one per branch, loop, except, boolean operator,
conditional expression and comprehension clause)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VIEW_FILES = sorted({*ROOT.glob("core/report/*.py"), *ROOT.glob("ui/*.py"), ROOT / "pages" / "shallow.py",
                     *(ROOT / "pages" / f"{name}.py" for name in
                       ("dynamics", "step_size_map", "complexity", "images", "home", "checks"))})
LIMIT = 15
BRANCHES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler, ast.IfExp,
            ast.match_case)


def complexity(function: ast.AST) -> int:
    """Cyclomatic complexity of one function; nested functions count on their own."""
    score = 1
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, BRANCHES):
            score += 1
        elif isinstance(node, ast.BoolOp):
            score += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            score += 1 + len(node.ifs)
        stack.extend(ast.iter_child_nodes(node))
    return score


def functions(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, complexity(node)


def test_the_counter_counts_branches():
    tree = ast.parse("def f(a, b):\n    if a and b:\n        return [x for x in a if x]\n"
                     "    for i in b:\n        pass\n    return 1 if a else 2\n")
    assert complexity(tree.body[0]) == 1 + 1 + 1 + 2 + 1 + 1


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_view_functions_are_under_the_limit(path):
    if not path.exists():
        pytest.skip(f"{path} is absent")
    over = [(name, line, score) for name, line, score in functions(path) if score >= LIMIT]
    assert not over, over


if __name__ == "__main__":          # python tests/test_view_complexity.py: the table
    rows = [(score, f"{path.relative_to(ROOT)}:{line}", name)
            for path in VIEW_FILES
            for name, line, score in functions(path)]
    for score, where, name in sorted(rows, reverse=True)[:25]:
        print(f"{score:3d}  {where}  {name}")
