"""The layering rules of DESIGN.md, read from the source with ``ast`` (nothing is imported):

1. no import cycle among sioadapter's modules, ``TYPE_CHECKING`` and function-level imports
   included (a cycle hidden behind ``TYPE_CHECKING`` still couples the modules, and is one
   edit away from an ImportError);
2. ``sioadapter/core`` imports nothing that does I/O or reads the clock, directly or through
   the sioadapter modules it imports (the wire layer, errors, stats).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sioadapter"

FORBIDDEN = frozenset(
    {
        "asyncio", "socket", "ssl", "select", "selectors", "time", "threading", "subprocess",
        "signal", "os", "io", "pathlib", "shutil", "tempfile", "logging", "urllib.request",
        "http", "concurrent", "multiprocessing", "queue", "sched", "socketio", "engineio",
        "redis", "hiredis", "nats", "asyncpg", "psycopg", "aio_pika", "anyio", "trio",
        "eventlet", "gevent", "pluggy", "prometheus_client",
    }
)  # fmt: skip
"""Modules that do I/O, start or block threads, read the clock, or are a backend or server.
Not listed, on purpose: ``secrets`` (core.node's default request ids; randomness, not I/O or
time, and ``ClusterNode(new_id=...)`` replaces it in tests) and ``datetime`` (the wire layer
converts dates; reading the clock through it is caught by the clock-call test below)."""

ALLOWED_LAYERS = ("sioadapter.core", "sioadapter.wire", "sioadapter.errors", "sioadapter.stats")
"""What core may reach inside sioadapter. errors imports _redact (pure string work: it is
checked below like the rest)."""

ALLOWED_EXCEPTIONS = {
    # notepack keeps one msgpack Packer per thread in a threading.local, so that packb is
    # safe on green-thread and threaded servers without a lock: no thread is started, nothing
    # blocks, nothing is read or written. Only ``threading.local`` is allowed (checked below).
    ("sioadapter.wire.notepack", "threading"),
}

CLOCK_CALLS = frozenset({"now", "utcnow", "today", "monotonic", "perf_counter", "time"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def load_modules() -> dict[str, tuple[Path, ast.Module]]:
    return {
        module_name(path): (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


MODULES = load_modules()


def resolve(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module name of a ``from X import ...`` in ``importer``."""
    if node.level == 0:
        return node.module or ""
    is_package = MODULES[importer][0].name == "__init__.py"
    base = importer.split(".")
    base = base if is_package else base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(name: str) -> list[tuple[str, int]]:
    """Every (module, line) that ``name`` imports, anywhere in it: top level, functions and
    ``if TYPE_CHECKING:`` blocks. ``from pkg import sub`` names the submodule when it is one."""
    found = []
    for node in ast.walk(MODULES[name][1]):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = resolve(name, node)
            found.append((target, node.lineno))
            found.extend(
                (f"{target}.{alias.name}", node.lineno)
                for alias in node.names
                if f"{target}.{alias.name}" in MODULES
            )
    return found


def internal_graph() -> dict[str, dict[str, int]]:
    """module -> {sioadapter module it imports: first line}."""
    graph: dict[str, dict[str, int]] = {}
    for name in MODULES:
        edges = graph.setdefault(name, {})
        for target, line in imports_of(name):
            if target in MODULES and target != name:
                edges.setdefault(target, line)
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    components.append(sorted(component))
    return components


def one_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first), for the report."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node]):
            if child == start:
                return [*paths[node], start]
            if child in members and child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError("not a cycle")  # pragma: no cover


def describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in itertools.pairwise(cycle)]
    return "\n    ".join(steps)


def test_the_cycle_finder_finds_a_cycle_and_only_cycles():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}, "e": {}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert one_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert strongly_connected({"a": {"b": 1}, "b": {}}) == []


def test_relative_imports_resolve_to_module_names():
    edges = internal_graph()["sioadapter.core.node"]
    assert {"sioadapter.core.codec", "sioadapter.core.routing", "sioadapter.wire.base"} <= set(
        edges
    )
    assert "sioadapter.stats" in edges


def test_no_import_cycle_among_sioadapters_modules():
    graph = internal_graph()
    cycles = [one_cycle(graph, component) for component in strongly_connected(graph)]
    report = "\n".join(
        f"  cycle among {len(component)} modules ({', '.join(component)}); for example:\n"
        f"    {describe(graph, cycle)}"
        for component, cycle in zip(strongly_connected(graph), cycles, strict=True)
    )
    assert not cycles, f"import cycles (TYPE_CHECKING imports included):\n{report}"


def reachable_from_core() -> dict[str, list[str]]:
    """Every sioadapter module core reaches, with the import path that reaches it."""
    graph = internal_graph()
    paths = {name: [name] for name in MODULES if name.startswith("sioadapter.core")}
    queue = list(paths)
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node]):
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return paths


def test_core_reaches_only_the_wire_layer_errors_and_stats():
    outside = {
        name: " -> ".join(path)
        for name, path in reachable_from_core().items()
        if not any(name == layer or name.startswith(layer + ".") for layer in ALLOWED_LAYERS)
        and name != "sioadapter._redact"
    }
    assert not outside, f"core reaches modules outside its layers: {outside}"


def test_core_imports_nothing_that_does_io_or_reads_the_clock():
    problems = []
    for name, path in reachable_from_core().items():
        for target, line in imports_of(name):
            top = target.split(".")[0]
            if (name, top) in ALLOWED_EXCEPTIONS:
                continue
            if top in FORBIDDEN or target in FORBIDDEN:
                problems.append(f"{name}:{line} imports {target} (via {' -> '.join(path)})")
    assert not problems, "\n".join(problems)


def test_core_never_asks_a_clock_for_the_time():
    problems = []
    for name in reachable_from_core():
        for node in ast.walk(MODULES[name][1]):
            if isinstance(node, ast.Attribute) and node.attr in CLOCK_CALLS:
                owner = ast.unparse(node.value)
                if owner.split(".")[-1] in {"datetime", "date", "time", "loop"}:
                    problems.append(f"{name}:{node.lineno} {owner}.{node.attr}")
    assert not problems, "\n".join(problems)


def test_the_threading_exception_is_only_a_thread_local():
    tree = MODULES["sioadapter.wire.notepack"][1]
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "threading"
    }
    assert used == {"local"}


def test_the_managers_are_composed_not_mixed_in():
    """Apart from themselves, the managers' MROs hold only python-socketio's classes (and
    object): their parts are attributes, not base classes."""
    import socketio

    from sioadapter import AsyncClusterManager, ClusterManager

    for manager in (AsyncClusterManager, ClusterManager):
        bases = [cls for cls in manager.__mro__[1:] if cls is not object]
        assert bases, manager
        foreign = [cls for cls in bases if not cls.__module__.startswith("socketio")]
        assert foreign == [], f"{manager.__name__} mixes in {foreign}"
        assert issubclass(manager, socketio.async_manager.AsyncManager) or issubclass(
            manager, socketio.manager.Manager
        )
