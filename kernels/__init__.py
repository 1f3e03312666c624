"""The hot kernels of the engine, each in up to three flavours, and the dispatcher that picks one.

Flavours
--------
``"numpy"``  the reference (``reference.py``): readable, vectorised NumPy, the definition of each kernel;
``"numba"``  compiled CPU loops (``cpu.py``), used when Numba imports and its JIT is on;
``"cupy"``   CUDA kernels (``cuda.py``), used for CuPy arrays.

The public functions (``im2col``, ``col2im``, ``adam_update``, ``leaky_relu``, ``leaky_relu_grad``,
``batch_norm``, ``batch_norm_grad``)
look at their array arguments on every call: CuPy arrays go to ``"cupy"``; NumPy arrays go to
``"numba"`` when it is available, else to ``"numpy"``.  The choice for NumPy arrays can be forced,
at any time, with ``set_preference("numpy")`` or the environment variable ``TINYGDL_KERNELS=numpy``
(or ``numba``), which is read at each call; ``set_preference`` wins over the variable.

The element-wise kernels send arrays of fewer than ``NUMBA_MIN_SIZE`` elements to the reference even
when Numba is available: a parallel Numba call costs about 0.1 ms however small the array (waking
the sleeping ``workqueue`` threads, see ``cpu.py``), while NumPy needs 0.01 ms for 1e3 elements and
about 0.1 ms for 1e5 (``benchmarks/kernels.py`` on a 2-core machine); Numba wins from about 2e5
elements on (Adam), 5e4 (leaky ReLU, where ``np.where`` is slow).  With one Numba thread there is no
pool to wake (the serial builds run in the calling thread), and Numba wins at every size: an Adam
step took 4.0 µs against NumPy's 5.6 µs at 64 elements and 0.35 ms against 1.46 ms at 1e6, so the
threshold applies only when the parallel builds run (``set_parallel(True)`` and more than one Numba
thread; by default every kernel runs serially, see ``cpu.py``).

``im2col`` and ``col2im`` take the window as a geometry object, checked once by the op that calls
them: ``im2col(x, conv_geometry(x.shape, kernel_size, stride, padding, dilation))`` for images
(N, C, H, W), ``vol_geometry`` for volumes (N, C, D, H, W), the 3-D version (vol2col) of each.
"""

from __future__ import annotations

import os

from tinygdl.backend import cuda_available, is_cupy_array

from . import cuda, reference  # noqa: F401  (importing a flavour module registers its kernels)
from .geometry import ConvGeometry, VolGeometry, conv_geometry, vol_geometry
from .registry import FLAVOURS, register, registered

try:
    from . import cpu
except Exception as error:  # Numba missing, broken, or NUMBA_DISABLE_JIT=1: use the reference
    _numba_error: Exception | None = error
else:
    _numba_error = None

__all__ = [
    "ENV_VAR",
    "ConvGeometry",
    "FLAVOURS",
    "VolGeometry",
    "NUMBA_MIN_SIZE",
    "adam_update",
    "batch_norm",
    "batch_norm_grad",
    "col2im",
    "conv_geometry",
    "cpu_threads",
    "flavours",
    "get",
    "im2col",
    "implementation",
    "leaky_relu",
    "leaky_relu_grad",
    "numba_available",
    "register",
    "registered",
    "set_parallel",
    "set_preference",
    "vol_geometry",
]

ENV_VAR = "TINYGDL_KERNELS"
_CPU_FLAVOURS = ("numpy", "numba")

# The smallest arrays (elements of the first array argument) that go to Numba when nothing is forced.
NUMBA_MIN_SIZE = {"adam_update": 1 << 18, "leaky_relu": 1 << 16, "leaky_relu_grad": 1 << 16, "batch_norm": 1 << 16,
                  "batch_norm_grad": 1 << 16}

_preference: str | None = None


# --------------------------------------------------------------------------- choosing a flavour


def numba_available() -> bool:
    """True when the Numba kernels imported (Numba installed, working, and its JIT not disabled)."""
    return _numba_error is None


def cpu_threads() -> int:
    """The number of CPU threads tinygdl is set to: Numba's count (``benchmarks/_common.set_threads``
    gives the BLAS the same), 1 without Numba."""
    return cpu.numba.get_num_threads() if numba_available() else 1


def set_parallel(flag: bool) -> None:
    """Let the Numba kernels use Numba's threads (``True``; off by default, see ``cpu.py``), or run
    them in the calling thread; ``TINYGDL_PARALLEL_KERNELS=1`` in the environment turns them on."""
    if numba_available():
        cpu.set_parallel(flag)


def _available(flavour: str) -> bool:
    if flavour == "numba":
        return numba_available()
    if flavour == "cupy":
        return cuda_available()
    return True


def flavours(name: str) -> list[str]:
    """The flavours of kernel ``name`` that can run on this machine, in ``FLAVOURS`` order."""
    found = registered(name)
    return [f for f in FLAVOURS if f in found and _available(f)]


def implementation(name: str, flavour: str):
    """The ``flavour`` implementation of kernel ``name``; KeyError if it is missing or cannot run here."""
    found = registered(name)
    if flavour not in found:
        raise KeyError(f"kernel {name!r} has no {flavour!r} flavour (it has {sorted(found)})")
    if not _available(flavour):
        reason = f": {_numba_error}" if flavour == "numba" else ""
        raise KeyError(f"the {flavour!r} flavour of kernel {name!r} is not available on this machine{reason}")
    return found[flavour]


def set_preference(flavour: str | None) -> None:
    """Force the flavour used for NumPy arrays: ``"numpy"`` or ``"numba"``.

    A forced flavour overrides the ``TINYGDL_KERNELS`` environment variable; ``None`` (or
    ``"auto"``) lifts it, handing the choice back to the variable, or to the automatic choice.
    """
    global _preference
    _preference = _check_preference(flavour, "set_preference")


def _check_preference(flavour, source: str) -> str | None:
    if flavour in (None, "", "auto"):
        return None
    if flavour not in _CPU_FLAVOURS:
        raise ValueError(f"{source}: unknown kernel flavour {flavour!r}; expected 'numpy', 'numba' or 'auto'")
    return flavour


def _cpu_flavour(name: str, size: int) -> str:
    """The flavour of kernel ``name`` for NumPy arrays, the first of which holds ``size`` elements."""
    forced = _preference or _check_preference(os.environ.get(ENV_VAR), f"{ENV_VAR} environment variable")
    if forced == "numba" and not numba_available():
        raise RuntimeError(f"numba kernels requested ({ENV_VAR} or set_preference), but unavailable: {_numba_error}")
    if forced:
        return forced
    if numba_available() and (size >= NUMBA_MIN_SIZE.get(name, 0) or cpu.serial()):
        return "numba"
    return "numpy"


def get(name: str, *arrays):
    """The implementation of kernel ``name`` that should process ``arrays``."""
    if any(is_cupy_array(a) for a in arrays):
        return implementation(name, "cupy")
    return implementation(name, _cpu_flavour(name, arrays[0].size))


# --------------------------------------------------------------------------- the public kernels


def im2col(x, g):
    """Unfold the kernel windows of ``x`` (N, C, H, W) into ``cols`` (C*kh*kw, N*oh*ow), ``g`` its
    ``ConvGeometry``.

    ``cols[(c*kh + ky)*kw + kx, (n*oh + oy)*ow + ox] = xpad[n, c, oy*sh + ky*dh, ox*sw + kx*dw]``
    where ``xpad`` is ``x`` zero-padded by ``(pt, pb)`` rows and ``(pl, pr)`` columns.  A
    convolution is then one matrix product, ``W.reshape(OC, C*kh*kw) @ cols``.  Volumes
    (N, C, D, H, W) with a ``VolGeometry`` unfold the same way into (C*kd*kh*kw, N*od*oh*ow) (vol2col).
    """
    return get("im2col", x)(x, g)


def col2im(cols, g):
    """The adjoint of ``im2col``: sum each element of ``cols`` into the cell of ``g.x_shape`` it came from."""
    return get("col2im", cols)(cols, g)


def adam_update(param, grad, m, v, step_size, beta1, beta2, eps, v_scale):
    """One Adam step, in place on ``param``, ``m`` and ``v``.

    ``m = b1*m + (1-b1)*g``; ``v = b2*v + (1-b2)*g*g``; ``param -= step_size * m / (sqrt(v)*v_scale + eps)``.
    PyTorch's convention is ``step_size = lr/(1-b1**t)``, ``v_scale = 1/sqrt(1-b2**t)``; Keras's is
    ``step_size = lr*sqrt(1-b2**t)/(1-b1**t)``, ``v_scale = 1``.
    """
    get("adam_update", param, grad, m, v)(param, grad, m, v, step_size, beta1, beta2, eps, v_scale)


def leaky_relu(x, slope):
    """``x`` where ``x > 0``, else ``slope * x`` (a new array)."""
    return get("leaky_relu", x)(x, slope)


def batch_norm(x, weight, bias, eps):
    """Training-mode batch norm of ``x`` (N, C, ...): ``(y, mean, var)``, ``mean`` and ``var`` (biased)
    the (C,) statistics of this batch, ``y = (x − mean)·weight/sqrt(var + eps) + bias``."""
    return get("batch_norm", x)(x, weight, bias, eps)


def batch_norm_grad(x, gy, weight, mean, inv_std):
    """``(gx, gweight, gbias)``: the gradients of ``batch_norm`` for the output gradient ``gy``, from
    its ``mean`` and ``inv_std = 1/sqrt(var + eps)``."""
    return get("batch_norm_grad", x, gy)(x, gy, weight, mean, inv_std)


def leaky_relu_grad(x, gy, slope):
    """``gy`` where ``x > 0``, else ``slope * gy``: the gradient of ``leaky_relu`` at ``x``, times ``gy``."""
    return get("leaky_relu_grad", x, gy)(x, gy, slope)
