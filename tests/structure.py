"""The project's module graph, read from the source (no import runs): which avemo module imports
which, at module level or inside a function. Used by tests/test_structure.py to hold the layer
rules and the DVC deps to the code."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Source folder -> the package it installs as (pyproject.toml's package-dir).
PACKAGE_DIRS = {"avemo": "avemo", "pipeline": "avemo.pipeline", "features": "avemo.features",
                "training": "avemo.training", "predict": "avemo.predict"}
#: Layer of each package; a module may import its own layer, the base, and the layers listed.
#: predict is the application on top: features made by the pipeline's functions, fed to a model.
MAY_IMPORT = {"avemo": set(), "avemo.features": {"avemo"}, "avemo.pipeline": {"avemo", "avemo.features"},
              "avemo.training": {"avemo", "avemo.features"},
              "avemo.predict": {"avemo", "avemo.features", "avemo.pipeline", "avemo.training"}}


@dataclass
class Module:
    name: str
    path: Path
    #: (imported project module, line, whether the import sits inside a function)
    imports: list[tuple[str, int, bool]] = field(default_factory=list)

    @property
    def layer(self) -> str:
        parts = self.name.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 and ".".join(parts[:2]) in MAY_IMPORT else "avemo"


def module_name(path: Path, root: Path = REPO) -> str | None:
    rel = path.relative_to(root)
    package = PACKAGE_DIRS.get(rel.parts[0])
    if package is None or len(rel.parts) != 2:
        return None
    stem = rel.stem
    return package if stem == "__init__" else f"{package}.{stem}"


def read_modules(root: Path = REPO) -> dict[str, Module]:
    """Every project module under ``root`` with the project modules it imports."""
    paths = [p for folder in PACKAGE_DIRS for p in sorted((root / folder).glob("*.py"))]
    modules = {}
    for path in paths:
        name = module_name(path, root)
        if name is not None:
            modules[name] = Module(name, path)
    for mod in modules.values():
        tree = ast.parse(mod.path.read_text(), str(mod.path))
        for node, nested in _walk(tree, False):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            for t in targets:
                while t not in modules and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in modules:
                    mod.imports.append((t, node.lineno, nested))
    return modules


def _walk(node: ast.AST, nested: bool):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, nested
        inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk(child, inner)


def layer_violations(modules: dict[str, Module]) -> list[str]:
    """Imports against the layer rules: the base imports no package; features neither pipeline
    nor training; pipeline not training; training not pipeline."""
    out = []
    for mod in modules.values():
        for target, line, _ in mod.imports:
            dest = modules[target].layer
            if dest != mod.layer and dest not in MAY_IMPORT[mod.layer]:
                out.append(f"{mod.path.relative_to(mod.path.parents[1])}:{line}: {mod.name} ({mod.layer}) "
                           f"imports {target} ({dest})")
    return out


def hidden_imports(modules: dict[str, Module], allowed=("avemo.training.cli", "avemo.predict.cli")) -> list[str]:
    """Project imports inside functions, outside the modules allowed to defer them: training's
    command module, whose stage modules import Keras (TensorFlow), which takes seconds that
    `avemo --help` and `avemo report` need not pay (measured: docs/architecture.md)."""
    return [f"{m.path.relative_to(m.path.parents[1])}:{line}: {m.name} imports {t} inside a function"
            for m in modules.values() if m.name not in allowed
            for t, line, nested in m.imports if nested]


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Import cycles (each as the list of modules around it), module-level and deferred alike."""
    graph = {m: sorted({t for t, _, _ in mod.imports if t != m}) for m, mod in modules.items()}
    found, state, stack = [], {}, []

    def visit(m: str) -> None:
        state[m] = "open"
        stack.append(m)
        for t in graph[m]:
            if state.get(t) == "open":
                found.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def closure(modules: dict[str, Module], start: str) -> set[str]:
    """``start`` and every project module it imports, directly or not (deferred imports too)."""
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules]
        todo += [t for t, _, _ in modules[m].imports]
    return seen
