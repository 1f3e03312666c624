"""Fixtures shared by the kernel tests."""

import pytest

from tinygdl import kernels
from tinygdl.backend import cuda_available


@pytest.fixture(params=["numba", pytest.param("cupy", marks=pytest.mark.gpu)])
def flavour(request):
    """Each fast flavour present on this machine, to be compared with the NumPy reference."""
    name = request.param
    if name == "cupy" and not cuda_available():
        pytest.skip("needs CuPy and a CUDA device")
    if name == "numba" and not kernels.numba_available():
        pytest.skip("Numba is not available")
    return name
