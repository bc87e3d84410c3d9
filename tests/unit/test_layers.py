"""The package's imports point down the layer order and never form a cycle.

Every import of ``src/golive`` is read with ``ast``: module level, inside functions, under ``TYPE_CHECKING``,
and ``importlib.import_module("golive....")`` with a literal name. An import hidden inside a function still
runs: hiding it dodges the cycle at import time, not the tangle.

``LAYERS`` is the order of docs/architecture.md, lowest first: a module may import modules of its own layer or
of a layer before it, never one after it. A new top-level module or package must be placed in it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Lowest first. An entry names a module or a package (and all of its modules); the longest entry that names a
# module places it. ``golive`` (the package's lazy public API) names only golive/__init__.py.
LAYERS: tuple[tuple[str, ...], ...] = (
    # used from everywhere; import nothing above them
    (
        "golive",
        "golive.clock",
        "golive.exceptions",
        "golive.results",
        "golive.redact",
        "golive.patterns",
        "golive.sandbox",
        "golive.expr",
        "golive.runids",
    ),
    # models, durations, refs, var types, code checks: what plugins and the loader share
    ("golive.spec",),
    # who acts and how they authenticated, stamped on the events an act appends
    ("golive.store", "golive.identity"),
    ("golive.plugins",),
    # loading validates each step's params against the plugin registry; the JSON Schema is made from it
    ("golive.spec.loader", "golive.spec.schema"),
    # a pure library: triggers, windows, judges, the hypercare schedule
    ("golive.watch",),
    ("golive.notify",),
    ("golive.engine",),
    ("golive.views",),
    # golive test: plays a runbook's scenarios and judges what happened on the read model
    ("golive.engine.scenario",),
    ("golive.report",),
    ("golive.evidence",),
    ("golive.export", "golive.importer"),
    ("golive.server",),
    ("golive.demo", "golive.cli", "golive.testing", "golive.__main__"),
)

# Imports that break the rules today, each with why it is still there. The test fails when one of them is
# gone (take it off the list) as it fails on a new one.
KNOWN: dict[tuple[str, str], str] = {
    # each transport asks _stubbed whether stubs answer; _stubbed types its context variables with the
    # stubs' classes, and the stubs name the transports
    ("golive.plugins._stubbed", "golive.plugins.stubs"): "the active stubs' type, for mypy only",
}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted((SRC / "golive").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _target(name: str) -> str:
    """The module an imported name lives in: ``golive.spec.models.Step`` is golive.spec.models."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported golive module, line) for every import in a module's source, wherever it sits."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "golive" or alias.name.startswith("golive."):
                    yield _target(alias.name), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source != "golive" and not source.startswith("golive."):
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                yield (full if full in MODULES else _target(source)), node.lineno
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith("golive.")
        ):
            yield _target(node.args[0].value), node.lineno


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}, self-imports left out."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges: dict[str, int] = {}
        for target, line in _imported(module, path):
            if target != module:
                edges[target] = min(line, edges.get(target, line))
        graph[module] = edges
    return graph


GRAPH = _graph()


def layer(module: str) -> int:
    """The index in LAYERS of the longest entry naming the module."""
    best: tuple[int, int] | None = None
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            names = module == entry or (entry != "golive" and module.startswith(entry + "."))
            if names and (best is None or len(entry) > best[0]):
                best = (len(entry), index)
    if best is None:
        raise AssertionError(f"{module} is in no layer: place it in LAYERS (tests/unit/test_layers.py)")
    return best[1]


def _where(module: str, target: str) -> str:
    path = MODULES[module].relative_to(SRC.parent)
    return f"{path}:{GRAPH[module][target]}: {module} imports {target}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
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
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_has_a_layer() -> None:
    """Each module of the package is placed in LAYERS."""
    for module in MODULES:
        layer(module)


def test_imports_never_run_up_the_layers() -> None:
    """No module imports one from a later layer (known exceptions aside)."""
    up = [
        _where(module, target)
        for module, edges in GRAPH.items()
        for target in edges
        if layer(target) > layer(module) and (module, target) not in KNOWN
    ]
    assert not up, "imports that run up the layer order:\n" + "\n".join(sorted(up))


def test_no_import_cycle() -> None:
    """The modules' imports form no cycle (known exceptions aside), wherever the import sits."""
    graph = {m: {t for t in edges if (m, t) not in KNOWN} for m, edges in GRAPH.items()}
    cycles = _cycles(graph)
    lines = []
    for component in cycles:
        members = set(component)
        lines.append(" <-> ".join(component))
        lines += [f"  {_where(m, t)}" for m in component for t in sorted(graph[m] & members)]
    assert not cycles, "import cycles:\n" + "\n".join(lines)


def test_known_exceptions_still_hold() -> None:
    """Every known exception is still an import of the package; a fixed one leaves the list."""
    gone = [f"{m} -> {t}" for m, t in KNOWN if t not in GRAPH.get(m, {})]
    assert not gone, "no longer imported, take off KNOWN:\n" + "\n".join(gone)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from golive.spec import models\n", {"golive.spec.models"}),
        ("from golive.spec.models import Step\n", {"golive.spec.models"}),
        ("import golive.store.base\n", {"golive.store.base"}),
        ("def f():\n    from golive import clock\n", {"golive.clock"}),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from golive.engine import runner\n",
            {"golive.engine.runner"},
        ),
        ("import importlib\nm = importlib.import_module('golive.report.html')\n", {"golive.report.html"}),
        ("from . import models\n", {"golive.spec.models"}),
    ],
)
def test_the_walk_sees_every_kind_of_import(source: str, expected: set[str], tmp_path: Path) -> None:
    """Imports in functions, under TYPE_CHECKING, relative and through importlib are all seen."""
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    assert {target for target, _ in _imported("golive.spec.probe", path)} == expected


def test_a_cycle_is_found() -> None:
    """The cycle search finds a three-module loop and leaves a chain alone."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
