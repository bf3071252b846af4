"""The import graph keeps the layout docs/architecture.md draws: no module imports itself back
through others at run time, no module reaches into another's private names, and each package
imports only what the architecture's table allows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "linkatlas"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _runtime_imports(module: str, path: Path) -> list[tuple[str, str | None]]:
    """(imported module, imported name) for every import outside `if TYPE_CHECKING:`, at any
    depth (a function-level import runs too)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for guard in ast.walk(tree) if isinstance(guard, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(guard.test) for node in ast.walk(guard)}
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full, None) if full in MODULES else (base, alias.name))
    return [(_owner(target), name) for target, name in found if target.startswith("linkatlas")]


def _owner(dotted: str) -> str:
    while dotted not in MODULES and "." in dotted:
        dotted = dotted.rsplit(".", 1)[0]
    return dotted


def _graph() -> dict[str, set[str]]:
    return {module: {target for target, _ in _runtime_imports(module, path) if target != module}
            for module, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _allowed() -> dict[str, set[str]]:
    """docs/architecture.md's table: | `package` | job | may import |."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    allowed = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            name = cells[0].strip("`/").removesuffix(".py")
            allowed[f"linkatlas.{name}"] = {
                f"linkatlas.{item.strip('/').removesuffix('.py')}"
                for item in re.findall(r"`([a-z_]+(?:\.py|/)?)`", cells[2])}
            if cells[2] == "every package":
                allowed[f"linkatlas.{name}"] = {_package(module) for module in MODULES}
    return allowed


def test_no_module_imports_itself_back_at_run_time() -> None:
    assert _cycles(_graph()) == []


def test_no_module_reaches_into_another_modules_private_names() -> None:
    reaching = [(module, target, name) for module, path in MODULES.items()
                for target, name in _runtime_imports(module, path)
                if name and name.startswith("_") and not name.startswith("__")
                and target != module]
    assert reaching == []


def test_each_package_imports_only_what_the_architecture_table_allows() -> None:
    allowed = _allowed()
    packages = {_package(module) for module in MODULES} - {"linkatlas"}
    assert packages <= set(allowed), f"packages missing from the table: {packages - set(allowed)}"
    outside = sorted({(_package(module), _package(target))
                      for module, targets in _graph().items() for target in targets
                      if _package(target) != _package(module) and _package(module) in allowed
                      and _package(target) != "linkatlas"
                      and _package(target) not in allowed[_package(module)]})
    assert outside == []
