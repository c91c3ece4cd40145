"""The package's shape, read from its source: its modules sit in layers that import only
downwards (the core knows nothing of tracking, the search loop, the report or the command
line; tracking knows nothing of training), imports form no cycle, and no function is longer
than a screen (the command line's table of flags aside), no class longer than 250 lines."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "src" / "sweep"
MAX_LINES = 60
MAX_CLASS_LINES = 250
TABLES = {
    ("cli.py", "run_arguments"),
    ("cli.py", "report_arguments"),
}  # argparse tables: one flag after another


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


# the layers, lowest first (README, "Layout"): each imports only from its own and lower ones
CORE = {
    *("config", "space", "data", "models", "train", "evaluation", "selection"),
    *("metrics", "faults", "signals", "console", "stats", "plots", "analysis"),
}
TRACKING = {"tracking", "artifacts", "store", "runs"}
SEARCH = {"sweep", "trial", "resume", "backends", "pruning"}
REPORT = {"report", "render"}
COMMAND_LINE = {
    *("__main__", "__init__", "shell", "cli", "run_command", "report_command"),
    *("predict", "export", "ui"),
}
TRAINING = {"train", "models", "space"}  # (of the core: what trains a model)


@functools.cache
def module_graph() -> dict[str, set[str]]:
    graph = {p.stem: imports(p) for p in PACKAGE.glob("*.py")}
    return {name: {m for m in deps if m in graph and m != name} for name, deps in graph.items()}


def test_every_module_sits_in_one_layer() -> None:
    layers = [CORE, TRACKING, SEARCH, REPORT, COMMAND_LINE]
    assert sorted(module_graph()) == sorted(set().union(*layers))
    assert sum(map(len, layers)) == len(set().union(*layers))


def test_the_core_imports_no_tracking_search_report_or_command_line_module() -> None:
    graph = module_graph()
    upward = {name: graph[name] - CORE for name in CORE}
    assert not any(upward.values()), {k: v for k, v in upward.items() if v}


def test_tracking_imports_no_training_and_nothing_above_it() -> None:
    graph = module_graph()
    for name in TRACKING:
        assert not graph[name] & (TRAINING | SEARCH | REPORT | COMMAND_LINE), name


def test_the_report_reads_the_store_and_never_trains() -> None:
    graph = module_graph()
    for name in REPORT:
        assert not graph[name] & (TRAINING | SEARCH | COMMAND_LINE), (name, graph[name])


def test_no_import_cycle_among_the_modules() -> None:
    graph = module_graph()
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


def test_no_class_is_longer_than_250_lines() -> None:
    long = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert not long, long


def test_the_core_and_the_trial_never_call_mlflow_themselves() -> None:
    """The core has no MLflow at all; a trial records through the Tracker and
    :mod:`sweep.artifacts`, never through MLflow's own modules."""
    for name in sorted(CORE | {"trial"}):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                modules.add(node.module or "")
        assert not [m for m in modules if m.startswith("mlflow")], name
