"""The registry and the dispatcher: which flavour runs, and how to force one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinygdl import kernels

needs_numba = pytest.mark.skipif(not kernels.numba_available(), reason="Numba is not available")
KERNELS = ["im2col", "col2im", "adam_update", "leaky_relu", "leaky_relu_grad"]


@pytest.fixture(autouse=True)
def automatic_choice(monkeypatch):
    """Every test starts from the automatic choice, and leaves it behind."""
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    kernels.set_preference(None)
    yield
    kernels.set_preference(None)


def picked(name, *arrays):
    """The flavour name of the implementation that ``get`` picks."""
    fn = kernels.get(name, *arrays)
    return next(f for f in kernels.FLAVOURS if kernels.registered(name).get(f) is fn)


VECTOR = np.zeros(1 << 18, np.float32)  # at or above every size threshold
IMAGES = np.zeros((2, 3, 8, 8), np.float32)
WINDOW = kernels.conv_geometry(IMAGES.shape, 3, 1, 1, 1)  # a 3x3 kernel, stride 1, padding 1


@pytest.mark.parametrize("name", KERNELS)
def test_every_kernel_has_a_reference_and_is_listed(name):
    assert "numpy" in kernels.flavours(name)
    assert kernels.implementation(name, "numpy") is kernels.registered(name)["numpy"]


@needs_numba
def test_numpy_arrays_go_to_numba_by_default():
    assert picked("im2col", IMAGES) == "numba"
    assert picked("leaky_relu", VECTOR) == "numba"
    assert "numba" in kernels.flavours("col2im")


@needs_numba
def test_small_elementwise_arrays_go_to_the_reference_unless_numba_is_forced(monkeypatch):
    monkeypatch.setattr(kernels.cpu, "serial", lambda: False)  # the threshold is for a thread pool
    small = np.zeros(kernels.NUMBA_MIN_SIZE["adam_update"] - 1, np.float32)
    assert picked("adam_update", small, small, small, small) == "numpy"
    small = np.zeros(kernels.NUMBA_MIN_SIZE["leaky_relu_grad"] - 1, np.float32)
    assert picked("leaky_relu_grad", small, small) == "numpy"
    monkeypatch.setenv(kernels.ENV_VAR, "numba")
    assert picked("adam_update", small, small, small, small) == "numba"


@needs_numba
def test_with_serial_kernels_every_size_goes_to_numba(monkeypatch):
    monkeypatch.setattr(kernels.cpu, "serial", lambda: True)  # serial builds: no pool to wake
    small = np.zeros(3, np.float32)
    assert picked("adam_update", small, small, small, small) == "numba"
    assert picked("leaky_relu", small) == "numba"


def test_environment_variable_forces_the_reference_at_call_time(monkeypatch):
    monkeypatch.setenv(kernels.ENV_VAR, "numpy")
    assert picked("im2col", IMAGES) == "numpy"
    assert picked("leaky_relu", VECTOR) == "numpy"


@needs_numba
def test_set_preference_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv(kernels.ENV_VAR, "numba")
    kernels.set_preference("numpy")
    assert picked("col2im", IMAGES) == "numpy"
    kernels.set_preference(None)
    assert picked("col2im", IMAGES) == "numba"


def test_unknown_preferences_are_rejected(monkeypatch):
    with pytest.raises(ValueError, match="unknown kernel flavour"):
        kernels.set_preference("fortran")
    monkeypatch.setenv(kernels.ENV_VAR, "fortran")
    with pytest.raises(ValueError, match=kernels.ENV_VAR):
        kernels.im2col(IMAGES, WINDOW)


def test_missing_numba_falls_back_to_the_reference(monkeypatch):
    monkeypatch.setattr(kernels, "_numba_error", ImportError("simulated: no module named numba"))
    assert not kernels.numba_available()
    assert "numba" not in kernels.flavours("im2col")
    assert picked("im2col", IMAGES) == "numpy"
    assert picked("adam_update", VECTOR, VECTOR, VECTOR, VECTOR) == "numpy"
    with pytest.raises(KeyError, match="simulated"):
        kernels.implementation("im2col", "numba")
    monkeypatch.setenv(kernels.ENV_VAR, "numba")
    with pytest.raises(RuntimeError, match="simulated"):
        kernels.im2col(IMAGES, WINDOW)


def test_unknown_kernels_and_flavours_are_clear_errors():
    with pytest.raises(KeyError, match="no kernel named"):
        kernels.implementation("fft", "numpy")
    if not kernels.cuda_available():
        with pytest.raises(KeyError, match="not available on this machine"):
            kernels.implementation("im2col", "cupy")
    with pytest.raises(ValueError, match="unknown kernel flavour"):
        kernels.register("im2col", "opencl")


SCRIPT = textwrap.dedent(
    """
    import sys
    {prelude}
    import numpy as np
    from tinygdl import kernels
    x = np.arange(2 * 3 * 5 * 5, dtype=np.float32).reshape(2, 3, 5, 5)
    g = kernels.conv_geometry(x.shape, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))
    cols = kernels.im2col(x, g)
    back = kernels.col2im(cols, g)
    assert not kernels.numba_available()
    assert kernels.flavours("im2col") == ["numpy"], kernels.flavours("im2col")
    assert cols.shape == (27, 50) and back.shape == x.shape
    print("ok")
    """
)


@pytest.mark.parametrize(
    "prelude, env",
    [
        ("sys.modules['numba'] = None  # any 'import numba' now raises ImportError", {}),
        ("", {"NUMBA_DISABLE_JIT": "1"}),
    ],
    ids=["numba-not-installed", "NUMBA_DISABLE_JIT"],
)
def test_the_engine_runs_on_the_reference_without_numba(prelude, env):
    """In a fresh interpreter, since a Python process imports Numba only once."""
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(prelude=prelude)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


@needs_numba
def test_kernels_run_serially_unless_parallel_builds_are_asked_for(monkeypatch):
    numba = pytest.importorskip("numba")
    monkeypatch.setattr(kernels.cpu, "_parallel", False)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    assert kernels.cpu.serial()
    kernels.set_parallel(True)
    assert not kernels.cpu.serial()
    monkeypatch.setattr(numba, "get_num_threads", lambda: 1)
    assert kernels.cpu.serial()  # one thread: nothing to run in parallel
