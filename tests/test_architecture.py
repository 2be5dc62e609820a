"""The architecture's import rules (docs/architecture.md), checked on the source with `ast` (issue 15).

Every import statement counts, wherever it is: at the top, inside a function, or
under `if TYPE_CHECKING:` (a type-only import is still a dependency a reader
follows). `server/lsp` has no import circle at all: only `server.__main__`
imports `server.lsp.server`, which wires the rest.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "server"
ENGINE = "server.engine"
ADAPTERS = ("server.cli", "server.lsp", "server.capture")
FEATURES = frozenset(
    f"server.lsp.{name}"
    for name in (
        "code_actions",
        "code_lens",
        "commands",
        "hover",
        "navigation",
        "replay",
        "run_tests",
        "sessions",
        "status",
    )
)
"""The modules that each answer one kind of editor request: they share helpers, never one another.

`rules_edit` answers no request: it is the helper that edits a config's rules text for `code_actions`."""

SERVER = "server.lsp.server"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _imported(module: str, path: Path) -> Iterable[str]:
    """The project's modules that `module` imports (a name imported from a package is its submodule when one)."""
    modules = _modules()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in modules else base


@cache
def _graph() -> dict[str, frozenset[str]]:
    return {module: frozenset(_imported(module, path)) - {module} for module, path in _modules().items()}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _edges(source: str, target: str) -> set[tuple[str, str]]:
    return {
        (module, imported)
        for module, imports in _graph().items()
        if _inside(module, source)
        for imported in imports
        if _inside(imported, target)
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_every_kind_of_import() -> None:
    """A guard on the parser itself: top-level, function-level and TYPE_CHECKING imports all count."""
    graph = _graph()
    assert "server.engine.counts" in graph["server.lsp.status"]  # top level
    assert "server.engine.findings" in graph["server.engine.secrets"]  # under TYPE_CHECKING
    assert SERVER in graph["server.__main__"]  # inside a function
    assert "server.lsp.rules_edit" in graph["server.lsp.code_actions"]  # `from server.lsp import rules_edit`


def test_the_engine_imports_no_adapter() -> None:
    for adapter in (*ADAPTERS, "server.__main__"):
        assert _edges(ENGINE, adapter) == set(), f"the engine must not import {adapter}"


def test_adapters_do_not_import_one_another() -> None:
    """The CLI, the language server and the capture plugin meet only in the engine (no `lsp → cli` import)."""
    for source in ADAPTERS:
        for target in ADAPTERS:
            if source != target:
                assert _edges(source, target) == set(), f"{source} must not import {target}"


def test_features_do_not_import_one_another() -> None:
    feature_edges = {(module, imported) for module in FEATURES for imported in _graph()[module] if imported in FEATURES}
    assert feature_edges == set(), "a feature imports another feature: share a helper module instead"


def test_no_import_circle_in_the_language_server() -> None:
    """`server.lsp.server` wires the language server: no module of `server/lsp` imports it, nor is in any circle."""
    lsp = {
        module: {imported for imported in imports if _inside(imported, "server.lsp")}
        for module, imports in _graph().items()
        if _inside(module, "server.lsp")
    }
    assert {module for module, imports in lsp.items() if SERVER in imports} == set(), f"a module imports {SERVER}"
    assert _cycles(lsp) == []


def test_documents_and_snapshots_are_frozen() -> None:
    """A handler works on values no one changes under it: a new parse, check or setting makes new ones."""
    from server.lsp import buffers, context, session, settings, state  # noqa: PLC0415  (the server's modules, only here)

    kinds = (state.Document, state.Unreadable, session.Snapshot, context.Context, buffers.Snapshot, settings.Settings)
    for kind in kinds:
        assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen, kind.__name__  # type: ignore[attr-defined]


def test_only_documents_puts_a_files_text_into_a_project() -> None:
    """`server.lsp.documents` is the one owner of a file's current text (editor buffers, indexing's reads, disk
    changes): no other module of `server/lsp` reads or parses a file for a project, or puts or removes one."""
    readers = {"read_disk", "parse_text", "read_batch"}
    found = []
    for module, path in _modules().items():
        if not _inside(module, "server.lsp") or module in {"server.lsp.documents", "server.lsp.state"}:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and readers & {alias.name for alias in node.names}:
                found.append(f"{module}:{node.lineno} imports a reader")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"put", "remove"}
                and ast.unparse(node.func.value).endswith("project")
            ):
                found.append(f"{module}:{node.lineno} {ast.unparse(node.func)}")
    assert found == []


def _imports_asyncio(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "asyncio" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "asyncio":
            return True
    return False


def test_background_features_are_plain_functions_without_asyncio() -> None:
    """A background route's feature runs in a request worker (`server.lsp.routes`): a plain function of (snapshot,
    params), in a module that imports no asyncio, so nothing in it can touch the event loop. A foreground route's
    feature is a coroutine function, and the table says why it is not in the background."""
    import inspect  # noqa: PLC0415

    from server.lsp import routes  # noqa: PLC0415  (the server's modules, only here)

    background = {route.method for route in routes.ROUTES if route.runs == "background"}
    assert background >= {
        "textDocument/hover",
        "textDocument/documentSymbol",
        "textDocument/definition",
        "textDocument/references",
        "textDocument/codeLens",
        "textDocument/codeAction",
    }
    modules = _modules()
    for route in routes.ROUTES:
        handler = route.handler
        if route.runs == "background":
            assert inspect.isfunction(handler) and not inspect.iscoroutinefunction(handler), route.method
            assert handler.__module__ in FEATURES, route.method
            assert not _imports_asyncio(modules[handler.__module__]), f"{handler.__module__} imports asyncio"
        else:
            assert inspect.iscoroutinefunction(handler) and route.because, route.method
