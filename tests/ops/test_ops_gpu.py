"""A representative part of the op table on CuPy (device "cuda") against the NumPy results.
Marked ``gpu``: skipped unless CuPy sees a CUDA device (tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
from tinygdl.checks.ops import SPEC_BY_ID, make_inputs, seed_of
from tinygdl.testing import assert_close

GPU_SPECS = [
    "add", "mul", "div", "pow-tensor", "exp", "log", "sqrt", "abs", "maximum", "maximum-ties", "clip", "where",
    "tanh", "sigmoid", "relu", "leaky_relu", "elu", "gelu", "gelu-tanh", "softplus", "softplus-at-zero",
    "sum-axis(0,2)-keepTrue", "mean-axisNone-keepFalse", "var-axis1-keepFalse-ddof1", "max-axis1-keepFalse",
    "max-ties-axis1", "logsumexp-axis-1-keepTrue", "cumsum-axis1", "cumprod-zeros-axis1", "argmax-axis1-keepFalse",
    "matmul", "transpose-axes", "reshape(2,-1,3)", "broadcast_to", "concatenate-axis1", "stack-axis0",
    "split-sizes", "pad((1,2),(0,1))-0.0", "flip(0,-1)", "repeat_interleave2-axis0", "tile(2,1)",
    "getitem-intarray-duplicates", "getitem-boolmask-full", "getitem-negative-step", "softmax-axis-1",
    "log_softmax-axis0", "embedding-repeated", "one_hot",
    # issue 9's ops
    "floor", "atan2", "logaddexp", "remainder", "div-rounding-trunc-int", "clamp-tensor-bounds", "isclose",
    "hardswish", "prelu-per-channel", "softplus-beta2-threshold5", "prod-zeros-axisNone", "var-correction1",
    "logcumsumexp-axis1", "cummax-axis0", "sort-axis-1", "topk2-largestTrue", "gather-axis1-(4,6)",
    "scatter-axis1-(3,5)", "scatter_add-axis0-(4,3)", "scatter_reduce-amax-selfFalse",
    "scatter_reduce-mean-selfTrue", "masked_select", "nonzero", "tril-k1", "diag-vector-k1", "diagonal-1-1-2",
    "roll(1,2)-(0,1)", "unfold-1-3-2", "einsum-bhqd,bhkd->bhqk", "einsum-ii->i", "kron", "cross",
    "getitem-int-slice-array", "repeat(2,1,3)", "0d-softmax-default",
]


def _run(spec, case, device):
    arrays = make_inputs(spec, case)
    xs = [tg.Tensor(a, requires_grad=spec.grad and a.dtype.kind == "f", device=device) for a in arrays]
    ys = spec.fn(*xs)
    ys = tuple(ys) if isinstance(ys, (tuple, list)) else (ys,)
    results = [y.numpy() for y in ys]
    wrt = [x for x in xs if x.requires_grad]
    live = [y for y in ys if y.requires_grad]  # not the indices of sort, topk ...
    if wrt:
        rng = np.random.default_rng(seed_of(spec.id, case, "gpu"))
        vs = [tg.Tensor(rng.standard_normal(y.shape), device=device) for y in live]
        grads = tg.grad(live, wrt, grad_outputs=vs, allow_unused=True)
        for g in grads:
            assert g is None or g.device == tg.device(device)
        results += [None if g is None else g.numpy() for g in grads]
    return results


def test_gpu_specs_exist():
    assert set(GPU_SPECS) <= set(SPEC_BY_ID)


@pytest.mark.gpu
@pytest.mark.parametrize("spec_id", GPU_SPECS)
def test_cuda_matches_cpu(spec_id):
    spec = SPEC_BY_ID[spec_id]
    for case in range(len(spec.cases)):
        with np.errstate(all="ignore"):
            cpu, gpu = _run(spec, case, "cpu"), _run(spec, case, "cuda")
        for c, g in zip(cpu, gpu):
            if c is None:
                assert g is None
            else:
                assert_close(g, c, rtol=1e-10, atol=1e-12, msg=f"{spec_id} case {case}")


@pytest.mark.gpu
def test_to_device_round_trip_carries_the_gradient():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = (x.to("cuda") * 2).sum().to("cpu")
    y.backward()
    assert x.grad.device == tg.device("cpu")
    assert_close(x.grad, np.full((2, 3), 2.0))
