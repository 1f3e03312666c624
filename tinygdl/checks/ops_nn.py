"""The op table's neural-network entries: padding modes, convolution, pooling, resampling, the
losses and attention (``tinygdl.nn.functional``).

They join the one table of ``ops.py`` (``add`` appends to its ``SPECS``), so each gets the same
float64 gradcheck, PyTorch parity (forward and backward, float64 and float32) and, where marked,
gradgradcheck.  PyTorch's layouts are used throughout: (N, C, H, W) images, (N, C, L) sequences,
classes on axis 1 for ``cross_entropy``/``nll_loss``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import ops as tg
from ..nn import functional as TF
from .optable import add, away_from, const, distinct, each, nonzero, normal, per_input, positive

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


# -- pooling: dilation, ceil_mode, indices, unpooling, integer inputs, adaptive pooling ------
def unique_positions(plane: int):
    """Flat positions, all different within each (H, W) plane of ``plane`` cells (for max_unpool2d)."""
    def gen(rng, shape):
        count = int(np.prod(shape[2:]))
        return np.stack([rng.permutation(plane)[:count] for _ in range(shape[0] * shape[1])]).reshape(shape)
    return gen


MAX_POOLS = {"k3s2p1-dilation2-ceil": dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
             "k2-ceil": dict(kernel_size=2, ceil_mode=True),
             "k3s2-ceil-dilation(1,2)": dict(kernel_size=(2, 3), stride=2, dilation=(1, 2), ceil_mode=True)}
for name, options in MAX_POOLS.items():
    add(id=f"max_pool2d-{name}", op="max_pool2d", fn=lambda x, o=options: TF.max_pool2d(x, **o),
        ref=lambda x, o=options: F.max_pool2d(x, **o), cases=(((2, 2, 7, 8),), ((1, 1, 5, 5),)),
        make=each(distinct), second_order=True)
    add(id=f"max_pool2d-{name}-indices", op="max_pool2d",
        fn=lambda x, o=options: TF.max_pool2d(x, return_indices=True, **o)[1],
        ref=lambda x, o=options: F.max_pool2d(x, return_indices=True, **o)[1], cases=(((2, 2, 7, 8),),),
        make=each(distinct), grad=False)
add(id="max_pool2d-int64", op="max_pool2d", fn=lambda x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    ref=lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), cases=(((2, 2, 6, 5),),),
    make=each(lambda rng, shape: rng.integers(-9, 9, shape)), grad=False)
add(id="max_unpool2d", op="max_unpool2d", fn=lambda x, i: TF.max_unpool2d(x, i, 2),
    ref=lambda x, i: F.max_unpool2d(x, i, 2), cases=(((2, 2, 2, 3), (2, 2, 2, 3)),),
    make=per_input(normal, unique_positions(4 * 6)), second_order=True)
add(id="max_unpool2d-output_size", op="max_unpool2d", fn=lambda x, i: TF.max_unpool2d(x, i, 3, 2, 1, (4, 6)),
    ref=lambda x, i: F.max_unpool2d(x, i, 3, 2, 1, output_size=(4, 6)), cases=(((1, 2, 2, 3), (1, 2, 2, 3)),),
    make=per_input(normal, unique_positions(4 * 6)), second_order=True)
for include in (True, False):
    for name, options in {"k3s2p1-ceil": dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                          "k2-ceil": dict(kernel_size=2, ceil_mode=True),
                          "k(2,3)p1": dict(kernel_size=(2, 3), padding=1)}.items():
        add(id=f"avg_pool2d-{name}-include{include}", op="avg_pool2d",
            fn=lambda x, o=options, c=include: TF.avg_pool2d(x, count_include_pad=c, **o),
            ref=lambda x, o=options, c=include: F.avg_pool2d(x, count_include_pad=c, **o),
            cases=(((2, 2, 7, 8),), ((1, 1, 5, 5),)), second_order=name == "k3s2p1-ceil")
for size in ((3, 5), (None, 3), 1, (9, 4)):
    add(id=f"adaptive_avg_pool2d-{size}".replace(" ", ""), op="adaptive_avg_pool2d",
        fn=lambda x, s=size: TF.adaptive_avg_pool2d(x, s), ref=lambda x, s=size: F.adaptive_avg_pool2d(x, s),
        cases=(((2, 3, 7, 8),),), second_order=True)

# -- resampling: interpolate to any size or scale, pixel (un)shuffle -------------------------
RESIZES = {"size(5,13)": dict(size=(5, 13)), "size3": dict(size=3), "scale1.7": dict(scale_factor=1.7),
           "scale(2,3)": dict(scale_factor=(2, 3)), "scale0.5": dict(scale_factor=0.5)}
for name, options in RESIZES.items():
    add(id=f"interpolate-nearest-{name}", op="interpolate", fn=lambda x, o=options: TF.interpolate(x, **o),
        ref=lambda x, o=options: F.interpolate(x, **o), cases=(((2, 2, 4, 5),),), second_order=True)
    for corners in (True, False):
        add(id=f"interpolate-bilinear-{name}-corners{corners}", op="interpolate",
            fn=lambda x, o=options, c=corners: TF.interpolate(x, mode="bilinear", align_corners=c, **o),
            ref=lambda x, o=options, c=corners: F.interpolate(x, mode="bilinear", align_corners=c, **o),
            cases=(((2, 2, 4, 5),),), second_order=True)
for name, options in {"size9": dict(size=9), "scale1.6": dict(scale_factor=1.6)}.items():
    for mode, corners in (("nearest", None), ("linear", True), ("linear", False)):
        add(id=f"interpolate-sequences-{mode}-{name}-corners{corners}", op="interpolate",
            fn=lambda x, o=options, m=mode, c=corners: TF.interpolate(x, mode=m, align_corners=c, **o),
            ref=lambda x, o=options, m=mode, c=corners: F.interpolate(x, mode=m, align_corners=c, **o),
            cases=(((2, 2, 5),),), second_order=mode == "linear")
add(id="pixel_shuffle", op="pixel_shuffle", fn=lambda x: TF.pixel_shuffle(x, 2), ref=lambda x: F.pixel_shuffle(x, 2),
    cases=(((2, 8, 3, 2),), ((1, 4, 1, 1),)), second_order=True)
add(id="pixel_shuffle-3", op="pixel_shuffle", fn=lambda x: TF.pixel_shuffle(x, 3),
    ref=lambda x: F.pixel_shuffle(x, 3), cases=(((1, 9, 2, 2),),))
add(id="pixel_unshuffle", op="pixel_unshuffle", fn=lambda x: TF.pixel_unshuffle(x, 2),
    ref=lambda x: F.pixel_unshuffle(x, 2), cases=(((2, 2, 4, 6),),), second_order=True)

# -- losses (PyTorch's names, layouts and options) -----------------------------------------
CLASS_WEIGHT = np.array([0.5, 1.5, 1.0, 2.0])


def labels(classes: int, ignored: int | None = None):
    """Class indices, about a fifth of them set to ``ignored`` (an ``ignore_index``)."""
    def gen(rng, shape):
        y = rng.integers(0, classes, shape)
        if ignored is not None:
            y[rng.random(shape) < 0.2] = ignored
            y.reshape(-1)[0] = ignored  # at least one
            y.reshape(-1)[-1] = 0       # and at least one counted
        return y
    return gen


def probabilities(rng, shape):
    """Soft targets over axis 1 (positive, summing to 1)."""
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)


def _weight_of(x, weighted):
    return torch.tensor(CLASS_WEIGHT, dtype=x.dtype) if weighted else None


CE_CASES = (((5, 4), (5,)), ((3, 4, 2), (3, 2)), ((4,), ()))
for weighted in (False, True):
    for smoothing in (0.0, 0.15):
        for reduction in ("mean", "sum", "none"):
            add(id=f"cross_entropy-weight{weighted}-smoothing{smoothing}-{reduction}", op="cross_entropy",
                fn=lambda x, y, w=weighted, s=smoothing, r=reduction:
                    TF.cross_entropy(x, y, CLASS_WEIGHT if w else None, reduction=r, label_smoothing=s),
                ref=lambda x, y, w=weighted, s=smoothing, r=reduction:
                    F.cross_entropy(x, y, _weight_of(x, w), reduction=r, label_smoothing=s),
                cases=CE_CASES, make=per_input(normal, labels(4)), second_order=reduction == "mean")
    for ignore in (-100, 2):
        add(id=f"cross_entropy-ignore_index{ignore}-weight{weighted}", op="cross_entropy",
            fn=lambda x, y, w=weighted, i=ignore:
                TF.cross_entropy(x, y, CLASS_WEIGHT if w else None, ignore_index=i, label_smoothing=0.1),
            ref=lambda x, y, w=weighted, i=ignore:
                F.cross_entropy(x, y, _weight_of(x, w), ignore_index=i, label_smoothing=0.1),
            cases=CE_CASES[:2], make=per_input(normal, labels(4, ignore)))
        add(id=f"nll_loss-ignore_index{ignore}-weight{weighted}", op="nll_loss",
            fn=lambda x, y, w=weighted, i=ignore: TF.nll_loss(x, y, CLASS_WEIGHT if w else None, ignore_index=i),
            ref=lambda x, y, w=weighted, i=ignore: F.nll_loss(x, y, _weight_of(x, w), ignore_index=i),
            cases=CE_CASES[:2], make=per_input(normal, labels(4, ignore)), second_order=True)
    add(id=f"cross_entropy-probabilities-weight{weighted}", op="cross_entropy",
        fn=lambda x, p, w=weighted: TF.cross_entropy(x, p, CLASS_WEIGHT if w else None, label_smoothing=0.2),
        ref=lambda x, p, w=weighted: F.cross_entropy(x, p, _weight_of(x, w), label_smoothing=0.2),
        cases=(((5, 4), (5, 4)), ((3, 4, 2), (3, 4, 2)), ((4,), (4,))), make=per_input(normal, probabilities),
        second_order=True)
for reduction in ("mean", "sum", "none"):
    add(id=f"nll_loss-{reduction}", op="nll_loss", fn=lambda x, y, r=reduction: TF.nll_loss(x, y, reduction=r),
        ref=lambda x, y, r=reduction: F.nll_loss(x, y, reduction=r), cases=CE_CASES, make=per_input(normal, labels(4)))
# torch differentiates neither pos_weight nor weight: both are constants here.
POS_WEIGHT = np.array([0.5, 2.0, 3.0])
add(id="binary_cross_entropy_with_logits-pos_weight", op="binary_cross_entropy_with_logits",
    fn=lambda z, y: TF.binary_cross_entropy_with_logits(z, y, pos_weight=POS_WEIGHT.astype(z.dtype)),
    ref=lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=torch.tensor(POS_WEIGHT, dtype=z.dtype)),
    cases=(((4, 3), (4, 3)), ((2, 1, 3), (2, 1, 3))), make=per_input(normal, lambda rng, s: rng.uniform(0, 1, s)),
    second_order=True)
add(id="binary_cross_entropy_with_logits-weight-pos_weight-sum", op="binary_cross_entropy_with_logits",
    fn=lambda z, y: TF.binary_cross_entropy_with_logits(z, y, "sum", weight=POS_WEIGHT[::-1].astype(z.dtype),
                                                        pos_weight=POS_WEIGHT.astype(z.dtype)),
    ref=lambda z, y: F.binary_cross_entropy_with_logits(z, y, torch.tensor(POS_WEIGHT[::-1].copy(), dtype=z.dtype),
                                                        reduction="sum",
                                                        pos_weight=torch.tensor(POS_WEIGHT, dtype=z.dtype)),
    cases=(((4, 3), (4, 3)),), make=per_input(normal, lambda rng, s: rng.uniform(0, 1, s)))


def differences(*kinks):
    """(prediction, target) whose differences keep clear of the losses' kinks."""
    def gen(rng, shapes):
        target = rng.standard_normal(shapes[1])
        return [target + away_from(*kinks, margin=0.1)(rng, shapes[0]), target]
    return gen


for beta in (1.0, 0.5, 0.0):
    add(id=f"smooth_l1_loss-beta{beta}", op="smooth_l1_loss", fn=lambda x, t, b=beta: TF.smooth_l1_loss(x, t, beta=b),
        ref=lambda x, t, b=beta: F.smooth_l1_loss(x, t, beta=b), cases=(((4, 3), (4, 3)), ((5,), (5,))),
        make=differences(-beta, 0.0, beta), second_order=beta > 0)
for delta, reduction in ((1.0, "mean"), (2.0, "none"), (0.5, "sum")):
    add(id=f"huber_loss-delta{delta}-{reduction}", op="huber_loss",
        fn=lambda x, t, d=delta, r=reduction: TF.huber_loss(x, t, r, delta=d),
        ref=lambda x, t, d=delta, r=reduction: F.huber_loss(x, t, reduction=r, delta=d),
        cases=(((4, 3), (4, 3)),), make=differences(-delta, 0.0, delta), second_order=True)
def torch_kl_div(x, t, reduction, log_target=False):
    """F.kl_div without its warning that "mean" is not the KL divergence (we match it as it is)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return F.kl_div(x, t, reduction=reduction, log_target=log_target)


for reduction in ("mean", "batchmean", "sum", "none"):
    add(id=f"kl_div-{reduction}", op="kl_div", fn=lambda x, t, r=reduction: TF.kl_div(x, t, r),
        ref=lambda x, t, r=reduction: torch_kl_div(x, t, r), cases=(((4, 3), (4, 3)), ((5,), (5,))),
        make=per_input(normal, positive), second_order=True)
    add(id=f"kl_div-log_target-{reduction}", op="kl_div", fn=lambda x, t, r=reduction: TF.kl_div(x, t, r, True),
        ref=lambda x, t, r=reduction: torch_kl_div(x, t, r, True), cases=(((4, 3), (4, 3)),),
        second_order=True)
add(id="kl_div-zero-target", op="kl_div", fn=lambda x, t: TF.kl_div(x, t, "sum"),
    ref=lambda x, t: F.kl_div(x, t, reduction="sum"), cases=(((2, 3), (2, 3)),),
    make=per_input(normal, const([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])), numeric=False, layouts=False,
    check_backward=False)  # the forward only: at a zero target torch's gradient is NaN
add(id="cosine_similarity", op="cosine_similarity", fn=TF.cosine_similarity, ref=torch and F.cosine_similarity,
    cases=(((4, 5), (4, 5)), ((4, 5, 3), (5, 1)), ((2, 3, 4), (1, 3, 4))), second_order=True)
add(id="cosine_similarity-last-axis", op="cosine_similarity", fn=lambda a, b: TF.cosine_similarity(a, b, dim=-1),
    ref=lambda a, b: F.cosine_similarity(a, b, dim=-1), cases=(((4, 5), (4, 5)), ((3, 4, 5), (4, 5))),
    second_order=True)
for p, dim in ((2.0, 1), (1.0, -1), (3.0, 0)):
    add(id=f"normalize-p{p}-dim{dim}", op="normalize", fn=lambda x, p=p, d=dim: TF.normalize(x, p, d),
        ref=lambda x, p=p, d=dim: F.normalize(x, p, d), cases=(((4, 5),), ((2, 3, 4),)), make=each(nonzero),
        second_order=True)

# -- attention -------------------------------------------------------------------------------
QKV = (((2, 4, 3), (2, 5, 3), (2, 5, 2)), ((2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 3)))
add(id="scaled_dot_product_attention", op="scaled_dot_product_attention", fn=TF.scaled_dot_product_attention,
    ref=torch and F.scaled_dot_product_attention, cases=QKV + (((3, 4), (5, 4), (5, 2)),), second_order=True)
add(id="scaled_dot_product_attention-causal-scale", op="scaled_dot_product_attention",
    fn=lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7),
    ref=lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7),
    cases=(((2, 4, 3), (2, 4, 3), (2, 4, 2)), ((1, 3, 4), (1, 5, 4), (1, 5, 2))), second_order=True)


def attention_mask(rng, shape):
    """A boolean mask that lets every query attend to at least its first key."""
    m = rng.random(shape) < 0.6
    m[..., 0] = True
    return m


add(id="scaled_dot_product_attention-bool-mask", op="scaled_dot_product_attention",
    fn=lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
    ref=lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
    cases=tuple(s + (s[0][:-1] + (s[1][-2],),) for s in QKV) + (QKV[0] + ((4, 5),),),
    make=per_input(normal, normal, normal, attention_mask), second_order=True)
add(id="scaled_dot_product_attention-additive-mask", op="scaled_dot_product_attention",
    fn=lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m),
    ref=lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
    cases=(QKV[0] + ((4, 5),), QKV[1] + ((2, 1, 3, 3),)), second_order=True)
