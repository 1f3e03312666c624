"""tinygdl.viz.graph: the graph backward walks, as a text tree and through Graphviz."""

from __future__ import annotations

import shutil

import pytest

import tinygdl as tg
from tinygdl import viz


def _graph():
    x = tg.randn(4, 3, requires_grad=True)
    w = tg.randn(3, 2, requires_grad=True)
    return x, w, (x @ w).tanh().sum()


def test_text_tree_shows_ops_shapes_dtypes_and_generations():
    x, w, y = _graph()
    lines = viz.graph(y, names={"x": x, "w": w}).splitlines()
    assert lines[0] == "() float32  <- Sum (generation 2)"
    assert lines[1] == "└── (4, 2) float32  <- Tanh (generation 1)"
    assert lines[2] == "    └── (4, 2) float32  <- MatMul (generation 0)"
    assert lines[3] == "        ├── x (4, 3) float32  leaf, requires grad"
    assert lines[4] == "        └── w (3, 2) float32  leaf, requires grad"


def test_shared_subgraphs_are_printed_once_and_constants_named():
    x = tg.randn(2, requires_grad=True)
    h = x.exp()
    text = viz.graph((h * h + 1.0).sum())
    assert text.count("<- Exp") == 2 and text.count("(see above)") == 1
    assert "constant" in text


def test_after_backward_the_freed_ops_say_so():
    _, _, y = _graph()
    y.backward()
    assert "freed by backward" in viz.graph(y)


def test_dot_source_links_tensors_and_ops():
    x, w, y = _graph()
    source = viz._dot_source(y, {id(x): "x"})
    assert source.startswith("digraph backward {")
    assert source.count("shape=box") == 3 and source.count("shape=ellipse") == 5
    assert source.count("->") == 3 + 4  # op -> output for 3 ops, input -> op for 4 inputs


def test_without_graphviz_the_text_tree_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _, _, y = _graph()
    path = viz.graph(y, tmp_path / "graph.svg")
    assert path.endswith("graph.txt") and "MatMul" in open(path).read()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_draws_svg(tmp_path):
    _, _, y = _graph()
    path = viz.graph(y, tmp_path / "graph.svg")
    assert path.endswith("graph.svg") and "<svg" in open(path).read()
