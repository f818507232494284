"""feed_ingest's modules import one another without a circle: each part is read, tested and
replaced on its own, and `app` only wires them. Every import counts, those inside functions and
under `TYPE_CHECKING` too (a circle hidden there is still a circle)."""

from __future__ import annotations

import ast
from pathlib import Path

import services.feed_ingest

PACKAGE = "services.feed_ingest"
ROOT = Path(services.feed_ingest.__file__).parent


def _imports(path: Path) -> set[str]:
    """The package's modules that `path` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from services.feed_ingest import websub` names a module too
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name.startswith(PACKAGE + "."))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {f"{PACKAGE}.{path.stem}": path for path in ROOT.glob("*.py") if path.stem != "__init__"}
    return {name: _imports(path) & modules.keys() - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules along it, or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return path[path.index(name) :] + [name]
        if name in done:
            return None
        for imported in sorted(graph[name]):
            found = visit(imported, [*path, name])
            if found:
                return found
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name, [])
        if found:
            return found
    return None


def test_the_package_has_no_import_circle() -> None:
    graph = _graph()
    assert f"{PACKAGE}.scheduler" in graph[f"{PACKAGE}.app"]  # the graph is really read
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_a_circle_is_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
