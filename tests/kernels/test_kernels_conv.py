"""im2col / col2im: the reference against independent definitions, every flavour against the reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tinygdl.kernels import geometry as geometry_module
from tinygdl.kernels import reference

from tinygdl import kernels
from tinygdl.backend import to_device, to_numpy

# --------------------------------------------------------------------------- the grid of cases

# (x_shape, kernel_size, stride, padding, dilation); padding is ((top, bottom), (left, right)).
HAND_PICKED = [
    ((2, 3, 7, 7), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # "valid"
    ((2, 3, 7, 7), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # "same"
    ((1, 1, 8, 8), (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # 1x1 kernel, N=1, C=1
    ((2, 2, 9, 9), (7, 7), (1, 1), ((3, 3), (3, 3)), (1, 1)),  # large kernel
    ((2, 2, 8, 8), (4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1)),  # a DCGAN layer
    ((2, 2, 9, 7), (3, 3), (2, 2), ((0, 1), (0, 1)), (1, 1)),  # Keras "same" with stride 2
    ((1, 3, 6, 5), (3, 2), (3, 1), ((1, 2), (0, 1)), (1, 1)),  # non-square kernel, asymmetric padding
    ((2, 1, 7, 9), (2, 3), (1, 2), ((2, 1), (1, 0)), (2, 1)),  # dilation on one axis
    ((1, 2, 9, 9), (3, 3), (2, 3), ((5, 5), (5, 5)), (2, 2)),  # padding wider than the kernel
    ((1, 1, 5, 4), (3, 3), (3, 3), ((4, 4), (4, 4)), (1, 1)),  # mostly padding
    ((1, 2, 10, 10), (2, 2), (3, 3), ((0, 0), (0, 0)), (1, 1)),  # stride > kernel: pixels never read
    ((1, 1, 1, 1), (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # one pixel
    ((1, 2, 1, 1), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # one pixel, padded
    ((3, 2, 5, 4), (5, 3), (1, 2), ((2, 2), (1, 1)), (1, 2)),
    ((2, 2, 7, 8), (3, 3), (1, 1), ((2, 2), (2, 2)), (2, 2)),  # dilated "same": whole planes, shifted by 2
    ((1, 2, 3, 6), (5, 3), (1, 1), ((2, 2), (1, 1)), (1, 1)),  # taps that read only padding rows
]


def _grid():
    """Kernel 1..7 (some non-square), stride 1..3, dilation 1..2, four kinds of padding, odd sizes."""
    kernels_ = [(1, 1), (2, 3), (3, 3), (5, 2), (7, 4)]
    paddings = ("zero", "symmetric", "asymmetric", "large")
    for (kh, kw), s, d, pad in itertools.product(kernels_, (1, 2, 3), (1, 2), paddings):
        padding = {
            "zero": ((0, 0), (0, 0)),
            "symmetric": ((kh // 2, kh // 2), (kw // 2, kw // 2)),
            "asymmetric": ((0, 1), (1, 2)),
            "large": ((d * kh, d * kh + 1), (d * kw + 2, d * kw)),
        }[pad]
        # Just large enough for the kernel, plus an odd margin that varies with the stride.
        h, w = d * (kh - 1) + 1 + 2 * s + 1, d * (kw - 1) + 1 + s
        yield ((2, 2, h, w), (kh, kw), (s, s), padding, (d, d))


CASES = HAND_PICKED + list(_grid())
DTYPES = [np.float32, np.float64]


def case_id(case):
    shape, k, s, p, d = case
    padding = f"{p[0][0]}{p[0][1]}{p[1][0]}{p[1][1]}"
    return f"x{'x'.join(map(str, shape))}-k{k[0]}{k[1]}-s{s[0]}{s[1]}-p{padding}-d{d[0]}{d[1]}"


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def geometry(case):
    """The kernels' geometry of a case: what an op works out once and hands to every kernel call."""
    return kernels.conv_geometry(*case)


def random_input(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def non_contiguous(a):
    """The same values as ``a`` in an array that is a strided view (every other element of a bigger one)."""
    bigger = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    bigger[..., ::2] = a
    view = bigger[..., ::2]
    assert a.size == 1 or not view.flags.c_contiguous
    return view


# --------------------------------------------------------------------------- independent definitions


def naive_im2col(x, kernel_size, stride, padding, dilation):
    """The layout spelled out element by element: a slow loop, for tiny shapes only."""
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = kernel_size, stride, padding, dilation
    n_, c_, h, w = x.shape
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    cols = np.zeros((c_ * kh * kw, n_ * oh * ow), dtype=x.dtype)
    for c, ky, kx, n, oy, ox in itertools.product(range(c_), range(kh), range(kw), range(n_), range(oh), range(ow)):
        iy, ix = oy * sh + ky * dh - pt, ox * sw + kx * dw - pl
        if 0 <= iy < h and 0 <= ix < w:
            cols[(c * kh + ky) * kw + kx, (n * oh + oy) * ow + ox] = x[n, c, iy, ix]
    return cols


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_im2col_matches_naive_loops(case):
    x = random_input(np.random.default_rng(0), case[0], np.float64)
    np.testing.assert_array_equal(reference.im2col(x, geometry(case)), naive_im2col(x, *case[1:]))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), c> == <x, col2im(c)> for random x and c: col2im is the transpose of im2col."""
    rng = np.random.default_rng(1)
    x, g = random_input(rng, case[0], np.float64), geometry(case)
    for flavour in kernels.flavours("im2col"):
        cols = kernels.implementation("im2col", flavour)(to_flavour(x, flavour), g)
        c = random_input(rng, cols.shape, np.float64)
        back = kernels.implementation("col2im", flavour)(to_flavour(c, flavour), g)
        lhs, rhs = np.sum(to_numpy(cols) * c), np.sum(x * to_numpy(back))
        assert abs(lhs - rhs) <= 1e-10 * max(abs(lhs), 1.0), flavour


SYMMETRIC = [c for c in CASES if c[3][0][0] == c[3][0][1] and c[3][1][0] == c[3][1][1]]  # all unfold accepts


@pytest.mark.torch
@pytest.mark.parametrize("case", SYMMETRIC, ids=case_id)
def test_reference_matches_torch_unfold_and_fold(case):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    shape, k, s, p, d = case
    symmetric = (p[0][0], p[1][0])
    x = random_input(np.random.default_rng(2), shape, np.float64)
    cols = reference.im2col(x, geometry(case))
    # unfold's layout is (N, C*kh*kw, oh*ow): same rows as ours, with the images split off.
    unfolded = functional.unfold(torch.from_numpy(x), k, dilation=d, padding=symmetric, stride=s).numpy()
    ours = cols.reshape(cols.shape[0], shape[0], -1).transpose(1, 0, 2)
    np.testing.assert_allclose(ours, unfolded, rtol=0, atol=0)
    # fold is unfold's adjoint, as col2im is im2col's.
    folded = functional.fold(torch.from_numpy(np.ascontiguousarray(ours)), shape[2:], k, dilation=d,
                             padding=symmetric, stride=s)
    np.testing.assert_allclose(reference.col2im(cols, geometry(case)), folded.numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- every flavour against the reference


def to_flavour(a, flavour):
    return to_device(a, "cuda") if flavour == "cupy" else a




@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_flavour_matches_reference(flavour, case, dtype, numba_loops):
    shape, g = case[0], geometry(case)
    rng = np.random.default_rng(3)
    x = random_input(rng, shape, dtype)
    im2col = kernels.implementation("im2col", flavour)
    col2im = kernels.implementation("col2im", flavour)

    expected = reference.im2col(x, g)
    for x_in in (x, non_contiguous(x)):
        cols = im2col(to_flavour(x_in, flavour), g)
        assert cols.dtype == dtype and cols.flags.c_contiguous
        np.testing.assert_array_equal(to_numpy(cols), expected)

    c = random_input(rng, expected.shape, dtype)
    expected = reference.col2im(c, g)
    for c_in in (c, non_contiguous(c)):
        back = col2im(to_flavour(c_in, flavour), g)
        assert back.dtype == dtype and back.shape == shape
        np.testing.assert_allclose(to_numpy(back), expected, **tolerance(dtype))


# --------------------------------------------------------------------------- arguments


def test_shorthand_arguments_mean_symmetric_pairs():
    full = kernels.conv_geometry((2, 3, 6, 6), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1))
    assert kernels.conv_geometry((2, 3, 6, 6), 3, 2, 1, 1) == full
    assert kernels.conv_geometry((2, 3, 6, 6), 3, 2, (1, 1), 1) == full
    assert kernels.conv_geometry((2, 3, 6, 6), [3, 3], 2, (1, [1, 1]), 1) == full


def test_geometry_of_the_layout():
    g = kernels.conv_geometry((4, 3, 32, 32), (3, 3), (2, 2), ((0, 1), (0, 1)), (1, 1))
    assert (g.oh, g.ow) == (16, 16)
    assert g.cols_shape == (3 * 3 * 3, 4 * 16 * 16) and g.x_shape == (4, 3, 32, 32)
    # an image batch is a batch of volumes one cell deep: the same columns
    v = g.volume
    assert (v.d, v.kd, v.sd, v.dd, v.pf, v.pk, v.od) == (1, 1, 1, 1, 0, 0, 1)
    assert v.cols_shape == g.cols_shape and v.x_shape == (4, 3, 1, 32, 32)


def test_kernel_larger_than_the_padded_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"7x3 kernel .* \(1, 1, 4, 5\)"):
        kernels.conv_geometry((1, 1, 4, 5), (7, 3), (1, 1), ((1, 1), (0, 0)), (1, 1))
    with pytest.raises(ValueError, match="dilation"):
        kernels.conv_geometry((1, 1, 4, 5), (3, 3), (1, 1), ((0, 0), (0, 0)), (2, 2))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        kernels.conv_geometry((4, 5), 1, 1, 0, 1)


@pytest.mark.parametrize("bad", [dict(stride=(0, 1)), dict(dilation=(1, 0)), dict(padding=((-1, 0), (0, 0))),
                                 dict(kernel_size=(3, 3, 3)), dict(padding=(1, 1, 1, 1))])
def test_nonsense_geometry_is_rejected(bad):
    args = dict(kernel_size=(3, 3), stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1)) | bad
    with pytest.raises(ValueError):
        kernels.conv_geometry((1, 1, 5, 5), **args)


def test_kernels_reject_arrays_that_do_not_match_their_geometry():
    g = kernels.conv_geometry((1, 1, 4, 4), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1))
    for flavour in kernels.flavours("col2im"):
        with pytest.raises(ValueError, match=r"cols has shape \(9, 10\), expected \(9, 4\)"):
            kernels.implementation("col2im", flavour)(np.zeros((9, 10)), g)
        with pytest.raises(ValueError, match=r"x has shape \(1, 1, 5, 4\), expected \(1, 1, 4, 4\)"):
            kernels.implementation("im2col", flavour)(np.zeros((1, 1, 5, 4)), g)


def test_one_reader_for_per_axis_arguments():
    assert geometry_module.pair(3, "stride") == (3, 3) and geometry_module.pair((2, 1), "stride") == (2, 1)
    assert geometry_module.triple(2, "stride") == (2, 2, 2) and geometry_module.triple([1, 2, 3], "k") == (1, 2, 3)
    with pytest.raises(ValueError, match="conv2d: dilation must be an int or a pair of ints"):
        geometry_module.pair((1, 2, 3), "dilation", "conv2d")
    with pytest.raises(ValueError, match="kernel_size must be an int or a triple of ints"):
        geometry_module.triple((1, 2), "kernel_size")
    assert geometry_module.padding_pairs((1, (0, 2)), 2) == ((1, 1), (0, 2))


def test_an_op_works_out_its_geometry_once_per_call(monkeypatch):
    """conv2d, conv_transpose2d, conv3d and max_pool2d build one geometry per call, forward and
    backward together; the kernels only check their arrays against it."""
    import tinygdl as tg
    import tinygdl.nn.functional as F

    calls = []
    window_numbers = geometry_module._window_numbers
    monkeypatch.setattr(geometry_module, "_window_numbers", lambda *a: calls.append(a) or window_numbers(*a))
    def leaf(*shape):
        return tg.randn(*shape, requires_grad=True)

    runs = [lambda: F.conv2d(leaf(2, 3, 6, 6), leaf(4, 3, 3, 3), stride=2, padding=1),
            lambda: F.conv_transpose2d(leaf(2, 4, 3, 3), leaf(4, 2, 4, 4), stride=2, padding=1),
            lambda: F.conv3d(leaf(1, 2, 2, 4, 4), leaf(3, 2, 2, 3, 3), padding="same"),
            lambda: F.max_pool2d(leaf(2, 3, 6, 6), 2)]
    for run in runs:
        calls.clear()
        run().sum().backward()
        assert len(calls) == 1
