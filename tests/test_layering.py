"""The house's imports run one way: a table of which part may not import which, checked on the
AST of every module (function-level imports and importlib calls included); no module imports
itself back through others; and cases that show the checkers catch each kind of violation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PARTS = ("sql", "ingest", "training", "tap_service", "xpha")
# part -> the parts it must never import (xpha, the composition root, imports every part)
FORBIDDEN: dict[str, frozenset[str]] = {
    "sql": frozenset({"ingest", "training", "tap_service", "xpha"}),
    "ingest": frozenset({"training", "tap_service", "xpha"}),
    "training": frozenset({"tap_service", "xpha"}),
    "tap_service": frozenset({"training", "xpha"}),
    "xpha": frozenset(),
}
IMPORT_FUNCTIONS = {"import_module", "__import__"}
DYNAMIC = "<computed name>"


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source`` (the module named ``module``): import
    statements at any depth, relative ones resolved, and importlib calls; an import whose name
    is computed at run time is reported as DYNAMIC (it cannot be checked)."""
    found = []
    package = module.split(".") + ([""] if is_package else [])
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level] if node.level else []
            found.append((node.lineno, ".".join([*base, *filter(None, [node.module])])))
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name in IMPORT_FUNCTIONS and node.args:
                target = node.args[0]
                literal = isinstance(target, ast.Constant) and isinstance(target.value, str)
                found.append((node.lineno, target.value if literal else DYNAMIC))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    part = module.split(".")[0]
    bad = []
    for line, target in imported_modules(source, module, is_package):
        top = target.split(".")[0]
        if target == DYNAMIC or top in FORBIDDEN[part]:
            bad.append(f"{module}:{line} imports {target}")
    return bad


def modules() -> list[tuple[str, Path]]:
    found = []
    for part in PARTS:
        for path in sorted((REPO / part).rglob("*.py")):
            relative = path.relative_to(REPO).with_suffix("")
            found.append((".".join(relative.parts).removesuffix(".__init__"), path))
    return found


def module_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (``from pkg import sub`` counts as pkg.sub)."""
    known = {name for name, _ in modules()}
    graph: dict[str, set[str]] = {}
    for name, path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name.split(".") + ([""] if path.name == "__init__.py" else [])
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level] if node.level else []
                source = ".".join([*base, *filter(None, [node.module])])
                subs = {f"{source}.{alias.name}" for alias in node.names} & known
                targets |= subs or {source}
        graph[name] = {t for t in targets if t in known and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of a graph (Tarjan's strongly connected components of 2+ modules)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return found


def test_no_module_imports_itself_back() -> None:
    assert circles(module_graph()) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_circles_are_found(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert circles(graph) == expected


def test_every_part_is_checked() -> None:
    names = {name for name, _ in modules()}
    assert set(PARTS) <= names and len(names) > 100


@pytest.mark.parametrize(("module", "path"), modules(), ids=lambda v: str(v).split("/")[-1])
def test_imports_run_one_way(module: str, path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert violations(source, module, path.name == "__init__.py") == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("sql.cli", "import training.pipeline", ["sql.cli:1 imports training.pipeline"]),
        ("sql.cli", "def f():\n    from tap_service import app", ["sql.cli:2 imports tap_service"]),
        (
            "sql.cli",
            "import importlib\nimportlib.import_module('ingest.cli')",
            ["sql.cli:2 imports ingest.cli"],
        ),
        (
            "sql.cli",
            "from importlib import import_module\nfor n in NAMES:\n    import_module(n)",
            [f"sql.cli:3 imports {DYNAMIC}"],
        ),
        ("sql.cli", "__import__('xpha')", ["sql.cli:1 imports xpha"]),
        (
            "ingest.simulator.cli",
            "from training.injection import run",
            ["ingest.simulator.cli:1 imports training.injection"],
        ),
        (
            "training.cli",
            "from tap_service.cli import serve",
            ["training.cli:1 imports tap_service.cli"],
        ),
        ("tap_service.app", "import training", ["tap_service.app:1 imports training"]),
        ("tap_service.writers.binary", "from ..app import x", []),
        ("training.pipeline", "from ingest.xp_physics import lsf\nfrom sql import database", []),
        ("xpha.cli", "from training import cli\nfrom tap_service import cli", []),
    ],
)
def test_the_checker_catches_violations(module: str, source: str, expected: list[str]) -> None:
    assert violations(source, module) == expected


@pytest.mark.parametrize(
    ("module", "is_package", "source", "expected"),
    [
        ("tap_service.writers", True, "from .base import Writer", "tap_service.writers.base"),
        (
            "tap_service.writers.binary",
            False,
            "from .fields import F",
            "tap_service.writers.fields",
        ),
        ("ingest.simulator.cli", False, "from .. import bulk", "ingest"),
    ],
)
def test_relative_imports_are_resolved(
    module: str, is_package: bool, source: str, expected: str
) -> None:
    assert imported_modules(source, module, is_package) == [(1, expected)]
