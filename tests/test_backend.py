"""tinygdl.backend: devices, array modules, dtypes, random generators, host memory."""

import sys

import numpy as np
import pytest

import tinygdl
from tinygdl import backend


@pytest.mark.parametrize("spec, text", [(None, "cpu"), ("cpu", "cpu"), ("cuda", "cuda:0"), ("cuda:1", "cuda:1")])
def test_device_parsing(spec, text):
    assert str(backend.device(spec)) == text
    assert backend.device(spec) == text


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cpu:0", ""])
def test_bad_device_names_are_refused(spec):
    with pytest.raises(ValueError, match="unknown device"):
        backend.Device(spec)


def test_cuda_request_without_cuda_explains():
    if backend.cuda_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        tinygdl.zeros(2, device="cuda")


def test_numpy_arrays_stay_on_the_cpu():
    a = np.ones(3)
    assert backend.get_array_module(a) is np
    assert backend.device_of(a) == "cpu"
    assert backend.to_device(a, "cpu") is a


def test_default_dtype_switch_is_scoped():
    assert backend.get_default_dtype() == np.float32
    with backend.default_dtype(np.float64):
        assert tinygdl.randn(2).dtype == np.float64
        assert tinygdl.tensor([1.0]).dtype == np.float64
    assert tinygdl.randn(2).dtype == np.float32
    with pytest.raises(TypeError, match="float"):
        backend.set_default_dtype(np.int32)


def test_manual_seed_reproduces_draws_and_rng_state_round_trips():
    tinygdl.manual_seed(7)
    first = tinygdl.randn(5).numpy()
    tinygdl.manual_seed(7)
    np.testing.assert_array_equal(first, tinygdl.randn(5).numpy())
    state = backend.get_rng_state()
    after = tinygdl.rand(4).numpy()
    tinygdl.randn(10)
    backend.set_rng_state(state)
    np.testing.assert_array_equal(after, tinygdl.rand(4).numpy())


def test_erf_matches_the_standard_library():
    import math

    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(backend.erf(x), [math.erf(v) for v in x], rtol=1e-12, atol=1e-15)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_host_memory_setting_is_applied_on_glibc(monkeypatch):
    assert backend.keep_freed_host_memory() is True
    monkeypatch.setenv("TINYGDL_MALLOC", "default")
    assert backend.keep_freed_host_memory() is False


@pytest.mark.gpu
def test_moves_between_devices_keep_values_and_gradients():
    x = tinygdl.tensor(np.arange(4.0), requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda:0" and backend.get_array_module(y.data) is not np
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.arange(4.0))
