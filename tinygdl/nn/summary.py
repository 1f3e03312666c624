"""``summary(model, input_shape)``: a Keras-style table of layers, output shapes and parameter counts.

It runs one forward pass on a zero batch of two examples (in eval mode, without recording a graph)
and records the output of every layer that has no sublayers, in the order they are called.
Counts follow Keras: trainable parameters, plus non-trainable ones — frozen parameters and the
persistent buffers such as BatchNorm's running mean and variance.
"""

from __future__ import annotations

from ..backend import get_default_dtype
from ..ops.creation import zeros
from ..tensor import Tensor
from .module import Module, evaluation_mode

_BATCH = 2


def _row_count(module: Module) -> int:
    """Parameters and counted buffers owned directly by ``module``."""
    own = [p for p in module._parameters.values() if p is not None]
    own += [b for n, b in module._buffers.items() if b is not None and n not in module._non_persistent]
    return sum(t.size for t in own)


def _shape_text(output) -> str:
    if isinstance(output, Tensor):
        return str(("None",) + output.shape[1:]).replace("'", "")
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_text(o) for o in output)
    return type(output).__name__


def _example_inputs(model: Module, input_shape, dtype):
    """Zero tensors of the given shape(s), with a batch axis added in front."""
    shapes = input_shape if input_shape and isinstance(input_shape[0], (tuple, list)) else [input_shape]
    return [zeros((_BATCH,) + tuple(shape), dtype=dtype or get_default_dtype(), device=model.device)
            for shape in shapes]


def summary(model: Module, input_shape=None, inputs=None, dtype=None, print_fn=print) -> str:
    """Print (and return) the table.  ``input_shape`` excludes the batch axis, e.g. ``(3, 32, 32)``;
    a list of shapes for several inputs; or give example ``inputs`` (e.g. integer token ids)."""
    rows, removers = [], []
    for name, module in model.named_modules():
        if module is not model and (not module._modules or module._parameters):
            def record(m, args, out, name=name):
                if all(r[0] != name for r in rows):
                    rows.append((name, type(m).__name__, _shape_text(out), _row_count(m)))
            removers.append(module.register_forward_hook(record))
    try:
        with evaluation_mode([model]):
            args = inputs if inputs is not None else _example_inputs(model, input_shape, dtype)
            model(*(args if isinstance(args, (list, tuple)) else [args]))
    finally:
        for remove in removers:
            remove()
    if not rows:  # a single layer, no sublayers
        rows.append(("", type(model).__name__, "", _row_count(model)))
    trainable = model.num_parameters(trainable=True)
    frozen = model.num_parameters(trainable=False) + sum(b.size for b in model.buffers(persistent_only=True))
    text = _format(type(model).__name__, rows, trainable, frozen)
    if print_fn is not None:
        print_fn(text)
    return text


def _format(title, rows, trainable, frozen) -> str:
    cells = [(f"{n} ({t})" if n else t, shape, f"{count:,}") for n, t, shape, count in rows]
    headers = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(h), *(len(c[i]) for c in cells)) + 3 for i, h in enumerate(headers)]
    line = lambda a, b, c: f"{a:<{widths[0]}}{b:<{widths[1]}}{c:>{widths[2] - 3}}"  # noqa: E731
    width = sum(widths) - 3
    out = [f'Model: "{title}"', "_" * width, line("Layer (type)", "Output Shape", "Param #"), "=" * width]
    for i, cell in enumerate(cells):
        out.append(line(*cell))
        out.append("_" * width if i < len(cells) - 1 else "=" * width)
    out += [f"Total params: {trainable + frozen:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {frozen:,}", "_" * width]
    return "\n".join(out)
