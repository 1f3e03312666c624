"""Fixtures shared by every test folder (keep this file small and generic)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygdl


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` run only where CuPy sees a CUDA device."""
    if tinygdl.backend.cuda_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed (each test gets a fresh one)."""
    return np.random.default_rng(0)


@pytest.fixture
def float64():
    """Make float64 the default dtype for the duration of the test (gradient checks want it)."""
    with tinygdl.default_dtype(np.float64):
        yield np.float64


@pytest.fixture
def torch():
    """PyTorch, the reference oracle; the test is skipped where it is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture
def torch_one_thread(torch):
    """PyTorch on one thread for the test (small twin steps: a busy machine makes its pool cost more
    than the work); the previous thread count is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.fixture(params=["numpy", "numba"])
def cpu_kernels(request):
    """Run a test once with each CPU flavour of the hot kernels (tinygdl.kernels)."""
    from tinygdl import kernels

    if request.param == "numba" and not kernels.numba_available():
        pytest.skip("Numba kernels unavailable")
    kernels.set_preference(request.param)
    yield request.param
    kernels.set_preference(None)
