"""The import order is the reading order: a module never imports from a layer above its own.

    errors, metrics, version, io ← backend ← kernels ← tensor ← profiler, viz, ops, losses ← testing, nn
    ← optim, data ← training, checkpoint, plot ← models, latent ← features, zoo
    ← evaluation, checks ← cli

(``checks`` holds the op and layer tables that ``tinygdl gradcheck`` and the tests run: it reaches
into every layer, models included, so it sits just under the command line.)

Every import counts, those inside functions too (a function-level import hides a cycle, it does
not remove it), and inside each package no module may import, directly or through others, a
module that imports it back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinygdl"

# top-level module or package of tinygdl -> its layer; a module may import only from layers <= its own
LAYERS = {
    "errors": 0, "metrics": 0, "io": 0, "version": 0,
    "backend": 1,
    "kernels": 2,
    "tensor": 3,
    "profiler": 4, "viz": 4, "ops": 4, "losses": 4,
    "testing": 5, "nn": 5,
    "optim": 6, "data": 6,
    "training": 7, "checkpoint": 7, "plot": 7,
    "models": 8, "latent": 8,
    "features": 9, "zoo": 9,
    "evaluation": 10, "checks": 10,
    "cli": 11, "__main__": 11, "__init__": 11,
}


def _modules():
    """(dotted name, path) of every module of the package, kernels/ as tinygdl.kernels."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path
    for path in sorted((ROOT / "kernels").glob("*.py")):
        name = "tinygdl.kernels" if path.stem == "__init__" else f"tinygdl.kernels.{path.stem}"
        yield name, path


KNOWN = {name for name, _ in _modules()}


def _imports(name: str, path: Path) -> set:
    """The tinygdl modules ``name`` imports, resolved to dotted names (anywhere in the file)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("tinygdl")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("tinygdl"):
                continue
            for alias in node.names:  # `from .. import backend` imports the module tinygdl.backend
                submodule = f"{module}.{alias.name}"
                found.add(submodule if submodule in KNOWN else module)
    return {m for m in found if m in KNOWN and m != name}


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in LAYERS:
        raise AssertionError(f"tinygdl.{top} has no place in the layering: add it to LAYERS (and the docs)")
    return LAYERS[top]


GRAPH = {name: _imports(name, path) for name, path in _modules()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_imports(module):
    upward = sorted(m for m in GRAPH[module] if _layer(m) > _layer(module))
    assert not upward, f"{module} (layer {_layer(module)}) imports from above: {upward}"


def _cycle_through(start: str):
    """A cycle of imports that returns to ``start`` within its own package, or None."""
    package = start.rsplit(".", 1)[0]
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in GRAPH.get(node, ()):
            if not nxt.startswith(package + ".") and nxt != package:
                continue
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.count(".") >= 2))
def test_no_import_cycles_inside_a_package(module):
    if GRAPH.get(module) is None:
        return
    cycle = _cycle_through(module)
    # a package's __init__ importing its modules is the one expected loop
    if cycle and not any(m == module.rsplit(".", 1)[0] for m in cycle):
        pytest.fail("import cycle: " + " -> ".join(cycle))
