"""The packages' shape, read from their source with ``ast`` (nothing is imported).

Two rules keep ``flattr_host`` (and ``flattr_sim``, the local Flattr server) a codebase one
person can carry:

- **Small modules.** No module has more than ``MAX_MODULE_LINES`` lines: past that, a module holds
  more than one job; split it by concept.
- **No import cycle.** The graph of imports between the host's modules is a DAG. It counts the
  imports at module level *and* those inside functions, but not those under
  ``if TYPE_CHECKING:`` (they never run). A function-level import is allowed (the host defers
  imports to answer ``hello`` fast), but only when it could have been a module-level import
  without creating a cycle: a deferred import that hides a cycle is still a cycle. Fix one by
  moving the shared concept down to the module where it belongs.

How an import becomes edges: relative imports are resolved against the importing module;
``from pkg import name`` is an import of the submodule ``pkg.name`` when there is one, else of
``pkg``; importing a package is importing its ``__init__``, and importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b`` (except the importer's own enclosing packages, which are already
running or done by the time it runs).

That neither package imports the other is tests/test_package_boundary.py's job.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

HOST = Path(__file__).resolve().parent.parent / "host"
PACKAGES = ("flattr_host", "flattr_sim")
# Past this a module does more than one job (a named figure so a reviewer can argue with it).
MAX_MODULE_LINES = 500

Graph = dict[str, set[str]]


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root`` by dotted name (a package by its ``__init__``)."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: at any depth, but not under ``if TYPE_CHECKING:``."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _runtime_imports(node.orelse)  # the else branch does run
        else:
            yield from _runtime_imports(ast.iter_child_nodes(node))


def _with_packages(target: str, importer: str) -> set[str]:
    """``a.b.c`` and the packages its import runs on the way (``a``, ``a.b``), except the
    importer's own enclosing packages."""
    parts = target.split(".")
    enclosing = {".".join(importer.split(".")[:n]) for n in range(1, importer.count(".") + 1)}
    along = {".".join(parts[:n]) for n in range(1, len(parts))} - enclosing
    return along | {target}


def imports_of(name: str, path: Path, modules: Iterable[str]) -> set[str]:
    """The modules of ``modules`` that running module ``name`` (file ``path``) imports."""
    known = set(modules)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in _runtime_imports([tree]):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            if node.level:
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # ``from pkg import sub`` imports the submodule; ``from pkg import name`` the package.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            found |= _with_packages(target, name) & known
    found.discard(name)
    return found


def import_graph(root: Path, package: str) -> Graph:
    modules = module_files(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: Graph) -> list[list[str]]:
    """One shortest cycle per strongly connected component that has one, as ``[a, b, ..., a]``."""
    cycles = []
    for component in _components(graph):
        start = min(component)
        # Breadth-first from start, inside the component, back to start.
        came_from: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in came_from:
            following = []
            for node in frontier:
                for nxt in sorted(graph.get(node, ()) & component):
                    if nxt not in came_from:
                        came_from[nxt] = node
                        following.append(nxt)
            frontier = following
        chain = [start]
        while len(chain) == 1 or chain[-1] != start:
            chain.append(came_from[chain[-1]])
        cycles.append(chain[::-1])
    return cycles


def _components(graph: Graph) -> list[set[str]]:
    """Tarjan's strongly connected components that contain a cycle (iterative, no recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(component)
    return found


def oversized(modules: dict[str, Path], limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """The modules over ``limit`` lines, with their line counts."""
    counts = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules.items()
    }
    return {name: lines for name, lines in counts.items() if lines > limit}


def describe(cycles: list[list[str]]) -> str:
    return "\n".join(" → ".join(cycle) for cycle in cycles)


# --- the rules, on the host ------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_the_line_limit(package: str) -> None:
    too_long = oversized(module_files(HOST, package))
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split by concept): {too_long}"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_import_graph_has_no_cycle(package: str) -> None:
    cycles = find_cycles(import_graph(HOST, package))
    assert not cycles, (
        "import cycles (move the shared concept down; a deferred import still counts):\n"
        + describe(cycles)
    )


def test_the_graph_sees_the_host() -> None:
    """Guards the rules above against passing on an empty or mis-resolved graph."""
    graph = import_graph(HOST, "flattr_host")
    assert "flattr_host.protocol.requests" in graph["flattr_host.service"]
    assert "flattr_host.protocol" in graph["flattr_host.service"]  # its __init__ runs first
    assert "flattr_host.urls" in graph["flattr_host.creators"]
    assert "flattr_sim.server" in module_files(HOST, "flattr_sim")


# --- the checker, on made-up packages ---------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from . import b\n",
            "pkg/b.py": "from .sub.c import thing\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "def thing():\n    from ..a import x\n",
        },
    )
    cycles = find_cycles(import_graph(tmp_path, "pkg"))
    assert describe(cycles) == "pkg.a → pkg.b → pkg.sub.c → pkg.a"


@pytest.mark.parametrize(
    "files",
    [
        # Under TYPE_CHECKING the import never runs.
        {"a.py": "from . import b\n", "b.py": "if TYPE_CHECKING:\n    from . import a\n"},
        {"a.py": "from . import b\n", "b.py": "if typing.TYPE_CHECKING:\n    import pkg.a\n"},
        # A package's __init__ re-exporting its own module is no cycle.
        {"a.py": "from .sub import c\n", "sub/__init__.py": "from .c import X\n", "sub/c.py": ""},
    ],
)
def test_what_is_no_cycle(tmp_path: Path, files: dict[str, str]) -> None:
    _tree(tmp_path / "pkg", {"__init__.py": "", **files})
    assert find_cycles(import_graph(tmp_path, "pkg")) == []


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        # The else branch of ``if TYPE_CHECKING`` runs.
        (
            {
                "a.py": "import pkg.b\n",
                "b.py": "if TYPE_CHECKING:\n    pass\nelse:\n    import pkg.a\n",
            },
            "pkg.a → pkg.b → pkg.a",
        ),
        # Importing a name from a package runs its __init__, which imports the importer.
        (
            {"__init__.py": "from .a import X\n", "a.py": "from . import NAME\n"},
            "pkg → pkg.a → pkg",
        ),
        # Importing a submodule runs its package's __init__ first.
        (
            {
                "a.py": "import pkg.sub.c\n",
                "sub/__init__.py": "from ..a import Y\n",
                "sub/c.py": "",
            },
            "pkg.a → pkg.sub → pkg.a",
        ),
    ],
)
def test_what_is_a_cycle(tmp_path: Path, files: dict[str, str], cycle: str) -> None:
    _tree(tmp_path / "pkg", {"__init__.py": "", **files})
    assert describe(find_cycles(import_graph(tmp_path, "pkg"))) == cycle


def test_a_module_over_the_limit_is_found(tmp_path: Path) -> None:
    _tree(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "fits.py": "x = 1\n" * MAX_MODULE_LINES,
            "sub/__init__.py": "",
            "sub/long.py": "x = 1\n" * (MAX_MODULE_LINES + 1),
        },
    )
    assert oversized(module_files(tmp_path, "pkg")) == {"pkg.sub.long": MAX_MODULE_LINES + 1}
