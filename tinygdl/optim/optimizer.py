"""The ``Optimizer`` base class: parameter groups, the update loop, and saving/loading its state.

An optimizer changes parameters *in place* with the gradients that ``backward()`` left in
``param.grad``.  The updates work on the raw arrays (``param.data``), outside any graph: a step is
not something to differentiate.  After changing a parameter the optimizer calls
``param._mark_modified()``, so that a graph built before the step (and still holding the old
values) refuses to run backward instead of silently using the new ones.

Parameter groups
----------------
``params`` is either an iterable of parameters, or an iterable of dicts, each with a ``"params"``
entry and its own hyperparameters (as in PyTorch)::

    Adam([{"params": encoder.parameters()},
          {"params": decoder.parameters(), "lr": 1e-4}], lr=1e-3)

Hyperparameters missing from a group take the optimizer's defaults.  ``optimizer.param_groups`` is
the list of these dicts; a learning-rate schedule changes ``group["lr"]`` between steps.

Subclasses implement one method, ``_update(param, grad, group, state)``: change ``param.data`` in
place given the gradient array ``grad``, the group's hyperparameters and the parameter's ``state``
dict (empty on the first step; the subclass fills it, e.g. with moment estimates).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor


class Optimizer:
    """Base class: holds ``param_groups`` and per-parameter ``state``; subclasses define ``_update``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}  # parameter -> dict of arrays (shaped like it) and integers
        groups = list(params) if not isinstance(params, Tensor) else [params]
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones take the defaults)."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameters must be Tensors, got {type(p).__name__}")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: a parameter of shape {p.shape} appears in two groups "
                                 "(or twice in one)")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown hyperparameters {sorted(unknown)} "
                             f"(known: {sorted(self.defaults)})")
        self.param_groups.append({**self.defaults, **group, "params": params})

    # -- the update ------------------------------------------------------------------------------

    def zero_grad(self) -> None:
        """Forget the gradients (``backward`` accumulates into ``.grad``; call this before it)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self) -> None:
        """Update every trainable parameter that has a gradient; the others are left alone."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None or not p.requires_grad:
                    continue
                self._update(p, p.grad.data, group, _state_like(self.state.setdefault(p, {}), p))
                p._mark_modified()

    def _update(self, param: Tensor, grad, group: dict, state: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update()")

    # -- saving and loading -------------------------------------------------------------------------
    #
    # The state is a flat dict of names to NumPy arrays and Python numbers, so it can be written with
    # ``numpy.savez(path, **optimizer.state_dict())`` and read back with ``numpy.load``:
    #
    #   "group.{i}.{hyperparameter}"  e.g. "group.0.lr"; "group.{i}.num_params" guards against
    #                                 loading into an optimizer over a different model
    #   "state.{k}.{name}"            e.g. "state.3.exp_avg"; k numbers the parameters in group order

    def _indexed_params(self):
        """(k, parameter) over all groups, in order — the numbering used in the state dict."""
        return enumerate(p for group in self.param_groups for p in group["params"])

    def state_dict(self) -> dict:
        """Hyperparameters and per-parameter state, as NumPy arrays and numbers (copies, on the CPU)."""
        out = {}
        for i, group in enumerate(self.param_groups):
            out[f"group.{i}.num_params"] = len(group["params"])
            for key, value in group.items():
                if key != "params":
                    out[f"group.{i}.{key}"] = np.array(value) if isinstance(value, tuple) else value
        for k, p in self._indexed_params():
            for name, value in self.state.get(p, {}).items():
                out[f"state.{k}.{name}"] = backend.to_numpy(value).copy() if backend.is_array(value) else value
        return out

    def load_state_dict(self, state) -> None:
        """Restore what ``state_dict`` returned (a dict, or the ``NpzFile`` that ``numpy.load`` gives).

        The optimizer must be built over the same parameters in the same groups; arrays are copied
        onto each parameter's device and into its dtype.
        """
        state = {key: state[key] for key in state}  # an NpzFile reads each array once
        self._load_groups(state)
        self.state = {}
        for k, p in self._indexed_params():
            prefix = f"state.{k}."
            entries = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
            if entries:
                self.state[p] = {name: _restore_state_entry(name, value, p) for name, value in entries.items()}

    def _load_groups(self, state: dict) -> None:
        stored_groups = {key.split(".")[1] for key in state if key.startswith("group.")}
        if len(stored_groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the state has {len(stored_groups)} parameter groups, "
                             f"this optimizer {len(self.param_groups)}")
        for i, group in enumerate(self.param_groups):
            stored = int(state[f"group.{i}.num_params"])
            if stored != len(group["params"]):
                raise ValueError(f"load_state_dict: group {i} has {stored} parameters in the state "
                                 f"but {len(group['params'])} in this optimizer")
            for key, current in group.items():
                if key != "params":
                    group[key] = _restore_like(current, state[f"group.{i}.{key}"])


def _restore_like(current, stored):
    """A hyperparameter read back from the state dict (perhaps a 0-d array after ``numpy.load``):
    a Python number, bool or string again, or a tuple where the optimizer keeps one (``betas``)."""
    if isinstance(current, tuple):
        return tuple(np.asarray(stored).reshape(-1).tolist())
    return np.asarray(stored).item()


def _state_like(state: dict, param: Tensor) -> dict:
    """The state's arrays on the parameter's device and in its dtype (after ``model.to(...)``)."""
    for name, value in state.items():
        if hasattr(value, "dtype") and (value.dtype != param.dtype or backend.device_of(value) != param.device):
            state[name] = backend.to_device(value, param.device).astype(param.dtype)
    return state


def _restore_state_entry(name: str, value, param: Tensor):
    """Integers (step counters) come back as Python ints; float arrays onto the parameter's device."""
    value = np.asarray(value) if not backend.is_cupy_array(value) else value
    if value.dtype.kind in "iub":
        return int(value)
    if value.shape != param.shape:
        raise ValueError(f"load_state_dict: state {name!r} has shape {value.shape}, "
                         f"its parameter {param.shape}")
    return backend.to_device(value, param.device).astype(param.dtype, copy=True)
