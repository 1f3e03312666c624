"""The op table's neural-network entries: padding modes, convolution, pooling, resampling, the
losses and attention (``tinygdl.nn.functional``).

They join the one table of ``ops.py`` (``add`` appends to its ``SPECS``), so each gets the same
float64 gradcheck, PyTorch parity (forward and backward, float64 and float32) and, where marked,
gradgradcheck.  PyTorch's layouts are used throughout: (N, C, H, W) images, (N, C, L) sequences,
classes on axis 1 for ``cross_entropy``/``nll_loss``.
"""

from __future__ import annotations

import tinygdl as tg
import tinygdl.nn.functional as TF

from .ops import add

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = F = None


# -- padding: modes and negative (cropping) widths, in PyTorch's flat form -------------------
for mode in ("constant", "reflect", "replicate", "circular"):
    for widths in ((2, 1), (1, 2, 2, 0), (-1, 2, 1, -2)):
        add(id=f"pad-{mode}{widths}".replace(" ", ""), op="pad",
            fn=lambda x, w=widths, m=mode: tg.pad(x, w, mode=m),
            ref=lambda x, w=widths, m=mode: F.pad(x, w, mode=m),
            cases=(((3, 4, 5),), ((2, 6),)) if len(widths) == 2 else (((2, 3, 4, 5),), ((3, 4, 5),)),
            second_order=True)
add(id="pad-numpy-widths-reflect", op="pad", fn=lambda x: tg.pad(x, ((0, 0), (0, 0), (1, 2), (2, 1)), "reflect"),
    ref=lambda x: F.pad(x, (2, 1, 1, 2), "reflect"), cases=(((1, 2, 4, 4),),))
add(id="pad-crop-constant", op="pad", fn=lambda x: tg.pad(x, ((-1, 0), (2, -3)), value=0.5),
    ref=lambda x: F.pad(x, (2, -3, -1, 0), value=0.5), cases=(((3, 5),),), second_order=True)

# -- convolution: groups (depthwise when groups = channels), 1-D convolutions ---------------
# (name, op, tinygdl and torch function, options, (x, weight, bias) shapes)
CONVS = (
    ("conv2d", "conv2d", dict(stride=2, padding=1), ((2, 3, 5, 6), (4, 3, 3, 3), (4,))),
    ("conv2d-groups2", "conv2d", dict(padding=1, groups=2), ((2, 4, 5, 5), (6, 2, 3, 3), (6,))),
    ("conv2d-depthwise", "conv2d", dict(stride=2, padding=1, groups=3), ((1, 3, 6, 5), (3, 1, 3, 3), (3,))),
    ("conv2d-depthwise-multiplier2-dilated", "conv2d", dict(dilation=2, padding=2, groups=2),
     ((1, 2, 5, 5), (4, 1, 3, 3), (4,))),
    ("conv_transpose2d-groups2", "conv_transpose2d", dict(stride=2, padding=1, output_padding=1, groups=2),
     ((2, 4, 3, 3), (4, 3, 3, 3), (6,))),
    ("conv_transpose2d-depthwise", "conv_transpose2d", dict(stride=2, groups=3), ((1, 3, 3, 2), (3, 1, 2, 2), (3,))),
    ("conv1d", "conv1d", dict(stride=2, padding=1), ((2, 3, 7), (4, 3, 3), (4,))),
    ("conv1d-groups-dilated", "conv1d", dict(dilation=2, padding=2, groups=2), ((2, 4, 6), (2, 2, 3), (2,))),
    ("conv1d-same", "conv1d", dict(padding="same"), ((2, 2, 6), (3, 2, 4), (3,))),
    ("conv_transpose1d", "conv_transpose1d", dict(stride=2, padding=1, output_padding=1), ((2, 3, 4), (3, 2, 3), (2,))),
    ("conv_transpose1d-groups", "conv_transpose1d", dict(stride=3, groups=3), ((1, 3, 4), (3, 2, 2), (6,))),
)
for name, op, options, shapes in CONVS:
    add(id=name, op=op, fn=lambda x, w, b, op=op, o=options: getattr(TF, op)(x, w, b, **o),
        ref=lambda x, w, b, op=op, o=options: getattr(F, op)(x, w, b, **o),
        cases=(shapes,), second_order=True)
add(id="conv2d-groups-no-bias", op="conv2d", fn=lambda x, w: TF.conv2d(x, w, groups=2),
    ref=lambda x, w: F.conv2d(x, w, groups=2), cases=(((1, 4, 4, 4), (2, 2, 2, 2)),))
