"""vol2col / col2vol (``im2col``/``col2im`` given a ``VolGeometry``): the reference against an
element-by-element loop and PyTorch, the adjoint identity, and every flavour against the reference."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from tinygdl.kernels import cuda, reference

from tinygdl import kernels
from tinygdl.backend import to_device, to_numpy

# (x_shape, kernel_size, stride, padding, dilation); padding is ((front, back), (top, bottom), (left, right)).
CASES = [
    ((2, 3, 3, 4, 5), (1, 1, 1), (1, 1, 1), ((0, 0), (0, 0), (0, 0)), (1, 1, 1)),  # pointwise
    ((2, 2, 3, 5, 4), (3, 3, 3), (1, 1, 1), ((1, 1), (1, 1), (1, 1)), (1, 1, 1)),  # "same", stride 1
    ((1, 2, 2, 4, 6), (2, 1, 1), (1, 1, 1), ((0, 0), (0, 0), (0, 0)), (1, 1, 1)),  # MuseGAN critic layer 1
    ((2, 2, 1, 4, 12), (1, 1, 6), (1, 1, 6), ((0, 0), (0, 0), (0, 0)), (1, 1, 1)),  # kernel = stride on pitch
    ((1, 3, 1, 8, 1), (1, 4, 1), (1, 2, 1), ((0, 0), (1, 1), (0, 0)), (1, 1, 1)),  # critic layer 7
    ((1, 3, 1, 4, 1), (1, 3, 1), (1, 2, 1), ((0, 0), (0, 1), (0, 0)), (1, 1, 1)),  # critic layer 8: pad 0/1
    ((2, 1, 5, 6, 7), (3, 2, 2), (2, 1, 3), ((1, 2), (0, 1), (2, 0)), (1, 2, 1)),  # everything uneven
    ((1, 2, 4, 4, 4), (2, 2, 2), (3, 3, 3), ((0, 0), (0, 0), (0, 0)), (1, 1, 1)),  # stride > kernel
    ((1, 1, 1, 1, 1), (3, 3, 3), (1, 1, 1), ((1, 1), (1, 1), (1, 1)), (1, 1, 1)),  # one cell, padded
    ((2, 2, 6, 5, 5), (2, 3, 2), (1, 2, 2), ((2, 2), (3, 3), (1, 1)), (2, 1, 2)),  # dilation, wide padding
]
DTYPES = [np.float32, np.float64]


def case_id(case):
    shape, k, s, p, d = case
    padding = "".join(str(v) for pair in p for v in pair)
    return f"x{'x'.join(map(str, shape))}-k{_digits(k)}-s{_digits(s)}-p{padding}-d{_digits(d)}"


def geometry(case):
    return kernels.vol_geometry(*case)


def _digits(values) -> str:
    return "".join(map(str, values))


def to_flavour(a, flavour):
    return to_device(a, "cuda") if flavour == "cupy" else a


def naive_vol2col(x, kernel_size, stride, padding, dilation):
    """The layout spelled out element by element: a slow loop, for tiny shapes only."""
    (kd, kh, kw), (sd, sh, sw), ((pf, pk), (pt, pb), (pl, pr)), (dd, dh, dw) = kernel_size, stride, padding, dilation
    n_, c_, d, h, w = x.shape
    od = (d + pf + pk - dd * (kd - 1) - 1) // sd + 1
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    cols = np.zeros((c_ * kd * kh * kw, n_ * od * oh * ow), dtype=x.dtype)
    ranges = (range(c_), range(kd), range(kh), range(kw), range(n_), range(od), range(oh), range(ow))
    for c, kz, ky, kx, n, oz, oy, ox in itertools.product(*ranges):
        iz, iy, ix = oz * sd + kz * dd - pf, oy * sh + ky * dh - pt, ox * sw + kx * dw - pl
        if 0 <= iz < d and 0 <= iy < h and 0 <= ix < w:
            cols[((c * kd + kz) * kh + ky) * kw + kx, ((n * od + oz) * oh + oy) * ow + ox] = x[n, c, iz, iy, ix]
    return cols


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_vol2col_matches_naive_loops(case):
    x = np.random.default_rng(0).standard_normal(case[0])
    np.testing.assert_array_equal(reference.im2col(x, geometry(case)), naive_vol2col(x, *case[1:]))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_col2vol_is_the_adjoint_of_vol2col(case):
    """<vol2col(x), c> == <x, col2vol(c)> for random x and c, in every flavour present."""
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal(case[0]), geometry(case)
    for flavour in kernels.flavours("im2col"):
        cols = kernels.implementation("im2col", flavour)(to_flavour(x, flavour), g)
        c = rng.standard_normal(cols.shape)
        back = kernels.implementation("col2im", flavour)(to_flavour(c, flavour), g)
        lhs, rhs = np.sum(to_numpy(cols) * c), np.sum(x * to_numpy(back))
        assert abs(lhs - rhs) <= 1e-10 * max(abs(lhs), 1.0), flavour


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_convolution_matches_torch_conv3d(torch, case):
    """A 3-D convolution as one matrix product of vol2col's columns equals ``F.conv3d`` on the
    explicitly padded volume (PyTorch pads symmetrically only, so the padding is done with ``F.pad``)."""
    shape, k, s, p, d = case
    rng = np.random.default_rng(2)
    x, weight = rng.standard_normal(shape), rng.standard_normal((3, shape[1]) + k)
    g = geometry(case)
    ours = (weight.reshape(3, -1) @ reference.im2col(x, g)).reshape(3, g.n, g.od, g.oh, g.ow)
    padded = torch.nn.functional.pad(torch.from_numpy(x), [p[2][0], p[2][1], p[1][0], p[1][1], p[0][0], p[0][1]])
    expected = torch.nn.functional.conv3d(padded, torch.from_numpy(weight), stride=s, dilation=d).numpy()
    np.testing.assert_allclose(ours.transpose(1, 0, 2, 3, 4), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_flavour_matches_reference(flavour, case, dtype, numba_loops):
    shape, g = case[0], geometry(case)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    expected = reference.im2col(x, g)
    strided = np.zeros(shape[:-1] + (2 * shape[-1],), dtype)
    strided[..., ::2] = x
    for x_in in (x, strided[..., ::2]):
        cols = kernels.implementation("im2col", flavour)(to_flavour(x_in, flavour), g)
        assert cols.dtype == dtype and cols.flags.c_contiguous
        np.testing.assert_array_equal(to_numpy(cols), expected)
    c = rng.standard_normal(expected.shape).astype(dtype)
    back = kernels.implementation("col2im", flavour)(to_flavour(c, flavour), g)
    assert back.dtype == dtype and back.shape == shape
    tolerance = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_numpy(back), reference.col2im(c, g), **tolerance)


def test_dispatch_and_geometry():
    x = np.zeros((2, 4, 2, 16, 84), np.float32)
    g = kernels.vol_geometry(x.shape, (1, 1, 12), (1, 1, 12), 0, 1)
    assert (g.od, g.oh, g.ow) == (2, 16, 7) and g.cols_shape == (4 * 12, 2 * 2 * 16 * 7)
    assert kernels.im2col(x, g).shape == g.cols_shape and kernels.col2im(kernels.im2col(x, g), g).shape == x.shape
    # shorthands: an int, or one symmetric number per axis
    full = kernels.vol_geometry(x.shape, 3, 1, ((1, 1), (1, 1), (1, 1)), 1)
    assert kernels.vol_geometry(x.shape, 3, 1, 1, 1) == full == kernels.vol_geometry(x.shape, 3, 1, (1, 1, 1), 1)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="does not fit"):
        kernels.vol_geometry((1, 1, 1, 4, 4), (2, 1, 1), 1, 0, 1)
    with pytest.raises(ValueError, match=r"\(N, C, D, H, W\)"):
        kernels.vol_geometry((1, 4, 4, 4), 1, 1, 0, 1)
    with pytest.raises(ValueError, match=">= 1"):
        kernels.vol_geometry((1, 1, 4, 4, 4), 1, (1, 0, 1), 0, 1)
    g = kernels.vol_geometry((1, 1, 2, 4, 4), 2, 1, 0, 1)
    for flavour in kernels.flavours("col2im"):
        with pytest.raises(ValueError, match="expected"):
            kernels.implementation("col2im", flavour)(np.zeros((8, 10)), g)


def test_cuda_sources_decode_every_coordinate_they_use():
    """Without a GPU the CUDA snippets cannot run here (the ``flavour`` tests above run them on one):
    check that they name only the kernel's parameters and their own locals, peel off the coordinates
    in the layout the reference writes, and that the Python side passes every geometry parameter."""
    params = re.findall(r"int32 (\w+)", cuda._VOL_GEOMETRY_PARAMS)
    assert len(params) == len(cuda._vol_geometry_args(kernels.vol_geometry((1, 1, 1, 1, 1), 1, 1, 0, 1)))
    # vol2col peels (c, kd, kh, kw, n, od, oh, ow) fastest-first: ow first, then ... kd, then the channel.
    order = re.findall(r"rest % (\w+)", cuda._VOL2COL) + re.findall(r"rest / (\w+);", cuda._VOL2COL)[-1:]
    assert order == ["ow", "oh", "od", "batch", "kw", "kh", "kd", "kd"]
    assert re.findall(r"rest % (\w+)", cuda._COL2VOL) == ["width", "height", "depth", "channels"]
    for source in (cuda._VOL2COL, cuda._COL2VOL):
        assert source.count("{") == source.count("}")
        used = set(re.findall(r"\b(pf|pt|pl|sd|sh|sw|dd|dh|dw|kd|kh|kw|od|oh|ow)\b", source))
        assert used <= set(params)
