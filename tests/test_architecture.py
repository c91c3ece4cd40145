"""The package's shape, read from its source: one sub-package per concept, in an order in
which each imports only from those before it (config → train → analysis → record → search
→ report → cli, on a base of names, faults, signals and console), imports form no cycle,
only ``record`` and ``report`` touch MLflow, training knows nothing of Hyperopt or MLflow,
and no function is longer than a screen (the command line's tables of flags aside), no
class longer than 250 lines, no module longer than 400."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "src" / "sweep"
MAX_LINES = 60
MAX_CLASS_LINES = 250
MAX_MODULE_LINES = 400
TABLES = {
    ("_arguments.py", "run_arguments"),
    ("_arguments.py", "report_arguments"),
}  # argparse tables: one flag after another

# lowest first (README, "Layout"): each imports only from its own and earlier ones
BASE = ("names", "console", "signals", "faults")
ORDER = (*BASE, "config", "train", "analysis", "record", "search", "report", "cli", "")
MLFLOW_PACKAGES = {"record", "report"}  # the only ones that import MLflow
# imported where they are used, not at the top: an optional extra, and a download
LAZY_OUTSIDE = {"pyspark", "torchvision"}
LAZY_FUNCTIONS = {("search._backends", "spark_trials")}  # SparkTrials: with the spark extra


def module_name(path: Path) -> str:
    """src/sweep/search/_loop.py -> 'search._loop'; src/sweep/__main__.py -> '__main__'."""
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def package_of(module: str) -> str:
    """The concept a module belongs to: its sub-package, a base module's own name, or ''
    for the package's own __init__ and __main__ (above everything)."""
    head = module.split(".")[0]
    return "" if head in ("__init__", "__main__") else head


def resolve(importer: str, node: ast.ImportFrom) -> list[str]:
    """The modules of the package an ``from ... import`` names (a package's __init__ as
    'pkg.__init__'; a name that is a module of a package counts as that module)."""
    if node.level == 0:
        if not (node.module or "").startswith("sweep"):
            return []
        base = node.module.split(".")[1:]
    else:
        parts = importer.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = parts + (node.module.split(".") if node.module else [])
    found = []
    for alias in node.names if not node.module or node.level == 0 else [None]:
        target = ".".join(base + ([alias.name] if alias else []))
        if (PACKAGE / f"{target.replace('.', '/')}.py").is_file():
            found.append(target)
        elif (PACKAGE / target.replace(".", "/") / "__init__.py").is_file():
            found.append(f"{target}.__init__" if target else "__init__")
        elif alias:
            found.append(".".join(base) + ".__init__" if base else "__init__")
    if node.module and node.level and not found:
        found.append(".".join(base))
    return found


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@functools.cache
def module_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sources():
        name = module_name(path)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                deps.update(resolve(name, node))
        graph[name] = deps - {name}
    return graph


def third_party(path: Path) -> set[str]:
    """The top-level names of the outside modules a module imports, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_module_belongs_to_a_concept() -> None:
    strays = [m for m in module_graph() if package_of(m) not in ORDER]
    assert not strays, f"modules outside the packages of ORDER: {strays}"
    assert {"config", "train", "analysis", "record", "search", "report", "cli"} <= {
        package_of(m) for m in module_graph()
    }


def test_each_package_imports_only_from_the_packages_before_it() -> None:
    upward = []
    for module, deps in module_graph().items():
        mine = ORDER.index(package_of(module))
        for dep in deps:
            if ORDER.index(package_of(dep)) > mine:
                upward.append(f"{module} -> {dep}")
    assert not upward, upward


def test_no_import_cycle_among_the_modules() -> None:
    graph = module_graph()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, "import cycle: " + " -> ".join((*path, name))
        if name in done:
            return
        for dep in sorted(graph.get(name, ())):
            visit(dep, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())


def test_only_record_and_report_import_mlflow() -> None:
    others = [
        module_name(p)
        for p in sources()
        if package_of(module_name(p)) not in MLFLOW_PACKAGES and "mlflow" in third_party(p)
    ]
    assert not others, f"MLflow imported outside record/ and report/: {others}"


def test_training_knows_nothing_of_hyperopt_or_the_store() -> None:
    for path in (PACKAGE / "train").glob("*.py"):
        outside = third_party(path) & {"mlflow", "hyperopt", "sqlalchemy", "pyspark"}
        assert not outside, (path.name, outside)


def test_the_analysis_is_pure() -> None:
    """Tables and figures in, tables and figures out: no store, no search."""
    for path in (PACKAGE / "analysis").glob("*.py"):
        assert not third_party(path) & {"mlflow", "hyperopt", "sqlalchemy"}, path.name


def test_imports_sit_at_the_top_except_at_the_command_line_boundary() -> None:
    """A reader sees a module's dependencies in its first lines. Only the command line
    (``cli/``, ``__main__``, ``__init__``) imports inside functions, so that ``--help``
    and a refused flag answer before torch and MLflow load."""
    inside = []
    for path in sources():
        module = module_name(path)
        if package_of(module) in ("cli", ""):
            continue
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (module, function.name) in LAZY_FUNCTIONS:
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = ["." * node.level + (node.module or "")]
                else:
                    continue
                if not any(name.split(".")[0] in LAZY_OUTSIDE for name in names):
                    inside.append(f"{module}:{function.name}: {', '.join(names)}")
    assert not inside, inside


def test_the_command_line_loads_no_heavy_package_before_parsing() -> None:
    """The modules a command's --help runs import only the base and one another at their
    top: the concepts (and torch, MLflow, pandas) load inside the command's functions."""
    heavy = {"config", "train", "analysis", "record", "search", "report"}
    found = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level:
                targets = {package_of(m) for m in resolve(module_name(path), node)}
                if targets & heavy:
                    found.append(f"{path.name}: {ast.unparse(node)}")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                root = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if root.split(".")[0] in {"torch", "mlflow", "pandas", "hyperopt", "numpy"}:
                    found.append(f"{path.name}: {ast.unparse(node)}")
    assert not found, found


def test_no_function_is_longer_than_a_screen() -> None:
    long = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES and (path.name, node.name) not in TABLES:
                    long.append(f"{module_name(path)}:{node.name} ({lines} lines)")
    assert not long, long


def test_no_class_is_longer_than_250_lines() -> None:
    long = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long.append(f"{module_name(path)}:{node.name} ({lines} lines)")
    assert not long, long


def test_no_module_is_longer_than_400_lines() -> None:
    long = [
        f"{module_name(path)} ({n} lines)"
        for path in sources()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, long
