"""Operations that move elements around without changing them: reshape, transpose, broadcast,
concatenate, split, pad, flip, repeat, tile.

Their backward passes move the gradient back the opposite way (a transpose's gradient is
transposed back, a broadcast's gradient is summed back, a concatenation's gradient is split).
"""

from __future__ import annotations

from .. import backend
from ..errors import ShapeError
from ..tensor import Function, Tensor, _tensors
from .index import getitem

_xp = backend.get_array_module  # numpy, or cupy for GPU arrays


def _axis(axis: int, ndim: int, op: str) -> int:
    if not -max(ndim, 1) <= axis < max(ndim, 1):  # a 0-d tensor accepts 0 and -1, as in PyTorch
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % max(ndim, 1)


# --------------------------------------------------------------------------- broadcasting


def _sum_to_array(array, shape):
    """Sum ``array`` down to ``shape``, the inverse of NumPy broadcasting ``shape`` up to it."""
    lead = array.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and array.shape[lead + i] != 1
    )
    summed = array.sum(axis=axes, keepdims=True) if axes else array
    return summed.reshape(shape) if lead else summed


class SumTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, a):
        return _sum_to_array(a, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


class BroadcastTo(Function):
    is_view = True

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, a):
        try:
            return _xp(a).broadcast_to(a, self.shape)
        except ValueError:
            raise ShapeError(f"broadcast_to: cannot broadcast shape {a.shape} to {self.shape}") from None

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


def sum_to(x: Tensor, shape) -> Tensor:
    """Sum ``x`` down to ``shape`` (undo a broadcast); returns ``x`` itself if nothing to do."""
    return x if x.shape == tuple(shape) else SumTo(shape)(x)


def broadcast_to(x: Tensor, shape) -> Tensor:
    return x if x.shape == tuple(shape) else BroadcastTo(shape)(x)


def expand(x: Tensor, *shape) -> Tensor:
    """PyTorch-style ``expand``: -1 keeps a dimension's size."""
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    offset = len(shape) - x.ndim
    shape = tuple(x.shape[i - offset] if s == -1 else s for i, s in enumerate(shape))
    return broadcast_to(x, shape)


# --------------------------------------------------------------------------- reshape and transpose


class Reshape(Function):
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        try:
            return a.reshape(self.shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                             f"({a.size} elements) into shape {self.shape}") from None

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


class Transpose(Function):
    is_view = True

    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        return a.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy)
        inverse = sorted(range(len(self.axes)), key=lambda i: self.axes[i])
        return transpose(gy, tuple(inverse))


def reshape(x: Tensor, *shape) -> Tensor:
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return x if x.shape == tuple(shape) else Reshape(tuple(shape))(x)


def transpose(x: Tensor, *axes) -> Tensor:
    """Reverse the axes, or permute them as ``axes`` says (NumPy semantics)."""
    axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    if axes and len(axes) != x.ndim:
        raise ShapeError(f"transpose: {len(axes)} axes given for a tensor with {x.ndim} dimensions")
    return Transpose(tuple(a % x.ndim for a in axes) if axes else None)(x)


permute = transpose


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, tuple(axes))


def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis`` into one (``torch.flatten``)."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = _axis(start_axis, x.ndim, "flatten"), _axis(end_axis, x.ndim, "flatten")
    merged = 1
    for size in x.shape[start:end + 1]:
        merged *= size
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def squeeze(x: Tensor, axis=None) -> Tensor:
    """Drop size-1 axes (all, or those named).  A named axis whose size is not 1 stays, as in
    PyTorch (NumPy raises instead); a 0-d tensor is returned unchanged."""
    named = range(x.ndim) if axis is None else axis if isinstance(axis, (tuple, list)) else (axis,)
    axes = {_axis(a, x.ndim, "squeeze") for a in named}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def unflatten(x: Tensor, axis: int, sizes) -> Tensor:
    """Split axis ``axis`` into several of ``sizes`` (one may be -1), the inverse of ``flatten``."""
    axis = _axis(axis, x.ndim, "unflatten")
    return reshape(x, x.shape[:axis] + tuple(sizes) + x.shape[axis + 1:])


def movedim(x: Tensor, source, destination) -> Tensor:
    """Move axes ``source`` to positions ``destination`` (ints or tuples); the others keep their order."""
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(source) != len(destination):
        raise ShapeError(f"movedim: {len(source)} source axes but {len(destination)} destinations")
    source = [_axis(a, x.ndim, "movedim") for a in source]
    destination = [_axis(a, x.ndim, "movedim") for a in destination]
    rest = iter(a for a in range(x.ndim) if a not in source)
    placed = dict(zip(destination, source))
    order = tuple(placed[i] if i in placed else next(rest) for i in range(x.ndim))
    return x if order == tuple(range(x.ndim)) else transpose(x, order)


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    """Insert a size-1 axis at position ``axis``."""
    axis = _axis(axis, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


# --------------------------------------------------------------------------- joining and splitting


class Concatenate(Function):
    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        shapes = [a.shape for a in arrays]
        rest = {s[:self.axis] + s[self.axis + 1:] for s in shapes}
        if len(rest) > 1 or len({len(s) for s in shapes}) > 1:
            raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {self.axis}")
        return _xp(arrays[0]).concatenate(arrays, axis=self.axis)

    def backward(self, gy):
        bounds = _cumulative([x.shape[self.axis] for x in self.inputs])
        return tuple(_slice_along(gy, self.axis, lo, hi) for lo, hi in zip(bounds, bounds[1:]))


class Split(Function):
    """Split along ``axis`` at the given boundaries; several outputs."""

    def __init__(self, bounds, axis):
        self.bounds, self.axis = bounds, axis

    def forward(self, a):
        return tuple(_xp(a).split(a, self.bounds[1:-1], axis=self.axis))

    def backward(self, *grads):
        x = self.inputs[0]
        pieces = []
        for g, lo, hi in zip(grads, self.bounds, self.bounds[1:]):
            if g is None:  # an output nobody used: its gradient is zero
                shape = x.shape[:self.axis] + (hi - lo,) + x.shape[self.axis + 1:]
                g = Tensor._wrap(_xp(x.data).zeros(shape, dtype=x.dtype))
            pieces.append(g)
        return concatenate(pieces, self.axis)


def _cumulative(sizes):
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    return bounds


def _slice_along(x: Tensor, axis: int, lo: int, hi: int) -> Tensor:
    return getitem(x, (slice(None),) * axis + (slice(lo, hi),))


def concatenate(tensors, axis: int = 0) -> Tensor:
    tensors = _tensors(tuple(tensors))
    if not tensors:
        raise ShapeError("concatenate: needs at least one tensor")
    return Concatenate(_axis(axis, tensors[0].ndim, "concatenate"))(*tensors)


cat = concatenate


def stack(tensors, axis: int = 0) -> Tensor:
    tensors = _tensors(tuple(tensors))
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    axis = _axis(axis, tensors[0].ndim + 1, "stack")
    return concatenate([unsqueeze(t, axis) for t in tensors], axis)


def split(x: Tensor, sections, axis: int = 0):
    """``sections``: a piece size (int, as ``torch.split``) or a list of piece sizes."""
    axis = _axis(axis, x.ndim, "split")
    n = x.shape[axis]
    sizes = [min(sections, n - i) for i in range(0, n, sections)] if isinstance(sections, int) else list(sections)
    if sum(sizes) != n:
        raise ShapeError(f"split: sizes {sizes} do not add up to {n}, the length of axis {axis}")
    return Split(_cumulative(sizes), axis)(x)


def chunk(x: Tensor, chunks: int, axis: int = 0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) (the last may be smaller)."""
    n = x.shape[_axis(axis, x.ndim, "chunk")]
    return split(x, -(-n // chunks), axis)


# --------------------------------------------------------------------------- padding, flipping, repeating


class Pad(Function):
    """Constant padding by non-negative ``widths``; its gradient is the slice that drops the padding."""

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, a):
        return _xp(a).pad(a, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy):
        return getitem(gy, tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths)))


PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_widths(widths, ndim: int):
    """``((before, after), ...)`` one pair per axis, from NumPy's form or PyTorch's flat form."""
    widths = tuple(widths)
    if all(isinstance(w, int) or getattr(w, "ndim", None) == 0 for w in widths):
        # PyTorch's flat (before_last, after_last, before_last-1, ...): the last axes, backwards.
        if len(widths) % 2 or len(widths) // 2 > ndim:
            raise ShapeError(f"pad: a flat padding (PyTorch's form) needs an even number of widths, at most 2 "
                             f"per axis; got {widths} for a tensor with {ndim} dimensions")
        pairs = [(int(widths[i]), int(widths[i + 1])) for i in range(0, len(widths), 2)]
        return ((0, 0),) * (ndim - len(pairs)) + tuple(reversed(pairs))
    widths = tuple((int(lo), int(hi)) for lo, hi in widths)
    if len(widths) != ndim:
        raise ShapeError(f"pad: {len(widths)} (before, after) pairs given for a tensor with {ndim} dimensions")
    return widths


def _source_positions(n: int, lo: int, hi: int, mode: str, xp):
    """For one axis of ``n`` cells padded by ``lo`` before and ``hi`` after: the input cell every
    output cell copies, ``j = -lo, ..., n + hi - 1`` folded back into ``[0, n)``:

    * ``reflect``: mirrored about the first and last cells, which are not repeated
      (``3 2 | 1 2 3 4 | 3 2``): period ``2(n-1)``;
    * ``replicate``: the nearest edge cell (``1 1 | 1 2 3 4 | 4 4``);
    * ``circular``: wrapped around (``3 4 | 1 2 3 4 | 1 2``).
    """
    j = xp.arange(-lo, n + hi)
    if mode == "replicate":
        return xp.clip(j, 0, n - 1)
    if mode == "circular":
        return j % n
    period = 2 * (n - 1)
    j = j % period
    return xp.where(j < n, j, period - j)


def pad(x: Tensor, widths, value=0.0, mode: str = "constant") -> Tensor:
    """Pad, or crop, the axes of ``x`` (``torch.nn.functional.pad``).

    ``widths``: one ``(before, after)`` pair per axis as ``numpy.pad``, or PyTorch's flat form
    ``(before, after)`` for the last axis, then the one before it, ...: ``pad(x, (1, 1, 2, 2))``
    pads the last axis by 1 and the one before by 2.  A negative width crops that many cells.
    ``mode``: ``"constant"`` (``value``), ``"reflect"``, ``"replicate"`` or ``"circular"`` (see
    ``_source_positions``); ``pad(x, p, "reflect")``, PyTorch's positional mode, works too.

    The crops are done first and the padding is computed from what is left (PyTorch's order).
    Constant padding is one Function; the other modes copy input cells, i.e. they index ``x``
    with an integer array per padded axis, so their gradient is a scatter-add back onto the cells
    copied (each border cell receives the gradients of all its copies).
    """
    if isinstance(value, str):
        value, mode = 0.0, value
    value = 0.0 if value is None else value  # PyTorch's F.pad(..., value=None)
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    widths = _pad_widths(widths, x.ndim)
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, widths))
        if any(c.stop - c.start < 0 for c in crop):
            raise ShapeError(f"pad: widths {widths} crop more than the whole of a tensor of shape {x.shape}")
        x = getitem(x, crop)
        widths = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
    if not any(lo or hi for lo, hi in widths):
        return x
    if mode == "constant":
        return Pad(widths, value)(x)
    for axis, (n, (lo, hi)) in enumerate(zip(x.shape, widths)):
        if not (lo or hi):
            continue
        limit = n - 1 if mode == "reflect" else n
        if n == 0 or max(lo, hi) > limit:
            raise ShapeError(f"pad: {mode} padding of ({lo}, {hi}) cells does not fit axis {axis} of size {n} "
                             f"of a tensor of shape {x.shape} (at most {limit} cells each side)")
        positions = _source_positions(n, lo, hi, mode, _xp(x.data))
        x = getitem(x, (slice(None),) * axis + (positions,))
    return x


class Flip(Function):
    is_view = True

    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        return _xp(a).flip(a, self.axes)

    def backward(self, gy):
        return flip(gy, self.axes)


def flip(x: Tensor, axis=None) -> Tensor:
    axes = tuple(range(x.ndim)) if axis is None else axis
    axes = tuple(_axis(a, x.ndim, "flip") for a in (axes if isinstance(axes, (tuple, list)) else (axes,)))
    return Flip(axes)(x)


class Repeat(Function):
    """``numpy.repeat`` with an int count (``torch.repeat_interleave``): each element ``r`` times."""

    def __init__(self, repeats, axis):
        self.repeats, self.axis = repeats, axis

    def forward(self, a):
        return _xp(a).repeat(a, self.repeats, axis=self.axis)

    def backward(self, gy):
        x = self.inputs[0]
        # (..., n*r, ...) -> (..., n, r, ...) and sum the r copies of each element (down to size 1).
        n = x.shape[self.axis]
        split_shape = x.shape[:self.axis] + (n, self.repeats) + x.shape[self.axis + 1:]
        summed_shape = x.shape[:self.axis] + (n, 1) + x.shape[self.axis + 1:]
        return reshape(sum_to(reshape(gy, split_shape), summed_shape), x.shape)


def repeat_interleave(x: Tensor, repeats: int, axis: int | None = None) -> Tensor:
    """Each element ``repeats`` times in a row along ``axis`` (``None``: of the flattened tensor), as
    ``torch.repeat_interleave`` and ``numpy.repeat``: [a, b] -> [a, a, b, b]."""
    if axis is None:
        return repeat_interleave(reshape(x, (-1,)), repeats, 0)
    return Repeat(int(repeats), _axis(axis, x.ndim, "repeat_interleave"))(x)


def repeat(x: Tensor, *sizes) -> Tensor:
    """PyTorch's ``Tensor.repeat``: the whole tensor ``sizes[i]`` times along axis i ([a, b] ->
    [a, b, a, b]), one count per axis of x (more add leading axes).  This is ``numpy.tile`` — NumPy's
    ``numpy.repeat`` is :func:`repeat_interleave`; the name means different things in the two."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: {len(sizes)} repeat counts {sizes} given for a tensor of shape {x.shape}; "
                         "give one per axis (or use tile, which pads with 1s, or repeat_interleave)")
    return tile(x, sizes)


class Tile(Function):
    """``numpy.tile`` (``torch.Tensor.repeat``): the whole tensor ``reps`` times along each axis."""

    def __init__(self, reps):
        self.reps = reps

    def forward(self, a):
        return _xp(a).tile(a, self.reps)

    def backward(self, gy):
        x = self.inputs[0]
        shape = (1,) * (len(self.reps) - x.ndim) + x.shape
        # (r0*s0, r1*s1, ...) -> (r0, s0, r1, s1, ...) and sum over the r axes (down to size 1).
        interleaved = tuple(v for r, s in zip(self.reps, shape) for v in (r, s))
        summed = sum_to(reshape(gy, interleaved), tuple(v for s in shape for v in (1, s)))
        return reshape(summed, x.shape)


def roll(x: Tensor, shifts, axis=None) -> Tensor:
    """Shift elements along ``axis`` by ``shifts`` places, wrapping around (``torch.roll``); ``axis=None``:
    along the flattened tensor, shape kept.  ``shifts`` and ``axis`` may be tuples of the same length."""
    if axis is None:
        return reshape(roll(reshape(x, (-1,)), shifts, 0), x.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if len(shifts) != len(axes):
        raise ShapeError(f"roll: {len(shifts)} shifts for {len(axes)} axes")
    xp = _xp(x.data)
    for shift, a in zip(shifts, axes):
        a = _axis(a, x.ndim, "roll")
        n = x.shape[a]
        if n and shift % n:
            x = getitem(x, (slice(None),) * a + ((xp.arange(n) - shift) % n,))  # out[i] = x[i - shift]
    return x


def unfold(x: Tensor, axis: int, size: int, step: int) -> Tensor:
    """``Tensor.unfold``: every window of ``size`` elements along ``axis``, ``step`` apart, as a new last
    axis: shape (..., n, ...) -> (..., (n − size) // step + 1, ..., size)."""
    axis = _axis(axis, x.ndim, "unfold")
    n = x.shape[axis] if x.ndim else 1
    if not 0 < size <= n or step < 1:
        raise ShapeError(f"unfold: windows of size {size}, step {step} do not fit axis {axis} of shape {x.shape}")
    xp = _xp(x.data)
    windows = xp.arange(0, n - size + 1, step)[:, None] + xp.arange(size)  # (count, size) positions
    if x.ndim == 0:
        return reshape(x, (1,))
    return movedim(getitem(x, (slice(None),) * axis + (windows,)), axis + 1, -1)


def meshgrid(*tensors, indexing: str = "ij"):
    """Coordinate grids from 1-D tensors.  ``indexing="ij"`` (PyTorch's default): output i varies
    along axis i; ``"xy"`` (NumPy's default) swaps the first two axes."""
    tensors = _tensors(tuple(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)) else tensors)
    if indexing not in ("ij", "xy"):
        raise ShapeError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    sizes = [t.size for t in tensors]
    if indexing == "xy" and len(sizes) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for i, t in enumerate(tensors):
        place = (1 - i if i < 2 else i) if indexing == "xy" and len(sizes) >= 2 else i
        shape = [1] * len(sizes)
        shape[place] = t.size
        grids.append(broadcast_to(reshape(t, tuple(shape)), tuple(sizes)))
    return tuple(grids)


def tile(x: Tensor, reps) -> Tensor:
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    reps = (1,) * (x.ndim - len(reps)) + reps
    return Tile(reps)(x)
