"""The package's architecture, guarded: imports only go down the layers, never in a circle.

Layers, bottom to top (a module may import from its own folder and from lower layers):

    config/ → runs → runtime/ → audio/ → notes/ → wavenet/, demo_corpus/
    → composer/ → report/ → cli

Every import counts, function-level ones included (those may only keep start-up fast,
never dodge a cycle). Nothing borrows from a training module: ``wavenet.train`` and
``composer.train`` are imported by the CLI (and the composer's trainer by nothing else).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wavenet_music"
LAYERS = [
    {"config"},
    {"runs"},
    {"runtime"},
    {"audio"},
    {"notes"},
    {"wavenet", "demo_corpus"},
    {"composer"},
    {"report"},
    {"cli", "__init__"},
]
TRAINING = {"wavenet.train", "composer.train"}
MAY_IMPORT_TRAINING = {"cli", "wavenet.train", "composer.train", "report.estimate"}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, name: str, modules: set[str]) -> dict[str, int]:
    """{module of the package imported by ``path``: line}, relative and absolute imports,
    ``from . import x`` resolved to the submodule ``x`` where there is one."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("wavenet_music"):
                module = node.module.removeprefix("wavenet_music").lstrip(".")
            else:
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}" if module else alias.name
                targets.append(sub if sub in modules else module)
        elif isinstance(node, ast.Import):
            targets = [
                a.name.removeprefix("wavenet_music.")
                for a in node.names
                if a.name.startswith("wavenet_music.")
            ]
        for target in targets:
            if target and target != name:
                found.setdefault(target, node.lineno)
    return found


def layer(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, names in enumerate(LAYERS) if top in names)


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, int]]:
    files = {module_name(p, package): p for p in package.rglob("*.py")}
    modules = set(files)
    return {name: imported_modules(path, name, modules) for name, path in files.items()}


def violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """Every import that goes up a layer, or into a training module from elsewhere."""
    found = []
    for module, imports in sorted(graph.items()):
        for target, line in sorted(imports.items()):
            same_folder = module.split(".")[0] == target.split(".")[0]
            if not same_folder and layer(target) >= layer(module):
                found.append(f"{module}:{line} imports {target}, which is not below it")
            if target in TRAINING and module not in MAY_IMPORT_TRAINING:
                found.append(f"{module}:{line} borrows from the training module {target}")
    return found


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import circles of ``graph`` (depth-first search; each cycle once)."""
    found, state, path = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for target in graph.get(node, {}):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_imports_only_go_down_the_layers():
    assert violations(import_graph()) == []


def test_no_module_takes_part_in_an_import_circle():
    assert cycles(import_graph()) == []


def test_the_guard_fails_on_a_wrong_import(tmp_path):
    """A copy of the package with one upward import (the model importing the report) and
    one circle (``incremental`` importing ``generate``) is caught by both checks."""
    copy = tmp_path / "wavenet_music"
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    model = copy / "wavenet" / "model.py"
    model.write_text(model.read_text() + "\nfrom ..report import check  # wrong\n")
    incremental = copy / "wavenet" / "incremental.py"
    incremental.write_text(incremental.read_text() + "\n\ndef f():\n    from . import generate\n")
    graph = import_graph(copy)
    assert any("wavenet.model" in v and "report.check" in v for v in violations(graph))
    assert any({"wavenet.incremental", "wavenet.generate"} <= set(c) for c in cycles(graph))


@pytest.mark.parametrize("folder", ["audio", "notes", "runtime", "wavenet", "composer", "report"])
def test_a_folder_face_holds_no_code(folder):
    """A folder's ``__init__.py`` is a docstring (rule: faces, not rooms)."""
    tree = ast.parse((PACKAGE / folder / "__init__.py").read_text())
    assert [type(node) for node in tree.body] == [ast.Expr], folder


def test_the_package_top_shows_the_architecture():
    """At most eleven entries at the top: the folders per concern and the bottom layer."""
    entries = sorted(
        p.name for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__"))
    )
    assert len(entries) <= 11, entries
