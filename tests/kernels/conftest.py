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


@pytest.fixture(params=["lines where they fit", "table everywhere"])
def numba_loops(request, monkeypatch):
    """The Numba kernels' two loop structures: stride-1 windows copied along lines (even 1-long
    ones), or every window through the table of source cells."""
    if kernels.numba_available():
        from tinygdl.kernels import cpu

        monkeypatch.setattr(cpu, "MIN_LINE", 1 if request.param == "lines where they fit" else 10**9)
