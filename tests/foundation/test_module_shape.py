"""The shape of the code: every project module imports, no import cycle (counting
imports inside functions too), a function-local import of a project module says
why it is there, and no module grows past ~500 lines."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("media_analysis", "analysis", "storage_app", "audit")
MAX_LINES = 520  # "about 500"


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The project module ``name`` is in (a package's ``__init__`` for a name it
    defines), or None for a third-party name."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> list[tuple[str, ast.stmt, bool]]:
    """(imported project module, the statement, whether it sits inside a function)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package
                    for _ in range(child.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                names = [f"{base}.{alias.name}" for alias in child.names] or [base]
            else:
                visit(child, nested)
                continue
            if _is_type_checking_block(node):
                continue
            for name in names:
                target = _owner(name)
                if target and target != module:
                    found.append((target, child, in_function))

    visit(tree, False)
    return found


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_project_module_imports(module):
    importlib.import_module(module)


def test_no_import_cycle_counting_function_local_imports():
    graph = {module: {t for t, _, _ in _imports(module, path)} for module, path in MODULES.items()}
    cycles = _strongly_connected(graph)
    assert cycles == [], f"import cycles: {cycles}"


def test_a_function_local_import_of_a_project_module_says_why():
    silent = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        for target, statement, in_function in _imports(module, path):
            if not in_function:
                continue
            first = statement.lineno - 1
            here = lines[first]
            above = lines[first - 1].strip() if first else ""
            if "#" not in here and not above.startswith("#"):
                silent.append(f"{path.relative_to(ROOT)}:{statement.lineno} imports {target}")
    assert silent == [], "function-local imports without a comment saying why:\n" + "\n".join(
        sorted(set(silent))
    )


def test_no_module_grows_past_about_500_lines():
    long = {
        str(path.relative_to(ROOT)): count
        for path in MODULES.values()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups
