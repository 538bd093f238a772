"""The import graph of ``aegis_app`` has no cycle: each layer can be read, changed and
tested without the ones above it.

Every import statement counts, wherever it is: at module level, inside a function (the
desktop's deferred imports) and under ``if TYPE_CHECKING:``. A loop that only the type
checker follows is still a loop a reader has to hold in their head.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import aegis_app

PACKAGE = "aegis_app"
ROOT = Path(aegis_app.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> Iterator[str]:
    """The package's modules that ``path`` (module ``name``) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a.b import c` imports the module a.b.c when there is one, else a.b.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                # `import a.b.c` names a.b.c; the nearest known module is what it loads.
                while target not in known and "." in target:
                    target = target.rpartition(".")[0]
                if target in known and target != name:
                    yield target


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(path, name, known)) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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
            visit(node)
    return [one_cycle(graph, set(group)) for group in groups]


def one_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A path from the group's first module back to it, inside the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def test_the_graph_is_read_from_every_module() -> None:
    graph = import_graph()
    assert "aegis_app.routing" in graph and "aegis_app.views.base" in graph
    # Seen at module level, under TYPE_CHECKING, and inside a function.
    assert "aegis_app.views.base" in graph["aegis_app.routing"]
    assert "aegis_app.state" in graph["aegis_app.views.base"]  # TYPE_CHECKING only
    assert "aegis_app.launch.keyring_store" in graph["aegis_app.launch.desktop"]  # deferred


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_aegis_app_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in aegis_app:\n" + "\n".join(
        " -> ".join(cycle) for cycle in found
    )


def test_the_router_imports_only_the_view_contract() -> None:
    views = {m for m in import_graph()["aegis_app.routing"] if m.startswith("aegis_app.views.")}
    # property_patch is how values are sent (the title of a click), not a view.
    allowed = {"aegis_app.views.base", "aegis_app.views.shell", "aegis_app.views.property_patch"}
    assert views <= allowed, views
