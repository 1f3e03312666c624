"""Activation functions as layers, for ``Sequential`` models.  The functions themselves (and their
derivatives) are in ``tinygdl.ops.elementwise`` and ``tinygdl.ops.neural``."""

from __future__ import annotations

from ... import ops
from ...ops.elementwise import elu, gelu, leaky_relu, relu, sigmoid, silu, tanh
from ...ops.neural import softmax
from ..module import Module, Parameter

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU", "SiLU", "Swish", "ELU", "Identity",
           "SELU", "CELU", "ReLU6", "Hardtanh", "Hardsigmoid", "Hardswish", "Mish", "Softsign", "LogSigmoid",
           "Softmin", "Softplus", "GLU", "PReLU"]


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x):
        return relu(x)


class LeakyReLU(Module):
    """``x`` where x > 0, ``negative_slope·x`` elsewhere.

    The default slope is **0.3, Keras's default**: the book's bare ``LeakyReLU()`` (CNN, VAE on
    faces, the critics) means 0.3, and its GANs pass 0.2 explicitly.  PyTorch's default — and
    ``tinygdl.nn.functional.leaky_relu``'s, which follows PyTorch — is 0.01.  Pass the slope
    explicitly when porting a PyTorch model.
    """

    def __init__(self, negative_slope: float = 0.3):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """``1 / (1 + e^−x)``."""

    def forward(self, x):
        return sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return tanh(x)


class Softmax(Module):
    """``e^{x_i} / Σ_j e^{x_j}`` along ``axis`` (default the last, as Keras)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class GELU(Module):
    """``x·Φ(x)``, Φ the standard normal CDF; ``approximate="tanh"`` uses the tanh formula."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``x·sigmoid(x)``, also called swish (the diffusion U-Net's activation)."""

    def forward(self, x):
        return silu(x)


Swish = SiLU


class ELU(Module):
    """``x`` where x > 0, ``alpha·(e^x − 1)`` elsewhere (alpha = 1, as in Keras and PyTorch)."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Identity(Module):
    """Returns its input (a placeholder, e.g. for an optional layer)."""

    def forward(self, x):
        return x


# --------------------------------------------------------------------------- PyTorch's other activations
# Thin layers over the functions of ``tinygdl.ops.activations`` (read the formulas there), with
# PyTorch's constructor arguments and defaults.


class _Function(Module):
    """A layer that applies ``function(x, **options)``; ``options`` are shown by ``repr``."""

    function = None

    def __init__(self, **options):
        super().__init__()
        self.options = options

    def forward(self, x):
        return type(self).function(x, **self.options)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())


class SELU(_Function):
    function = staticmethod(ops.selu)


class CELU(_Function):
    function = staticmethod(ops.celu)

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)


class ReLU6(_Function):
    function = staticmethod(ops.relu6)


class Hardtanh(_Function):
    function = staticmethod(ops.hardtanh)

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        super().__init__(min_val=min_val, max_val=max_val)


class Hardsigmoid(_Function):
    function = staticmethod(ops.hardsigmoid)


class Hardswish(_Function):
    function = staticmethod(ops.hardswish)


class Mish(_Function):
    function = staticmethod(ops.mish)


class Softsign(_Function):
    function = staticmethod(ops.softsign)


class LogSigmoid(_Function):
    function = staticmethod(ops.logsigmoid)


class Softmin(_Function):
    function = staticmethod(ops.softmin)

    def __init__(self, axis: int = -1):
        super().__init__(axis=axis)


class Softplus(_Function):
    function = staticmethod(ops.softplus)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(beta=beta, threshold=threshold)


class GLU(_Function):
    function = staticmethod(ops.glu)

    def __init__(self, axis: int = -1):
        super().__init__(axis=axis)


class PReLU(Module):
    """``x`` where x > 0, ``a·x`` elsewhere with a learned slope ``a``: one shared slope, or one
    per channel (``num_parameters`` = the channel count, axis 1), all starting at ``init`` (0.25)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        self.weight = Parameter(ops.full((num_parameters,), float(init)))

    def forward(self, x):
        return ops.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.weight.size}"
