"""Normalization: batch, layer, group and instance norm.

All four *standardize* ``x`` over some axes — subtract the mean, divide by the standard deviation,
``x̂ = (x − μ) / sqrt(σ² + ε)`` with the biased variance σ² — and then apply a learned affine map
``y = γ·x̂ + β``.  They differ only in the axes the statistics are taken over:

=================  ==============  ===============================================
function           input           statistics over
=================  ==============  ===============================================
``batch_norm``     (N, C, ...)     the batch and spatial axes: one μ, σ per channel
``layer_norm``     (..., *shape)   the last ``len(shape)`` axes: one μ, σ per example
``group_norm``     (N, C, ...)     each group of C/G channels and the spatial axes
``instance_norm``  (N, C, ...)     the spatial axes: one μ, σ per example and channel
=================  ==============  ===============================================

so one Function, ``Standardize``, with a closed-form backward does the work for all of them, and
the affine map is ordinary ops.  Default ε is 1e-3, Keras's (the book's); PyTorch's is 1e-5.
"""

from __future__ import annotations

from .. import backend, kernels
from ..tensor import Function, Tensor, is_grad_enabled, no_grad
from .elementwise import _const
from .reduce import mean, sum
from .shape import reshape

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm"]


class Standardize(Function):
    """``x̂ = (x − mean(x)) / sqrt(var(x) + ε)`` over ``axes`` (statistics kept with keepdims).

    Backward (Ioffe & Szegedy 2015, §3, with the γ, β terms left to the affine ops): with
    ``g = dL/dx̂``, ``σ = sqrt(var + ε)`` and the means taken over ``axes``,

        dL/dx = (1/σ) · (g − mean(g) − x̂ · mean(g · x̂))

    — the gradient loses its component along the two directions the standardization removed
    (a constant shift, which μ absorbs, and a rescaling along x̂, which σ absorbs).
    After forward, ``mean`` and ``var`` (biased) hold the statistics for running averages.
    """

    def __init__(self, axes, eps):
        self.axes, self.eps = tuple(axes), eps

    def forward(self, x):
        self.mean = x.mean(axis=self.axes, keepdims=True)
        centered = x - self.mean
        self.var = (centered * centered).mean(axis=self.axes, keepdims=True)
        self.inv_std = 1.0 / backend.get_array_module(x).sqrt(self.var + self.eps)
        self.x_hat = centered * self.inv_std
        return self.x_hat

    def backward(self, g):
        x_hat, inv_std = self._normalized()
        axes = self.axes
        return inv_std * (g - mean(g, axes, keepdims=True) - x_hat * mean(g * x_hat, axes, keepdims=True))

    def _normalized(self):
        """``(x̂, 1/σ)`` for the backward formula.  In a plain backward they are the saved arrays.
        When the backward itself is recorded (``create_graph=True``, double backward), they are
        rebuilt from ``x`` with ops, so that their own dependence on ``x`` is differentiated too."""
        if not is_grad_enabled():
            return _const(self.x_hat), _const(self.inv_std)
        x = self.inputs[0]
        centered = x - mean(x, self.axes, keepdims=True)
        inv_std = (mean(centered * centered, self.axes, keepdims=True) + self.eps) ** -0.5
        return centered * inv_std, inv_std


class BatchNormTraining(Function):
    """``y = γ·(x − μ)/σ + β`` with the batch's statistics, in one Function (training mode, with γ
    and β): ``Standardize`` and the affine ops computed the same thing in five passes and five
    full-size arrays; this forward is one kernel (``kernels.batch_norm``: a NumPy reference of
    three passes and one array, a Numba loop per channel, CuPy's reductions).

    Backward, with ``x̂ = (x − μ)/σ``, the sums over every axis but the channel's, and m values per
    channel (the ``Standardize`` formula with ``γ·g`` for ``g``)::

        dβ = Σ g,   dγ = Σ g·x̂,   dx = (γ/σ) · (g − dβ/m − x̂ · dγ/m)

    computed by ``kernels.batch_norm_grad`` on the saved statistics; when the backward is itself
    recorded (double backward), the same formula runs with ops on ``x``, so that its dependence on
    ``x`` and ``γ`` is differentiated too.  After forward, ``mean`` and ``var`` (biased, (C,)) hold
    the statistics, for the running averages.
    """

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x, weight, bias):
        y, self.mean, self.var = kernels.batch_norm(x, weight, bias, self.eps)
        self.inv_std = 1.0 / backend.get_array_module(x).sqrt(self.var + self.eps)
        return y

    def backward(self, gy):
        if is_grad_enabled():
            return self._recorded_backward(gy)
        x, weight = self.inputs[0].data, self.inputs[1].data
        return tuple(_const(g) for g in kernels.batch_norm_grad(x, gy.data, weight, self.mean, self.inv_std))

    def _recorded_backward(self, gy):
        x, weight = self.inputs[0], self.inputs[1]
        axes = (0,) + tuple(range(2, x.ndim))
        centered = x - mean(x, axes, keepdims=True)
        inv_std = (mean(centered * centered, axes, keepdims=True) + self.eps) ** -0.5
        x_hat = centered * inv_std
        g = gy * _per_channel(weight, x.ndim)
        gx = inv_std * (g - mean(g, axes, keepdims=True) - x_hat * mean(g * x_hat, axes, keepdims=True))
        return gx, sum(gy * x_hat, axis=axes), sum(gy, axis=axes)


def _per_channel(param: Tensor, ndim: int) -> Tensor:
    """A (C,) parameter reshaped to (1, C, 1, ...) so it broadcasts over an (N, C, ...) tensor."""
    return reshape(param, (1, param.shape[0]) + (1,) * (ndim - 2))


def _channel_affine(x_hat: Tensor, weight, bias) -> Tensor:
    """``γ·x̂ + β`` with one γ and β per channel (axis 1); either may be None (left out)."""
    y = x_hat if weight is None else x_hat * _per_channel(weight, x_hat.ndim)
    return y if bias is None else y + _per_channel(bias, x_hat.ndim)


# --------------------------------------------------------------------------- batch norm


def batch_norm(x: Tensor, running_mean=None, running_var=None, weight=None, bias=None, training=False,
               momentum=0.01, eps=1e-3, unbiased=True) -> Tensor:
    """Batch normalization of an (N, C, ...) tensor, one mean and variance per channel.

    ``training=True`` normalizes with the statistics of this batch and, if running statistics are
    given, updates them in place (not recorded by autograd)::

        running_mean ← (1 − momentum)·running_mean + momentum·batch_mean
        running_var  ← (1 − momentum)·running_var  + momentum·batch_var·n/(n − 1)

    ``momentum`` is the weight of the *new* batch statistic (PyTorch's convention; Keras's
    ``momentum=m`` is ``1 − m`` here, so the default 0.01 is Keras's 0.99).  The batch itself is
    always normalized with the biased variance; ``unbiased`` says whether the running variance
    receives Bessel's correction n/(n − 1), n = the number of values per channel (PyTorch always
    applies it, Keras only in its fused kernel for 4-D/5-D inputs — see ``nn.BatchNorm1d``).

    ``training=False`` normalizes with the running statistics: a fixed affine map of ``x``.
    Without running statistics the batch statistics are used in both modes.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got {x.shape}")
    if (training or running_mean is None) and weight is not None and bias is not None:
        fused = BatchNormTraining(eps)
        y = fused(x, weight, bias)
        if training and running_mean is not None:
            _update_running_stats(fused, running_mean, running_var, momentum, unbiased, x)
        return y
    if training or running_mean is None:
        standardize = Standardize((0,) + tuple(range(2, x.ndim)), eps)
        x_hat = standardize(x)
        if training and running_mean is not None:
            _update_running_stats(standardize, running_mean, running_var, momentum, unbiased, x)
    else:
        xp = backend.get_array_module(x.data)
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        inv_std = (1.0 / xp.sqrt(running_var.data + eps)).astype(x.dtype).reshape(shape)
        shift = (-running_mean.data.reshape(shape) * inv_std).astype(x.dtype)
        x_hat = x * _const(inv_std) + _const(shift)
    return _channel_affine(x_hat, weight, bias)


def _update_running_stats(standardize, running_mean, running_var, momentum, unbiased, x):
    n = x.size // x.shape[1]  # values per channel
    if n < 2:
        raise ValueError(f"batch_norm: training needs more than one value per channel to estimate a "
                         f"variance, got an input of shape {x.shape}")
    batch_var = standardize.var.reshape(-1) * (n / (n - 1) if unbiased else 1.0)
    with no_grad():
        running_mean.mul_(1 - momentum).add_(standardize.mean.reshape(-1), alpha=momentum)
        running_var.mul_(1 - momentum).add_(batch_var, alpha=momentum)


# --------------------------------------------------------------------------- layer, group and instance norm


def layer_norm(x: Tensor, normalized_shape, weight=None, bias=None, eps=1e-3) -> Tensor:
    """Normalize over the last ``len(normalized_shape)`` axes (each example, each position on its
    own); ``weight``/``bias`` have shape ``normalized_shape``.  Keras's default ε is 1e-3; the book's
    Transformers use 1e-6."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if x.shape[x.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: expected the last axes of the input to be {normalized_shape}, "
                         f"got an input of shape {x.shape}")
    y = Standardize(tuple(range(x.ndim - k, x.ndim)), eps)(x)
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def group_norm(x: Tensor, num_groups: int, weight=None, bias=None, eps=1e-3) -> Tensor:
    """Split the C channels of an (N, C, ...) tensor into ``num_groups`` groups and normalize each
    group of each example over its channels and spatial axes (Wu & He 2018); ``weight``/``bias``
    are per channel, shape (C,)."""
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: the channel count must be divisible by num_groups={num_groups}; "
                         f"got an input of shape {x.shape}")
    n, c = x.shape[:2]
    grouped = reshape(x, (n, num_groups, c // num_groups) + x.shape[2:])
    x_hat = Standardize(tuple(range(2, grouped.ndim)), eps)(grouped)
    return _channel_affine(reshape(x_hat, x.shape), weight, bias)


def instance_norm(x: Tensor, weight=None, bias=None, eps=1e-3) -> Tensor:
    """Normalize each channel of each example over its spatial axes: group norm with one channel
    per group.  ``weight``/``bias`` per channel, shape (C,)."""
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *spatial), got {x.shape}")
    return group_norm(x, x.shape[1], weight, bias, eps)
