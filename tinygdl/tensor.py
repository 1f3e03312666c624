"""Tensor, Function and reverse-mode automatic differentiation — the whole autograd core.

How it works, in four sentences:

1. A ``Tensor`` wraps an array (NumPy or CuPy).  When an operation runs on tensors that require
   gradients, the ``Function`` that computed it is remembered as the output's ``creator``, so the
   program builds a graph as it runs ("define-by-run").
2. Every ``Function`` has a ``forward`` on raw arrays and a ``backward`` that, given the gradient of
   the loss with respect to its outputs, returns the gradient with respect to its inputs (the
   chain rule, one link at a time).
3. ``Tensor.backward()`` walks the graph from the loss back to the leaves in reverse topological
   order.  Each tensor knows its ``generation`` (one more than the newest input that made it), so a
   max-heap on generation always yields a function after every function that uses its outputs:
   gradients are complete before they are passed on.  The walk is a loop, not a recursion, so a
   chain of 100,000 operations is fine.
4. ``backward`` methods are written with Tensor operations, not raw arrays.  Normally they run with
   gradient recording off; with ``create_graph=True`` they are recorded like any other
   computation, so the gradient is itself differentiable (second-order gradients, as WGAN-GP's
   gradient penalty needs).

The operations themselves (``add``, ``matmul``, ``conv2d`` ...) live in ``tinygdl.ops``; this file
only knows how to connect them.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import traceback
import weakref

import numpy as np

from . import backend
from .errors import DtypeError

# --------------------------------------------------------------------------- global switches

_grad_enabled = True  # record graphs?
_training = True  # the global train/eval flag: functional dropout reads it (layers have Module.training)
_anomaly_enabled = False  # check every forward and backward result for NaN / Inf
_profiler = None  # the active tinygdl.profile(), which times every forward and backward


class _Switch(contextlib.ContextDecorator):
    """A context manager (and decorator) that sets one module-level flag and restores it."""

    def __init__(self, flag: str, value: bool):
        self.flag, self.value = flag, value

    def __enter__(self):
        self.previous = globals()[self.flag]
        globals()[self.flag] = self.value

    def __exit__(self, *exc):
        globals()[self.flag] = self.previous


def no_grad():
    """``with no_grad():`` (or ``@no_grad()``) — run without recording a graph."""
    return _Switch("_grad_enabled", False)


def enable_grad():
    """Record graphs again inside a ``no_grad`` block."""
    return _Switch("_grad_enabled", True)


def set_grad_enabled(mode: bool):
    return _Switch("_grad_enabled", bool(mode))


def is_grad_enabled() -> bool:
    return _grad_enabled


def train_mode(mode: bool = True):
    """Set the global train/eval flag for a block; ``Module.train()/eval()`` sets it per module."""
    return _Switch("_training", bool(mode))


def is_training() -> bool:
    return _training


def detect_anomaly():
    """Inside this block the first op whose forward or backward produces NaN/Inf raises, naming the
    op and the line of user code that created it."""
    return _Switch("_anomaly_enabled", True)


# --------------------------------------------------------------------------- Tensor


class Tensor:
    """An array plus the bookkeeping for automatic differentiation.

    ``data``           the NumPy or CuPy array
    ``grad``           the gradient accumulated by ``backward()`` (a Tensor, or None)
    ``requires_grad``  whether operations on this tensor are recorded
    ``creator``        the Function that produced it (None for leaves: inputs and parameters)
    ``generation``     its depth in the graph, which orders the backward walk
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "generation", "_out_index", "_version", "__weakref__")
    __array_priority__ = 1000  # numpy_array * tensor defers to Tensor.__rmul__
    __hash__ = object.__hash__  # comparisons are elementwise, so keep identity hashing

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.data
        data = _as_array(data, dtype, device)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {data.dtype}")
        self._init(data, requires_grad)

    def _init(self, data, requires_grad=False):
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.creator = None
        self.generation = 0
        self._out_index = 0
        # In-place changes bump this counter; views share it with their base (see Function.is_view).
        self._version = [0]

    @classmethod
    def _wrap(cls, array) -> "Tensor":
        """Fast constructor for op outputs: the array is already the right type (same as _init)."""
        if isinstance(array, np.generic):  # NumPy reductions and integer indexing return scalars,
            array = np.asarray(array)  # which in-place methods (fill_, x[...] = v) cannot change
        t = cls.__new__(cls)
        t.data, t.grad, t.requires_grad, t.creator, t.generation, t._out_index, t._version = (
            array, None, False, None, 0, 0, [0])
        return t

    # -- array-like properties -------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self.creator is None)

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous: "
                             "use (t > 0).all() or .any(), or compare one element")
        return bool(self.data.reshape(()).item())

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), prefix="tensor(", separator=", ")
        extras = [f"dtype={self.dtype}"] if self.dtype != backend.get_default_dtype() else []
        extras += [f"device='{self.device}'"] if self.device.type != "cpu" else []
        extras += ["requires_grad=True"] if self.requires_grad else []
        return "tensor(" + ", ".join([body] + extras) + ")"

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (copied off the GPU if needed)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    # ``to(device, dtype)``, ``cpu()`` and ``cuda()`` are ops (gradients flow back across devices):
    # ``tinygdl.ops`` installs them, with the arithmetic operators.

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares the array and its version counter)."""
        t = Tensor._wrap(self.data)
        t._version = self._version
        return t

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = flag
        return self

    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() on a tensor of shape {self.shape} needs the gradient of the final "
                    "scalar with respect to it: pass grad=<tensor of that shape> "
                    "(e.g. grad=tinygdl.ones_like(t)) or reduce to a scalar first (t.sum().backward())"
                )
            grad = Tensor._wrap(_ones_like(self.data))
        run_backward((self,), (_as_tensor_like(grad, self),), retain_graph or create_graph, create_graph)

    # -- in-place changes ---------------------------------------------------------------------
    # Backward often needs the inputs of an op as they were during forward.  Every in-place
    # change bumps ``_version``; each Function remembers its inputs' versions and refuses to run
    # backward if one has changed, instead of silently returning a wrong gradient.

    def _check_inplace(self):
        if _grad_enabled and self.requires_grad:
            kind = "a leaf tensor that requires grad" if self.creator is None else "a tensor that is part of a graph"
            raise RuntimeError(
                f"in-place change of {kind} (shape {self.shape}); do it inside `with tinygdl.no_grad():` "
                "or use the out-of-place operation"
            )

    def _mark_modified(self):
        """Call after changing ``self.data`` in place (optimizers do this)."""
        self._version[0] += 1

    def _inplace(self, update):
        self._check_inplace()
        update(self.data)
        self._mark_modified()
        return self

    def __setitem__(self, index, value):
        value = value.data if isinstance(value, Tensor) else value
        self._inplace(lambda a: a.__setitem__(_raw_index(index), value))

    def copy_(self, src):
        src = backend.to_device(src.data if isinstance(src, Tensor) else np.asarray(src), self.device)
        return self._inplace(lambda a: a.__setitem__(..., src))

    def fill_(self, value):
        return self._inplace(lambda a: a.fill(value))

    def zero_(self):
        return self.fill_(0)

    def add_(self, other, alpha=1.0):
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace(lambda a: a.__iadd__(other if alpha == 1.0 else alpha * other))

    def mul_(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return self._inplace(lambda a: a.__imul__(other))


def _as_array(data, dtype=None, device=None):
    """Turn arrays, scalars and nested lists into an array of the requested dtype and device."""
    if backend.is_cupy_array(data) or isinstance(data, (np.ndarray, np.generic)):  # arrays keep their dtype
        array = np.asarray(data) if isinstance(data, np.generic) else data
        array = array if dtype is None else array.astype(dtype, copy=False)
    else:
        array = np.asarray(data, dtype=dtype)
        if dtype is None and array.dtype.kind == "f":
            array = array.astype(backend.get_default_dtype(), copy=False)
    return array if device is None else backend.to_device(array, device)


def _ones_like(array):
    return backend.get_array_module(array).ones_like(array)


def _as_tensor_like(value, like: Tensor) -> Tensor:
    """``value`` as a tensor with ``like``'s device and (for Python and NumPy numbers) dtype."""
    if isinstance(value, Tensor):
        return value
    # NumPy scalars (np.float64(0.1), np.int64(2)) count as numbers too: sending them through
    # _as_array would round np.float64 to the default float32, or promote float32 tensors.
    number = type(value) in (int, float) or isinstance(value, (np.integer, np.floating))
    if number and like.data.dtype.kind == "f":
        if type(like.data) is np.ndarray:
            return Tensor._wrap(np.array(value, dtype=like.data.dtype))
        return Tensor._wrap(backend.get_array_module(like.data).asarray(value, dtype=like.dtype))
    return Tensor._wrap(_as_array(value, device=like.device))


def _raw_index(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def tensor(data, requires_grad=False, dtype=None, device=None) -> Tensor:
    """Create a tensor, as ``torch.tensor``: float data defaults to float32.  Numbers only: text,
    ``None`` and object arrays are refused (a ``DtypeError``), not stored as arrays nothing can use."""
    if isinstance(data, (str, bytes)):
        raise DtypeError(f"tensor() takes numbers, got the {type(data).__name__} {data!r:.40}")
    result = Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)
    if result.dtype.kind not in "biufc":
        what = " (mixed or non-numeric Python objects)" if result.dtype.kind == "O" else ""
        raise DtypeError(f"tensor() takes numbers (bool, integer, float or complex), got an array of dtype "
                         f"{result.dtype}{what}")
    return result


# --------------------------------------------------------------------------- Function


def _mentions(fn, name: str) -> bool:
    """Whether the code of function ``fn`` (or of a function nested in it) uses the name ``name``."""
    code = getattr(fn, "__code__", None)
    stack = [code] if code is not None else []
    while stack:
        code = stack.pop()
        if name in code.co_names:
            return True
        stack.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    return False


class _Edge(Tensor):
    """A graph edge that stands for tensor ``x`` without its values: same creator, output index,
    generation, version counter, shape and dtype, but a zero-byte broadcast array (see
    ``Function.keeps_input_values``).  ``_stands_for`` is a weak reference to ``x``, so that
    ``tinygdl.grad(..., inputs=[x])`` still finds it while the caller holds ``x``."""

    __slots__ = ("_stands_for",)

    # Smaller arrays keep their place in the graph: an edge costs about 2 µs to make, more than the
    # memory it frees is worth (the per-op overhead benchmark's 16x16 chain went 1.3x -> 1.6x).
    MIN_BYTES = 1 << 16

    @staticmethod
    def worth_it(x: Tensor) -> bool:
        """Whether input ``x`` of a Function that reads no input values is replaced by an edge: an
        array of 64 KiB or more, made by an op whose backward does not read its own output."""
        return x.data.nbytes >= _Edge.MIN_BYTES and x.creator is not None and not x.creator.reads_output

    @classmethod
    def of(cls, x: Tensor) -> "_Edge":
        xp = backend.get_array_module(x.data)
        edge = cls._wrap(xp.broadcast_to(xp.zeros((), dtype=x.data.dtype), x.data.shape))
        edge.requires_grad, edge.creator, edge.generation = x.requires_grad, x.creator, x.generation
        edge._out_index, edge._version, edge._stands_for = x._out_index, x._version, weakref.ref(x)
        return edge


def _identity(x: Tensor) -> Tensor:
    """``x``, or for an ``_Edge`` the tensor it stands for while that still exists."""
    if type(x) is not _Edge:
        return x
    original = x._stands_for()
    return x if original is None else original


class Function:
    """One differentiable operation.

    Subclasses implement

    * ``forward(*arrays)`` -> array (or tuple of arrays), on raw NumPy/CuPy arrays, keeping on
      ``self`` whatever backward needs;
    * ``backward(*grads)`` -> one gradient per input (a Tensor, or None where no gradient flows),
      written with Tensor operations so that it can itself be differentiated.  ``self.inputs`` are
      the input Tensors and ``self.output()`` the (first) output Tensor.

    Ops that return a view of their input (reshape, transpose, slicing) set ``is_view = True`` so
    the output shares the input's version counter.
    """

    is_view = False
    _wanted = None  # in a tinygdl.grad(outputs, inputs) walk: which inputs lead to ``inputs`` (needs_grad)
    # False for a Function whose backward reads nothing of its inputs' values (only their shapes and
    # dtypes; ReLU reads its mask, tanh its output): the graph then keeps an edge without the array
    # (``_Edge``), so that an activation nobody else holds is freed after the forward pass, as in
    # PyTorch, whose nodes keep only the tensors their backward reads.
    keeps_input_values = True
    reads_output = False  # set for every subclass whose methods call self.output() (__init_subclass__)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.reads_output = cls.reads_output or any(_mentions(f, "output") for f in vars(cls).values())

    def __call__(self, *inputs):
        for x in inputs:
            if not isinstance(x, Tensor):  # Python numbers or arrays among the inputs: make them constants
                inputs = _tensors(inputs)
                break
        arrays = [x.data for x in inputs]
        if _cupy_present:
            _check_same_device(self, arrays)
        results = self.forward(*arrays) if _profiler is None else _profiler.forward(self, arrays)
        multiple = isinstance(results, tuple)
        outputs = [Tensor._wrap(y) for y in results] if multiple else [Tensor._wrap(results)]
        if _anomaly_enabled:
            self.created_at = _user_frame()
            _check_finite(self, "forward", [y.data for y in outputs])
        if _grad_enabled:
            for x in inputs:
                if x.requires_grad:
                    self._record(inputs, outputs)
                    break
        if self.is_view:
            for y in outputs:
                y._version = inputs[0]._version
        return tuple(outputs) if multiple else outputs[0]

    def _record(self, inputs, outputs):
        """Link the outputs to this function so that backward can find its way back."""
        if not self.keeps_input_values:
            inputs = [_Edge.of(x) if _Edge.worth_it(x) else x for x in inputs]
        self.inputs = inputs
        self.versions = [x._version[0] for x in inputs]
        self.generation = generation = max([x.generation for x in inputs])
        # Outputs are held weakly: an output points to its creator, not the other way round, so
        # that a graph nobody references any more is freed at once (no reference cycle).
        self.outputs = [weakref.ref(y) for y in outputs]
        for i, y in enumerate(outputs):
            y.requires_grad, y.creator, y.generation, y._out_index = True, self, generation + 1, i

    def needs_grad(self, index: int) -> bool:
        """Whether ``backward`` must compute the gradient of input ``index`` (PyTorch's
        ``needs_input_grad``): the input requires grad and, in a ``tinygdl.grad(outputs, inputs)``
        call, some of ``inputs`` can be reached through it.  A GAN's discriminator loss needs no
        gradient for the generated images, nor the generator's loss one for the discriminator's
        weights: a backward formula that asks skips those products."""
        return self.inputs[index].requires_grad and (self._wanted is None or self._wanted[index])

    def output(self, index: int = 0) -> Tensor:
        """An output tensor, for backward formulas written in terms of it (exp, tanh, sigmoid)."""
        return self.outputs[index]()

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def _release(self):
        """Drop everything kept for backward (after a backward pass without ``retain_graph``)."""
        generation = self.generation
        self.__dict__.clear()
        self.generation, self.inputs = generation, None

    def _check_versions(self):
        for x, version in zip(self.inputs, self.versions):
            if x._version[0] != version:
                raise RuntimeError(
                    f"a tensor of shape {x.shape} needed by the backward pass of {self.name}"
                    f"{_where(self)} was modified in place after the forward pass "
                    f"(version {version} -> {x._version[0]}); clone it before changing it"
                )


def _tensors(values):
    """Convert the non-Tensor arguments of an op (Python numbers, arrays) to constant tensors."""
    like = None
    for v in values:
        if isinstance(v, Tensor):
            like = v
            break
    if like is None:
        return tuple(Tensor(v) for v in values)
    return tuple(v if isinstance(v, Tensor) else _as_tensor_like(v, like) for v in values)


_cupy_present = backend.cupy is not None  # without CuPy every array is a NumPy array


def _check_same_device(fn: Function, arrays):
    if all(type(a) is np.ndarray for a in arrays):  # the common case, checked cheaply
        return
    devices = {str(backend.device_of(a)) for a in arrays}
    if len(devices) > 1:
        raise RuntimeError(f"{fn.name}: inputs live on different devices ({', '.join(sorted(devices))}); "
                           "move them with .to(device) first")


# --------------------------------------------------------------------------- the backward walk

_tie_breaker = itertools.count()


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None, allow_unused=False):
    """Propagate ``grad_outputs`` from ``outputs`` back through the graph.

    Without ``inputs`` the gradients are accumulated into ``.grad`` of every leaf that requires
    grad.  With ``inputs`` (``tinygdl.grad``) nothing is written to ``.grad``: the gradients with
    respect to ``inputs`` are returned, and only the part of the graph that leads to them is walked.
    """
    wanted = None if inputs is None else {id(x): None for x in inputs}
    needed = None if inputs is None else _functions_leading_to(outputs, inputs)
    pending = {}  # (id(function), output index) -> (that output, the gradient summed so far)
    heap, queued = [], set()

    def send(x: Tensor, gx: Tensor):
        """Deliver one gradient contribution to tensor ``x`` (in x's dtype, as PyTorch does)."""
        if gx.dtype != x.dtype:
            gx = gx.astype(x.dtype)
        if wanted is not None:
            key = id(_identity(x))
            if key in wanted:
                wanted[key] = gx if wanted[key] is None else wanted[key] + gx
        f = x.creator
        if f is None:
            if wanted is None:
                x.grad = gx if x.grad is None else x.grad + gx
            return
        if needed is not None and id(f) not in needed:
            return
        key = (id(f), x._out_index)
        # Keep x itself alive with its gradient: f.backward may need it via f.output(), and once
        # the graph is being freed nothing else may hold it.
        pending[key] = (x, gx) if key not in pending else (x, pending[key][1] + gx)
        if id(f) not in queued:
            queued.add(id(f))
            heapq.heappush(heap, (-f.generation, next(_tie_breaker), f))

    with set_grad_enabled(create_graph):
        for y, gy in zip(outputs, grad_outputs):
            if gy.shape != y.shape:
                raise ValueError(f"gradient of shape {gy.shape} given for an output of shape {y.shape}")
            if not y.requires_grad:
                raise RuntimeError("backward through a tensor that does not require grad: "
                                   "none of its inputs has requires_grad=True (or it was made under no_grad)")
            send(y, gy)
        while heap:
            f = heapq.heappop(heap)[2]
            if f.inputs is None:
                raise RuntimeError(
                    "trying to backward through the graph a second time: its saved values were freed "
                    "by the first backward. Pass retain_graph=True to the first backward() if you need two"
                )
            f._check_versions()
            received = [pending.pop((id(f), i), (None, None)) for i in range(len(f.outputs))]
            grads = [g for _, g in received]
            if needed is not None:
                f._wanted = [id(_identity(x)) in wanted or (x.creator is not None and id(x.creator) in needed)
                             for x in f.inputs]
            try:
                if _anomaly_enabled:
                    input_grads = _call_backward(f, grads)
                else:
                    input_grads = f.backward(*grads) if _profiler is None else _profiler.backward(f, grads)
            finally:
                if needed is not None:
                    f._wanted = None  # a retained graph may be walked again for other inputs
            for x, gx in zip(f.inputs, _as_tuple(input_grads)):
                if gx is not None and x.requires_grad:
                    send(x, gx)
            if not retain_graph:
                f._release()

    if inputs is None:
        return None
    results = [wanted[id(x)] for x in inputs]
    if not allow_unused and any(g is None for g in results):
        raise RuntimeError("one of the inputs given to grad() was not used to compute the outputs "
                           "(pass allow_unused=True to get None for it)")
    return results


def _functions_leading_to(outputs, inputs) -> set:
    """ids of the functions from which some tensor in ``inputs`` can be reached going backward."""
    targets = {id(x) for x in inputs}
    reachable, stack, seen = [], [y.creator for y in outputs if y.creator is not None], set()
    while stack:
        f = stack.pop()
        if id(f) in seen:
            continue
        if f.inputs is None:
            raise RuntimeError("trying to differentiate through a graph that a backward pass already freed; "
                               "pass retain_graph=True to that backward() if you need the graph again")
        seen.add(id(f))
        reachable.append(f)
        stack.extend(x.creator for x in f.inputs if x.creator is not None)
    needed = set()
    for f in sorted(reachable, key=lambda f: f.generation):  # inputs' creators come first
        if any(id(_identity(x)) in targets or (x.creator is not None and id(x.creator) in needed)
               for x in f.inputs):
            needed.add(id(f))
    return needed


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a list, ``.grad`` untouched.

    As ``torch.autograd.grad``: ``grad_outputs`` default to ones for scalar outputs;
    ``retain_graph`` defaults to ``create_graph``.  With ``create_graph=True`` the returned
    gradients are part of the graph and can be differentiated again (gradient penalties).
    """
    single_output = isinstance(outputs, Tensor)
    outputs = (outputs,) if single_output else tuple(outputs)
    single_input = isinstance(inputs, Tensor)
    inputs = (inputs,) if single_input else tuple(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    cotangents = []
    for y, gy in zip(outputs, grad_outputs):
        if gy is None:
            if y.size != 1:
                raise RuntimeError(f"grad() of a non-scalar output of shape {y.shape} needs grad_outputs")
            gy = Tensor._wrap(_ones_like(y.data))
        cotangents.append(_as_tensor_like(gy, y))
    retain = create_graph if retain_graph is None else retain_graph
    return run_backward(outputs, cotangents, retain, create_graph, inputs, allow_unused)


# --------------------------------------------------------------------------- anomaly detection

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frame() -> str:
    """file:line of the innermost caller outside tinygdl (where the user wrote the op)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno}"
    return "<unknown>"


def _where(fn: Function) -> str:
    return f" (created at {fn.created_at})" if getattr(fn, "created_at", None) else ""


def _call_backward(fn: Function, grads):
    """``fn.backward`` with every result checked; a NaN/Inf is blamed on ``fn`` and its line."""
    try:
        input_grads = fn.backward(*grads)
    except FloatingPointError as error:  # raised by an op inside fn's backward formula
        raise FloatingPointError(f"{fn.name} produced NaN or Inf in its backward{_where(fn)}: {error}") from None
    _check_finite(fn, "backward", [g.data for g in _as_tuple(input_grads) if g is not None])
    return input_grads


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _check_finite(fn: Function, phase: str, arrays):
    for a in arrays:
        if a.dtype.kind == "f" and not bool(backend.get_array_module(a).isfinite(a).all()):
            raise FloatingPointError(f"{fn.name} produced NaN or Inf in its {phase}{_where(fn)}")
