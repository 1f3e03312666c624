"""New tensors: constants (zeros, ones, full, arange, linspace, eye) and random draws.

Random draws come from the per-device generator of ``tinygdl.backend`` so that
``tinygdl.manual_seed(s)`` makes a run reproducible, on the CPU or on a GPU.  Floats use the
default dtype (float32 unless changed) unless ``dtype`` says otherwise.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor


def _shape(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))``."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _float_dtype(dtype):
    return np.dtype(backend.get_default_dtype() if dtype is None else dtype)


def _new(array, requires_grad) -> Tensor:
    t = Tensor._wrap(array)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp = backend.device(device).xp
    return _new(xp.zeros(_shape(shape), dtype=_float_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp = backend.device(device).xp
    return _new(xp.ones(_shape(shape), dtype=_float_dtype(dtype)), requires_grad)


def full(shape, value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``shape`` filled with ``value``; without ``dtype`` the value decides, as in PyTorch: bool,
    int64 for an int, the default float dtype for a float."""
    if dtype is None:
        dtype = bool if isinstance(value, (bool, np.bool_)) else np.int64 if isinstance(value, (int, np.integer)) \
            else _float_dtype(None)
    xp = backend.device(device).xp
    return _new(xp.full(_shape((shape,)), value, dtype=dtype), requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor of ``shape`` (filled with zeros: unlike ``torch.empty``, never garbage)."""
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(x: Tensor, value, dtype=None, requires_grad=False) -> Tensor:
    return full(x.shape, value, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def zeros_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return zeros(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def ones_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return ones(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    """As ``numpy.arange``; integer arguments give int64, float arguments the default float dtype."""
    if stop is None:
        start, stop = 0, start
    if dtype is None and all(isinstance(v, (int, np.integer)) for v in (start, stop, step)):
        dtype = np.int64
    xp = backend.device(device).xp
    return Tensor._wrap(xp.arange(start, stop, step, dtype=_float_dtype(dtype) if dtype is None else dtype))


def linspace(start, stop, num, dtype=None, device=None) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (both included).  With an integer
    ``dtype`` the ends and the values are truncated toward zero, as in PyTorch (NumPy rounds down)."""
    xp = backend.device(device).xp
    dtype = _float_dtype(dtype) if dtype is None or np.dtype(dtype).kind == "f" else np.dtype(dtype)
    if dtype.kind == "f":
        return Tensor._wrap(xp.linspace(start, stop, num, dtype=dtype))
    return Tensor._wrap(xp.trunc(xp.linspace(int(start), int(stop), num)).astype(dtype))


def eye(n, m=None, dtype=None, device=None) -> Tensor:
    xp = backend.device(device).xp
    return Tensor._wrap(xp.eye(n, m, dtype=_float_dtype(dtype)))


# --------------------------------------------------------------------------- random draws


def manual_seed(seed: int) -> None:
    """Seed the random generators of every device (``torch.manual_seed``)."""
    backend.manual_seed(seed)


def randn(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal draws."""
    gen = backend.generator(device)
    return _new(gen.standard_normal(_shape(shape), dtype=_float_dtype(dtype)), requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform draws in [0, 1)."""
    gen = backend.generator(device)
    return _new(gen.random(_shape(shape), dtype=_float_dtype(dtype)), requires_grad)


def randn_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    """Standard normal draws of x's shape, dtype and device."""
    return randn(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def rand_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    """Uniform draws in [0, 1) of x's shape, dtype and device."""
    return rand(x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad)


def randint(low, high=None, shape=(), device=None) -> Tensor:
    """Integers in [low, high) (or [0, low) when ``high`` is omitted), int64."""
    if high is None:
        low, high = 0, low
    gen = backend.generator(device)
    return Tensor._wrap(gen.integers(low, high, size=_shape((shape,)), dtype=np.int64))


def normal(mean=0.0, std=1.0, shape=(), dtype=None, device=None) -> Tensor:
    """Normal draws with the given mean and standard deviation (numbers)."""
    z = randn(_shape((shape,)), dtype=dtype, device=device)
    z.data *= std
    z.data += mean
    return z


def uniform(low=0.0, high=1.0, shape=(), dtype=None, device=None) -> Tensor:
    u = rand(_shape((shape,)), dtype=dtype, device=device)
    u.data *= high - low
    u.data += low
    return u


def bernoulli(p, shape=None, dtype=None, device=None) -> Tensor:
    """1 with probability ``p`` (a number, or a Tensor of probabilities), else 0."""
    if isinstance(p, Tensor):
        draws = backend.generator(p.device).random(p.shape, dtype=p.dtype)
        return Tensor._wrap((draws < p.data).astype(p.dtype))
    u = rand(_shape((shape or (),)), dtype=dtype, device=device)
    return Tensor._wrap((u.data < p).astype(u.dtype))


def permutation(n: int, device=None) -> Tensor:
    """A random ordering of 0..n-1 (int64)."""
    gen = backend.generator(device)
    if hasattr(gen, "permutation"):
        return Tensor._wrap(gen.permutation(n))
    return Tensor._wrap(backend.device(device).xp.argsort(gen.random(n)))  # CuPy's Generator has none
