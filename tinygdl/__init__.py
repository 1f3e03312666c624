"""tinygdl — a from-scratch deep-learning engine (NumPy on the CPU, CuPy on a GPU) on which the
models of *Generative Deep Learning* are rebuilt.

Start reading at ``tinygdl/tensor.py`` (the autograd core), then ``tinygdl/ops/`` (the operations).
"""

import importlib.util as _importlib_util

if _importlib_util.find_spec("tinygdl.kernels") is None:  # a source checkout that was never installed
    raise ImportError("tinygdl is not installed: the top-level kernels/ folder becomes tinygdl.kernels on "
                      "installation; run `pip install -e .` in the repository first")

from . import losses, nn, optim, testing  # noqa: E402,F401
from .backend import Device, cuda_available, default_dtype, device, get_default_dtype, set_default_dtype
from .ops import *  # noqa: F401,F403  (the op library: add, exp, sum, matmul, randn, ...)
from .ops import manual_seed
from .profiler import profile
from .tensor import (
    Function,
    Tensor,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    is_training,
    no_grad,
    set_grad_enabled,
    tensor,
    train_mode,
)
from .version import __version__  # noqa: F401
