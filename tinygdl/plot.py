"""PNG helpers for the book's figures: image grids, loss curves, reconstructions, latent spaces.

Every function takes NumPy arrays or Tensors, writes one PNG to ``path`` (creating its folder) and
returns the path.  Images may be

* a batch in NCHW ``(N, C, H, W)`` or NHWC ``(N, H, W, C)`` layout with 1 (grey) or 3 (RGB)
  channels, or ``(N, H, W)`` grey images; the layout is read from where the channel axis of size 1
  or 3 is (NCHW wins when both fit), or given with ``layout="NCHW"``/``"NHWC"``;
* valued in [0, 1], [0, 255] or [−1, 1]: ``value_range=(low, high)`` says which; by default uint8
  arrays are [0, 255], arrays with negative values [−1, 1], arrays above 1 [0, 255], others [0, 1].

Headless by construction: figures are ``matplotlib.figure.Figure`` objects rendered by the Agg
canvas, never created through ``pyplot``.  So no window opens, the pyplot backend of a notebook
using tinygdl is left alone (``matplotlib.use("Agg")`` would switch it), and nothing keeps a figure
alive once it is saved: a long run writing a grid every epoch does not leak memory.

``latent_grid`` decodes a regular grid of 2-D latent points; model-specific grids (the VAE's grid
through the inverse normal CDF) build their points themselves and call ``image_grid``.
"""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from . import backend
from .tensor import Tensor

CELL_INCHES = 1.0  # the printed size of one image in a grid
TITLE_LINE_INCHES = 0.17  # the height of one line of an 8-point title
GAP_INCHES = 0.05  # the white gap between images


# --------------------------------------------------------------------------- images


def to_images(images, value_range=None, layout: str | None = None) -> np.ndarray:
    """A batch of images as a float array ``(N, H, W, C)`` in [0, 1] with C = 1 or 3 (see the module doc)."""
    array = _as_numpy(images)
    if array.ndim == 3:
        array = array[:, None]  # (N, H, W) grey images
    if array.ndim != 4:
        raise ValueError(f"expected a batch of images (N, C, H, W), (N, H, W, C) or (N, H, W), got shape {array.shape}")
    layout = layout or _guess_layout(array.shape)
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    if layout == "NCHW":
        array = array.transpose(0, 2, 3, 1)
    if array.shape[-1] not in (1, 3):
        raise ValueError(f"images need 1 or 3 channels; shape {array.shape} in NHWC order has {array.shape[-1]}")
    low, high = _guess_range(array) if value_range is None else value_range
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    return np.clip((array.astype(np.float64) - low) / (high - low), 0.0, 1.0)


def _as_numpy(values) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.numpy()
    return backend.to_numpy(values) if backend.is_cupy_array(values) else np.asarray(values)


def _guess_layout(shape) -> str:
    if shape[1] in (1, 3):
        return "NCHW"
    if shape[-1] in (1, 3):
        return "NHWC"
    raise ValueError(f"cannot find a channel axis of size 1 or 3 in images of shape {shape}")


def _guess_range(array: np.ndarray) -> tuple:
    if array.dtype == np.uint8:
        return (0, 255)
    if array.size and array.min() < 0:
        return (-1, 1)
    if array.size and array.max() > 1:
        return (0, 255)
    return (0, 1)


def image_grid(images, path, nrow: int | None = None, titles=None, value_range=None, layout: str | None = None,
               cmap: str = "gray") -> str:
    """Images in a grid, ``nrow`` per row (as torchvision's ``make_grid``; default: a square-ish grid),
    each with an optional title under it (``titles``: one string per image, ``"\\n"`` for two lines)."""
    cells = to_images(images, value_range, layout)
    if titles is not None and len(titles) != len(cells):
        raise ValueError(f"got {len(titles)} titles for {len(cells)} images")
    per_row = nrow or math.ceil(math.sqrt(len(cells)))
    figure = _grid_figure(cells, per_row, titles, cmap)
    return _save(figure, path)


def _grid_figure(cells: np.ndarray, per_row: int, titles, cmap: str) -> Figure:
    """One axes showing a mosaic of the cells; titles are text placed in the gaps under them."""
    count, height, width, channels = cells.shape
    rows = math.ceil(count / per_row)
    pixels_per_inch = max(height, width) / CELL_INCHES
    gap = max(1, round(GAP_INCHES * pixels_per_inch))
    title_lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    title_height = math.ceil(title_lines * TITLE_LINE_INCHES * pixels_per_inch)
    row_step, column_step = height + title_height + gap, width + gap
    mosaic = np.ones((rows * row_step + gap, per_row * column_step + gap, channels))
    figure = _figure(mosaic.shape[1] / pixels_per_inch, mosaic.shape[0] / pixels_per_inch)
    axes = figure.add_axes((0, 0, 1, 1))
    for index, cell in enumerate(cells):
        top, left = gap + (index // per_row) * row_step, gap + (index % per_row) * column_step
        mosaic[top:top + height, left:left + width] = cell
        if titles is not None:
            axes.text(left + width / 2, top + height + gap / 2, str(titles[index]), ha="center", va="top", fontsize=8)
    _show(axes, mosaic, cmap)
    return figure


def _show(axes, mosaic: np.ndarray, cmap: str) -> None:
    grey = mosaic.shape[-1] == 1
    axes.imshow(mosaic[..., 0] if grey else mosaic, cmap=cmap if grey else None, vmin=0, vmax=1,
                interpolation="nearest")
    axes.set_axis_off()


def reconstructions(originals, reconstructed, path, value_range=None, layout: str | None = None,
                    cmap: str = "gray") -> str:
    """Two rows: the originals above, their reconstructions below (the autoencoder chapter's figure)."""
    top, bottom = (to_images(images, value_range, layout) for images in (originals, reconstructed))
    if top.shape != bottom.shape:
        raise ValueError(f"originals {top.shape} and reconstructions {bottom.shape} must have the same shape (NHWC)")
    return image_grid(np.concatenate([top, bottom]), path, nrow=len(top), value_range=(0, 1), layout="NHWC",
                      cmap=cmap)


def prediction_strip(images, predicted, actual, path, class_names=None, value_range=None,
                     layout: str | None = None) -> str:
    """The chapter-2 figure: each image with ``pred = …`` and ``act = …`` under it.

    ``predicted`` and ``actual`` are class ids (looked up in ``class_names`` when given) or names.
    """
    def name(label):
        return class_names[int(label)] if class_names is not None else str(label)

    predicted, actual = _as_numpy(predicted), _as_numpy(actual)
    if not len(predicted) == len(actual) == len(_as_numpy(images)):
        raise ValueError(f"got {len(_as_numpy(images))} images, {len(predicted)} predictions and {len(actual)} labels")
    titles = [f"pred = {name(p)}\nact = {name(a)}" for p, a in zip(predicted, actual)]
    return image_grid(images, path, nrow=len(titles), titles=titles, value_range=value_range, layout=layout)


def latent_grid(decode_fn, path, n: int = 15, x_range=(-3.0, 3.0), y_range=(-3.0, 3.0), value_range=None,
                layout: str | None = None, cmap: str = "gray") -> str:
    """Decode an ``n`` × ``n`` grid of 2-D latent points and show the images where the points lie
    (``y`` grows upwards).  ``decode_fn`` maps a float32 array (n·n, 2) to a batch of images."""
    xs = np.linspace(*x_range, n)
    ys = np.linspace(*y_range, n)[::-1]
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)
    return image_grid(decode_fn(points), path, nrow=n, value_range=value_range, layout=layout, cmap=cmap)


# --------------------------------------------------------------------------- curves and scatter plots


def loss_curves(history, path, keys=None) -> str:
    """One panel per metric with its training and ``val_`` curves, against the epoch.

    ``history`` is a ``History`` or a dict of lists; ``keys`` chooses the metrics (default: every
    metric, its ``val_`` twin drawn in the same panel).
    """
    table = getattr(history, "history", history)
    names = list(keys) if keys is not None else [k for k in table if not k.startswith("val_") or k[4:] not in table]
    unknown = [name for name in names if name not in table]
    if not names or unknown:
        raise KeyError(f"loss_curves: no metric {unknown or names} in the history (it has {sorted(table)})")
    figure = _figure(4.0 * len(names), 3.0)
    for axes, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names):
        for key in (name, f"val_{name}"):
            if key in table:
                values = table[key]
                axes.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=key)
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend()
    figure.tight_layout()
    return _save(figure, path)


def latent_scatter(z, labels, path, class_names=None, point_size: float = 3.0) -> str:
    """Points of a 2-D latent space, coloured by ``labels`` (None: one colour), with a legend of
    ``class_names`` when given, else a colour bar."""
    z = _as_numpy(z)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"latent_scatter needs points of shape (N, 2), got {z.shape}")
    figure = _figure(6.0, 5.0)
    axes = figure.add_subplot()
    if labels is None:
        axes.scatter(z[:, 0], z[:, 1], s=point_size, alpha=0.6)
    else:
        labels = _as_numpy(labels).reshape(-1)
        if len(labels) != len(z):
            raise ValueError(f"got {len(labels)} labels for {len(z)} points")
        if class_names is not None:
            for index, name in enumerate(class_names):
                chosen = labels == index
                axes.scatter(z[chosen, 0], z[chosen, 1], s=point_size, alpha=0.6, label=str(name))
            axes.legend(markerscale=3, fontsize=8)
        else:
            points = axes.scatter(z[:, 0], z[:, 1], c=labels, cmap="rainbow", s=point_size, alpha=0.6)
            figure.colorbar(points, ax=axes)
    axes.set_xlabel("z[0]")
    axes.set_ylabel("z[1]")
    return _save(figure, path)


# --------------------------------------------------------------------------- figures and files


def _figure(width_inches: float, height_inches: float) -> Figure:
    """A figure drawn by the Agg canvas, unknown to pyplot (so it is freed with its last reference)."""
    figure = Figure(figsize=(width_inches, height_inches), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path) -> str:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, format="png", facecolor="white")
    figure.clear()
    return path
