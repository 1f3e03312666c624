"""The networks of chapter 5's images: the book's PixelCNN and PixelCNN++ with its discretised
logistic mixture likelihood.

Both model an image as a product of conditionals in raster order (row by row, left to right),
``p(x) = Π_i p(x_i | x_<i)``: one forward pass gives every pixel's conditional at once, because the
convolutions are masked so that the output at pixel i never sees pixel i or any later pixel
(``tests/models/test_pixelcnn.py`` checks it exactly, with gradients).  Sampling has to go pixel
by pixel: draw pixel i from its conditional, write it in, run the network again.

**PixelCNN** (van den Oord et al. 2016; the book's from-scratch Keras model): a 7x7 masked
convolution of type A (it does not see the pixel it predicts), five residual blocks around a 3x3
masked convolution of type B, two 1x1 convolutions and a 1x1 convolution to one logit per grey
level (4) at every pixel.  Loss: cross-entropy of the level at each pixel.

**PixelCNN++** (Salimans et al. 2017, as ``tfp.distributions.PixelCNN`` builds it for the book):

* two feature streams that together cover every earlier pixel without a blind spot: the
  *vertical* stack sees the rows above (3x3 kernels using only their top two rows), the
  *horizontal* stack the pixels above and to the left (only the top-left 2x2 taps) — see
  ``ShiftedConv2d`` below;
* gated residual layers, ``u + p·σ(q)``, with ``concat_elu(x) = ELU([x, −x])`` before every
  convolution, dropout, and the vertical stream fed into the horizontal one through a 1x1
  convolution;
* a down pass (stride-2 shifted convolutions) and an up pass (shifted transposed convolutions)
  whose layers take the down pass's outputs as skip inputs, in reverse order;
* weight normalisation with data-dependent initialisation on every convolution
  (``tinygdl.nn.WeightNorm``);
* per pixel, a mixture of 5 discretised logistics over the 256 grey values
  (``discretized_logistic_mixture_log_prob``).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..backend import get_default_dtype
from ..losses import sparse_categorical_cross_entropy_with_logits
from ..nn import ELU, Conv2d, ConvTranspose2d, Dropout, Module, ModuleList, ReLU, WeightNorm
from ..ops.conv import conv2d, conv_transpose2d
from ..ops.elementwise import elu, log, sigmoid, softplus, tanh
from ..ops.neural import log_softmax
from ..ops.reduce import logsumexp
from ..ops.shape import concatenate, split
from ..tensor import Tensor, no_grad, tensor

__all__ = ["GatedResidual", "MaskedConv2d", "PixelCNN", "PixelCNNPlusPlus", "PixelCNNResidualBlock",
           "ShiftedConv2d", "ShiftedConvTranspose2d", "causal_mask", "concat_elu", "corner_mask",
           "discretized_logistic_log_probs", "discretized_logistic_mixture_log_prob", "mixture_nll",
           "pixelcnn_loss", "sample_pixelcnn", "sample_pixelcnn_plus_plus"]


# =========================================================================== PixelCNN's masked convolution


def causal_mask(kernel_size, mask_type: str) -> np.ndarray:
    """PixelCNN's (kh, kw) 0/1 mask: the taps a pixel may see of the pixels before it in raster order.

    Rows above the centre are all on; in the centre row the taps left of the centre are on, and the
    centre itself for type ``"B"`` (layers after the first may see the pixel's own features) but not
    for ``"A"`` (the first layer must not see the value it predicts); everything else is off.
    """
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"MaskedConv2d needs an odd kernel size (it has a centre), got {kernel_size}")
    if mask_type not in ("A", "B"):
        raise ValueError(f"MaskedConv2d: mask_type must be 'A' or 'B', got {mask_type!r}")
    cy, cx = kh // 2, kw // 2
    mask = np.zeros((kh, kw), dtype=get_default_dtype())
    mask[:cy] = 1        # the rows above the centre
    mask[cy, :cx] = 1    # left of the centre
    mask[cy, cx] = mask_type == "B"
    return mask


class MaskedConv2d(Conv2d):
    """PixelCNN's masked convolution (van den Oord et al. 2016): a ``Conv2d`` whose kernel is
    multiplied by ``causal_mask(kernel_size, mask_type)`` in every forward pass.

    The output at a pixel then depends only on the pixels above it and to its left (type ``"A"``)
    and also on itself (type ``"B"``).  Because the mask multiplies the weight inside the graph,
    masked weights get exactly zero gradient (only weight decay can move them, and they stay
    masked out).  The mask is a non-persistent buffer
    (a constant of the architecture, not saved in ``state_dict``).  ``padding`` defaults to
    ``"same"``, which keeps each output pixel aligned with the input pixel it predicts.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, mask_type: str = "B", stride=1,
                 padding="same", dilation=1, bias: bool = True, init="glorot_uniform"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, init)
        self.mask_type = mask_type
        self.register_buffer("mask", causal_mask(self.kernel_size, mask_type), persistent=False)

    def forward(self, x):
        return self._run(self.op, x, self.weight * self.mask)

    def extra_repr(self) -> str:
        return f"mask_type={self.mask_type!r}, " + super().extra_repr()


# =========================================================================== PixelCNN++'s shifted convolutions
#
# A shifted convolution is a convolution, or a transposed one, that only uses the top-left block
# of its kernel taps.
#
# PixelCNN++ (Salimans et al. 2017) keeps its feature maps causal — a pixel's features depend only
# on the pixels above it (the *vertical* stack) or above it and to its left (the *horizontal*
# stack) — by giving each convolution a fixed 0/1 mask on the kernel's (row, column) taps.  Every
# mask that network needs is a rectangle anchored at the kernel's top-left corner: the first
# ``rows`` rows and the first ``cols`` columns are on, everything else off.  With ``"same"``
# padding a stride-1 ``k x k`` kernel reads input offsets ``−k//2 .. +k//2``, so
#
# * ``rows = k//2 + 1`` (the centre row and those above) and all columns: Δrow ∈ {−k//2 .. 0};
# * ``rows = k//2 + 1, cols = k//2 + 1``: also Δcol ≤ 0 (up and to the left);
# * ``rows = k//2`` (above the centre only): Δrow < 0, a strict shift down.
#
# As in ``MaskedConv2d``, the mask multiplies the weight inside the graph (masked taps get exactly
# zero gradient) and is a non-persistent buffer; the full kernel is stored and counted as parameters,
# as Keras counts it.


def corner_mask(kernel_size, rows: int | None = None, cols: int | None = None, layer: str = "ShiftedConv2d"):
    """The (kh, kw) 0/1 mask whose first ``rows`` rows and first ``cols`` columns are on
    (``None``: all of them)."""
    kh, kw = kernel_size
    rows, cols = kh if rows is None else rows, kw if cols is None else cols
    if not (1 <= rows <= kh and 1 <= cols <= kw):
        raise ValueError(f"{layer}: rows={rows}, cols={cols} must lie in 1..{kh} and 1..{kw} for a "
                         f"{kh}x{kw} kernel")
    mask = np.zeros((kh, kw), dtype=get_default_dtype())
    mask[:rows, :cols] = 1
    return mask


class _CornerMasked:
    """What both shifted layers add to their convolution: the mask buffer and its printout."""

    def _set_mask(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.register_buffer("mask", corner_mask(self.kernel_size, rows, cols, type(self).__name__),
                             persistent=False)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", rows={self.rows}, cols={self.cols}"


class ShiftedConv2d(_CornerMasked, Conv2d):
    """A ``Conv2d`` whose kernel is multiplied by ``corner_mask(kernel_size, rows, cols)``.
    ``padding`` defaults to ``"same"``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, rows: int | None = None,
                 cols: int | None = None, stride=1, padding="same", bias: bool = True, init="glorot_uniform"):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias, init=init)
        self._set_mask(rows, cols)

    def forward(self, x):
        self._check_input(x)
        return conv2d(x, self.weight * self.mask, self.bias, stride=self.stride, padding=self.padding)


class ShiftedConvTranspose2d(_CornerMasked, ConvTranspose2d):
    """A ``ConvTranspose2d`` whose kernel taps (the last two weight axes) are multiplied by
    ``corner_mask(kernel_size, rows, cols)``.  ``padding`` defaults to ``"same"`` (output
    ``n·stride``; see ``tinygdl.ops.conv`` for which rows and columns Keras crops)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, rows: int | None = None,
                 cols: int | None = None, stride=1, padding="same", bias: bool = True, init="glorot_uniform"):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias, init=init)
        self._set_mask(rows, cols)

    def forward(self, x):
        self._check_input(x)
        return conv_transpose2d(x, self.weight * self.mask, self.bias, stride=self.stride, padding=self.padding)


# =========================================================================== PixelCNN (the book's)


class PixelCNNResidualBlock(Module):
    """``x + ReLU(1x1(ReLU(masked-B 3x3(ReLU(1x1(x))))))``: halve the channels, look at the causal
    3x3 neighbourhood, restore the channels, add the input (no activation after the add)."""

    def __init__(self, channels: int):
        super().__init__()
        self.reduce = Conv2d(channels, channels // 2, 1)
        self.masked = MaskedConv2d(channels // 2, channels // 2, 3, mask_type="B")
        self.expand = Conv2d(channels // 2, channels, 1)
        self.relu = ReLU()

    def forward(self, x):
        h = self.relu(self.reduce(x))
        h = self.relu(self.masked(h))
        return x + self.relu(self.expand(h))


class PixelCNN(Module):
    """The book's PixelCNN: (N, 1, H, W) images of values ``level/levels`` -> (N, levels, H, W)
    logits (the book ends in a softmax; the loss takes logits here, see ``pixelcnn_loss``).

    Layers: masked-A ``first_kernel`` conv 1→filters + ReLU; ``blocks`` residual blocks; ``head``
    masked-B 1x1 convs + ReLU (a 1x1 type-B mask is all on: an ordinary 1x1 convolution); a 1x1
    conv to ``levels`` logits.  Book: 128 filters, 5 blocks, 7x7, 2 head layers, 4 levels:
    307,460 parameters.
    """

    def __init__(self, levels: int = 4, filters: int = 128, blocks: int = 5, first_kernel: int = 7,
                 head: int = 2):
        super().__init__()
        self.levels = levels
        self.first = MaskedConv2d(1, filters, first_kernel, mask_type="A")
        self.blocks = ModuleList([PixelCNNResidualBlock(filters) for _ in range(blocks)])
        self.head = ModuleList([MaskedConv2d(filters, filters, 1, mask_type="B") for _ in range(head)])
        self.logits = Conv2d(filters, levels, 1)
        self.relu = ReLU()

    def forward(self, x):
        h = self.relu(self.first(x))
        for block in self.blocks:
            h = block(h)
        for layer in self.head:
            h = self.relu(layer(h))
        return self.logits(h)


def pixelcnn_loss(logits: Tensor, levels) -> Tensor:
    """Mean cross-entropy (nats) of the integer ``levels`` (N, 1, H, W) under ``logits`` (N, L, H, W)
    over every pixel of the batch; divide by ln 2 for bits per pixel."""
    labels = levels.data if isinstance(levels, Tensor) else levels
    return sparse_categorical_cross_entropy_with_logits(logits, labels[:, 0], axis=1)


# =========================================================================== PixelCNN++


def concat_elu(x: Tensor) -> Tensor:
    """``ELU(concat(x, −x))`` along the channels: both signs pass (doubles the channels)."""
    return elu(concatenate([x, -x], axis=1))


def _weight_normed(layer: Module) -> WeightNorm:
    return WeightNorm(layer, data_init=True)


class GatedResidual(Module):
    """PixelCNN++'s gated residual layer on a stream ``u`` (F channels), with optional skip input ``a``::

        t = conv_in(concat_elu(u))  [+ skip(concat_elu(a)), a 1x1 convolution]
        t = conv_out(dropout(concat_elu(t)))          (2F channels)
        p, q = the two halves of t's channels
        out = u + p · σ(q)

    ``stream="vertical"`` uses 3x3 kernels with their top two rows on (input rows i−1, i; all three
    columns), ``"horizontal"`` only the top-left 2x2 taps (rows i−1, i; columns j−1, j).
    ``skip_channels`` is the channel count of ``a`` (0: no skip input).
    """

    def __init__(self, filters: int, stream: str, skip_channels: int = 0, dropout: float = 0.3):
        super().__init__()
        if stream not in ("vertical", "horizontal"):
            raise ValueError(f"GatedResidual: stream must be 'vertical' or 'horizontal', got {stream!r}")
        cols = None if stream == "vertical" else 2
        self.filters, self.stream = filters, stream
        self.conv_in = _weight_normed(ShiftedConv2d(2 * filters, filters, 3, rows=2, cols=cols))
        self.skip = _weight_normed(Conv2d(2 * skip_channels, filters, 1)) if skip_channels else None
        self.dropout = Dropout(dropout)
        self.conv_out = _weight_normed(ShiftedConv2d(2 * filters, 2 * filters, 3, rows=2, cols=cols))

    def forward(self, u, a=None):
        if (a is None) != (self.skip is None):
            raise ValueError(f"GatedResidual({self.stream}): a skip input is {'required' if self.skip else 'not used'}")
        t = self.conv_in(concat_elu(u))
        if a is not None:
            t = t + self.skip(concat_elu(a))
        t = self.conv_out(self.dropout(concat_elu(t)))
        p, q = split(t, self.filters, axis=1)
        return u + p * sigmoid(q)

    def extra_repr(self) -> str:
        return f"{self.filters}, stream={self.stream!r}"


class _Level(Module):
    """The gated layers of one resolution: pairs (vertical, horizontal)."""

    def __init__(self, filters: int, layers: int, dropout: float, vertical_skip: int, horizontal_skip: int):
        super().__init__()
        self.vertical = ModuleList([GatedResidual(filters, "vertical", vertical_skip, dropout)
                                    for _ in range(layers)])
        self.horizontal = ModuleList([GatedResidual(filters, "horizontal", horizontal_skip, dropout)
                                      for _ in range(layers)])


class PixelCNNPlusPlus(Module):
    """PixelCNN++ as ``tfp.distributions.PixelCNN`` builds it: (N, C, H, W) images scaled to
    [−1, 1] -> (N, 3·mixtures, H, W) mixture parameters per pixel (``split_mixture_params``).

    Defaults are the book's: 1 channel, 32 filters, ``num_resnet=1`` gated layer per level in the
    down pass (``num_resnet + 1`` above the lowest level in the up pass), ``num_hierarchies=2``
    resolutions, 5 logistics, dropout 0.3: 624,990 parameters (v + b + g).  H and W must be
    multiples of ``2^(num_hierarchies − 1)``.  Only one channel is supported (the book's grey images).

    Forward, with F filters (all convolutions weight-normalised, ``same`` padding):

    1. ``v = conv 5x3 (top two rows: input rows i−2, i−1)``;
       ``h = conv 3x3 (top row: row i−1) + conv 3x3 (top two rows, first column: rows i−1, i at column j−1)``.
    2. Down pass, per level: ``num_resnet`` times ``v = gated_v(v); h = gated_h(h, a=v)``; between
       levels ``v, h`` go through 4x4 stride-2 shifted convolutions (v: top 2 rows, left 3 columns;
       h: top-left 2x2).  Every (v, h) on the way (the inputs included) is kept as a skip.
    3. Up pass from the last (v, h), popping skips: ``v = gated_v(v, a=v_skip);
       h = gated_h(h, a=concat(v, h_skip))``; between levels, transposed convolutions double the
       size (v: 2x4 kernel, its left 3 columns; h: 2x2, all taps).
    4. ``ELU(h)`` and a 1x1 convolution to the mixture parameters.
    """

    def __init__(self, channels: int = 1, filters: int = 32, num_resnet: int = 1, num_hierarchies: int = 2,
                 mixtures: int = 5, dropout: float = 0.3):
        super().__init__()
        if channels != 1:
            raise ValueError(f"PixelCNNPlusPlus: only single-channel images are supported, got {channels}")
        self.filters, self.mixtures, self.num_hierarchies = filters, mixtures, num_hierarchies
        f = filters
        self.v_first = _weight_normed(ShiftedConv2d(channels, f, (5, 3), rows=2))
        self.h_first_up = _weight_normed(ShiftedConv2d(channels, f, 3, rows=1))
        self.h_first_left = _weight_normed(ShiftedConv2d(channels, f, 3, rows=2, cols=1))
        self.down = ModuleList([_Level(f, num_resnet, dropout, 0, f) for _ in range(num_hierarchies)])
        self.v_down = ModuleList([_weight_normed(ShiftedConv2d(f, f, 4, rows=2, cols=3, stride=2))
                                  for _ in range(num_hierarchies - 1)])
        self.h_down = ModuleList([_weight_normed(ShiftedConv2d(f, f, 4, rows=2, cols=2, stride=2))
                                  for _ in range(num_hierarchies - 1)])
        self.up = ModuleList([_Level(f, num_resnet + (level > 0), dropout, f, 2 * f)
                              for level in range(num_hierarchies)])  # up[0] is the lowest resolution
        self.v_up = ModuleList([_weight_normed(ShiftedConvTranspose2d(f, f, (2, 4), cols=3, stride=2))
                                for _ in range(num_hierarchies - 1)])
        self.h_up = ModuleList([_weight_normed(ShiftedConvTranspose2d(f, f, 2, stride=2))
                                for _ in range(num_hierarchies - 1)])
        self.elu = ELU()
        self.head = _weight_normed(Conv2d(f, 3 * mixtures, 1))

    @property
    def size_multiple(self) -> int:
        return 2 ** (self.num_hierarchies - 1)

    def forward(self, x):
        if x.ndim != 4 or x.shape[2] % self.size_multiple or x.shape[3] % self.size_multiple:
            raise ValueError(f"PixelCNNPlusPlus: expected (N, 1, H, W) with H and W multiples of "
                             f"{self.size_multiple}, got {x.shape}")
        v = self.v_first(x)
        h = self.h_first_up(x) + self.h_first_left(x)
        skips = [(v, h)]
        for level, layers in enumerate(self.down):
            if level > 0:
                v, h = self.v_down[level - 1](v), self.h_down[level - 1](h)
                skips.append((v, h))
            for vertical, horizontal in zip(layers.vertical, layers.horizontal):
                v = vertical(v)
                h = horizontal(h, v)
                skips.append((v, h))
        v, h = skips.pop()
        for level, layers in enumerate(self.up):
            if level > 0:
                v, h = self.v_up[level - 1](v), self.h_up[level - 1](h)
            for vertical, horizontal in zip(layers.vertical, layers.horizontal):
                v_skip, h_skip = skips.pop()
                v = vertical(v, v_skip)
                h = horizontal(h, concatenate([v, h_skip], axis=1))
        return self.head(self.elu(h))

    def split_mixture_params(self, params: Tensor):
        """(N, 3K, H, W) -> component logits, locations (in [−1, 1] units) and scales, each (N, K, H, W);
        ``scale = softplus(raw) + e^−7``."""
        return split_mixture_params(params, self.mixtures)

    def extra_repr(self) -> str:
        return f"filters={self.filters}, hierarchies={self.num_hierarchies}, mixtures={self.mixtures}"


# --------------------------------------------------------------------------- the likelihood

MIN_SCALE = math.exp(-7.0)  # added to softplus(raw scale): no component collapses to a point


def split_mixture_params(params: Tensor, mixtures: int):
    """The head's channels are [K logits | K locations | K raw scales]."""
    logits, loc, raw_scale = split(params, mixtures, axis=1)
    return logits, loc, softplus(raw_scale) + MIN_SCALE


def discretized_logistic_log_probs(loc: Tensor, scale: Tensor, value, high: int = 255) -> Tensor:
    """``log P(value | component)`` for integer pixel values ``value`` in 0..high under logistics
    with location ``loc`` and scale ``scale`` given in [−1, 1] units (the network's).

    In pixel units ``μ = (high/2)(loc + 1)``, ``s = (high/2)·scale``; the bin of k is
    [k − ½, k + ½], except that the first bin reaches down to −∞ and the last up to +∞::

        P(k) = σ(a) − σ(b),  a = (k + ½ − μ)/s,  b = (k − ½ − μ)/s    (0 < k < high)
        P(0) = σ(a),  P(high) = 1 − σ(b)

    Subtracting two CDF values close to 1 (or to 0) loses every digit, so the difference is
    factored instead (``σ(a) − σ(b) = σ(a)·σ(−b)·(1 − e^{−(a−b)})``, with ``a − b = 1/s``)::

        log P(k) = log σ(a) + log σ(−b) + log(1 − e^{−1/s})

    where ``log σ(a) = −softplus(−a)``, ``log σ(−b) = −softplus(b)``, and
    ``log(1 − e^{−d}) = log tanh(d/2) + softplus(−d)`` (exact for every d > 0, and accurate for small
    d, where 1 − e^{−d} would cancel).  The edge bins keep only their one CDF term.  Every piece is a
    smooth Tensor op: the result can be differentiated (twice) and never overflows.

    ``value`` broadcasts against ``loc`` (e.g. (N, 1, H, W) against (N, K, H, W)).
    """
    k = value.data if isinstance(value, Tensor) else value
    k = backend.to_device(k, loc.device).astype(loc.dtype)
    half = high / 2.0
    inverse_scale = 1.0 / (half * scale)  # 1/s, in bins
    centred = k - half * (loc + 1.0)  # k − μ
    log_cdf_top = -softplus(-(centred + 0.5) * inverse_scale)  # log σ(a)
    log_survival_bottom = -softplus((centred - 0.5) * inverse_scale)  # log σ(−b)
    log_width = log(tanh(inverse_scale * 0.5)) + softplus(-inverse_scale)  # log(1 − e^{−1/s})
    not_top = tensor((k < high).astype(loc.dtype), device=loc.device)
    not_bottom = tensor((k > 0).astype(loc.dtype), device=loc.device)
    return log_cdf_top * not_top + log_survival_bottom * not_bottom + log_width * (not_top * not_bottom)


def discretized_logistic_mixture_log_prob(params: Tensor, value, mixtures: int = 5, high: int = 255) -> Tensor:
    """``log p(value)`` per pixel, (N, H, W), under the mixture whose parameters ``params``
    (N, 3K, H, W) the network gives: ``logsumexp_k(log softmax(π)_k + log P(value | k))``."""
    logits, loc, scale = split_mixture_params(params, mixtures)
    return logsumexp(log_softmax(logits, axis=1) + discretized_logistic_log_probs(loc, scale, value, high), axis=1)


def mixture_nll(params: Tensor, value, mixtures: int = 5, high: int = 255) -> Tensor:
    """The book's loss: ``−mean over the batch of log p(image)``, the image's log-likelihood the
    sum over its pixels (nats per image; divide by ``H·W·ln 2`` for bits per dimension)."""
    log_p = discretized_logistic_mixture_log_prob(params, value, mixtures, high)
    return -log_p.sum() / log_p.shape[0]


# =========================================================================== sampling


def _raster_positions(height: int, width: int):
    return ((row, col) for row in range(height) for col in range(width))


def _rows_needed(row: int, height: int, multiple: int) -> int:
    """The rows 0..row, rounded up to a multiple the network accepts: causality means no output
    up to ``row`` depends on any later row, so the rest of the image need not be computed."""
    return min(height, -(-(row + 1) // multiple) * multiple)


def sample_pixelcnn(model: PixelCNN, n: int, size: int, temperature: float = 1.0, device="cpu"):
    """``n`` images (N, 1, size, size) of levels ``0..levels−1``, drawn pixel by pixel in raster
    order: each pixel's level from ``softmax(logits / temperature)`` given the pixels before it,
    written into the image as ``level/levels`` (the network's input scale).  Returns the integer
    levels as an array on ``device``."""
    if temperature <= 0:
        raise ValueError(f"sample_pixelcnn: temperature must be > 0, got {temperature}")
    xp = backend.device(device).xp
    levels = xp.zeros((n, 1, size, size), dtype=xp.int64)
    image = xp.zeros((n, 1, size, size), dtype=backend.get_default_dtype())
    generator = backend.generator(device)
    with no_grad():
        for row, col in _raster_positions(size, size):
            rows = row + 1
            logits = model(tensor(image[:, :, :rows], device=device)).data[:, :, row, col]
            level = _categorical(xp, logits / temperature, generator)
            levels[:, 0, row, col] = level
            image[:, 0, row, col] = level / model.levels
    return levels


def _categorical(xp, logits, generator):
    """One draw per row of ``logits`` (N, K): the first class whose cumulative probability exceeds u."""
    shifted = xp.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = xp.cumsum(shifted / shifted.sum(axis=1, keepdims=True), axis=1)
    u = generator.random((logits.shape[0], 1))
    return xp.minimum((cumulative < u).sum(axis=1), logits.shape[1] - 1)


def sample_pixelcnn_plus_plus(model: PixelCNNPlusPlus, n: int, size: int, device="cpu"):
    """``n`` images (N, 1, size, size) of integers 0..255, drawn pixel by pixel in raster order as the
    book does: at each pixel a component from ``softmax(π)``, then a logistic value
    ``μ + s·log(u/(1 − u))`` in [−1, 1] units, clipped to [−1, 1] and written into the image (not
    binned); at the end ``round(127.5·(x + 1))``.  The book starts from noise and one full draw; every
    pixel is redrawn before anything reads it, so starting from zeros gives the same distribution."""
    xp = backend.device(device).xp
    image = xp.zeros((n, 1, size, size), dtype=backend.get_default_dtype())
    generator = backend.generator(device)
    with no_grad():
        for row, col in _raster_positions(size, size):
            rows = _rows_needed(row, size, model.size_multiple)
            params = model(tensor(image[:, :, :rows], device=device))
            logits, loc, scale = (t.data[:, :, row, col] for t in model.split_mixture_params(params))
            component = _categorical(xp, logits, generator)[:, None]
            loc = xp.take_along_axis(loc, component, axis=1)[:, 0]
            scale = xp.take_along_axis(scale, component, axis=1)[:, 0]
            u = xp.clip(generator.random((n,)), 1e-5, 1 - 1e-5)
            image[:, 0, row, col] = xp.clip(loc + scale * (xp.log(u) - xp.log1p(-u)), -1.0, 1.0)
    return xp.rint(127.5 * (image + 1.0)).astype(xp.int64)
