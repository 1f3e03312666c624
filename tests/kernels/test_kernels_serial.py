"""Every threaded Numba kernel has a serial build, used unless the parallel builds are asked for
(``kernels.set_parallel``) and Numba has more than one thread; both builds give the same results
(and the reference's)."""

import numpy as np
import pytest

from tinygdl import kernels

numba = pytest.importorskip("numba")
pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="needs Numba")


@pytest.fixture
def numba_threads(monkeypatch):
    """``set_threads(n)``: n Numba threads, with the parallel builds allowed."""
    monkeypatch.setattr(kernels.cpu, "_parallel", True)
    before = numba.get_num_threads()

    def set_threads(n):
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))

    yield set_threads
    numba.set_num_threads(before)


def _both(numba_threads, fn):
    numba_threads(1)
    serial = fn()
    numba_threads(2)
    return serial, fn()


def test_conv_kernels_serial_equal_parallel(numba_threads, rng):
    from tinygdl.kernels import cpu

    x = rng.standard_normal((3, 4, 9, 8)).astype(np.float32)
    g = kernels.conv_geometry(x.shape, (3, 2), (2, 1), ((1, 0), (1, 1)), (1, 2))
    serial, parallel = _both(numba_threads, lambda: cpu.im2col(x, g))
    assert np.array_equal(serial, parallel)
    assert np.array_equal(serial, kernels.implementation("im2col", "numpy")(x, g))
    serial_x, parallel_x = _both(numba_threads, lambda: cpu.col2im(serial, g))
    assert np.array_equal(serial_x, parallel_x)
    same = kernels.conv_geometry(x.shape, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))  # copied by whole planes
    serial, parallel = _both(numba_threads, lambda: cpu.im2col(x, same))
    assert np.array_equal(serial, parallel)
    assert np.array_equal(serial, kernels.implementation("im2col", "numpy")(x, same))
    volume = rng.standard_normal((2, 3, 4, 5, 6)).astype(np.float32)
    box = kernels.vol_geometry(volume.shape, (2, 3, 2), (1, 2, 1), ((1, 0), (0, 1), (1, 1)), (1, 1, 2))
    serial, parallel = _both(numba_threads, lambda: cpu.im2col(volume, box))
    assert np.array_equal(serial, parallel)
    serial_v, parallel_v = _both(numba_threads, lambda: cpu.col2im(serial, box))
    assert np.array_equal(serial_v, parallel_v)


def test_elementwise_kernels_serial_equal_parallel(numba_threads, rng):
    from tinygdl.kernels import cpu

    x, gy = rng.standard_normal((2, 1000)).astype(np.float32)
    serial, parallel = _both(numba_threads, lambda: cpu.leaky_relu_grad(x, gy, 0.2))
    assert np.array_equal(serial, parallel)
    states = []
    for threads in (1, 2):
        numba_threads(threads)
        param, m, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
        cpu.adam_update(param, gy, m, v, 1e-3, 0.9, 0.999, 1e-7, 1.0)
        states.append((param, m, v))
    for serial, parallel in zip(*states):
        assert np.array_equal(serial, parallel)
