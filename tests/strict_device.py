"""A strict stand-in for CuPy, so that the GPU code paths run (and fail loudly) on a machine without one.

``with strict_device(): ...`` puts a fake ``cupy`` module where ``tinygdl.backend`` keeps CuPy, so
``Device("cuda")``, ``to_device``, ``get_array_module``, ``generator`` and the kernel dispatcher take
exactly the path they take with a real GPU.  Its arrays (``StrictArray``) compute with NumPy
underneath but behave like ``cupy.ndarray`` where it matters for correctness on a GPU:

* a ``StrictArray`` is **not** an ``ndarray`` (``isinstance(a, np.ndarray)`` is False);
* implicit conversion to NumPy raises (``np.asarray(a)``, ``np.array(a)``: ``__array__`` raises, as
  CuPy's does) — data reaches the host only through ``.get()``, ``backend.to_numpy`` or ``.item()``;
* calling NumPy's functions or ufuncs on it raises (``np.exp(a)``, ``np.concatenate([a, b])``): the
  project's rule is that only ``backend.get_array_module(x)`` picks the array library;
* mixing it with host arrays raises (``a + np.ones(3)``, ``xp.exp(np.ones(3))``), as CuPy does;
* the fake module (the ``xp`` of the device) accepts host arrays only in ``asarray``/``array`` (the
  explicit host -> device copy) and returns device arrays, 0-d ones instead of NumPy scalars.

It is stricter than CuPy in one respect: CuPy's ``__array_ufunc__``/``__array_function__`` let
``np.exp(gpu_array)`` dispatch back to CuPy; here that raises, since library code must not call
``np.*`` on tensor data.  (A NumPy scalar times a device array, ``np.float64(2) * a``, is allowed:
Python's operators produce that call.)  CuPy's own kernels (``kernels/cuda.py``) still need a real
GPU: on the strict device the kernel dispatcher's ``"cupy"`` flavour runs the NumPy reference on the
unwrapped arrays.

Test-only: nothing in the package imports this module.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import operator
import re
import sys
import types

import numpy as np
from tinygdl.kernels import registry as kernel_registry

import tinygdl.backend as backend

tensor_module = importlib.import_module("tinygdl.tensor")  # (tinygdl.tensor the attribute is the function)


class StrictDeviceError(TypeError):
    """Host data and device data met, or NumPy was called on device data."""


def _mixing(where: str, value) -> StrictDeviceError:
    return StrictDeviceError(f"{where}: a host {type(value).__name__} mixed with strict-device arrays "
                             f"(move it with backend.to_device first)")


# --------------------------------------------------------------------------- wrapping and unwrapping


def _unwrap(value, where: str, allow_host: bool = False):
    """The NumPy value under ``value`` (recursively through tuples, lists and dicts); host arrays raise."""
    if isinstance(value, StrictArray):
        return value._a
    if isinstance(value, np.ndarray):
        if allow_host:
            return value
        raise _mixing(where, value)
    if isinstance(value, tuple):  # a named tuple (a kernel's geometry) keeps its type
        items = (_unwrap(v, where, allow_host) for v in value)
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_unwrap(v, where, allow_host) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v, where, allow_host) for k, v in value.items()}
    return value


def _wrap(value):
    """Device arrays for NumPy's results: arrays and NumPy scalars (CuPy returns 0-d arrays)."""
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, np.generic):
        return StrictArray(np.asarray(value))
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, tuple):  # a named tuple (e.g. numpy.linalg's results)
        return type(value)(*(_wrap(v) for v in value))
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _index(index):
    """An index for the array underneath: device arrays unwrapped; host index arrays are accepted (CuPy
    copies them to the device)."""
    return _unwrap(index, "index", allow_host=True)


# --------------------------------------------------------------------------- host reads

_host_reads: list | None = None  # while recording: where library code read device data back

TRANSFERS = ("(get)", "(tolist)")  # reads that copy a whole array to the host; the others read one value


class HostReads(list):
    """The host reads of a recorded block, one "file:line function (how)" string per read, in order.

    Every read is a device synchronisation: the host waits until the GPU has computed the value (a
    round trip per read, and the end of the overlap between Python and the device).  ``syncs`` counts
    them all; ``transfers`` only the copies of whole arrays (``.get()``, ``backend.to_numpy``,
    ``Tensor.numpy``, ``.tolist()``), the others read one value (``.item()``, ``bool``, ``int``,
    ``float``)."""

    @property
    def syncs(self) -> int:
        return len(self)

    @property
    def transfers(self) -> int:
        return sum(read.endswith(TRANSFERS) for read in self)

    def by_place(self, leave_out=()) -> dict:
        """{"file function (how)": count}, line numbers dropped; reads in the functions named in
        ``leave_out`` ("file function", e.g. "training/supervised.py accuracy") not counted."""
        counts: dict = {}
        for read in self:
            where, how = read.rsplit(" ", 1)
            place = re.sub(r":\d+", "", where)  # "?" for a read made outside the package
            if place not in leave_out:
                counts[f"{place} {how}"] = counts.get(f"{place} {how}", 0) + 1
        return counts


@contextlib.contextmanager
def record_host_reads():
    """Collect (a ``HostReads`` list) every place in tinygdl that reads device data back to the host
    (``.get()``/``to_numpy``, ``.item()``, ``.tolist()``, ``bool()``, ``float()``, ``int()``): each one
    is a device synchronisation, and a silent transfer when it is not what the user asked for."""
    global _host_reads
    saved, _host_reads = _host_reads, HostReads()
    try:
        yield _host_reads
    finally:
        _host_reads = saved


def _host_read(how: str) -> None:
    if _host_reads is None:
        return
    frame = sys._getframe(2)
    while frame is not None and not _is_library(frame.f_code):
        frame = frame.f_back
    while frame is not None and frame.f_code.co_name in _COMPREHENSIONS:  # blame the function that holds it
        frame = frame.f_back
    if frame is None:
        _host_reads.append(f"? ({how})")
        return
    code = frame.f_code
    _host_reads.append(f"{code.co_filename.rsplit('/tinygdl/', 1)[-1]}:{frame.f_lineno} {code.co_name} ({how})")


_COMPREHENSIONS = {"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"}
_PASSING_ON = {"item", "numpy", "tolist", "__bool__", "__float__", "__int__", "__index__", "__repr__"}


def _is_library(code) -> bool:
    """Code of the package that can be blamed for a read: not backend.py, nor the Tensor methods that only
    pass a caller's request on (``Tensor.item``, ``Tensor.numpy``, ``bool(tensor)`` ...)."""
    filename = code.co_filename
    if filename.endswith("/tinygdl/tensor.py"):
        return code.co_name not in _PASSING_ON
    return ("/tinygdl/" in filename or "/kernels/" in filename) and not filename.endswith("/backend.py")


# --------------------------------------------------------------------------- the device array


class _DeviceId:
    id = 0


# the ndarray methods that cupy.ndarray has too; anything else is an AttributeError, as on a GPU
_METHODS = frozenset("""
    all any argmax argmin argsort astype clip conj conjugate copy cumprod cumsum diagonal dot fill flatten
    max mean min nonzero prod ravel repeat reshape round sort squeeze std sum swapaxes take trace transpose
    var view
""".split())


class StrictArray:
    """A device array: NumPy data underneath, CuPy's manners on top (see the module docstring)."""

    __slots__ = ("_a",)
    __hash__ = None

    def __init__(self, array: np.ndarray):
        assert isinstance(array, np.ndarray)
        object.__setattr__(self, "_a", array)

    # -- the host boundary: explicit only
    def __array__(self, *args, **kwargs):
        raise StrictDeviceError("Implicit conversion to a NumPy array is not allowed for a strict-device array: "
                                "use .get() or backend.to_numpy()")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        others = [x for x in inputs if not isinstance(x, StrictArray)]
        scalars = (np.generic, int, float, complex, bool)
        if method == "__call__" and not kwargs and len(inputs) == 2 and others and isinstance(others[0], scalars):
            return _wrap(ufunc(*(_unwrap(x, ufunc.__name__) for x in inputs)))  # np.float64(2) * a
        raise StrictDeviceError(f"numpy.{ufunc.__name__} ({method}) called on a strict-device array: "
                                "use the array module of the data (backend.get_array_module)")

    def __array_function__(self, func, types_, args, kwargs):
        raise StrictDeviceError(f"numpy.{func.__name__} called on a strict-device array: use the array module "
                                "of the data (backend.get_array_module)")

    def get(self, stream=None, order="C", out=None):
        """The host copy (``cupy.ndarray.get``)."""
        _host_read("get")
        return self._a.copy()

    def item(self):
        _host_read("item")
        return self._a.item()

    def tolist(self):
        _host_read("tolist")
        return self._a.tolist()

    # -- attributes
    device = _DeviceId()
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    dtype = property(lambda self: self._a.dtype)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: StrictArray(self._a.T))
    real = property(lambda self: _wrap(self._a.real))
    imag = property(lambda self: _wrap(self._a.imag))

    @property
    def base(self):
        return None if self._a.base is None else StrictArray(self._a.base)

    def __getattr__(self, name):
        if name not in _METHODS:
            raise AttributeError(f"strict-device array has no attribute {name!r}")
        method = getattr(self._a, name)

        def call(*args, **kwargs):
            return _wrap(method(*_unwrap(args, f"ndarray.{name}"), **_unwrap(kwargs, f"ndarray.{name}")))

        return call

    def __setattr__(self, name, value):
        if name == "shape":
            self._a.shape = value
        else:
            raise AttributeError(f"cannot set {name!r} on a strict-device array")

    # -- Python protocols
    def __repr__(self):
        return f"strict_array({np.array2string(self._a)}, dtype={self._a.dtype})"

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self):
        _host_read("bool")
        return bool(self._a)

    def __float__(self):
        _host_read("float")
        return float(self._a)

    def __int__(self):
        _host_read("int")
        return int(self._a)

    def __complex__(self):
        _host_read("complex")
        return complex(self._a)

    def __index__(self):
        _host_read("index")
        return operator.index(self._a)

    def __getitem__(self, index):
        return _wrap(self._a[_index(index)])

    def __setitem__(self, index, value):
        self._a[_index(index)] = _unwrap(value, "setitem", allow_host=True)

    def __copy__(self):
        return StrictArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StrictArray(copy.deepcopy(self._a, memo))

    def __reduce__(self):
        raise StrictDeviceError("a strict-device array cannot be pickled: move it to the host first")


def _binary(name):
    def op(self, other):
        if isinstance(other, (np.ndarray, list)):
            raise _mixing(f"ndarray.{name}", other)
        result = getattr(self._a, name)(_unwrap(other, name))
        return result if result is NotImplemented else _wrap(result)

    op.__name__ = name
    return op


def _inplace(name):
    def op(self, other):
        if isinstance(other, (np.ndarray, list)):
            raise _mixing(f"ndarray.{name}", other)
        getattr(self._a, name)(_unwrap(other, name))
        return self

    op.__name__ = name
    return op


def _unary(name):
    def op(self):
        return _wrap(getattr(self._a, name)())

    op.__name__ = name
    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift", "divmod"):
    setattr(StrictArray, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(StrictArray, f"__r{_name}__", _binary(f"__r{_name}__"))
    if _name != "divmod":
        setattr(StrictArray, f"__i{_name}__", _inplace(f"__i{_name}__"))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(StrictArray, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(StrictArray, f"__{_name}__", _unary(f"__{_name}__"))


# --------------------------------------------------------------------------- the array module


class _Proxy:
    """A NumPy function, ufunc, submodule or generator seen from the device: arguments unwrapped (host
    arrays refused), results wrapped; ``allowed``: the only attributes it has (None: NumPy's)."""

    def __init__(self, target, name: str, allow_host: bool = False, allowed=None):
        self._target, self._name, self._allow_host, self._allowed = target, name, allow_host, allowed

    def __call__(self, *args, **kwargs):
        _check_operands(self._target, self._name, args)
        args = _unwrap(args, self._name, self._allow_host)
        kwargs = _unwrap(kwargs, self._name, self._allow_host)
        return _device_view(self._target(*args, **kwargs), self._name)

    def __getattr__(self, name):
        if self._allowed is not None and name not in self._allowed:
            raise AttributeError(f"{self._name} has no attribute {name!r} on a GPU (CuPy's has: "
                                 f"{', '.join(sorted(self._allowed))})")
        return _device_view(getattr(self._target, name), f"{self._name}.{name}")

    def __repr__(self):
        return f"<strict-device {self._name}>"


# cupy.random.Generator's methods (CuPy 13): no normal, permutation, choice or shuffle, no bit_generator.state
GENERATOR_METHODS = frozenset("""
    beta binomial chisquare dirichlet exponential f gamma geometric hypergeometric integers logseries poisson power
    random standard_exponential standard_gamma standard_normal uniform
""".split())


# cupy.ufunc's methods exist for some ufuncs only (CuPy 13's reference, "Universal functions")
_UFUNC_ATTRIBUTES = {"nin", "nout", "nargs", "types", "ntypes", "identity", "__name__", "outer"}
_UFUNC_METHODS = {"reduce": {"add", "multiply"}, "accumulate": {"add", "multiply"}, "reduceat": {"add"},
                  "at": {"add", "subtract", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"}}


def _ufunc_attributes(ufunc: np.ufunc) -> frozenset:
    return frozenset(_UFUNC_ATTRIBUTES | {m for m, names in _UFUNC_METHODS.items() if ufunc.__name__ in names})


_JOINS = ("concatenate", "stack", "hstack", "vstack", "dstack", "column_stack")


def _check_operands(target, name: str, args) -> None:
    """CuPy's ufuncs take device arrays and scalars, not lists; its joins take a sequence of device arrays."""
    if isinstance(target, np.ufunc):
        bad = [a for a in args if isinstance(a, (list, tuple))]
    elif getattr(target, "__name__", None) in _JOINS and args and isinstance(args[0], (list, tuple)):
        bad = [a for a in args[0] if not isinstance(a, StrictArray)]
    else:
        return
    if bad:
        raise StrictDeviceError(f"{name}: CuPy accepts device arrays here, got {type(bad[0]).__name__}")


def _device_view(value, name: str):
    if isinstance(value, (np.ndarray, np.generic, tuple, list)):
        return _wrap(value)
    if isinstance(value, np.random.Generator):
        return _Proxy(value, "cupy.random.Generator", allowed=GENERATOR_METHODS)
    if isinstance(value, np.ufunc):
        return _Proxy(value, name, allowed=_ufunc_attributes(value))
    if isinstance(value, types.ModuleType):
        return _Proxy(value, name)
    if isinstance(value, type) or not callable(value):
        return value  # dtypes (xp.float32), constants (xp.pi), dtype objects
    return _Proxy(value, name)  # functions, ufuncs, methods


class _Cuda:
    """``cupy.cuda``: one device, a no-op device context, a stream to synchronize."""

    class runtime:  # noqa: N801  (cupy.cuda.runtime)
        @staticmethod
        def getDeviceCount():  # noqa: N802
            return 1

    @staticmethod
    @contextlib.contextmanager
    def Device(index=0):  # noqa: N802
        if index != 0:
            raise RuntimeError(f"strict device: only device 0 exists, got {index}")
        yield

    class _Stream:
        def synchronize(self):
            pass

    @classmethod
    def get_current_stream(cls):
        return cls._Stream()


def _to_device(value, dtype=None, **kwargs):
    """``cupy.asarray``/``cupy.array``: the one explicit host -> device copy."""
    return StrictArray(np.array(_unwrap(value, "asarray", allow_host=True), dtype=dtype, **kwargs))


class StrictModule(types.ModuleType):
    """The array module of the strict device (what ``backend.get_array_module`` returns for its arrays)."""

    ndarray = StrictArray
    cuda = _Cuda

    def __init__(self):
        super().__init__("strict_cupy")

    @staticmethod
    def asarray(value, dtype=None, order=None):
        if isinstance(value, StrictArray) and (dtype is None or np.dtype(dtype) == value.dtype):
            return value
        return _to_device(value, dtype)

    @staticmethod
    def array(value, dtype=None, copy=True, order="K", ndmin=0):
        return _to_device(value, dtype, copy=True, order=order, ndmin=ndmin)

    @staticmethod
    def asnumpy(value):
        return value.get() if isinstance(value, StrictArray) else np.asarray(value)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _device_view(getattr(np, name), f"cupy.{name}")


# --------------------------------------------------------------------------- installing it


def _strict_kernel(name: str):
    """The ``cupy`` flavour of kernel ``name`` on the strict device: the NumPy reference, unwrapped."""
    reference = kernel_registry.registered(name)["numpy"]

    def run(*args):
        return _wrap(reference(*_unwrap(args, f"kernel {name}")))

    return run


def _fake_cupyx() -> dict:
    """``cupyx.scipy.special`` (``backend.erf`` imports it for device arrays)."""
    special = types.ModuleType("cupyx.scipy.special")

    def erf(a):
        a = _unwrap(a, "cupyx.scipy.special.erf")
        try:
            from scipy.special import erf as scipy_erf
        except ImportError:
            import math
            return _wrap(np.vectorize(math.erf, otypes=[a.dtype])(a))
        return _wrap(scipy_erf(a).astype(a.dtype, copy=False))

    special.erf = erf
    scipy = types.ModuleType("cupyx.scipy")
    scipy.special = special
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = scipy
    return {"cupyx": cupyx, "cupyx.scipy": scipy, "cupyx.scipy.special": special}


@contextlib.contextmanager
def strict_device():
    """Within the block, device ``"cuda"`` is the strict device; everything is restored after."""
    saved_cupy, saved_present = backend.cupy, tensor_module._cupy_present
    saved_kernels = {name: flavours.get("cupy") for name, flavours in kernel_registry._table.items()}
    saved_modules = {name: sys.modules.get(name) for name in ("cupyx", "cupyx.scipy", "cupyx.scipy.special")}
    module = StrictModule()
    backend.cupy, tensor_module._cupy_present = module, True
    for name, flavours in kernel_registry._table.items():
        if "numpy" in flavours:
            flavours["cupy"] = _strict_kernel(name)
    sys.modules.update(_fake_cupyx())
    _forget_device_generators()
    try:
        yield module
    finally:
        backend.cupy, tensor_module._cupy_present = saved_cupy, saved_present
        for name, kernel in saved_kernels.items():
            if kernel is None:
                kernel_registry._table[name].pop("cupy", None)
            else:
                kernel_registry._table[name]["cupy"] = kernel
        for name, saved in saved_modules.items():
            if saved is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = saved
        _forget_device_generators()


def _forget_device_generators():
    for dev in [d for d in backend._generators if d.type != "cpu"]:
        del backend._generators[dev]
