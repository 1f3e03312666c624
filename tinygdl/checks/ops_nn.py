"""The op table's neural-network entries: padding modes, convolution, pooling, resampling, the
losses and attention (``tinygdl.nn.functional``).

They join the one table of ``ops.py`` (``add`` appends to its ``SPECS``), so each gets the same
float64 gradcheck, PyTorch parity (forward and backward, float64 and float32) and, where marked,
gradgradcheck.  PyTorch's layouts are used throughout: (N, C, H, W) images, (N, C, L) sequences,
classes on axis 1 for ``cross_entropy``/``nll_loss``.
"""

from __future__ import annotations

import tinygdl as tg

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
