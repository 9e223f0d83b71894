"""The package's shape: no import circle, every import runs down the layers, no module over 450 lines.

The import graph is read with ``ast`` from the source (imports inside functions count too: a lazy
import is still a dependency). Each check also runs on a small fake package with the faults it
must catch, so that a check that can no longer fail does not pass silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
MAX_LINES = 450

# Bottom to top: a module may import from its own layer or any layer below it, never above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "banking",
            "banking.model",
            "banking.paths",
            "banking.countries",
            "banking.db",
            "banking.assets",
            "banking.dag_args",
        ),
    ),
    ("stream", ("banking.stream",)),
    ("rules", ("banking.rules",)),
    ("store", ("banking.store",)),
    ("pipeline", ("banking.pipeline",)),
    ("backtest", ("banking.backtest",)),
    ("tasks", ("banking.tasks",)),
)


def modules(root: Path, package: str = "banking") -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``root``."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph(root: Path, package: str = "banking") -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (``from a import b`` counts b when it is a module)."""
    mods = modules(root, package)
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in mods else node.module
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in mods:  # "banking.x.y" of a symbol y: the module banking.x
                    target = target.rpartition(".")[0]
                if target and target != name and target.split(".")[0] == package:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles, each as the path that closes it (empty when the graph has none)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def layer_of(module: str) -> int:
    """The index in LAYERS of the layer a module belongs to (the longest matching prefix)."""
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best < 0:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``a -> b`` for every import of a module in a higher layer."""
    return [
        f"{a} ({LAYERS[layer_of(a)][0]}) -> {b} ({LAYERS[layer_of(b)][0]})"
        for a, targets in sorted(graph.items())
        for b in sorted(targets)
        if layer_of(b) > layer_of(a)
    ]


def long_modules(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}: {n} lines"
        for path in sorted(root.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]


def test_the_package_has_no_import_circle() -> None:
    graph = import_graph(PLUGINS)
    assert len(graph) > 20  # the walk found the package
    assert cycles(graph) == []


def test_every_import_runs_down_the_layers() -> None:
    assert upward_imports(import_graph(PLUGINS)) == []


def test_every_layer_is_used() -> None:
    used = {layer_of(m) for m in import_graph(PLUGINS)}
    assert used == set(range(len(LAYERS)))


def test_no_module_in_plugins_is_over_450_lines() -> None:
    assert long_modules(PLUGINS) == []


@pytest.fixture
def fake_tree(tmp_path: Path) -> Path:
    """A package with one circle (rules.a <-> rules.b), one upward import (model -> tasks) and a long module."""
    files = {
        "banking/__init__.py": "",
        "banking/model.py": "def f():\n    from banking import tasks\n",
        "banking/rules/__init__.py": "",
        "banking/rules/a.py": "from banking.rules.b import thing\n",
        "banking/rules/b.py": "from banking.rules import a\nthing = 1\n",
        "banking/stream/__init__.py": "import numpy\nfrom banking.model import WindowError\n",
        "banking/tasks.py": "from banking.rules import a\n" + "x = 1\n" * MAX_LINES,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_checks_catch_a_circle_an_upward_import_and_a_long_module(fake_tree: Path) -> None:
    graph = import_graph(fake_tree)
    assert graph["banking.stream"] == {"banking.model"}  # numpy is not the package's
    assert cycles(graph) == [["banking.rules.a", "banking.rules.b", "banking.rules.a"]]
    assert upward_imports(graph) == ["banking.model (base) -> banking.tasks (tasks)"]
    assert long_modules(fake_tree) == [f"banking/tasks.py: {MAX_LINES + 1} lines"]
    with pytest.raises(AssertionError, match="no layer"):
        layer_of("elsewhere.module")
