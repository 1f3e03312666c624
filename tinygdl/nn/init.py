"""Weight initializers: the random (or constant) starting values of parameters.

Every initializer is a function ``init(shape, kind="dense", device=None) -> Tensor`` that draws in
the default dtype with the device's generator (``tinygdl.backend.generator``), so
``tinygdl.manual_seed`` makes initialisation reproducible.  Layers take an initializer or its name::

    Linear(3, 4, init="he_uniform")          # by name, resolved with get()
    Conv2d(1, 8, 3, init=init.normal(0.02))  # a configured one (MuseGAN's N(0, 0.02))

**Variance scaling.**  Most initializers scale the spread by the layer's *fans*: ``fan_in`` is how
many inputs feed one output unit, ``fan_out`` how many outputs one input unit feeds.  Keeping
``Var(w) = scale / n`` (n = fan_in, fan_out or their mean) keeps activations (forward) or
gradients (backward) at a steady size from layer to layer:

==================  =====================  ==============================================
name                n                      draw (``scale = 1`` unless said)
==================  =====================  ==============================================
``glorot_uniform``  (fan_in + fan_out)/2   ``U(±sqrt(3/n))`` = ``U(±sqrt(6/(fan_in+fan_out)))``
``glorot_normal``   (fan_in + fan_out)/2   truncated normal, std ``sqrt(1/n)``
``he_uniform``      fan_in, scale 2        ``U(±sqrt(6/fan_in))``
``he_normal``       fan_in, scale 2        truncated normal, std ``sqrt(2/fan_in)``
``lecun_uniform``   fan_in                 ``U(±sqrt(3/fan_in))``
``lecun_normal``    fan_in                 truncated normal, std ``sqrt(1/fan_in)``
==================  =====================  ==============================================

(Glorot & Bengio 2010; He et al. 2015; LeCun et al. 1998.)  ``glorot_uniform`` is Keras's default
for Dense and Conv kernels, and so the default of tinygdl's layers.  The ``*_normal`` versions
follow Keras: a normal truncated at two standard deviations, widened by 1/0.8796 so that the
variance is still ``scale/n`` (PyTorch's ``kaiming_normal_`` uses an untruncated normal with the
same variance).  ``xavier_*`` and ``kaiming_*`` are the PyTorch names of the same functions.

Which axes are fans depends on the kernel layout — see ``fans``.
"""

from __future__ import annotations

import math

from .. import backend
from ..tensor import Tensor

__all__ = [
    "fans", "get",
    "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal",
    "lecun_uniform", "lecun_normal",
    "normal", "uniform", "constant", "zeros", "ones", "orthogonal",
]


# --------------------------------------------------------------------------- fans


def _product(values) -> int:
    return math.prod(int(v) for v in values)


def fans(shape, kind: str = "dense") -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a kernel of ``shape`` in the layout ``kind`` names.

    ``"dense"``           ``(in, out)``: tinygdl's ``Linear`` (Keras's Dense layout) and
                          ``Embedding`` ``(num, dim)`` (fan_in = num, as Keras computes it).
    ``"conv"``            ``(C_out, C_in, kh, kw)`` (any number of kernel axes):
                          fan_in = C_in·kh·kw, fan_out = C_out·kh·kw.
    ``"conv_transpose"``  ``(C_in, C_out, kh, kw)``: fan_in = C_out·kh·kw, fan_out = C_in·kh·kw.
                          Counting the *output* channels in fan_in looks backwards, but it is what
                          Keras (kernel ``(kh, kw, out, in)``) and PyTorch both compute.
    ``"keras"``           Keras's rule for a kernel of any rank in its own layout ``(..., in, out)``:
                          the leading axes form a "receptive field" r = product of
                          ``shape[:-2]``, fan_in = ``shape[-2]``·r, fan_out = ``shape[-1]``·r.
                          ``MultiHeadAttention``'s 3-D kernels use it: a query kernel
                          ``(d_model, heads, key_dim)`` has fan_in = heads·d_model and
                          fan_out = key_dim·d_model, as Keras computes them.
    """
    shape = tuple(int(s) for s in shape)
    if kind == "dense":
        if len(shape) != 2:
            raise ValueError(f"fans: kind 'dense' needs a 2-D (in, out) shape, got {shape}")
        return shape[0], shape[1]
    if kind in ("conv", "conv_transpose"):
        if len(shape) < 3:
            raise ValueError(f"fans: kind {kind!r} needs (channels, channels, *kernel), got {shape}")
        field = _product(shape[2:])  # kh·kw (·kd)
        return shape[1] * field, shape[0] * field  # the same rule for both layouts
    if kind == "keras":
        if len(shape) < 2:
            raise ValueError(f"fans: kind 'keras' needs at least 2 axes, got {shape}")
        field = _product(shape[:-2])
        return shape[-2] * field, shape[-1] * field
    raise ValueError(f"fans: unknown kind {kind!r}; expected 'dense', 'conv', 'conv_transpose' or 'keras'")


# --------------------------------------------------------------------------- drawing


def _dtype():
    return backend.get_default_dtype()


def _uniform_array(shape, low, high, device):
    draws = backend.generator(device).random(tuple(shape), dtype=_dtype())
    return draws * (high - low) + low


def _truncated_normal_array(shape, std, device):
    """Standard normal draws, every one outside [-2, 2] redrawn until none is left, times ``std``."""
    gen = backend.generator(device)
    xp = backend.device(device).xp
    z = gen.standard_normal(tuple(shape), dtype=_dtype())
    outside = xp.abs(z) > 2
    while bool(outside.any()):
        z[outside] = gen.standard_normal(int(outside.sum()), dtype=_dtype())
        outside = xp.abs(z) > 2
    return z * std


# The standard deviation of a standard normal truncated to [-2, 2]; dividing by it restores unit variance.
_TRUNCATED_STD = 0.87962566103423978


def _variance_scaling(name: str, scale: float, mode: str, distribution: str, doc: str):
    """An initializer drawing with variance ``scale / n``, n = fan_in (mode "fan_in") or the mean of
    fan_in and fan_out (mode "fan_avg"), from a uniform or a truncated normal distribution."""

    def init(shape, kind: str = "dense", device=None) -> Tensor:
        fan_in, fan_out = fans(shape, kind)
        n = fan_in if mode == "fan_in" else (fan_in + fan_out) / 2
        variance = scale / max(n, 1)
        if distribution == "uniform":
            limit = math.sqrt(3 * variance)  # U(-a, a) has variance a²/3
            return Tensor._wrap(_uniform_array(shape, -limit, limit, device))
        return Tensor._wrap(_truncated_normal_array(shape, math.sqrt(variance) / _TRUNCATED_STD, device))

    init.__name__ = init.__qualname__ = name
    init.__doc__ = doc + "\n\n``kind`` says which axes of ``shape`` are fans (see ``fans``)."
    return init


glorot_uniform = _variance_scaling(
    "glorot_uniform", 1.0, "fan_avg", "uniform",
    "Glorot (Xavier) uniform: ``U(±sqrt(6/(fan_in + fan_out)))`` — Keras's default kernel initializer.")
glorot_normal = _variance_scaling(
    "glorot_normal", 1.0, "fan_avg", "truncated_normal",
    "Glorot (Xavier) normal: truncated normal with variance ``2/(fan_in + fan_out)``.")
he_uniform = _variance_scaling(
    "he_uniform", 2.0, "fan_in", "uniform",
    "He (Kaiming) uniform: ``U(±sqrt(6/fan_in))``, for layers followed by a ReLU.")
he_normal = _variance_scaling(
    "he_normal", 2.0, "fan_in", "truncated_normal",
    "He (Kaiming) normal: truncated normal with variance ``2/fan_in``.")
lecun_uniform = _variance_scaling(
    "lecun_uniform", 1.0, "fan_in", "uniform",
    "LeCun uniform: ``U(±sqrt(3/fan_in))``.")
lecun_normal = _variance_scaling(
    "lecun_normal", 1.0, "fan_in", "truncated_normal",
    "LeCun normal: truncated normal with variance ``1/fan_in`` (SELU networks).")

xavier_uniform, xavier_normal = glorot_uniform, glorot_normal  # PyTorch's names
kaiming_uniform, kaiming_normal = he_uniform, he_normal


# --------------------------------------------------------------------------- fixed distributions


def normal(std: float, mean: float = 0.0):
    """An initializer drawing from ``N(mean, std²)``, whatever the fans (the DCGAN family and
    MuseGAN use ``normal(0.02)``; Keras's ``RandomNormal`` default is std 0.05)."""

    def init(shape, kind: str = "dense", device=None) -> Tensor:
        z = backend.generator(device).standard_normal(tuple(shape), dtype=_dtype())
        return Tensor._wrap(z * std + mean)

    init.__name__ = init.__qualname__ = f"normal(std={std}, mean={mean})"
    return init


def uniform(low: float, high: float):
    """An initializer drawing from ``U(low, high)`` (Keras's Embedding uses ``uniform(-0.05, 0.05)``)."""

    def init(shape, kind: str = "dense", device=None) -> Tensor:
        return Tensor._wrap(_uniform_array(shape, low, high, device))

    init.__name__ = init.__qualname__ = f"uniform({low}, {high})"
    return init


def _full(shape, value, device) -> Tensor:
    return Tensor._wrap(backend.device(device).xp.full(tuple(shape), value, dtype=_dtype()))


def constant(value: float):
    """An initializer filling every element with ``value``."""

    def init(shape, kind: str = "dense", device=None) -> Tensor:
        return _full(shape, value, device)

    init.__name__ = init.__qualname__ = f"constant({value})"
    return init


def zeros(shape, kind: str = "dense", device=None) -> Tensor:
    """All zeros: Keras's bias initializer (and the diffusion U-Net's last kernel)."""
    return _full(shape, 0.0, device)


def ones(shape, kind: str = "dense", device=None) -> Tensor:
    """All ones: the scale γ of normalization layers."""
    return _full(shape, 1.0, device)


def orthogonal(shape, kind: str = "dense", device=None, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix (Saxe et al. 2014), Keras's initializer for the LSTM recurrent kernel.

    The shape is read as a matrix of ``prod(shape[:-1])`` rows and ``shape[-1]`` columns; its rows
    (if there are fewer rows than columns) or its columns (otherwise) are orthonormal, times ``gain``.
    How: the QR decomposition of a Gaussian matrix gives an orthogonal Q; multiplying each column
    by the sign of R's diagonal makes the result uniformly distributed over orthogonal matrices.
    ``kind`` is accepted for a uniform signature and not used.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal: needs at least 2 axes, got shape {shape}")
    rows, cols = _product(shape[:-1]), shape[-1]
    xp = backend.device(device).xp
    a = backend.generator(device).standard_normal((max(rows, cols), min(rows, cols)), dtype=_dtype())
    q, r = xp.linalg.qr(a)  # q: (max, min) with orthonormal columns
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return Tensor._wrap((gain * q).reshape(shape).astype(_dtype(), copy=False))


# --------------------------------------------------------------------------- lookup by name

_NAMED = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform,
                                  lecun_normal, zeros, ones, orthogonal)}
_NAMED.update(xavier_uniform=xavier_uniform, xavier_normal=xavier_normal,
              kaiming_uniform=kaiming_uniform, kaiming_normal=kaiming_normal)


def get(init):
    """The initializer named ``init`` (e.g. ``"glorot_uniform"``), or ``init`` itself if it is callable."""
    if callable(init):
        return init
    if isinstance(init, str) and init in _NAMED:
        return _NAMED[init]
    raise ValueError(f"unknown initializer {init!r}; expected a callable or one of {sorted(_NAMED)} "
                     "(normal(std), uniform(low, high) and constant(value) take arguments)")
