"""Chapter 6: RealNVP, a normalising flow built from affine coupling layers.

A normalising flow is an invertible map ``f`` from data ``x`` to a latent ``z = f(x)`` whose density
is simple (here the standard normal).  The change-of-variables formula gives the exact density of
the data::

    log p(x) = log N(f(x); 0, I) + log |det ∂f/∂x|

so the model is trained by maximum likelihood, and sampled by drawing ``z ~ N(0, I)`` and running
the map backwards, ``x = f⁻¹(z)``.

**Affine coupling** (Dinh et al., 2017) makes both the inverse and the determinant cheap.  A fixed
binary mask ``m`` splits the coordinates: those with ``m = 1`` pass through unchanged and are the
only input of two networks, a scale ``s`` and a translation ``t``; the others are shifted and
rescaled by them.  In the training direction (data → latent, the book's convention)::

    y = m⊙x + (1 − m)⊙(x − t(m⊙x))⊙exp(−s(m⊙x))

The Jacobian is triangular (the ``m = 1`` coordinates of ``y`` depend only on themselves), so its
log-determinant is the sum of the diagonal's logs, ``−Σ_d (1 − m_d)·s_d``; and since ``s`` and
``t`` only see the unchanged coordinates, the inverse is exact, whatever the networks compute::

    x = m⊙y + (1 − m)⊙(y⊙exp(s(m⊙y)) + t(m⊙y))

Stacking couplings with alternating masks lets every coordinate be transformed.  The book's model
has two, masks ``(0, 1)`` then ``(1, 0)``, each with its own ``CouplingNetwork`` (an ``s`` branch of
four 256-unit ReLU layers and a tanh output, a ``t`` branch alike with a linear output): 397,316
parameters per coupling, 794,632 in all.  Training runs the couplings last to first; sampling runs
them first to last.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..backend import get_default_dtype
from ..ops.reduce import mean, sum

__all__ = ["CouplingNetwork", "AffineCoupling", "RealNVP", "alternating_masks", "flow_loss",
           "standard_normal_log_density"]


class CouplingNetwork(nn.Module):
    """The two branches of one coupling: ``(s(x), t(x))``, each ``depth`` Dense layers of ``hidden``
    ReLU units and an output layer of ``dim`` units (tanh for ``s``, linear for ``t``).

    The tanh bounds the log-scale to (−1, 1), so one coupling rescales a coordinate by at most e.
    (The book's Keras layers also declare an L2(0.01) kernel penalty that its custom training step
    never adds to the loss; it has no effect there and is left out here.)
    """

    def __init__(self, dim: int = 2, hidden: int = 256, depth: int = 4):
        super().__init__()
        self.s = _branch(dim, hidden, depth, nn.Tanh())
        self.t = _branch(dim, hidden, depth, None)

    def forward(self, x):
        return self.s(x), self.t(x)


def _branch(dim: int, hidden: int, depth: int, output_activation) -> nn.Sequential:
    layers = []
    for i in range(depth):
        layers += [nn.Linear(dim if i == 0 else hidden, hidden), nn.ReLU()]
    layers.append(nn.Linear(hidden, dim))
    if output_activation is not None:
        layers.append(output_activation)
    return nn.Sequential(*layers)


class AffineCoupling(nn.Module):
    """One affine coupling layer with a fixed 0/1 ``mask`` (1 = passed through, fed to the networks).

    ``forward(x) -> (y, log_det)``: data → latent, with ``log |det ∂y/∂x|`` per example (N,);
    ``inverse(y) -> x``: latent → data, the exact inverse.
    """

    def __init__(self, mask, hidden: int = 256, depth: int = 4):
        super().__init__()
        mask = np.asarray(mask, dtype=get_default_dtype())
        if mask.ndim != 1 or not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"AffineCoupling: the mask must be a 1-D vector of 0s and 1s, got {mask.tolist()}")
        self.dim = len(mask)
        self.register_buffer("mask", mask, persistent=False)  # fixed by the architecture, not learned
        self.register_buffer("free", 1 - mask, persistent=False)  # the coordinates this layer changes
        self.net = CouplingNetwork(self.dim, hidden, depth)

    def _check(self, x):
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"AffineCoupling: expected points of shape (N, {self.dim}), got {x.shape}")

    def scale_and_shift(self, kept):
        """``s`` and ``t`` of the passed-through coordinates, zero where the mask is 1."""
        s, t = self.net(kept)
        return s * self.free, t * self.free

    def forward(self, x):
        self._check(x)
        kept = x * self.mask
        s, t = self.scale_and_shift(kept)
        y = kept + self.free * (x - t) * (-s).exp()
        return y, -sum(s, axis=1)

    def inverse(self, y):
        self._check(y)
        kept = y * self.mask
        s, t = self.scale_and_shift(kept)
        return kept + self.free * (y * s.exp() + t)

    def extra_repr(self) -> str:
        return f"mask={self.mask.numpy().astype(int).tolist()}"


def alternating_masks(count: int, dim: int = 2) -> list:
    """``count`` masks starting with the book's (0, 1), then (1, 0), and so on (for 2-D data:
    each coupling changes the coordinate the previous one passed through)."""
    first = np.arange(dim) % 2  # (0, 1, 0, 1 ...)
    return [first if i % 2 == 0 else 1 - first for i in range(count)]


class RealNVP(nn.Module):
    """A stack of ``coupling_layers`` affine couplings with alternating masks.

    ``forward(x) -> (z, log_det)`` maps data to latent (couplings applied last to first, as the
    book); ``inverse(z)`` maps latent to data (first to last); ``log_prob(x)`` is the exact log
    density of the data, ``sample(n)`` draws from it.
    """

    def __init__(self, dim: int = 2, coupling_layers: int = 2, hidden: int = 256, depth: int = 4):
        super().__init__()
        if coupling_layers < 1:
            raise ValueError(f"RealNVP needs at least one coupling layer, got {coupling_layers}")
        self.dim = dim
        self.couplings = nn.ModuleList(AffineCoupling(mask, hidden, depth)
                                       for mask in alternating_masks(coupling_layers, dim))

    def forward(self, x):
        log_det = 0.0
        for coupling in reversed(list(self.couplings)):
            x, layer_log_det = coupling(x)
            log_det = layer_log_det + log_det
        return x, log_det

    def inverse(self, z):
        for coupling in self.couplings:
            z = coupling.inverse(z)
        return z

    def log_prob(self, x):
        """``log p(x) = log N(f(x); 0, I) + log |det ∂f/∂x|`` per example, in nats."""
        z, log_det = self(x)
        return standard_normal_log_density(z) + log_det


def standard_normal_log_density(z):
    """``log N(z; 0, I) = −½‖z‖² − (D/2)·log 2π`` per row of ``z`` (N, D)."""
    return -0.5 * sum(z * z, axis=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


def flow_loss(model: RealNVP, x):
    """The book's loss: the mean negative log-likelihood of the batch, ``−mean(log N(z) + log|det|)``."""
    return -mean(model.log_prob(x))
