"""The one module that knows NumPy from CuPy.

Everything else asks this module three questions:

* *Which array library computes on this array?*  ``get_array_module(a)`` returns ``numpy`` for host
  arrays and ``cupy`` for GPU arrays, so an op written as ``xp = get_array_module(x); xp.exp(x)``
  runs unchanged on both.
* *Where does this array live, and how do I move it?*  ``Device``, ``device()``, ``device_of()`` and
  ``to_device()``.
* *Which random generator and which default float type?*  ``manual_seed()``, ``generator()`` and
  ``get_default_dtype()``.

CuPy is optional: without it (or without a GPU) ``cuda_available()`` is False and asking for
``"cuda"`` raises a clear error.
"""

from __future__ import annotations

import contextlib

import numpy as np

try:  # CuPy is an optional extra: pip install tinygdl[cuda]
    import cupy
except Exception:  # ImportError, or a CUDA library that fails to load
    cupy = None


def cuda_available() -> bool:
    """True when CuPy imports and at least one CUDA device answers."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


# --------------------------------------------------------------------------- devices


class Device:
    """A place where arrays live: ``Device("cpu")``, ``Device("cuda")``, ``Device("cuda:1")``."""

    __slots__ = ("type", "index")

    def __init__(self, spec: "str | Device" = "cpu"):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        name, _, index = str(spec).partition(":")
        if name not in ("cpu", "cuda") or (index and not index.isdigit()) or (name == "cpu" and index):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        self.type = name
        self.index = int(index) if name == "cuda" and index else (0 if name == "cuda" else None)

    @property
    def xp(self):
        """The array module that computes on this device."""
        if self.type == "cpu":
            return np
        _require_cuda(self)
        return cupy

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    __str__ = __repr__


CPU = Device("cpu")


def device(spec=None) -> Device:
    """Normalise ``None`` (the CPU), a string or a ``Device`` into a ``Device``."""
    if spec is None:
        return CPU
    return spec if isinstance(spec, Device) else Device(spec)


def _require_cuda(dev: Device) -> None:
    if not cuda_available():
        raise RuntimeError(
            f"device {dev} requested, but CUDA is not available "
            "(install the 'cuda' extra, pip install tinygdl[cuda], on a machine with an NVIDIA GPU)"
        )


def get_array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return np


def is_cupy_array(a) -> bool:
    return cupy is not None and isinstance(a, cupy.ndarray)


def is_array(value) -> bool:
    """A NumPy or a CuPy array."""
    return isinstance(value, np.ndarray) or is_cupy_array(value)


def device_of(array) -> Device:
    """The device an array lives on (``cpu`` for NumPy arrays and Python scalars)."""
    if is_cupy_array(array):
        return Device(f"cuda:{array.device.id}")
    return CPU


def to_device(array, dev) -> "np.ndarray":
    """Return ``array`` on ``dev``, copying only when it lives elsewhere."""
    dev = device(dev)
    if dev.type == "cpu":
        return array.get() if is_cupy_array(array) else np.asarray(array)
    _require_cuda(dev)
    if is_cupy_array(array) and array.device.id == dev.index:
        return array
    with cupy.cuda.Device(dev.index):
        return cupy.asarray(array)


def to_numpy(array) -> np.ndarray:
    """A host copy (or view) of any array."""
    return to_device(array, CPU)


def erf(array):
    """The error function, elementwise (NumPy has none: SciPy's is used when installed, else the
    standard library's ``math.erf`` one element at a time; CuPy ships its own)."""
    if is_cupy_array(array):
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(array)
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:
        import math

        return np.vectorize(math.erf, otypes=[array.dtype])(array)
    return scipy_erf(array).astype(array.dtype, copy=False)


# --------------------------------------------------------------------------- host memory

# NumPy allocates a fresh array for every intermediate result.  glibc's malloc serves large
# requests (from 128 KiB, a threshold it raises as it goes) with fresh pages from the kernel and
# hands them back on free, so the next step's arrays page-fault all over again: on the book's
# CNN that was a quarter of a training step.  Serving requests up to 32 MiB from the heap, and
# not trimming the heap until 1 GiB of it is free, keeps that memory in the process for reuse.
# It is a process-wide setting (every library's malloc, PyTorch's included, is affected), so the
# library never applies it by itself: ``tinygdl train`` turns it on, a program opts in with
# ``keep_freed_host_memory()``.
_MALLOC_SETTINGS = ((-1, 1 << 30), (-3, 1 << 25))  # (M_TRIM_THRESHOLD, 1 GiB), (M_MMAP_THRESHOLD, 32 MiB)
_host_memory_kept = False


def keep_freed_host_memory() -> bool:
    """Ask glibc to keep freed memory for reuse rather than return it to the OS (see above).

    Opt-in and process-wide; True once applied.  ``TINYGDL_MALLOC=default`` in the environment
    refuses it (False), and so does a C library that is not glibc (macOS, Windows, musl)."""
    import ctypes
    import ctypes.util
    import os

    global _host_memory_kept
    if os.environ.get("TINYGDL_MALLOC") == "default":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _host_memory_kept = all(libc.mallopt(option, value) == 1 for option, value in _MALLOC_SETTINGS)
    except (OSError, AttributeError):  # no glibc
        return False
    return _host_memory_kept


def host_memory_setting() -> str:
    """``"kept"`` once ``keep_freed_host_memory()`` took effect in this process, else ``"default"``
    (glibc's own thresholds): the allocator setting that benchmarks state next to their figures."""
    return "kept" if _host_memory_kept else "default"


# --------------------------------------------------------------------------- dtypes

_default_dtype = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The float type of new tensors, parameters and random draws (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"the default dtype must be a float type, got {dtype}")
    _default_dtype = dtype


@contextlib.contextmanager
def default_dtype(dtype):
    """``with default_dtype(np.float64): ...`` — used by gradient checks."""
    previous = get_default_dtype()
    set_default_dtype(dtype)
    try:
        yield
    finally:
        set_default_dtype(previous)


# --------------------------------------------------------------------------- random numbers

_generators: dict = {}
_seed = None
_gpu_salt = 0  # changes the GPU streams after a resume (see set_rng_state)


def manual_seed(seed: int) -> None:
    """Seed every device's generator; the same seed gives the same draws on the same device."""
    global _seed, _gpu_salt
    _seed, _gpu_salt = int(seed), 0
    _generators.clear()


def generator(dev=None):
    """The random generator of ``dev`` (a ``numpy.random.Generator`` or its CuPy twin)."""
    dev = device(dev)
    gen = _generators.get(dev)
    if gen is None:
        # Each device gets its own stream: the seed is mixed with the device so that the CPU and
        # GPU streams do not merely mirror each other.
        if dev.type == "cpu":
            gen = np.random.default_rng(None if _seed is None else [_seed, 0])
        else:
            _require_cuda(dev)
            with cupy.cuda.Device(dev.index):
                seed = None if _seed is None else (_seed * 1000 + 1 + dev.index + _gpu_salt) % (1 << 63)
                gen = cupy.random.default_rng(seed)  # CuPy's generator takes one integer seed
        _generators[dev] = gen
    return gen


def get_rng_state() -> dict:
    """The CPU generator's full state (checkpoints store it so a resumed run draws the same numbers).

    Only the CPU stream is saved: a resumed run on the CPU draws exactly what an uninterrupted one
    would.  GPU streams are re-seeded from the restored CPU state instead (``set_rng_state``): they
    do not repeat the numbers of the run's start, but they do differ from an uninterrupted run.
    """
    return {"seed": _seed, "cpu": generator(CPU).bit_generator.state}


def set_rng_state(state: dict) -> None:
    global _seed, _gpu_salt
    _seed = state["seed"]
    _generators.clear()
    generator(CPU).bit_generator.state = state["cpu"]
    _gpu_salt = int(state["cpu"]["state"]["state"]) % (1 << 63)  # PCG64's position: new GPU streams
