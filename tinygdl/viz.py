"""Draw the computation graph that ``backward()`` will walk.

    y = (x @ w).tanh().sum()
    print(tinygdl.viz.graph(y, names={"x": x, "w": w}))

prints one line per tensor, from the output back to the leaves, each with its shape, dtype and
the op that made it (with the op's *generation*: backward visits the highest generation first):

    () float32  <- Sum (generation 2)
    └── (4, 2) float32  <- Tanh (generation 1)
        └── (4, 2) float32  <- MatMul (generation 0)
            ├── x (4, 3) float32  leaf, requires grad
            └── w (3, 2) float32  leaf, requires grad

``graph(y, "graph.svg")`` (or ``.png``) also draws it with Graphviz when its ``dot`` program is
installed, and otherwise writes the text tree to ``graph.txt``; it returns the path written.
Draw before calling ``backward()``: backward frees the graph as it goes (unless
``retain_graph=True``), and a freed op no longer knows its inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .tensor import Tensor, _identity


def graph(output: Tensor, path=None, names: dict | None = None) -> str:
    """The graph behind ``output`` as a text tree; with ``path``, also drawn to that file (see above).

    ``names`` maps labels to tensors (``{"x": x, "w": w}``) to name the leaves (or any tensor).
    """
    labels = {id(t): label for label, t in (names or {}).items()}
    text = "\n".join(_tree_lines(output, labels))
    if path is None:
        return text
    return _draw(output, labels, os.fspath(path), text)


# --------------------------------------------------------------------------- the text tree


def _describe(t: Tensor, labels: dict) -> str:
    label = labels.get(id(t))
    head = f"{label} " if label else ""
    head += f"{tuple(t.shape)} {t.dtype}"
    fn = t.creator
    if fn is not None:
        freed = "" if fn.inputs is not None else ", freed by backward"
        return f"{head}  <- {fn.name} (generation {fn.generation}{freed})"
    return f"{head}  {'leaf, requires grad' if t.requires_grad else 'constant'}"


def _tree_lines(output: Tensor, labels: dict) -> list:
    lines, seen = [], set()

    def visit(t: Tensor, prefix: str, branch: str, child_prefix: str):
        repeated = t.creator is not None and id(t) in seen
        lines.append(prefix + branch + _describe(t, labels) + ("  (see above)" if repeated else ""))
        if t.creator is None or repeated or t.creator.inputs is None:
            return
        seen.add(id(t))
        inputs = [_identity(x) for x in t.creator.inputs]
        for i, x in enumerate(inputs):
            last = i == len(inputs) - 1
            visit(x, prefix + child_prefix, "└── " if last else "├── ", "    " if last else "│   ")

    visit(output, "", "", "")
    return lines


# --------------------------------------------------------------------------- Graphviz


def _dot_source(output: Tensor, labels: dict) -> str:
    """The graph in Graphviz's language: tensors as ellipses, ops as boxes, data flowing down."""
    nodes, edges, stack, seen = [], [], [output], set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        label = labels.get(id(t), "")
        nodes.append(f'  t{id(t)} [shape=ellipse, label="{label} {tuple(t.shape)}\\n{t.dtype}"];')
        fn = t.creator
        if fn is None:
            continue
        if f"f{id(fn)}" not in seen:
            seen.add(f"f{id(fn)}")
            nodes.append(f'  f{id(fn)} [shape=box, style=filled, fillcolor="#dde8f5", '
                         f'label="{fn.name}\\ngeneration {fn.generation}"];')
            for x in map(_identity, fn.inputs or ()):
                edges.append(f"  t{id(x)} -> f{id(fn)};")
                stack.append(x)
        edges.append(f"  f{id(fn)} -> t{id(t)};")
    return "digraph backward {\n  rankdir=TB;\n" + "\n".join(nodes + edges) + "\n}\n"


def _draw(output: Tensor, labels: dict, path: str, text: str) -> str:
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    dot = shutil.which("dot")
    if dot is None or fmt not in ("svg", "png", "pdf"):
        text_path = os.path.splitext(path)[0] + ".txt"
        with open(text_path, "w") as f:
            f.write(text + "\n")
        return text_path
    subprocess.run([dot, f"-T{fmt}", "-o", path], input=_dot_source(output, labels), text=True, check=True)
    return path


__all__ = ["graph"]
