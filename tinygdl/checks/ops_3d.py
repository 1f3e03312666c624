"""Op-table entries for the 3-D convolution (``tinygdl.ops.conv3d``), appended to ``ops.SPECS``.

Every entry is gradchecked in float64, compared with ``torch.nn.functional.conv3d`` (float64 and
float32, forward and gradients) and, where marked, gradchecked to second order: MuseGAN's critic
is differentiated twice by the gradient penalty.  PyTorch pads symmetrically only, so the
reference pads Keras's ``"same"`` explicitly (the odd cell after) before a ``valid`` conv3d.
"""

from __future__ import annotations

from ..kernels.geometry import triple
from ..ops.conv import _same_padding
from ..ops.conv3d import conv3d
from .optable import add

try:
    import torch.nn.functional as F
except ImportError:
    F = None

CONV3D = "conv3d"


def _conv3d(stride=1, padding=0, dilation=1, bias=True):
    """tinygdl's conv3d on (x, weight[, bias])."""
    if bias:
        return lambda x, w, b: conv3d(x, w, b, stride, padding, dilation)
    return lambda x, w: conv3d(x, w, None, stride, padding, dilation)


def _torch_conv3d(stride=1, padding=0, dilation=1, bias=True):
    """PyTorch's conv3d with the same arguments; ``"same"`` becomes an explicit (Keras) ``F.pad``."""

    def run(x, w, b=None):
        pad = padding
        if padding == "same":
            triples = zip(x.shape[2:], w.shape[2:], triple(stride, "stride"), triple(dilation, "dilation"))
            before_after = [_same_padding(n, k, s, d) for n, k, s, d in triples]
            flat = [v for pair in reversed(before_after) for v in pair]  # F.pad: last axis first
            x, pad = F.pad(x, flat), 0
        return F.conv3d(x, w, b, stride=stride, padding=pad, dilation=dilation)

    return run if bias else (lambda x, w: run(x, w))


def _entry(name, cases, second_order=False, **arguments):
    bias = arguments.get("bias", True)
    add(id=f"{CONV3D}-{name}", op=CONV3D, fn=_conv3d(**arguments), ref=F and _torch_conv3d(**arguments),
        cases=tuple(case if bias else case[:2] for case in cases), second_order=second_order)


_entry("valid", (((2, 2, 3, 4, 5), (3, 2, 2, 1, 3), (3,)), ((1, 3, 2, 2, 2), (2, 3, 1, 1, 1), (2,))),
       second_order=True)
# MuseGAN's critic, shrunk: a (2,1,1) kernel over the bars, kernel = stride on the pitch axis, and
# "same" stride-2 kernels on the time axis that pad 1/1 (k4) and 0/1 (k3).
_entry("bars", (((2, 2, 2, 3, 4), (3, 2, 2, 1, 1), (3,)),))
_entry("pitch-k4s4-same", (((1, 2, 1, 3, 8), (2, 2, 1, 1, 4), (2,)),), stride=(1, 1, 4), padding="same")
_entry("time-k4s2-same", (((2, 2, 1, 6, 2), (2, 2, 1, 4, 1), (2,)),), second_order=True, stride=(1, 2, 1),
       padding="same")
_entry("time-k3s2-same", (((1, 2, 1, 4, 2), (3, 2, 1, 3, 1), (3,)),), second_order=True, stride=(1, 2, 1),
       padding="same")
_entry("padded-dilated-no-bias", (((1, 2, 3, 4, 4), (2, 2, 2, 2, 2)),), padding=(1, 0, 1), dilation=(1, 2, 1),
       bias=False)
