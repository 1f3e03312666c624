"""tinygdl.profile's options: the CPU clock and the matrix products' shapes."""

import pytest

import tinygdl


def _work():
    a = tinygdl.randn(8, 5, requires_grad=True)
    b = tinygdl.randn(5, 3)
    (a @ b).sum().backward()


def test_cpu_clock_times_the_ops():
    with tinygdl.profile(clock="cpu") as prof:
        _work()
    assert prof.stats["MatMul"].calls == 2 and prof.op_seconds > 0  # forward and the gradient of a


def test_record_shapes_keeps_each_products_operand_shapes():
    with tinygdl.profile(record_shapes=True) as prof:
        _work()
    assert set(prof.matmul_shapes) == {((8, 5), (5, 3)), ((8, 3), (3, 5))}
    assert prof.matmul_shapes[((8, 5), (5, 3))].flops == 2 * 8 * 5 * 3


def test_unknown_clock_is_refused():
    with pytest.raises(ValueError, match="clock"):
        tinygdl.profile(clock="sundial")
