"""Chapter 2 of the book: the two CIFAR-10 classifiers (an MLP and a CNN), as the book builds them.

Both end in a softmax and are trained with categorical cross-entropy on probabilities, Adam 5e-4,
batch 32.  Architectures and settings: ``docs/models/classifiers.md``.  Layers use Keras's
defaults (glorot-uniform kernels, zero biases; BatchNorm momentum 0.99, ε 1e-3; a bare
``LeakyReLU()`` has slope 0.3).
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn


def mlp(input_shape=(3, 32, 32), num_classes: int = 10, hidden=(200, 150)) -> nn.Sequential:
    """Flatten -> Dense 200 ReLU -> Dense 150 ReLU -> Dense 10 softmax (646,260 parameters on CIFAR-10)."""
    features = 1
    for size in input_shape:
        features *= size
    layers = OrderedDict(flatten=nn.Flatten())
    for i, width in enumerate(hidden):
        layers[f"dense_{i}"] = nn.Linear(features, width)
        layers[f"relu_{i}"] = nn.ReLU()
        features = width
    layers["dense_out"] = nn.Linear(features, num_classes)
    layers["softmax"] = nn.Softmax(axis=-1)
    return nn.Sequential(layers)


def _conv_block(layers: OrderedDict, index: int, in_channels: int, out_channels: int, stride: int) -> None:
    """Conv 3x3 ("same") -> BatchNorm -> LeakyReLU(0.3), the CNN's repeated unit."""
    layers[f"conv_{index}"] = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding="same")
    layers[f"batchnorm_{index}"] = nn.BatchNorm2d(out_channels)
    layers[f"leaky_relu_{index}"] = nn.LeakyReLU(0.3)


def cnn(input_shape=(3, 32, 32), num_classes: int = 10, channels=(32, 32, 64, 64), dense: int = 128,
        dropout: float = 0.5) -> nn.Sequential:
    """Four conv blocks (strides 1, 2, 1, 2), Dense 128 + BN + LeakyReLU, dropout 0.5, Dense 10 softmax.

    On CIFAR-10: 592,554 parameters, 591,914 trainable and 640 non-trainable (BatchNorm's running
    statistics), exactly the book's summary.
    """
    in_channels, height, width = input_shape
    layers = OrderedDict()
    for i, (out_channels, stride) in enumerate(zip(channels, (1, 2, 1, 2))):
        _conv_block(layers, i, in_channels, out_channels, stride)
        in_channels = out_channels
        height, width = -(-height // stride), -(-width // stride)  # "same": ceil(n / s)
    layers["flatten"] = nn.Flatten()
    layers["dense"] = nn.Linear(in_channels * height * width, dense)
    layers["batchnorm_dense"] = nn.BatchNorm1d(dense)
    layers["leaky_relu_dense"] = nn.LeakyReLU(0.3)
    layers["dropout"] = nn.Dropout(dropout)
    layers["dense_out"] = nn.Linear(dense, num_classes)
    layers["softmax"] = nn.Softmax(axis=-1)
    return nn.Sequential(layers)
