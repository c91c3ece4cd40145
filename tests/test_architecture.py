"""The package's shape, read from its source: imports between its modules form no cycle,
and no function is longer than a screen (the command line's table of flags aside)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "src" / "sweep"
MAX_LINES = 60
TABLES = {("__main__.py", "parse_args")}  # argparse tables: one flag after another


def imports(path: Path) -> set[str]:
    """The package modules a module imports, at any level (lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sweep."):
            found.add(node.module.split(".")[1])
    return found


def test_no_import_cycle_among_the_modules() -> None:
    graph = {p.stem: imports(p) for p in PACKAGE.glob("*.py")}
    graph = {name: {m for m in deps if m in graph and m != name} for name, deps in graph.items()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, "import cycle: " + " -> ".join((*path, name))
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
    assert {"trial", "resume", "backends", "signals", "stats", "plots"} <= set(graph)


def test_no_function_is_longer_than_a_screen() -> None:
    long = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES and (path.name, node.name) not in TABLES:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert not long, long


def test_training_and_statistics_never_touch_mlflow() -> None:
    for name in ("train", "trial", "stats", "plots", "models", "data", "config", "space"):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                modules.add(node.module or "")
        assert not [m for m in modules if m.startswith("mlflow")], name
