"""Fixtures of the optimizer tests."""

import pytest

from tinygdl import kernels


@pytest.fixture(params=["numpy", "numba"])
def adam_kernel(request):
    """Run the Adam tests with each CPU flavour of the fused ``adam_update`` kernel."""
    if request.param == "numba" and not kernels.numba_available():
        pytest.skip("Numba kernels unavailable")
    kernels.set_preference(request.param)
    yield request.param
    kernels.set_preference(None)
