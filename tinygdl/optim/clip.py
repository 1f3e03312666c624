"""Gradient clipping, called between ``backward()`` and ``optimizer.step()``.

Both functions give each clipped parameter a *new* gradient tensor rather than scaling ``.grad``
in place: the backward pass may hand the very same gradient tensor to two parameters (``a + b``
passes its incoming gradient on to both), and scaling it in place would clip it twice.
"""

from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor


def _with_grads(params) -> list[Tensor]:
    params = [params] if isinstance(params, Tensor) else list(params)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(params, max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Rescale all gradients together so that their joint norm is at most ``max_norm``.

    The joint norm is that of all gradients concatenated into one vector,
    ``‖g‖ = (Σ_params ‖g_p‖^p)^(1/p)`` (``norm_type=math.inf``: the largest |g|).  Every gradient is
    multiplied by ``min(1, max_norm/(‖g‖ + 1e-6))`` (PyTorch's formula), so the direction of the update
    is kept.  Returns the norm measured before clipping as a 0-d tensor on the gradients' device, as
    PyTorch does: nothing is read back from a GPU here (no "is it above the limit?" branch either);
    ``.item()`` of the result, to log it, is the one read.
    """
    params = _with_grads(params)
    if not params:
        return Tensor(0.0)
    xp = backend.get_array_module(params[0].grad.data)
    norms = xp.stack([xp.linalg.norm(p.grad.data.ravel(), norm_type) for p in params])
    total = norms.max() if norm_type == math.inf else xp.linalg.norm(norms, norm_type)
    scale = xp.minimum(max_norm / (total + 1e-6), 1.0)  # 1: within the limit, the gradients stay as they are
    for p in params:
        p.grad = Tensor._wrap(p.grad.data * scale.astype(p.grad.dtype))
    return Tensor._wrap(total)


def clip_grad_value_(params, clip_value: float) -> None:
    """Clamp every gradient element to ``[−clip_value, clip_value]`` (this changes the direction)."""
    for p in _with_grads(params):
        p.grad = Tensor._wrap(backend.get_array_module(p.grad.data).clip(p.grad.data, -clip_value, clip_value))
