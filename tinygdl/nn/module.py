"""Module, Parameter and the containers (Sequential, ModuleList, ModuleDict).

A ``Module`` is a piece of a network that owns state:

* **parameters** — trainable tensors (weights, biases), ``Parameter`` objects;
* **buffers** — state that is not trained by gradients (BatchNorm's running mean and variance);
* **submodules** — other Modules.

Assigning one of these as an attribute (``self.fc = Linear(3, 4)``) registers it, so
``parameters()``, ``state_dict()``, ``to(device)``, ``train()`` and ``eval()`` can walk the whole
tree.  ``save``/``load`` write and read the state as ``.npz`` files.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

import numpy as np

from .. import backend
from ..errors import DtypeError, ShapeError
from ..io import save_arrays
from ..tensor import Tensor, no_grad, train_mode


class Parameter(Tensor):
    """A tensor that a Module trains.  ``trainable=False`` freezes it: no gradient is computed and
    optimizers leave it alone (Keras's ``layer.trainable = False``)."""

    __slots__ = ()

    def __init__(self, data, trainable: bool = True, dtype=None, device=None):
        super().__init__(data, requires_grad=trainable, dtype=dtype, device=device)

    trainable = property(lambda self: self.requires_grad, lambda self, flag: self.requires_grad_(flag))

    def __repr__(self):
        return "Parameter(" + super().__repr__()[len("tensor("):]


class Module:
    """Base class of every layer and model.  Subclasses set attributes in ``__init__`` (after
    calling ``super().__init__()``) and implement ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "training", True)

    # -- registration --------------------------------------------------------------------------

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning attribute {name!r}")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            self.register_buffer(name, value, persistent=name not in self._non_persistent)
            return
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # called only when normal lookup fails
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value, persistent: bool = True) -> None:
        """Register state that gradients do not train (a Tensor or array).  Persistent buffers
        (BatchNorm's running statistics) are saved in ``state_dict`` and counted as non-trainable
        parameters by ``summary``, as Keras counts them; non-persistent ones (a fixed mask) are not."""
        if name in self.__dict__:
            object.__delattr__(self, name)
        self._buffers[name] = value if isinstance(value, Tensor) or value is None else Tensor(value)
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)

    # -- calling ---------------------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    integer_input = False  # layers that look integer ids up (Embedding) set this

    def __call__(self, *args, **kwargs):
        if args and self._parameters and not self.integer_input:
            self._check_input_dtype(args[0])
        output = self.forward(*args, **kwargs)
        for hook in self._forward_hooks:
            hook(self, args, output)
        return output

    def _check_input_dtype(self, x) -> None:
        """A layer with its own weights takes arrays of their dtype, as PyTorch does: a float64 or
        integer input to a float32 layer is an error naming both dtypes, not a silent float64 output;
        a Python list is refused (its dtype would be a guess)."""
        if isinstance(x, (list, tuple)) and not any(isinstance(item, Tensor) for item in x):
            raise DtypeError(f"{self!r} was given a Python {type(x).__name__}; pass a Tensor, e.g. "
                             f"tinygdl.tensor(x, dtype={self._weight_dtype()})")
        dtype = getattr(x, "dtype", None)
        expected = self._weight_dtype()
        if dtype is None or expected is None or dtype == expected:
            return
        kind = "integer" if dtype.kind in "iub" else str(dtype)
        raise DtypeError(f"{self!r}: input dtype {dtype} does not match the layer's {expected} weights "
                         f"({kind} input to a {expected} layer); convert the input with x.astype('{expected}'), "
                         f"or the layer with .to(dtype='{dtype}')" if dtype.kind == "f" else
                         f"{self!r}: input dtype {dtype} does not match the layer's {expected} weights (an integer "
                         f"input to a {expected} layer); convert it with x.astype('{expected}')")

    def _weight_dtype(self):
        for parameter in self._parameters.values():
            if parameter is not None:
                return parameter.dtype
        return None

    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` runs after every forward; returns a remover."""
        self._forward_hooks.append(hook)
        return lambda: self._forward_hooks.remove(hook)

    # -- walking the tree --------------------------------------------------------------------------

    def named_modules(self, prefix: str = ""):
        """(name, module) for this module and every submodule, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def _named_members(self, table: str):
        seen = set()
        for prefix, module in self.named_modules():
            for name, value in getattr(module, table).items():
                if value is not None and id(value) not in seen:  # shared tensors listed once
                    seen.add(id(value))
                    yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self):
        return self._named_members("_parameters")

    def parameters(self, trainable: bool | None = None):
        """All parameters (``trainable=True``/``False`` to select trainable or frozen ones)."""
        return [p for _, p in self.named_parameters() if trainable is None or p.trainable == trainable]

    def named_buffers(self, persistent_only: bool = False):
        for name, buffer in self._named_members("_buffers"):
            owner, _, short = name.rpartition(".")
            if not (persistent_only and short in self.get_submodule(owner)._non_persistent):
                yield name, buffer

    def buffers(self, persistent_only: bool = False):
        return [b for _, b in self.named_buffers(persistent_only)]

    def get_submodule(self, path: str) -> "Module":
        module = self
        for name in filter(None, path.split(".")):
            module = module._modules[name]
        return module

    def num_parameters(self, trainable: bool | None = None) -> int:
        return sum(p.size for p in self.parameters(trainable))

    # -- modes, gradients, devices --------------------------------------------------------------

    def train(self, mode: bool = True):
        """Training mode (dropout active, batch norm uses batch statistics) for the whole tree."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def freeze(self):
        """Make every parameter non-trainable (Keras ``model.trainable = False``)."""
        for p in self.parameters():
            p.trainable = False
        return self

    def unfreeze(self):
        for p in self.parameters():
            p.trainable = True
        return self

    def to(self, device=None, dtype=None):
        """Move (or cast) every parameter and buffer in place; the Parameter objects stay the same,
        so an optimizer built earlier keeps working."""
        for t in self.parameters() + self.buffers():
            data = t.data if device is None else backend.to_device(t.data, device)
            if dtype is not None and t.dtype.kind == "f":
                data = data.astype(dtype)
            t.data = data
            if t.grad is not None:
                t.grad = None
        return self

    @property
    def device(self):
        params = self.parameters() + self.buffers()
        return params[0].device if params else backend.CPU

    # -- saving and loading ------------------------------------------------------------------------

    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """Parameters and buffers by dotted name (the tensors themselves, not copies)."""
        state = OrderedDict(self.named_parameters())
        state.update(self.named_buffers(persistent_only=True))
        return state

    def load_state_dict(self, state, strict: bool = True):
        """Copy values into this module's tensors, on the device they already live on.

        Shapes must match exactly; with ``strict`` every key must be present on both sides.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        values = {key: state[key].data if isinstance(state[key], Tensor) else state[key]
                  for key in own if key in state}
        wrong = [f"key {key!r} has shape {tuple(value.shape)} in the checkpoint but {own[key].shape} in the model"
                 for key, value in values.items() if tuple(value.shape) != own[key].shape]
        if wrong:  # every key checked before anything is written: a failed load changes nothing
            raise ShapeError(f"load_state_dict for {type(self).__name__}: {'; '.join(wrong)} (nothing was loaded)")
        for key, value in values.items():
            target = own[key]
            with no_grad():
                target.data[...] = backend.to_device(value, target.device).astype(target.dtype, copy=False)
            target._mark_modified()
        return self

    def save(self, path) -> None:
        """Write the state to ``path`` (.npz) atomically: a crash never leaves a half-written file."""
        save_arrays(path, {k: v.numpy() for k, v in self.state_dict().items()})

    def load(self, path, strict: bool = True):
        """Read a state saved by ``save`` into this module, keeping it on its current device."""
        with np.load(path) as archive:
            return self.load_state_dict({k: archive[k] for k in archive.files}, strict)

    # -- printing ------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self.named_children():
            lines.append("  (" + name + "): " + repr(child).replace("\n", "\n  "))
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


@contextlib.contextmanager
def evaluation_mode(models):
    """``with evaluation_mode([model, ...]):`` every module in eval mode, no graph recorded, the
    global train flag off; afterwards each module gets its *own* previous mode back."""
    modes = [(module, module.training) for model in models for module in model.modules()]
    for model in models:
        model.eval()
    try:
        with no_grad(), train_mode(False):
            yield
    finally:
        for module, mode in modes:
            object.__setattr__(module, "training", mode)


# --------------------------------------------------------------------------- containers


def _free_key(modules) -> str:
    """The next numeric name not taken yet ("0", "1", ...), for an appended module."""
    index = len(modules)
    while str(index) in modules:
        index += 1
    return str(index)


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(Linear(3, 4), ReLU(), Linear(4, 1))``."""

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (dict, OrderedDict)):
            layers = layers[0].items()
        else:
            layers = ((str(i), layer) for i, layer in enumerate(layers))
        for name, layer in layers:
            self._modules[name] = layer

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, index):
        layers = list(self._modules.values())
        return Sequential(*layers[index]) if isinstance(index, slice) else layers[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer: Module):
        self._modules[_free_key(self._modules)] = layer
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain Python list would hide them)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module):
        self._modules[_free_key(self._modules)] = module
        return self

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules whose parameters are registered."""

    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self._modules[name] = m

    def __getitem__(self, name):
        return self._modules[name]

    def __setitem__(self, name, module):
        self._modules[name] = module

    def __contains__(self, name):
        return name in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
