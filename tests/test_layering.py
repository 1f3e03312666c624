"""The import order is the reading order: a module never imports from a layer above its own.

    errors, metrics, version, io ← backend ← kernels ← tensor ← profiler, viz, ops, losses ← testing, nn
    ← optim, data ← training, checkpoint, plot ← models, latent ← features, zoo
    ← evaluation, checks ← cli

(``checks`` holds the op and layer tables that ``tinygdl gradcheck`` and the tests run: it reaches
into every layer, models included, so it sits just under the command line.)

Every import counts, those inside functions too (a function-level import hides a cycle, it does
not remove it), and inside each package no module may import, directly or through others, a
module that imports it back.

Layers follow one rule of place (CONTRIBUTING.md): general layers in ``tinygdl/nn/layers/``, a layer
or block of one model family with that family in ``tinygdl/models/``; the last tests enforce it.
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


# --------------------------------------------------------------------------- where layers live

# The rule (CONTRIBUTING.md, "A new layer"): ``tinygdl/nn/layers/`` is the menu of general layers, each
# the counterpart of a PyTorch (``torch.nn``) or Keras layer, or used by the models of two families or
# more; a layer or block that exists for one model family lives with it in ``tinygdl/models/<family>.py``.
# The menu's layers whose PyTorch class has another name, or which only Keras has:
COUNTERPART = {
    "Concatenate": "keras.layers.Concatenate", "GaussianNoise": "keras.layers.GaussianNoise",
    "GlobalAvgPool2d": "keras.layers.GlobalAveragePooling2D", "Lambda": "keras.layers.Lambda",
    "MultiHeadAttention": "torch.nn.MultiheadAttention, keras.layers.MultiHeadAttention",
    "RepeatVector": "keras.layers.RepeatVector", "Reshape": "keras.layers.Reshape", "Swish": "keras 'swish' (SiLU)",
    "UpSampling2D": "keras.layers.UpSampling2D", "WeightNorm": "torch.nn.utils.weight_norm",
}


def _every_module_class():
    """Every Module subclass the package defines (all of its modules imported; __main__ runs the CLI)."""
    import importlib
    import pkgutil

    import tinygdl
    from tinygdl.nn import Module

    for info in pkgutil.walk_packages(tinygdl.__path__, "tinygdl."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, todo = set(), [Module]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found and sub.__module__.startswith("tinygdl"):
                found.add(sub)
                todo.append(sub)
    return found


def test_layers_and_blocks_live_in_nn_or_with_their_model():
    misplaced = sorted(f"{c.__module__}.{c.__name__}" for c in _every_module_class()
                       if not c.__module__.startswith(("tinygdl.nn.", "tinygdl.models.")))
    assert not misplaced, f"Module subclasses outside tinygdl/nn and tinygdl/models: {misplaced}"


def test_the_layer_menu_holds_only_general_layers():
    """Each public layer of tinygdl.nn.layers has a PyTorch or Keras counterpart, or two model families
    use it; anything else belongs with its model (tinygdl/models/<family>.py)."""
    import inspect

    from tinygdl import nn

    torch = pytest.importorskip("torch")
    families = {path.stem: path.read_text() for path in (PACKAGE / "models").glob("*.py") if path.stem != "__init__"}
    layers = {name for name, obj in vars(nn.layers).items() if inspect.isclass(obj) and issubclass(obj, nn.Module)}
    special = sorted(name for name in layers if not hasattr(torch.nn, name) and name not in COUNTERPART
                     and sum(f"{name}(" in text for text in families.values()) < 2)
    assert not special, (f"layers of one model in tinygdl.nn.layers: {special}: move each to the model family that "
                         "uses it, or name its PyTorch/Keras counterpart in COUNTERPART")
    stale = sorted(set(COUNTERPART) - layers)
    assert not stale, f"COUNTERPART names layers that tinygdl.nn no longer has: {stale}"


def test_nn_never_imports_models():
    """The layers cannot reach into the models (a shared piece moves down into nn instead)."""
    upward = sorted(f"{m} -> {dep}" for m, deps in GRAPH.items() if m.startswith("tinygdl.nn")
                    for dep in deps if dep.startswith("tinygdl.models"))
    assert not upward, upward
