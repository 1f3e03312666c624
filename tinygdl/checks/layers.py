"""The layer table: every layer of ``tinygdl.nn`` with a small configuration and input to check, then
the layers that live with their model family in ``tinygdl.models`` (CONTRIBUTING.md: where layers go).

``tinygdl gradcheck`` (and ``tests/test_checks.py``) differentiate each layer with respect to its
input *and* every parameter, in float64, against finite differences (``tinygdl.testing``), and
second-order for the layers a gradient penalty goes through.  A test fails if a layer class has
no entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import nn


@dataclass(frozen=True)
class LayerSpec:
    id: str
    build: Callable  # () -> Module (called with float64 as the default dtype)
    inputs: tuple  # input shapes (one per forward argument)
    make: Callable | None = None  # make(rng, shapes) -> arrays; default: standard normal floats
    call: Callable | None = None  # call(module, *tensors) -> Tensor; default: module(*tensors)
    second_order: bool = False  # run gradgradcheck too
    train: bool = True  # training mode (batch statistics, dropout) or eval mode
    covers: tuple = field(default=())  # extra layer class names this entry exercises

    def __repr__(self):
        return self.id


def _models():
    """tinygdl.models, imported when a check needs it (it sits above nn in the import order)."""
    import tinygdl.models.autoencoders
    import tinygdl.models.diffusion
    import tinygdl.models.flows
    import tinygdl.models.gan
    import tinygdl.models.pixelcnn
    import tinygdl.models.vae

    return tinygdl.models


def _ints(high):
    return lambda rng, shapes: [rng.integers(0, high, shapes[0])]


def _away_from_zero(rng, shapes):
    """Inputs kept clear of the kink at 0 (ReLU family, max-pooling ties)."""
    return [np.sign(x) * (np.abs(x) + 0.1) for x in (rng.standard_normal(s) for s in shapes)]


def _clear_of_corners(rng, shapes):
    """Values at least 0.2 from 0, ±1, ±3 and 6 (the corners of hardtanh, relu6, hardsigmoid)."""
    grid = np.array([-7.0, -4.5, -2.0, -0.5, 0.5, 2.0, 4.5, 7.0])
    return [rng.choice(grid, s) + rng.uniform(-0.3, 0.3, s) for s in shapes]


def _distinct(rng, shapes):
    """Well-separated values, so that max-pooling never sees a tie."""
    n = int(np.prod(shapes[0]))
    return [(rng.permutation(n) * 0.1 + rng.uniform(0, 0.01, n)).reshape(shapes[0])]


SPECS = [
    # -- dense, embedding, attention, recurrent
    LayerSpec("Linear", lambda: nn.Linear(5, 3), ((4, 5),), second_order=True),
    LayerSpec("Linear-3d-no-bias", lambda: nn.Linear(5, 3, bias=False), ((2, 4, 5),)),
    LayerSpec("Embedding", lambda: nn.Embedding(6, 3), ((2, 4),), make=_ints(6)),
    LayerSpec("MultiHeadAttention", lambda: nn.MultiHeadAttention(4, 2, key_dim=3), ((2, 3, 4),)),
    LayerSpec("MultiHeadAttention-causal", lambda: nn.MultiHeadAttention(4, 2), ((2, 3, 4),),
              call=lambda m, x: m(x, causal=True)),
    LayerSpec("TransformerBlock", lambda: nn.TransformerBlock(4, 2, key_dim=3, ff_dim=5, dropout=0.0), ((2, 3, 4),)),
    LayerSpec("LSTM", lambda: nn.LSTM(3, 4), ((2, 5, 3),), call=lambda m, x: m(x)[0], second_order=True),
    # -- convolutions
    LayerSpec("Conv2d", lambda: nn.Conv2d(2, 3, 3, stride=2, padding="same"), ((2, 2, 5, 5),), second_order=True),
    LayerSpec("Conv2d-dilated", lambda: nn.Conv2d(2, 2, 3, padding=2, dilation=2, bias=False), ((1, 2, 5, 6),)),
    LayerSpec("ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding="same"), ((2, 3, 3, 3),),
              second_order=True),
    LayerSpec("ConvTranspose2d-k4s2", lambda: nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1), ((1, 2, 3, 3),)),
    LayerSpec("Conv3d", lambda: nn.Conv3d(2, 3, (1, 3, 2), stride=(1, 2, 2), padding="same"), ((2, 2, 2, 4, 4),),
              second_order=True),
    LayerSpec("Conv2d-groups", lambda: nn.Conv2d(4, 6, 3, padding=1, groups=2), ((1, 4, 4, 4),), second_order=True),
    LayerSpec("Conv2d-depthwise", lambda: nn.Conv2d(3, 3, 3, stride=2, groups=3), ((2, 3, 5, 5),)),
    LayerSpec("ConvTranspose2d-groups", lambda: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, groups=2),
              ((1, 4, 3, 3),), second_order=True),
    LayerSpec("Conv1d", lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1), ((2, 2, 7),), second_order=True),
    LayerSpec("ConvTranspose1d", lambda: nn.ConvTranspose1d(4, 2, 3, stride=2, groups=2), ((2, 4, 3),)),
    # -- normalization
    LayerSpec("BatchNorm1d", lambda: nn.BatchNorm1d(3), ((5, 3),), second_order=True),
    LayerSpec("BatchNorm2d", lambda: nn.BatchNorm2d(2), ((3, 2, 3, 3),), second_order=True),
    LayerSpec("BatchNorm2d-eval", lambda: nn.BatchNorm2d(2), ((3, 2, 3, 3),), train=False),
    LayerSpec("BatchNorm2d-no-affine", lambda: nn.BatchNorm2d(2, affine=False), ((3, 2, 3, 3),)),
    LayerSpec("LayerNorm", lambda: nn.LayerNorm(4), ((3, 4),), second_order=True),
    LayerSpec("GroupNorm", lambda: nn.GroupNorm(2, 4), ((2, 4, 3, 3),)),
    LayerSpec("InstanceNorm2d", lambda: nn.InstanceNorm2d(2), ((2, 2, 3, 3),)),
    # -- activations
    LayerSpec("ReLU", nn.ReLU, ((3, 4),), make=_away_from_zero),
    LayerSpec("LeakyReLU", lambda: nn.LeakyReLU(0.2), ((3, 4),), make=_away_from_zero, second_order=True),
    LayerSpec("Sigmoid", nn.Sigmoid, ((3, 4),), second_order=True),
    LayerSpec("Tanh", nn.Tanh, ((3, 4),), second_order=True),
    LayerSpec("Softmax", nn.Softmax, ((3, 4),), second_order=True),
    LayerSpec("GELU", nn.GELU, ((3, 4),), second_order=True),
    LayerSpec("SiLU", nn.SiLU, ((3, 4),), second_order=True, covers=("Swish",)),
    LayerSpec("ELU", nn.ELU, ((3, 4),), make=_away_from_zero),
    LayerSpec("Identity", nn.Identity, ((3, 4),)),
    # PyTorch's other activations (issue 9); the hard ones on values clear of their corners
    LayerSpec("SELU", nn.SELU, ((3, 4),), make=_away_from_zero, second_order=True),
    LayerSpec("CELU", lambda: nn.CELU(0.7), ((3, 4),), make=_away_from_zero, second_order=True),
    LayerSpec("ReLU6", nn.ReLU6, ((3, 4),), make=_clear_of_corners),
    LayerSpec("Hardtanh", nn.Hardtanh, ((3, 4),), make=_clear_of_corners),
    LayerSpec("Hardsigmoid", nn.Hardsigmoid, ((3, 4),), make=_clear_of_corners),
    LayerSpec("Hardswish", nn.Hardswish, ((3, 4),), make=_clear_of_corners, second_order=True),
    LayerSpec("Mish", nn.Mish, ((3, 4),), second_order=True),
    LayerSpec("Softsign", nn.Softsign, ((3, 4),), make=_away_from_zero, second_order=True),
    LayerSpec("LogSigmoid", nn.LogSigmoid, ((3, 4),), second_order=True),
    LayerSpec("Softmin", lambda: nn.Softmin(axis=0), ((3, 4),), second_order=True),
    LayerSpec("Softplus", lambda: nn.Softplus(2.0, 1.0), ((3, 4),), make=_away_from_zero, second_order=True),
    LayerSpec("GLU", nn.GLU, ((3, 4),), second_order=True),
    LayerSpec("PReLU", lambda: nn.PReLU(2), ((3, 2, 2),), make=_away_from_zero, second_order=True),
    # -- shape, pooling, resampling, regularization
    LayerSpec("Flatten", nn.Flatten, ((2, 3, 2, 2),)),
    LayerSpec("Reshape", lambda: nn.Reshape((2, 6)), ((3, 12),)),
    LayerSpec("Concatenate", lambda: nn.Concatenate(axis=1), ((2, 3, 2), (2, 1, 2)), call=lambda m, a, b: m([a, b])),
    LayerSpec("Lambda", lambda: nn.Lambda(lambda x: x * x), ((3, 2),)),
    LayerSpec("Dropout", lambda: nn.Dropout(0.3), ((4, 5),)),
    LayerSpec("MaxPool2d", lambda: nn.MaxPool2d(2), ((1, 2, 4, 4),), make=_distinct),
    LayerSpec("AvgPool2d", lambda: nn.AvgPool2d(2), ((1, 2, 4, 4),)),
    LayerSpec("Upsample-nearest", lambda: nn.Upsample(2), ((1, 2, 3, 3),)),
    LayerSpec("Upsample-bilinear", lambda: nn.Upsample(2, mode="bilinear"), ((1, 2, 3, 3),), covers=("UpSampling2D",)),
    LayerSpec("ZeroPad2d", lambda: nn.ZeroPad2d(1), ((1, 2, 3, 3),)),
    LayerSpec("MaxPool2d-dilated-ceil", lambda: nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True), ((1, 2, 6, 7),),
              make=_distinct),
    LayerSpec("MaxUnpool2d", lambda: nn.MaxUnpool2d(2), ((1, 2, 4, 4),), make=_distinct,
              call=lambda m, x: m(*nn.MaxPool2d(2, return_indices=True)(x)), second_order=True),
    LayerSpec("AvgPool2d-ceil-exclude-pad", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
              ((1, 2, 6, 7),)),
    LayerSpec("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), ((2, 2, 5, 7),), second_order=True),
    LayerSpec("Upsample-size-bilinear-corners", lambda: nn.Upsample(size=(5, 4), mode="bilinear", align_corners=True),
              ((1, 2, 3, 3),), second_order=True),
    LayerSpec("PixelShuffle", lambda: nn.PixelShuffle(2), ((1, 8, 2, 3),)),
    LayerSpec("PixelUnshuffle", lambda: nn.PixelUnshuffle(2), ((1, 2, 4, 6),)),
    LayerSpec("GlobalAvgPool2d", nn.GlobalAvgPool2d, ((2, 3, 4, 4),)),
    LayerSpec("RepeatVector", lambda: nn.RepeatVector(3), ((2, 4),)),
    LayerSpec("GaussianNoise", lambda: nn.GaussianNoise(0.3), ((3, 4),)),
    # -- the small layers of the model families (tinygdl.models)
    LayerSpec("DenseTranspose", lambda: _models().autoencoders.DenseTranspose(nn.Linear(4, 3)), ((2, 3),)),
    LayerSpec("RecurrentLayer", lambda: _models().autoencoders.RecurrentLayer(3, 2, return_sequences=False),
              ((2, 4, 3),)),
    LayerSpec("Sampling", lambda: _models().vae.Sampling(), ((3, 2), (3, 2)), second_order=True),
    LayerSpec("AffineCoupling", lambda: _models().flows.AffineCoupling((0, 1), hidden=4, depth=1), ((5, 2),),
              call=lambda m, x: m(x)[0]),
    LayerSpec("AffineCoupling-log-det", lambda: _models().flows.AffineCoupling((1, 0), hidden=4, depth=1), ((5, 2),),
              call=lambda m, x: m(x)[1]),
    LayerSpec("AffineCoupling-inverse", lambda: _models().flows.AffineCoupling((0, 1), hidden=4, depth=1),
              ((5, 2),), call=lambda m, x: m.inverse(x)),
    # -- GAN discriminators
    LayerSpec("MinibatchStdDev", lambda: _models().gan.MinibatchStdDev(2), ((4, 2, 2, 2),), second_order=True),
    # -- diffusion: the noise-variance embedding, broadcast over a 3x2 image (variances in the schedule's range)
    LayerSpec("SinusoidalEmbedding", lambda: _models().diffusion.SinusoidalEmbedding(4, 1.0, 20.0), ((3, 1, 1, 1),),
              make=lambda rng, shapes: [rng.uniform(0.1, 1.0, shapes[0])], call=lambda m, v: m(v, (3, 2)),
              second_order=True),
    # -- PixelCNN: masked convolutions; PixelCNN++: shifted ones and weight normalisation (eval mode: no
    #    data-dependent init)
    LayerSpec("MaskedConv2d-A", lambda: _models().pixelcnn.MaskedConv2d(2, 2, 3, mask_type="A"), ((1, 2, 4, 4),)),
    LayerSpec("MaskedConv2d-B", lambda: _models().pixelcnn.MaskedConv2d(2, 2, 3, mask_type="B"), ((1, 2, 4, 4),)),
    LayerSpec("ShiftedConv2d", lambda: _models().pixelcnn.ShiftedConv2d(2, 3, (3, 3), rows=2, cols=2),
              ((1, 2, 4, 4),)),
    LayerSpec("ShiftedConvTranspose2d",
              lambda: _models().pixelcnn.ShiftedConvTranspose2d(2, 2, (2, 4), cols=3, stride=2), ((1, 2, 2, 3),)),
    LayerSpec("WeightNorm", lambda: nn.WeightNorm(_models().pixelcnn.ShiftedConv2d(2, 3, 3, rows=2)), ((2, 2, 4, 4),),
              train=False, second_order=True),
    LayerSpec("WeightNorm-linear", lambda: nn.WeightNorm(nn.Linear(4, 3)), ((5, 4),), train=False),
]
