"""Exponential moving average (EMA) of a model's weights.

Diffusion models and GANs are often *sampled* with an averaged copy of the network rather than
the network being trained: the average smooths out the noise of the last optimizer steps.  After
every optimizer step, for every weight::

    ema ← decay·ema + (1 − decay)·θ

so the averaged weight is a mix of the recent weights with exponentially decreasing shares
(``decay = 0.999`` averages over roughly the last 1/(1 − decay) = 1,000 steps).

As in the book's diffusion model, *every* floating-point entry of the model's ``state_dict`` is
averaged: the parameters (trainable or not) and the persistent buffers such as batch norm's
running statistics; integer buffers (counters) are copied.
"""

from __future__ import annotations

import copy

from ..nn.module import Module


class EMA:
    """Keep ``module``, a copy of ``model`` whose weights are the moving average of ``model``'s.

    ``ema_model``: the module that holds the average, of the same architecture as ``model``.  The
    default is a copy of ``model`` as it is now (the usual choice); the book's diffusion notebook
    instead starts from a freshly initialised clone (``EMA(unet, 0.999, ema_model=build_unet())``).
    The averaged module is frozen and in eval mode: it is only used to sample.  If ``model`` moves
    to another device, move ``ema.module`` with it.
    """

    def __init__(self, model: Module, decay: float = 0.999, ema_model: Module | None = None):
        if not 0 <= decay <= 1:
            raise ValueError(f"EMA: decay must be in [0, 1], got {decay}")
        self.model, self.decay, self.num_updates = model, decay, 0
        self.module = _copy_without_grads(model) if ema_model is None else ema_model
        self.module.freeze().eval()
        ours, theirs = self.module.state_dict(), model.state_dict()
        if list(ours) != list(theirs) or any(ours[k].shape != theirs[k].shape for k in ours):
            raise ValueError("EMA: ema_model does not have the same weights (names and shapes) as model")

    def update(self) -> None:
        """One averaging step, ``ema ← decay·ema + (1 − decay)·θ``: call it after each ``optimizer.step()``."""
        current = self.model.state_dict()
        for name, average in self.module.state_dict().items():
            weight = current[name].data
            if average.dtype.kind == "f":
                average.data *= self.decay
                average.data += (1 - self.decay) * weight
            else:
                average.data[...] = weight
            average._mark_modified()
        self.num_updates += 1

    def copy_to(self, model: Module) -> Module:
        """Copy the averaged weights into ``model`` (e.g. the trained model itself, before saving it)."""
        return model.load_state_dict(self.module.state_dict())

    def state_dict(self) -> dict:
        """The averaged weights (``"module.<name>"``), ``decay`` and ``num_updates``, NumPy-savable."""
        state = {f"module.{name}": t.numpy().copy() for name, t in self.module.state_dict().items()}
        state.update(decay=self.decay, num_updates=self.num_updates)
        return state

    def load_state_dict(self, state) -> None:
        prefix = "module."
        self.module.load_state_dict({k[len(prefix):]: state[k] for k in state if k.startswith(prefix)})
        self.decay, self.num_updates = float(state["decay"]), int(state["num_updates"])


def _copy_without_grads(model: Module) -> Module:
    """A deep copy of ``model`` that leaves the gradients (and any graph behind them) uncopied."""
    memo = {id(p.grad): None for p in model.parameters() if p.grad is not None}
    return copy.deepcopy(model, memo)
