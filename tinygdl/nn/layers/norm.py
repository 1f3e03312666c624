"""Normalization layers: BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm2d.

The arithmetic is in ``tinygdl.ops.norm``; these classes own the parameters (γ = ``weight``,
β = ``bias``, PyTorch's names) and BatchNorm's running statistics.  Defaults are Keras's, because
the book's models are Keras models: ε = 1e-3 everywhere (PyTorch: 1e-5), BatchNorm momentum 0.99.
"""

from __future__ import annotations

from ...ops.norm import batch_norm, group_norm, layer_norm
from .. import init
from ..module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d"]


def _affine_parameters(module: Module, shape, scale: bool, center: bool) -> None:
    """Give ``module`` a γ (``weight``, ones) and/or β (``bias``, zeros) of ``shape``, or None."""
    module.weight = Parameter(init.ones(shape)) if scale else None
    module.bias = Parameter(init.zeros(shape)) if center else None


def _check_channels(layer: Module, x, channels: int) -> None:
    """Raise unless ``x`` has one of the ranks ``layer._ndims`` and ``channels`` channels on axis 1."""
    if x.ndim not in layer._ndims or x.shape[1] != channels:
        raise ValueError(f"{layer!r}: expected an input of shape {layer._layout.format(C=channels)}, "
                         f"got {x.shape}")


class _BatchNorm(Module):
    """Batch normalization over axis 1 (channels); see BatchNorm1d and BatchNorm2d.

    **Momentum, two conventions.**  Both frameworks keep exponential moving averages, but name
    opposite weights ``momentum``:

    * Keras: ``running = momentum·running + (1 − momentum)·batch`` — the weight of the *old* value;
      default 0.99 (the book's GANs use 0.9).
    * PyTorch: ``running = (1 − momentum)·running + momentum·batch`` — the weight of the *new*
      value; default 0.1.

    so Keras 0.99 = PyTorch 0.01 and Keras 0.9 = PyTorch 0.1.  ``momentum`` is read in the
    convention ``momentum_convention`` names, ``"keras"`` by default; left out, it is that
    convention's own default (0.99, or 0.1).

    **Running variance.**  The batch is normalized with its biased variance (divided by n) in
    both frameworks.  For the running variance PyTorch always applies Bessel's correction
    n/(n − 1); Keras 2.x applies it only in its fused kernel, which it uses for 4-D and 5-D inputs
    (convolutional feature maps), not for 2-D or 3-D inputs (after a Dense layer).  ``unbiased``
    (None: as the chosen convention does for this layer) sets it explicitly.

    ``training`` mode (``module.train()``) normalizes with the batch statistics and updates the
    running ones, once per call; ``eval()`` mode normalizes with the running statistics.
    ``affine=False`` (PyTorch) or ``center=False`` / ``scale=False`` (Keras) remove β and/or γ.
    The running mean (zeros) and variance (ones) are persistent buffers: saved in ``state_dict``
    and counted as non-trainable parameters by ``summary``, as Keras counts them.
    """

    _ndims: tuple  # the input ranks accepted
    _layout: str  # the expected input shape, for error messages
    _keras_unbiased: bool  # whether Keras's running variance is Bessel-corrected for these ranks

    def __init__(self, num_features: int, momentum: float | None = None, eps: float = 1e-3, affine: bool = True,
                 center: bool = True, scale: bool = True, momentum_convention: str = "keras", unbiased=None):
        super().__init__()
        if momentum_convention not in ("keras", "torch"):
            raise ValueError(f"{type(self).__name__}: momentum_convention must be 'keras' or 'torch', "
                             f"got {momentum_convention!r}")
        if momentum is None:  # each convention's own default: Keras 0.99, PyTorch 0.1
            momentum = 0.99 if momentum_convention == "keras" else 0.1
        if not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must lie in [0, 1], got {momentum}")
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.momentum_convention = momentum_convention
        self.unbiased = (momentum_convention == "torch" or self._keras_unbiased) if unbiased is None else unbiased
        _affine_parameters(self, (num_features,), scale=affine and scale, center=affine and center)
        self.register_buffer("running_mean", init.zeros((num_features,)))
        self.register_buffer("running_var", init.ones((num_features,)))

    @property
    def new_value_weight(self) -> float:
        """The weight of the batch statistic in the running average (PyTorch's momentum)."""
        return 1.0 - self.momentum if self.momentum_convention == "keras" else self.momentum

    def forward(self, x):
        _check_channels(self, x, self.num_features)
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training,
                          self.new_value_weight, self.eps, self.unbiased)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, momentum={self.momentum} ({self.momentum_convention}), eps={self.eps}, "
                f"scale={self.weight is not None}, center={self.bias is not None}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) features or (N, C, L) sequences, per channel C.

    Keras treats these ranks without its fused kernel, so with the default Keras convention the
    running variance is *not* Bessel-corrected (``momentum_convention="torch"`` corrects it, as
    ``torch.nn.BatchNorm1d`` does).  Full description: ``_BatchNorm``.
    """

    _ndims, _layout, _keras_unbiased = (2, 3), "(N, {C}) or (N, {C}, L)", False


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) feature maps, per channel C (Keras's BatchNormalization
    after a Conv2D; momentum 0.99, ε 1e-3 by default).  The running variance is Bessel-corrected
    in both conventions.  Full description: ``_BatchNorm``."""

    _ndims, _layout, _keras_unbiased = (4,), "(N, {C}, H, W)", True


class LayerNorm(Module):
    """Normalize each example over its last axes (``normalized_shape``, e.g. the feature axis of an
    (N, T, D) sequence), then ``γ·x̂ + β`` with γ, β of that shape (Ba et al. 2016).  Keras's
    default ε is 1e-3 (the default here); the book's Transformers pass 1e-6."""

    def __init__(self, normalized_shape, eps: float = 1e-3, affine: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        _affine_parameters(self, shape, scale=affine, center=affine)

    def forward(self, x):
        if x.shape[x.ndim - len(self.normalized_shape):] != self.normalized_shape:
            trailing = ", ".join(map(str, self.normalized_shape))
            raise ValueError(f"{self!r}: expected an input of shape (..., {trailing}), got {x.shape}")
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, affine={self.weight is not None}"


class GroupNorm(Module):
    """Normalize groups of ``num_channels / num_groups`` channels of each example, over those channels
    and the spatial axes (Wu & He 2018); γ, β per channel.  Input (N, C, ...)."""

    _ndims, _layout = (2, 3, 4, 5), "(N, {C}, ...)"

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-3, affine: bool = True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} is not divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        _affine_parameters(self, (num_channels,), scale=affine, center=affine)

    def forward(self, x):
        _check_channels(self, x, self.num_channels)
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.weight is not None}"


class InstanceNorm2d(GroupNorm):
    """Normalize each channel of each example over its H×W positions (Ulyanov et al. 2016): group
    norm with one channel per group.  No running statistics; ``affine=False`` by default, as in
    PyTorch (Keras has no such layer)."""

    _ndims, _layout = (4,), "(N, {C}, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-3, affine: bool = False):
        super().__init__(num_features, num_features, eps, affine)

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}, affine={self.weight is not None}"
