"""Image datasets as the book's models want them: float NCHW arrays, a train and a test split.

``load_images("digits")`` works offline anywhere (scikit-learn's bundled 8x8 digits); the others
read the real files (see ``tinygdl.data`` for where they are looked for).  Preprocessing follows
the book: scale to [0, 1] (or [-1, 1] for the GANs), optionally zero-pad 28 -> 32 and resize.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import data

# (channels, height, width) of each dataset as stored, and its class names.
SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32),
          "flowers12": (3, 64, 64)}
CLASSES = {"digits": tuple(str(d) for d in range(10)), "mnist": tuple(str(d) for d in range(10)),
           "fashion-mnist": data.FASHION_MNIST_CLASSES, "cifar10": data.CIFAR10_CLASSES,
           "flowers12": data.FLOWERS12_CLASSES}
DIGITS_HELD_OUT_EVERY = 5  # digits has no split of its own: every 5th image is the test set


@dataclass
class ImageSplits:
    x_train: np.ndarray  # (N, C, H, W) float32
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple

    @property
    def shape(self) -> tuple:
        return self.x_train.shape[1:]


def image_shape(dataset: str, pad_to: int | None = None, image_size: int | None = None, channels=None) -> tuple:
    """The (C, H, W) the model sees, without loading anything."""
    c, h, w = _known(dataset)
    if pad_to:
        h, w = max(h, pad_to), max(w, pad_to)
    if image_size:
        h = w = image_size
    return (channels or c, h, w)


def load_images(dataset: str, pad_to: int | None = None, image_size: int | None = None,
                symmetric: bool = False, limit: int | None = None, channels: int | None = None) -> ImageSplits:
    """Both splits of ``dataset`` as float32 NCHW in [0, 1] (``symmetric``: [-1, 1]).

    ``pad_to`` zero-pads smaller images to that size (Fashion-MNIST 28 -> 32); ``image_size``
    resizes (bilinear) after padding; ``channels=1`` turns RGB into grey; ``limit`` keeps the first
    examples of the training split (quick CPU runs).
    """
    _known(dataset)
    (x_train, y_train), (x_test, y_test) = _raw_splits(dataset)
    prepare = lambda x: _prepare(x, pad_to, image_size, symmetric, channels)  # noqa: E731
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    return ImageSplits(prepare(x_train), y_train, prepare(x_test), y_test, CLASSES[dataset])


def _known(dataset: str) -> tuple:
    if dataset not in SHAPES:
        raise ValueError(f"unknown image dataset {dataset!r}; choose one of {', '.join(SHAPES)}")
    return SHAPES[dataset]


def _raw_splits(dataset: str):
    if dataset == "digits":
        images, labels = data.load_digits()
        test = np.arange(len(labels)) % DIGITS_HELD_OUT_EVERY == DIGITS_HELD_OUT_EVERY - 1
        return (images[~test], labels[~test]), (images[test], labels[test])
    loader = data.LOADERS[dataset]
    return loader(split="train"), loader(split="test")


def _prepare(images, pad_to, image_size, symmetric, channels) -> np.ndarray:
    x = data.to_float_nchw(images, symmetric=symmetric)
    if pad_to and x.shape[-1] < pad_to:
        x = data.pad(x, (pad_to - x.shape[-1]) // 2, value=-1.0 if symmetric else 0.0)
    if image_size and x.shape[-1] != image_size:
        x = data.resize(x, image_size)
    if channels == 1 and x.shape[1] == 3:
        x = x.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)
