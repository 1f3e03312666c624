"""Activation functions as layers, for ``Sequential`` models.  The functions themselves (and their
derivatives) are in ``tinygdl.ops.elementwise`` and ``tinygdl.ops.neural``."""

from __future__ import annotations

from ...ops.elementwise import elu, gelu, leaky_relu, relu, sigmoid, silu, tanh
from ...ops.neural import softmax
from ..module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU", "SiLU", "Swish", "ELU", "Identity"]


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
