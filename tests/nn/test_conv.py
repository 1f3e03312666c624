"""conv2d, conv_transpose2d and the convolution layers.

* padding and output sizes: every Keras "same" case listed in book-models §1.2, and the transposed
  convolution's output size against both PyTorch's and Keras's formulas;
* PyTorch parity, forward and backward, over a grid of strides, kernels, paddings, dilations, bias
  on/off and odd shapes, with each CPU kernel flavour (float64 to ~1e-10, float32 to ~1e-5);
* finite-difference gradient checks, first and second order (WGAN-GP differentiates a gradient);
* the layers: Keras initialisation, parameter counts of the book's models, errors that name the
  layer and the shapes.  (PixelCNN's masked convolution is tested with its model, in
  tests/models/test_pixelcnn.py.)
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from tinygdl.kernels.geometry import conv_geometry

import tinygdl as tg
import tinygdl.nn.functional as F
from tinygdl import nn
from tinygdl.ops.conv import _same_padding, _transposed_crop
from tinygdl.testing import gradcheck, gradgradcheck

# --------------------------------------------------------------------------- reference formulas


def keras_same(n, k, s, d=1):
    """Keras "same" padding along one axis, restated from book-models §1.2: (before, after)."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def resolve(padding, hw, k, s, d):
    """Any accepted padding argument as ((top, bottom), (left, right)), computed independently."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return tuple(keras_same(n, k_, s_, d_) for n, k_, s_, d_ in zip(hw, k, s, d))
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if isinstance(padding[0], int):
        return ((padding[0],) * 2, (padding[1],) * 2)
    return padding


def pairs(*values):
    return [(v, v) if isinstance(v, int) else tuple(v) for v in values]


# --------------------------------------------------------------------------- padding and output sizes

# (n, k, s) -> (pad before, pad after): every "same" case book-models §1.2 lists.
BOOK_SAME_CASES = [
    (32, 3, 1, (1, 1)), (16, 5, 1, (2, 2)), (32, 7, 1, (3, 3)), (16, 1, 1, (0, 0)), (7, 1, 2, (0, 0)),
    (32, 3, 2, (0, 1)), (16, 3, 2, (0, 1)), (32, 5, 2, (1, 2)), (64, 4, 2, (1, 1)), (8, 4, 2, (1, 1)),
    (84, 12, 12, (0, 0)), (7, 7, 7, (0, 0)), (4, 4, 2, (1, 1)), (2, 3, 2, (0, 1)),
]


@pytest.mark.parametrize("n, k, s, expected", BOOK_SAME_CASES)
def test_same_padding_matches_the_book(n, k, s, expected):
    assert _same_padding(n, k, s, 1) == expected
    x = tg.zeros(1, 1, n, 3)
    y = F.conv2d(x, tg.zeros(1, 1, k, 1), stride=(s, 1), padding="same")
    assert y.shape == (1, 1, math.ceil(n / s), 3)


@pytest.mark.parametrize("n, k, s, d", list(itertools.product([1, 2, 5, 8, 9], [1, 2, 3, 4, 5], [1, 2, 3], [1, 2])))
def test_same_padding_output_is_ceil_n_over_s(n, k, s, d):
    before, after = _same_padding(n, k, s, d)
    assert (before, after) == keras_same(n, k, s, d) and after - before in (0, 1)
    span = d * (k - 1) + 1
    assert (n + before + after - span) // s + 1 == math.ceil(n / s) or n + before + after < span


# (n, k, s) -> (crop at start, crop at end) for Keras "same" transposed convs, book-models §1.2.
BOOK_TRANSPOSED_SAME = [(4, 4, 2, (1, 1)), (8, 2, 2, (0, 0)), (2, 7, 7, (0, 0)), (1, 12, 12, (0, 0)),
                        (2, 2, 2, (0, 0)), (32, 3, 1, (1, 1)), (4, 3, 2, (0, 1)), (16, 3, 2, (0, 1))]


@pytest.mark.parametrize("n, k, s, crops", BOOK_TRANSPOSED_SAME)
def test_transposed_same_crops_match_the_book(n, k, s, crops):
    assert _transposed_crop(n, k, s, 1, "same", 0) == crops
    y = F.conv_transpose2d(tg.zeros(1, 1, n, 1), tg.zeros(1, 1, k, 1), stride=(s, 1), padding="same")
    assert y.shape == (1, 1, n * s, 1)


@pytest.mark.parametrize("n, k, s, d", list(itertools.product([1, 3, 4], [1, 2, 3, 5], [1, 2, 3], [1, 2])))
def test_transposed_keras_output_sizes(n, k, s, d):
    """Keras ``deconv_output_length``: "same" -> n·s, "valid" -> n·s + max(span - s, 0)."""
    x, w = tg.ones(1, 1, n, n), tg.ones(1, 1, k, k)
    span = d * (k - 1) + 1
    assert F.conv_transpose2d(x, w, stride=s, dilation=d, padding="same").shape[2:] == (n * s, n * s)
    valid = n * s + max(span - s, 0)
    assert F.conv_transpose2d(x, w, stride=s, dilation=d, padding="valid").shape[2:] == (valid, valid)


@pytest.mark.torch
@pytest.mark.parametrize("n, k, s, p, d",
                         list(itertools.product([1, 3, 4], [1, 2, 3, 4], [1, 2, 3], [0, 1, 2], [1, 2])))
def test_transposed_pytorch_output_sizes(n, k, s, p, d, torch):
    for op in range(max(s, d)):
        expected = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if expected < 1:
            with pytest.raises(ValueError, match="crops all"):
                F.conv_transpose2d(tg.ones(1, 1, n, n), tg.ones(1, 1, k, k), stride=s, padding=p,
                                   output_padding=op, dilation=d)
            continue
        y = F.conv_transpose2d(tg.ones(1, 1, n, n), tg.ones(1, 1, k, k), stride=s, padding=p,
                               output_padding=op, dilation=d)
        t = torch.nn.functional.conv_transpose2d(torch.ones(1, 1, n, n), torch.ones(1, 1, k, k), stride=s,
                                                 padding=p, output_padding=op, dilation=d)
        assert y.shape == tuple(t.shape) == (1, 1, expected, expected)


# --------------------------------------------------------------------------- PyTorch parity


def _conv_grid():
    """Every kernel size 1-5 with every stride 1-3, each with a padding, dilation, bias and input
    shape taken in turn from short lists (odd shapes: N=1, C=1, non-square images and kernels)."""
    paddings = [0, 1, "same", "valid", (2, 1), ((0, 1), (2, 1)), "same", 2]
    shapes = [(1, 1, 11, 9), (2, 3, 10, 12), (3, 2, 9, 13), (2, 1, 12, 10)]
    cases = []
    for i, (k, s) in enumerate(itertools.product(range(1, 6), range(1, 4))):
        kernel = (k, k) if i % 4 else (k, max(1, k - 1))
        cases.append((shapes[i % 4], 3 - i % 2, kernel, s, paddings[i % 8], 1 + (i % 3 == 1), i % 2 == 0))
    return cases


CONV_GRID = _conv_grid()


def _twins(torch, rng, *shapes, dtype=np.float64):
    """The same random arrays as tinygdl tensors and as torch tensors, all requiring grad."""
    arrays = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    return ([tg.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _compare_forward_backward(torch, ours, theirs, inputs, torch_inputs, rng, tol):
    """Same output, and the same gradients for one random output gradient."""
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    gy = rng.standard_normal(ours.shape).astype(ours.dtype)
    ours.backward(tg.tensor(gy))
    theirs.backward(torch.tensor(gy))
    for a, b in zip(inputs, torch_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


@pytest.fixture
def image_by_image(monkeypatch):
    """Every chunk of a convolution's batch is one image (``image_chunks``): the weight gradients
    are then sums over chunks."""
    monkeypatch.setattr(tg.ops.conv, "CHUNK_COLUMNS_BYTES", 1)
    monkeypatch.setattr(tg.ops.conv, "MIN_CHUNK_COLUMNS", 0)


@pytest.fixture(params=["whole batch", "image by image"])
def chunking(request, monkeypatch):
    """Run a test with the batch in one chunk and again with one image per chunk."""
    if request.param == "image by image":
        monkeypatch.setattr(tg.ops.conv, "CHUNK_COLUMNS_BYTES", 1)
        monkeypatch.setattr(tg.ops.conv, "MIN_CHUNK_COLUMNS", 0)


def _torch_conv2d(torch, x, w, b, stride, padding, dilation):
    """torch conv2d with any of our paddings: explicit (possibly uneven) zero padding first."""
    (t, bottom), (left, right) = resolve(padding, x.shape[2:], w.shape[2:], pairs(stride)[0], pairs(dilation)[0])
    x = torch.nn.functional.pad(x, (left, right, t, bottom))
    return torch.nn.functional.conv2d(x, w, b, stride=stride, dilation=dilation)


@pytest.mark.torch
@pytest.mark.parametrize("shape, oc, kernel, stride, padding, dilation, bias", CONV_GRID)
def test_conv2d_matches_torch(shape, oc, kernel, stride, padding, dilation, bias, cpu_kernels, chunking, torch,
                              rng):
    shapes = [shape, (oc, shape[1]) + kernel] + ([(oc,)] if bias else [])
    ours, theirs = _twins(torch, rng, *shapes)
    y = F.conv2d(*ours[:2], ours[2] if bias else None, stride=stride, padding=padding, dilation=dilation)
    t = _torch_conv2d(torch, *theirs[:2], theirs[2] if bias else None, stride, padding, dilation)
    _compare_forward_backward(torch, y, t, ours, theirs, rng, 1e-10)


@pytest.mark.torch
@pytest.mark.parametrize("stride, padding", [(1, "same"), (2, "same"), (2, 1), (3, "valid")])
def test_conv2d_float32_matches_torch(stride, padding, torch, rng):
    ours, theirs = _twins(torch, rng, (4, 5, 13, 12), (6, 5, 3, 3), (6,), dtype=np.float32)
    y = F.conv2d(*ours, stride=stride, padding=padding)
    assert y.dtype == np.float32
    t = _torch_conv2d(torch, *theirs, stride, padding, 1)
    _compare_forward_backward(torch, y, t, ours, theirs, rng, 1e-4)


def _transpose_grid():
    """Kernel 1-5 x stride 1-3, each with a padding (numbers, uneven pairs, "same", "valid"), an
    output padding where one is allowed, a dilation, bias on/off and an odd shape."""
    paddings = [0, "same", 1, "valid", (1, 0), "same", 2]
    shapes = [(1, 1, 4, 5), (2, 3, 5, 3), (2, 2, 3, 4)]
    cases = []
    for i, (k, s) in enumerate(itertools.product(range(1, 6), range(1, 4))):
        padding, dilation = paddings[i % 7], 1 + (i % 4 == 1)
        numeric = not isinstance(padding, str)
        output_padding = (i % max(s, dilation)) if numeric else 0
        if numeric and min(resolve(padding, (1, 1), (k, k), (s, s), (1, 1))[0]) > dilation * (k - 1):
            padding = 0  # would crop everything
        kernel = (k, k) if i % 2 else (k, max(1, k - 2))
        cases.append((shapes[i % 3], 2 + i % 2, kernel, s, padding, output_padding, dilation, i % 3 != 1))
    return cases


def _torch_conv_transpose2d(torch, x, w, b, stride, padding, output_padding, dilation):
    """torch conv_transpose2d with Keras paddings: the full (padding=0) output, cropped and/or
    zero-extended as book-models §1.2 describes."""
    if not isinstance(padding, str):
        return torch.nn.functional.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                                    output_padding=output_padding, dilation=dilation)
    full = torch.nn.functional.conv_transpose2d(x, w, b, stride=stride, dilation=dilation)
    s, d = pairs(stride, dilation)
    for axis, (n, k, s_, d_) in enumerate(zip(x.shape[2:], w.shape[2:], s, d)):
        span = d_ * (k - 1) + 1
        out = n * s_ if padding == "same" else n * s_ + max(span - s_, 0)
        start = max(span - s_, 0) // 2 if padding == "same" else 0
        full = full.narrow(2 + axis, start, min(out, full.shape[2 + axis] - start))
        missing = out - full.shape[2 + axis]  # a kernel shorter than the stride: zeros at the end
        if missing:
            b_fill = 0 if b is None else b.reshape(-1, 1, 1)
            pad_shape = list(full.shape)
            pad_shape[2 + axis] = missing
            full = torch.cat([full, torch.zeros(pad_shape, dtype=full.dtype) + b_fill], 2 + axis)
    return full


@pytest.mark.torch
@pytest.mark.parametrize("shape, oc, kernel, stride, padding, output_padding, dilation, bias", _transpose_grid())
def test_conv_transpose2d_matches_torch(shape, oc, kernel, stride, padding, output_padding, dilation, bias,
                                        cpu_kernels, chunking, torch, rng):
    shapes = [shape, (shape[1], oc) + kernel] + ([(oc,)] if bias else [])
    ours, theirs = _twins(torch, rng, *shapes)
    options = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    y = F.conv_transpose2d(*ours[:2], ours[2] if bias else None, **options)
    t = _torch_conv_transpose2d(torch, *theirs[:2], theirs[2] if bias else None, **options)
    _compare_forward_backward(torch, y, t, ours, theirs, rng, 1e-10)


@pytest.mark.torch
def test_conv_transpose2d_float32_matches_torch(torch, rng):
    ours, theirs = _twins(torch, rng, (4, 6, 7, 5), (6, 3, 4, 4), (3,), dtype=np.float32)
    y = F.conv_transpose2d(*ours, stride=2, padding=1)
    t = torch.nn.functional.conv_transpose2d(*theirs, stride=2, padding=1)
    _compare_forward_backward(torch, y, t, ours, theirs, rng, 1e-4)


def test_conv_transpose2d_is_the_adjoint_of_conv2d(rng):
    """<conv2d(x), y> == <x, conv_transpose2d(y)> for the same weight, stride, padding and dilation."""
    w = tg.tensor(rng.standard_normal((4, 3, 3, 2)))
    x = tg.tensor(rng.standard_normal((2, 3, 9, 8)))
    y = tg.tensor(rng.standard_normal(F.conv2d(x, w, stride=2, padding=1, dilation=(1, 2)).shape))
    # Width: (4 - 1)·2 - 2 + 3 = 7 columns, one short of x's 8 (conv2d never reached its last
    # padding column), which output_padding puts back.
    xt = F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=(0, 1), dilation=(1, 2))
    assert xt.shape == x.shape
    lhs = (F.conv2d(x, w, stride=2, padding=1, dilation=(1, 2)) * y).sum().item()
    rhs = (x * xt).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-12)


def held_shapes(y) -> list:
    """The shapes of every array the graph of ``y`` keeps for its backward pass (its ops' inputs)."""
    held, stack = [], [y.creator]
    while stack:
        f = stack.pop()
        held += [t.data.shape for t in f.inputs]
        stack += [t.creator for t in f.inputs if t.creator is not None]
    return held


def test_conv_transpose2d_keeps_no_product_for_backward(rng):
    """The (C_out·kh·kw, N·H·W) product that col2im folds onto the output is freed at once: no op
    of the graph holds an array of its shape (its backward never reads it)."""
    x = tg.tensor(rng.standard_normal((2, 4, 5, 5)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = F.conv_transpose2d(x, w, stride=2)
    product_shape = (3 * 3 * 3, 2 * 5 * 5)
    assert product_shape not in held_shapes(y)
    y.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape




def test_image_chunks_cover_the_batch_within_the_budget(monkeypatch):
    g = conv_geometry((10, 3, 8, 8), 3, 1, 1, 1)                     # 27 rows x 64 columns per image
    monkeypatch.setattr(tg.ops.conv, "MIN_CHUNK_COLUMNS", 0)
    monkeypatch.setattr(tg.ops.conv, "CHUNK_COLUMNS_BYTES", 3 * 27 * 64 * 4 + 100)
    monkeypatch.setattr(tg.kernels, "cpu_threads", lambda: 1)
    chunks = list(tg.ops.conv.image_chunks(g, 4, np))
    assert [(start, stop) for start, stop, _ in chunks] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert [c.n for _, _, c in chunks] == [3, 3, 3, 1] and chunks[0][2]._replace(n=10) == g
    monkeypatch.setattr(tg.kernels, "cpu_threads", lambda: 2)  # the budget is per thread
    assert [(start, stop) for start, stop, _ in tg.ops.conv.image_chunks(g, 4, np)] == [(0, 6), (6, 10)]
    monkeypatch.setattr(tg.ops.conv, "MIN_CHUNK_COLUMNS", 7 * 64 - 1)  # 7 images' positions at least
    assert [(start, stop) for start, stop, _ in tg.ops.conv.image_chunks(g, 4, np)] == [(0, 7), (7, 10)]


def test_conv2d_image_by_image_matches_torch_and_keeps_no_columns(image_by_image, float64, rng, torch):
    x = tg.tensor(rng.standard_normal((3, 3, 7, 6)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((4, 3, 3, 2)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(4), requires_grad=True)
    y = F.conv2d(x, w, b, stride=(2, 1), padding=1)
    assert (3 * 3 * 2, 3 * 4 * 7) not in held_shapes(y)  # the column matrix
    gy = rng.standard_normal(y.shape)
    (y * tg.tensor(gy)).sum().backward()
    xt, wt, bt = (torch.tensor(a.numpy(), requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=(2, 1), padding=1)
    (yt * torch.tensor(gy)).sum().backward()
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    for ours, theirs in ((x, xt), (w, wt), (b, bt)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_conv2d_image_by_image_is_twice_differentiable(image_by_image, float64, rng):
    x = tg.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), (x, w, b))
    assert gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), (x, w, b))


def test_conv_transpose2d_image_by_image_is_twice_differentiable(image_by_image, float64, rng):
    x = tg.tensor(rng.standard_normal((3, 4, 3, 4)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((4, 1, 3, 3)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(2), requires_grad=True)

    def layer(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2)

    assert gradcheck(layer, (x, w, b))
    assert gradgradcheck(layer, (x, w, b))


def test_conv2d_gradient_of_only_the_input_or_only_the_weight(rng):
    """The backward pass computes only the gradients asked for, and each equals the full pass's."""
    x_data, w_data = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    both = [tg.tensor(a, requires_grad=True) for a in (x_data, w_data)]
    F.conv2d(*both, padding=1).sum().backward()
    for which in (0, 1):
        pair_ = [tg.tensor(a, requires_grad=(i == which)) for i, a in enumerate((x_data, w_data))]
        F.conv2d(*pair_, padding=1).sum().backward()
        assert pair_[1 - which].grad is None
        np.testing.assert_allclose(pair_[which].grad.numpy(), both[which].grad.numpy(), rtol=1e-5)


# --------------------------------------------------------------------------- gradient checks


def test_conv2d_gradcheck(float64, rng):
    x = tg.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(3), requires_grad=True)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding="same"), [x, w, b], mode="full")


def test_conv2d_gradcheck_directional_larger(float64, rng):
    x = tg.tensor(rng.standard_normal((3, 4, 11, 10)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((5, 4, 3, 3)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(5), requires_grad=True)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=2), [x, w, b],
              mode="directional", directions=6)


def test_conv2d_gradgradcheck(float64, rng):
    x = tg.tensor(rng.standard_normal((2, 2, 4, 4)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(2), requires_grad=True)
    gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding="same"), [x, w, b])


def test_conv_transpose2d_gradcheck(float64, rng):
    x = tg.tensor(rng.standard_normal((2, 3, 3, 4)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(2), requires_grad=True)
    gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding="same"), [x, w, b], mode="full")


def test_conv_transpose2d_gradgradcheck(float64, rng):
    x = tg.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((2, 2, 4, 4)), requires_grad=True)
    gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1), [x, w])


@pytest.mark.torch
@pytest.mark.parametrize("groups", [1, 2])
def test_gradient_penalty_through_conv_matches_torch(groups, torch, rng):
    """WGAN-GP's use of double backward: d/dW of ||d critic / dx||², against torch (also through
    a grouped convolution and a depthwise transposed one)."""
    ours, theirs = _twins(torch, rng, (2, 2, 6, 6), (4, 2 // groups, 3, 3), (4, 1, 2, 2), (1, 4, 2, 2))

    def penalty(lib, x, w1, w_t, w2):
        conv = lib.nn.functional.conv2d if lib is torch else F.conv2d
        conv_t = lib.nn.functional.conv_transpose2d if lib is torch else F.conv_transpose2d
        act = torch.tanh if lib is torch else tg.tanh
        h = act(conv(x, w1, stride=2, padding=1, groups=groups))
        h = act(conv_t(h, w_t, stride=2, groups=4))
        score = conv(h, w2, stride=2).sum()
        (gx,) = (torch.autograd.grad(score, x, create_graph=True) if lib is torch
                 else tg.grad(score, x, create_graph=True))
        return (gx * gx).sum()

    penalty(tg, *ours).backward()
    penalty(torch, *theirs).backward()
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- layers


def test_conv2d_layer_keras_defaults_and_book_parameter_counts():
    tg.manual_seed(0)
    layer = nn.Conv2d(64, 64, 3, stride=2, padding="same")
    assert layer.weight.shape == (64, 64, 3, 3) and layer.bias.shape == (64,)
    assert layer.num_parameters() == 36_928  # CIFAR CNN layer 8
    limit = math.sqrt(6 / (9 * 64 + 9 * 64))
    w = layer.weight.numpy()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.02 * limit
    assert not layer.bias.numpy().any()
    assert nn.Conv2d(1, 64, 4, bias=False).num_parameters() == 1024  # DCGAN discriminator layer 1
    assert nn.Conv2d(1, 2, 3, init="zeros").weight.numpy().sum() == 0


def test_conv_transpose2d_layer_fans_and_book_parameter_counts():
    tg.manual_seed(0)
    layer = nn.ConvTranspose2d(128, 64, 3, stride=2, padding="same")
    assert layer.weight.shape == (128, 64, 3, 3)
    assert layer.num_parameters() == 73_792  # autoencoder decoder layer 4
    limit = math.sqrt(6 / (9 * (128 + 64)))
    assert limit * 0.95 < np.abs(layer.weight.numpy()).max() <= limit


def test_book_autoencoder_shapes():
    """book-models §3.3: 32 -> 16 -> 8 -> 4 with k3 s2 "same" convs, and back with transposed convs."""
    encoder = nn.Sequential(nn.Conv2d(1, 32, 3, 2, "same"), nn.Conv2d(32, 64, 3, 2, "same"),
                            nn.Conv2d(64, 128, 3, 2, "same"))
    decoder = nn.Sequential(nn.ConvTranspose2d(128, 128, 3, 2, "same"), nn.ConvTranspose2d(128, 64, 3, 2, "same"),
                            nn.ConvTranspose2d(64, 32, 3, 2, "same"), nn.Conv2d(32, 1, 3, 1, "same"))
    z = encoder(tg.zeros(2, 1, 32, 32))
    assert z.shape == (2, 128, 4, 4)
    assert decoder(z).shape == (2, 1, 32, 32)
    assert sum(m.num_parameters() for m in decoder) == 147_584 + 73_792 + 18_464 + 289


@pytest.mark.torch
def test_conv_layers_match_torch_with_copied_weights(torch, rng):
    ours = nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, dilation=(2, 1)).to(dtype=np.float64)
    theirs = torch.nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, dilation=(2, 1)).double()
    ours_t = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, output_padding=1).to(dtype=np.float64)
    theirs_t = torch.nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, output_padding=1).double()
    for a, b in ((ours, theirs), (ours_t, theirs_t)):
        a.load_state_dict({"weight": b.weight.detach().numpy(), "bias": b.bias.detach().numpy()})
    x = rng.standard_normal((2, 3, 9, 8))
    y, t = ours_t(ours(tg.tensor(x))), theirs_t(theirs(torch.tensor(x)))
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_extra_repr():
    assert repr(nn.Conv2d(3, 32, 3, stride=2, padding="same", bias=False)) == \
        "Conv2d(3, 32, kernel_size=(3, 3), stride=(2, 2), padding='same', bias=False)"
    assert repr(nn.ConvTranspose2d(4, 2, 4, 2, 1, output_padding=1)) == \
        "ConvTranspose2d(4, 2, kernel_size=(4, 4), stride=(2, 2), padding=1, output_padding=(1, 1))"


# --------------------------------------------------------------------------- errors


def test_wrong_channels_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 32, k=3\): expected input \(N, 3, H, W\), got \(8, 1, 28, 28\)"):
        nn.Conv2d(3, 32, 3)(tg.zeros(8, 1, 28, 28))
    expected = r"ConvTranspose2d\(4, 2, k=\(3, 1\)\): expected input \(N, 4, H, W\), got \(4, 5\)"
    with pytest.raises(ValueError, match=expected):
        nn.ConvTranspose2d(4, 2, (3, 1))(tg.zeros(4, 5))
    with pytest.raises(ValueError, match=r"conv2d: the input of shape \(1, 2, 5, 5\) has 2 channels"):
        F.conv2d(tg.zeros(1, 2, 5, 5), tg.zeros(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(tg.zeros(1, 3, 5, 5), tg.zeros(4, 3, 3, 3), tg.zeros(3))


def test_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match=r"Conv2d\(1, 1, k=5\): conv2d: a 5x5 kernel .* does not fit"):
        nn.Conv2d(1, 1, 5)(tg.zeros(1, 1, 4, 4))
    assert nn.Conv2d(1, 1, 5, padding="same")(tg.zeros(1, 1, 4, 4)).shape == (1, 1, 4, 4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(padding=(1, 2, 3, 4)), "flat 4-tuple"),
    (dict(padding=-1), "padding must be >= 0"),
    (dict(padding="full"), "padding must be"),
    (dict(stride=0), "must be >= 1"),
    (dict(dilation=(1, 2, 3)), "dilation must be an int or a pair"),
])
def test_bad_conv_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.conv2d(tg.zeros(1, 1, 5, 5), tg.zeros(1, 1, 3, 3), **kwargs)


def test_bad_transposed_arguments():
    x, w = tg.zeros(1, 1, 3, 3), tg.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="output_padding must be >= 0 and smaller than the stride"):
        F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=2)
    with pytest.raises(ValueError, match="output_padding goes with numeric padding"):
        F.conv_transpose2d(x, w, stride=2, padding="same", output_padding=1)
    with pytest.raises(ValueError, match=r"\(in_channels, out_channels/groups, kh, kw\) with groups=1 expects 1"):
        F.conv_transpose2d(tg.zeros(1, 2, 3, 3), w)


# --------------------------------------------------------------------------- groups and 1-D layers


@pytest.mark.torch
@pytest.mark.parametrize("make", [
    lambda nn_: nn_.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
    lambda nn_: nn_.Conv2d(3, 6, 3, padding=1, groups=3, bias=False),              # depthwise, multiplier 2
    lambda nn_: nn_.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2),
    lambda nn_: nn_.ConvTranspose2d(3, 3, 3, stride=2, padding=1, output_padding=1, groups=3),
    lambda nn_: nn_.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2),
    lambda nn_: nn_.Conv1d(4, 4, 5, padding="same", groups=4),
    lambda nn_: nn_.ConvTranspose1d(4, 2, 3, stride=3, padding=1, output_padding=2, groups=2),
])
def test_grouped_and_1d_layers_match_torch_with_copied_weights(make, chunking, torch, rng):
    ours, theirs = make(nn).to(dtype=np.float64), make(torch.nn).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    shape = (2, ours.in_channels) + (7, 6)[:ours.spatial]
    x = rng.standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    y, t = ours(tg.tensor(x, requires_grad=True)), theirs(xt)
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    params = [ours.weight] + ([ours.bias] if ours.bias is not None else [])
    grads = tg.grad(y, params, grad_outputs=tg.tensor(g))
    tgrads = torch.autograd.grad(t, [theirs.weight] + ([theirs.bias] if theirs.bias is not None else []),
                                 torch.tensor(g))
    for a, b in zip(grads, tgrads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_grouped_layer_shapes_fans_and_repr():
    depthwise = nn.Conv2d(8, 16, 3, padding="same", groups=8)
    assert depthwise.weight.shape == (16, 1, 3, 3)
    assert nn.init.fans(depthwise.weight.shape, "conv") == (9, 144)  # fan_in = (C/groups)·k·k, as PyTorch
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
    assert nn.Conv1d(4, 6, 5).weight.shape == (6, 4, 5)
    assert repr(depthwise) == "Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1), padding='same', groups=8)"
    assert repr(nn.ConvTranspose1d(2, 3, 4, stride=2, output_padding=1)) == \
        "ConvTranspose1d(2, 3, kernel_size=(4,), stride=(2,), output_padding=(1,))"
    assert nn.Conv1d(2, 3, 3, stride=2)(tg.zeros(1, 2, 9)).shape == (1, 3, 4)


def test_group_errors_name_the_op_and_shapes():
    from tinygdl.errors import ShapeError

    with pytest.raises(ValueError, match=r"Conv2d: groups=3 must be a positive int dividing in_channels=4"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ShapeError, match=r"conv2d: the input of shape \(1, 4, 5, 5\) has 4 channels, but the "
                                         r"weight of shape \(6, 1, 3, 3\) .* with groups=2 expects 2"):
        F.conv2d(tg.zeros(1, 4, 5, 5), tg.zeros(6, 1, 3, 3), groups=2)
    with pytest.raises(ShapeError, match=r"7 must be divisible by groups"):
        F.conv2d(tg.zeros(1, 4, 5, 5), tg.zeros(7, 2, 3, 3), groups=2)
    with pytest.raises(ShapeError, match=r"Conv1d\(2, 3, k=3\): expected input \(N, 2, L\), got \(1, 2, 5, 5\)"):
        nn.Conv1d(2, 3, 3)(tg.zeros(1, 2, 5, 5))
    with pytest.raises(ShapeError, match=r"conv1d: expected an input of shape \(N, C, L\)"):
        F.conv1d(tg.zeros(2, 5), tg.zeros(3, 2, 3))
    with pytest.raises(ValueError, match=r"conv1d: padding must be an int or a 1-tuple"):
        F.conv1d(tg.zeros(1, 2, 5), tg.zeros(3, 2, 3), padding=(1, 1))
