"""tinygdl.profile(): every op's forward and backward timed, self times that add up, GEMM flops."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl as tg
from tinygdl import nn
from tinygdl.profiler import Profile, _tensor


def _conv_step():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    x = tg.randn(4, 3, 8, 8, requires_grad=True)
    return conv, x


def test_records_forward_and_backward_of_every_op():
    conv, x = _conv_step()
    with tg.profile() as prof:
        conv(x).relu().sum().backward()
    names = set(prof.stats)
    assert {"Convolution", "Convolution (backward)", "im2col kernel", "GEMM", "col2im kernel"} <= names
    assert all(s.calls >= 1 and s.total_seconds >= s.self_seconds >= 0 for s in prof.stats.values())
    assert 0 < prof.op_seconds <= prof.wall_seconds


def test_self_times_add_up_to_the_outermost_totals():
    """Nested ops (a backward formula's own ops) are not counted twice."""
    prof = Profile()
    with prof:
        a = tg.randn(16, 16, requires_grad=True)
        ((a @ a).tanh().sum()).backward()
    # every op ran either at the top level or inside another op's backward
    top_level = sum(s.total_seconds for name, s in prof.stats.items() if not name.endswith("(backward)"))
    assert prof.op_seconds <= top_level + sum(s.total_seconds for s in prof.stats.values())
    assert prof.op_seconds == pytest.approx(sum(s.self_seconds for s in prof.stats.values()))


def test_matmul_flops_are_counted():
    a, b = tg.randn(5, 7), tg.randn(7, 3)
    with tg.profile() as prof:
        a @ b
    assert prof.stats["MatMul"].flops == 2 * 5 * 3 * 7
    assert "GFLOP/s" in prof.table()


def test_a_convolutions_kernels_and_products_are_rows_of_their_own():
    """Inside one Convolution: im2col and one GEMM forward; im2col again, two GEMMs and col2im
    backward, each with the calls and operations it did, and out of the op's self time."""
    conv, x = _conv_step()  # 4 images of 3x8x8, 8 filters of 3x3: a (27, 256) column matrix
    with tg.profile(record_shapes=True) as prof:
        conv(x).sum().backward()
    assert prof.stats["im2col kernel"].calls == 2 and prof.stats["col2im kernel"].calls == 1
    assert prof.stats["GEMM"].calls == 3 and prof.stats["GEMM"].flops == 3 * 2 * 8 * 27 * 256
    assert ((8, 27), (27, 256)) in prof.matmul_shapes
    inside = sum(prof.stats[name].total_seconds for name in ("im2col kernel", "GEMM", "col2im kernel"))
    ops = prof.stats["Convolution"], prof.stats["Convolution (backward)"]
    assert sum(s.total_seconds - s.self_seconds for s in ops) == pytest.approx(inside)


def test_off_by_default_and_one_at_a_time():
    assert _tensor._profiler is None
    with tg.profile():
        with pytest.raises(RuntimeError, match="already active"):
            with tg.profile():
                pass
    assert _tensor._profiler is None


def test_results_are_unchanged_by_profiling():
    conv, x = _conv_step()
    plain = conv(x).numpy()
    with tg.profile():
        profiled = conv(x).numpy()
    np.testing.assert_array_equal(plain, profiled)
