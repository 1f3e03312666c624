"""Batch-wise image and label transforms on NumPy arrays.

Loaders return images channels-last, ``(N, H, W, C)`` (or ``(N, H, W)`` for grey images), as the
files store them; models take channels-first ``(N, C, H, W)``.  Convert with ``to_nchw`` first:
the spatial transforms here (``pad``, ``resize``) act on the **last two axes**, so they work on
``(N, H, W)`` and ``(N, C, H, W)`` arrays alike.

Float results use the default float type (``tinygdl.backend.get_default_dtype()``, float32 unless
changed) unless the input is already floating point.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype


def _as_float(x) -> np.ndarray:
    """``x`` as a float array: float inputs keep their type, others get the default float type."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(get_default_dtype())


# --------------------------------------------------------------------------- value ranges


def scale_to_unit(images, max_value: float = 255.0) -> np.ndarray:
    """Map ``[0, max_value]`` to ``[0, 1]``: ``x / 255`` for 8-bit images."""
    return _as_float(images) / max_value


def scale_to_symmetric(images, max_value: float = 255.0) -> np.ndarray:
    """Map ``[0, max_value]`` to ``[-1, 1]``: ``(x - 127.5) / 127.5`` for 8-bit images (GANs)."""
    half = max_value / 2
    return (_as_float(images) - half) / half


def to_uint8(images, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Map floats in ``value_range`` back to 0..255 (clipped and rounded), e.g. to save samples."""
    low, high = value_range
    scaled = (np.asarray(images, dtype=np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def quantize(images, levels: int, max_value: float = 256.0) -> np.ndarray:
    """Integer levels ``floor(x * levels / max_value)`` in ``0 .. levels - 1`` (int64).

    For 8-bit values and ``levels=4`` this is ``x // 64``: PixelCNN's four grey levels.
    """
    level = np.floor(np.asarray(images, dtype=np.float64) * (levels / max_value))
    return np.clip(level, 0, levels - 1).astype(np.int64)


# --------------------------------------------------------------------------- layouts


def to_nchw(images) -> np.ndarray:
    """``(N, H, W, C)`` -> ``(N, C, H, W)``; grey ``(N, H, W)`` -> ``(N, 1, H, W)``."""
    images = np.asarray(images)
    if images.ndim == 3:
        return images[:, None]
    if images.ndim != 4:
        raise ValueError(f"expected (N, H, W) or (N, H, W, C) images, got shape {images.shape}")
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def to_nhwc(images) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(N, H, W, C)`` (e.g. to show or save images)."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {images.shape}")
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1))


def to_float_nchw(images, symmetric: bool = False) -> np.ndarray:
    """8-bit images as the models want them: ``(N, C, H, W)`` floats in [0, 1] (or [-1, 1])."""
    scale = scale_to_symmetric if symmetric else scale_to_unit
    return scale(to_nchw(images))


# --------------------------------------------------------------------------- geometry


def pad(images, width: int = 2, value=0) -> np.ndarray:
    """Pad the last two axes by ``width`` on every side (28x28 -> 32x32 with the default 2)."""
    images = np.asarray(images)
    spec = [(0, 0)] * (images.ndim - 2) + [(width, width), (width, width)]
    return np.pad(images, spec, constant_values=value)


def _bilinear_taps(in_size: int, out_size: int):
    """For each output position: the two source positions it blends and the second one's weight.

    Output pixel ``i`` has its centre at ``(i + 0.5) * in_size / out_size - 0.5`` in source
    coordinates ("half-pixel centres"), clamped at the border.
    """
    centre = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    centre = np.clip(centre, 0, in_size - 1)
    low = np.floor(centre).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    return low, high, centre - low


def resize(images, size) -> np.ndarray:
    """Bilinear resize of the last two axes to ``size`` (an int or ``(height, width)``).

    Half-pixel centres and no antialiasing: the same as PyTorch's
    ``interpolate(mode="bilinear", align_corners=False)``, Keras' ``UpSampling2D(interpolation=
    "bilinear")`` and ``tf.image.resize``.  Shrinking therefore samples rather than averages.
    Returns floats; 8-bit inputs keep their 0..255 scale.
    """
    height, width = (size, size) if np.isscalar(size) else size
    x = _as_float(images)
    top, bottom, row_weight = _bilinear_taps(x.shape[-2], height)
    left, right, col_weight = _bilinear_taps(x.shape[-1], width)
    row_weight = row_weight.astype(x.dtype)[:, None]
    col_weight = col_weight.astype(x.dtype)
    rows = x[..., top, :] * (1 - row_weight) + x[..., bottom, :] * row_weight
    return rows[..., left] * (1 - col_weight) + rows[..., right] * col_weight


# --------------------------------------------------------------------------- labels


def one_hot(labels, num_classes: int, on_value=1, off_value=0, dtype=None) -> np.ndarray:
    """``labels`` of shape S -> shape S + (num_classes,), ``on_value`` at each label, else ``off_value``.

    ``dtype`` defaults to the default float type.  MuseGAN uses ``on_value=1, off_value=-1``.
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels should lie in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    hits = labels[..., None] == np.arange(num_classes)
    return np.where(hits, on_value, off_value).astype(dtype or get_default_dtype())
