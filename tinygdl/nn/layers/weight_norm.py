"""Weight normalisation (Salimans & Kingma 2016), with its data-dependent initialisation.

A wrapped layer's kernel is no longer a parameter of its own; it is computed in every forward pass
from a *direction* ``v`` (the same shape, initialised as the layer's kernel was) and a *gain* ``g``
(one number per output channel)::

    W = g · v / ‖v‖        (‖v‖ per output channel, over every other kernel axis)

so the length of each output channel's weight vector is ``g`` whatever ``v`` is, and gradient
descent on (v, g) separates the direction of a filter from its scale.  The gradients follow from
the graph (``weight_norm`` is ordinary Tensor ops): ``∂L/∂g = ∂L/∂W · v/‖v‖`` and ``∂L/∂v`` is
``g/‖v‖`` times ``∂L/∂W`` with its component along ``v`` removed.

**Data-dependent initialisation** (the paper's §3; TensorFlow's ``WeightNormalization(data_init=
True)``).  The first forward pass in training mode first runs the layer with ``g = 1`` and a zero
bias, measures the mean and variance of each output channel over the batch (every axis but the
channel axis), and sets ``g = 1/sqrt(var + 1e-10)`` and ``bias = −mean·g``: that batch's outputs
then have zero mean and unit variance per channel, and the pass continues with them.  The
persistent buffer ``initialized`` (0, then 1; Keras counts the same flag as a non-trainable
weight) keeps checkpoints from initialising twice.  Eval-mode passes before it use ``g = 1``.
Every forward asks whether the initialisation is still to do; the answer is a Python bool kept
next to the buffer, read back from the buffer only after it changed (a checkpoint loaded into it),
since reading a GPU array on every pass would make each one wait for the device.

Layers whose kernel carries a fixed ``mask`` buffer (PixelCNN's ``MaskedConv2d`` and
``ShiftedConv2d``, ``tinygdl/models/pixelcnn.py``) are normalised over the *masked* direction
``v ⊙ mask``: only the taps the layer uses count.
"""

from __future__ import annotations

from ...ops.elementwise import sqrt
from ...ops.reduce import sum
from ...ops.shape import reshape
from ...tensor import Tensor, no_grad
from .. import init as initializers
from ..module import Module, Parameter
from .conv import ConvTranspose2d
from .linear import Linear

__all__ = ["WeightNorm", "weight_norm"]

DATA_INIT_EPSILON = 1e-10  # added to the variance before the square root (TensorFlow's value)


def weight_norm(v: Tensor, g: Tensor, axis: int = 0) -> Tensor:
    """``g · v / ‖v‖`` with the norm taken over every axis of ``v`` except ``axis``, which holds
    the output channels (``g`` has one entry per output channel)."""
    others = tuple(i for i in range(v.ndim) if i != axis % v.ndim)
    norm = sqrt(sum(v * v, others, keepdims=True))
    shape = [1] * v.ndim
    shape[axis] = g.shape[0]
    return v * (reshape(g, tuple(shape)) / norm)


def _kernel_output_axis(layer: Module) -> int:
    """Where the output channels are in the layer's kernel: (out, in, kh, kw) for a convolution,
    (in, out, kh, kw) for a transposed one, (in, out) for ``Linear``."""
    return 1 if isinstance(layer, (ConvTranspose2d, Linear)) else 0


class WeightNorm(Module):
    """``WeightNorm(layer)``: ``layer`` (a convolution, transposed convolution or ``Linear``) with
    its ``weight`` replaced by ``g · v/‖v‖``; parameters ``v``, ``g`` and the layer's bias.

    ``data_init=False`` skips the data-dependent initialisation and starts with ``g = ‖v‖``
    (the layer's initial kernel unchanged, as PyTorch's ``weight_norm`` does).  The outputs'
    channel axis (for the data-dependent statistics) is the last one for ``Linear`` and axis 1
    for the convolutions.
    """

    def __init__(self, layer: Module, data_init: bool = True):
        super().__init__()
        weight = getattr(layer, "weight", None)
        if not isinstance(weight, Parameter):
            raise TypeError(f"WeightNorm: {type(layer).__name__} has no weight Parameter to normalise")
        del layer.weight
        self.layer = layer
        self.axis = _kernel_output_axis(layer)
        self.data_init = data_init
        self.v = Parameter(weight.data)
        self.g = Parameter(initializers.ones((weight.shape[self.axis],)))
        if not data_init:
            with no_grad():
                self.g.data[...] = self._norm().data.reshape(-1)
        self.register_buffer("initialized", initializers.constant(0.0 if data_init else 1.0)(()))
        self._host_flag = (self.initialized._version[0], not data_init)  # (buffer version, its value)

    def _direction(self) -> Tensor:
        mask = getattr(self.layer, "mask", None)
        return self.v if mask is None else self.v * mask

    def _norm(self) -> Tensor:
        direction = self._direction()
        return sqrt(sum(direction * direction, tuple(i for i in range(direction.ndim) if i != self.axis)))

    def weight(self) -> Tensor:
        """The kernel the layer uses: ``g · v/‖v‖`` (masked ``v`` where the layer has a mask)."""
        return weight_norm(self._direction(), self.g, self.axis)

    def forward(self, x):
        if self.training and self.data_init and not self._is_initialized():
            self._initialize(x)
        return self._run_layer(x)

    def _is_initialized(self) -> bool:
        """The ``initialized`` buffer as a host bool: the copy kept in Python, unless the buffer was
        written since (``load_state_dict`` marks it modified), when it is read back once."""
        version, value = self._host_flag
        if version != self.initialized._version[0]:
            value = bool(self.initialized.data)  # one device synchronisation per checkpoint load
            self._host_flag = (self.initialized._version[0], value)
        return value

    def _run_layer(self, x):
        self.layer.weight = self.weight()  # a computed Tensor, not a Parameter: lives for this call
        try:
            return self.layer(x)
        finally:
            del self.layer.weight

    def _initialize(self, x) -> None:
        """Set ``g`` and the bias so that the outputs for ``x`` are standardised per channel."""
        bias = self.layer.bias
        with no_grad():
            self.g.data[...] = 1
            if bias is not None:
                bias.data[...] = 0
            y = self._run_layer(x).data
            channel = y.ndim - 1 if isinstance(self.layer, Linear) else 1
            axes = tuple(i for i in range(y.ndim) if i != channel)
            scale = (y.var(axis=axes) + DATA_INIT_EPSILON) ** -0.5
            self.g.data[...] = scale
            if bias is not None:
                bias.data[...] = -y.mean(axis=axes) * scale
            self.initialized.data[...] = 1
        self.initialized._mark_modified()
        self._host_flag = (self.initialized._version[0], True)
        for parameter in (self.g, bias):
            if parameter is not None:
                parameter._mark_modified()

    def extra_repr(self) -> str:
        return f"{type(self.layer).__name__}, data_init={self.data_init}"
