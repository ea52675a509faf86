"""Package layout: no import cycles between the modules of ``spatialevo``.

Every module is parsed with :mod:`ast` and every import counts — top-level ones, ones inside
functions and ones under ``if TYPE_CHECKING:`` — so a cycle cannot hide behind a deferred import.
An edge goes to the module an import names: ``from spatialevo.scene import cache`` names the
submodule ``spatialevo.scene.cache``, ``from spatialevo.scene import Scene`` names the package
``spatialevo.scene`` (its ``__init__``). The parent packages Python initialises on the way are not
edges (every ``__init__`` importing its own submodules would otherwise be a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import spatialevo

PACKAGE_DIR = Path(spatialevo.__file__).resolve().parent


def package_modules(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Dotted module name → source file, for every ``.py`` file of the package under ``root``."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that module ``name`` (source ``path``) imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against the importing module's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    found.add(f"{base}.{alias.name}")
                elif base in modules:
                    found.add(base)
    found.discard(name)
    return found


def import_graph(root: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module → the package modules it imports (all imports, including deferred and type-only ones)."""
    modules = package_modules(root)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import cycle per strongly connected component of ``graph`` with more than one module
    (or a module importing itself), each as ``[a, b, ..., a]``, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                components.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(_cycle_in(graph, comp) for comp in components)


def _cycle_in(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest cycle through the smallest module name of a strongly connected component (BFS)."""
    start = min(comp)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, set()) & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle in component {sorted(comp)}")  # cannot happen for an SCC


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles in spatialevo:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_library_modules_do_not_import_the_cli() -> None:
    """Parsers live in :mod:`spatialevo.cli` and call the library; only the CLI itself and ``__main__``
    entry points (``python -m spatialevo.train``) import it."""
    graph = import_graph()
    offenders = sorted(
        f"{name} -> {dep}"
        for name, deps in graph.items()
        if not (name == "spatialevo.cli" or name.startswith("spatialevo.cli.") or name.endswith(".__main__"))
        for dep in deps
        if dep == "spatialevo.cli" or dep.startswith("spatialevo.cli.")
    )
    assert not offenders, "library modules importing the CLI:\n" + "\n".join(offenders)


def test_argparse_only_in_the_cli() -> None:
    """Every argument parser is defined in :mod:`spatialevo.cli`: no other module imports argparse."""
    outside = []
    for name, path in package_modules().items():
        if name == "spatialevo.cli" or name.startswith("spatialevo.cli."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names)) or (
                isinstance(node, ast.ImportFrom) and node.module == "argparse"
            ):
                outside.append(name)
    assert not outside, f"argument parsers outside spatialevo.cli: {sorted(set(outside))}"


def test_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The graph counts top-level, function-level, ``TYPE_CHECKING`` and relative imports."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg import a\n",
        "a.py": "import pkg.b\n",
        "b.py": "def f():\n    from pkg.sub import c\n",
        "sub/__init__.py": "",
        "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..d import X\n",
        "d.py": "from .sub.c import Y\nfrom . import a\n",
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    graph = import_graph(pkg)
    assert graph["pkg"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.sub.c"] == {"pkg.d"}
    assert graph["pkg.d"] == {"pkg.sub.c", "pkg.a"}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.d", "pkg.a"]]


def test_find_cycles_lists_each_cycle() -> None:
    graph = {"x": {"y"}, "y": {"x"}, "p": {"q"}, "q": {"r"}, "r": {"p", "s"}, "s": set(), "t": {"t"}}
    assert find_cycles(graph) == [["p", "q", "r", "p"], ["t", "t"], ["x", "y", "x"]]
