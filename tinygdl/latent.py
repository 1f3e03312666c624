"""What a latent space is: the tools of the book's chapter 3, as functions and PNG figures.

They work with any model that has ``embed(x)`` (an image batch to its points in the latent space)
and ``decode(z)`` (points back to images): ``tinygdl.models.autoencoders.Autoencoder`` (the code
``e(x)``) and ``tinygdl.models.vae.VAE`` (the mean ``μ(x)`` of q(z | x)).  Arrays go in and come out
as NumPy; the models run in eval mode, without a graph, batch by batch.

Points of the latent space
--------------------------
* ``codes``: the codes of a set of images (``sample=True``: a draw z ~ q(z | x) for a VAE).
* ``box_samples``: uniform draws inside the bounding box of some codes — how the book generates
  with the plain autoencoder, whose latent space has no distribution to sample from.
* ``linear_grid`` / ``normal_grid``: a regular 2-D grid; the VAE's grid is evenly spaced in
  *probability*, ``z = Φ⁻¹(p)`` for ``p`` evenly spaced in (0, 1) (Φ the standard normal CDF), so
  each cell holds the same prior mass.
* ``interpolate``: ``z = (1 − f)·z_a + f·z_b`` for f from 0 to 1 (the book's face morphing).
* ``attribute_vector``: ``v = (mean of codes with the attribute − mean of codes without)``,
  normalised; ``shift_along`` adds ``f·v`` (the book's "add a smile" arithmetic).  Datasets without
  an attribute file use a class label as the attribute.
* ``latent_statistics`` / ``histogram_figure``: per dimension, how the codes are spread compared
  with N(0, 1); ``active_dimensions``: which dimensions carry information; ``normal_cdf``: codes in
  probability space.  The book reads the histogram to judge the KL weighting: too weak a KL term (a large
  β on the reconstruction) leaves the codes far from N(0, 1) and the prior's samples decode badly;
  too strong a one collapses dimensions onto the prior, carrying no information.
* ``principal_subspace`` / ``principal_angles``: compare a learned linear subspace with PCA's.

Figures (each writes one PNG and returns its path): ``reconstruction_figure``, ``scatter_figure``,
``grid_figure``, ``decoded_figure``, ``interpolation_figure``, ``attribute_figure``,
``histogram_figure``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from . import plot
from .nn.module import evaluation_mode
from .tensor import Tensor

# --------------------------------------------------------------------------- running a model over arrays


def map_batches(model, fn, array, batch_size: int = 500) -> np.ndarray:
    """``fn`` (a function of Tensors, e.g. ``model.decode``) over ``array`` in batches, ``model`` in
    eval mode without a graph; the outputs concatenated as one NumPy array."""
    array = np.asarray(array)
    dtype, device = model.parameters()[0].dtype, model.device
    outputs = []
    with evaluation_mode([model]):
        for start in range(0, len(array), batch_size):
            outputs.append(fn(Tensor(array[start:start + batch_size], dtype=dtype, device=device)).numpy())
    return np.concatenate(outputs)


def codes(model, images, sample: bool = False, batch_size: int = 500) -> np.ndarray:
    """The latent points of ``images``: ``model.embed`` (a VAE's μ), or with ``sample=True`` one draw
    z ~ q(z | x) per image (VAEs only: what the aggregate posterior looks like)."""
    fn = (lambda x: model(x).z) if sample else model.embed
    return map_batches(model, fn, images, batch_size)


def decode(model, z, batch_size: int = 500) -> np.ndarray:
    """The images of latent points ``z`` (N, latent_dim)."""
    return map_batches(model, model.decode, np.asarray(z, dtype=np.float32), batch_size)


def reconstruct(model, images, batch_size: int = 500) -> np.ndarray:
    """``decode(embed(x))``: deterministic reconstructions (a VAE decodes its mean μ(x))."""
    return map_batches(model, lambda x: model.decode(model.embed(x)), images, batch_size)


# --------------------------------------------------------------------------- points of the latent space


def box_samples(points, n: int, seed: int = 0) -> np.ndarray:
    """``n`` points drawn uniformly in the bounding box (per-dimension min and max) of ``points``."""
    points = np.asarray(points)
    low, high = points.min(axis=0), points.max(axis=0)
    return np.random.default_rng(seed).uniform(low, high, size=(n, points.shape[1])).astype(np.float32)


def grid_points(xs, ys) -> np.ndarray:
    """The 2-D points ``(x, y)`` of a grid, row by row from the *largest* y down (so an image grid
    shows y growing upwards), x growing to the right: shape (len(ys)·len(xs), 2)."""
    grid_x, grid_y = np.meshgrid(np.asarray(xs), np.asarray(ys)[::-1])
    return np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)


def linear_grid(n: int, x_range, y_range) -> np.ndarray:
    """An ``n`` × ``n`` grid evenly spaced over a box (the autoencoder's grid over its codes' box)."""
    return grid_points(np.linspace(*x_range, n), np.linspace(*y_range, n))


def normal_quantiles(n: int, edge: float = 0.01) -> np.ndarray:
    """``Φ⁻¹(p)`` for ``n`` probabilities p evenly spaced from ``edge`` to ``1 − edge``.  (The book
    spaces them from 0 to 1, whose quantiles are ∓∞; ``edge`` clamps the two ends.)"""
    inverse_cdf = NormalDist().inv_cdf
    return np.array([inverse_cdf(p) for p in np.linspace(edge, 1 - edge, n)])


def normal_grid(n: int, edge: float = 0.01) -> np.ndarray:
    """The VAE's ``n`` × ``n`` grid: each axis at the normal quantiles ``normal_quantiles(n, edge)``."""
    quantiles = normal_quantiles(n, edge)
    return grid_points(quantiles, quantiles)


def prior_samples(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """``n`` draws of the prior N(0, I) (decode them to generate)."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def interpolate(z_a, z_b, steps: int = 10) -> np.ndarray:
    """``(1 − f)·z_a + f·z_b`` for ``steps`` values of f evenly spaced from 0 to 1: (steps, d)."""
    fractions = np.linspace(0.0, 1.0, steps)[:, None]
    return ((1 - fractions) * np.asarray(z_a)[None] + fractions * np.asarray(z_b)[None]).astype(np.float32)


def attribute_vector(points, has_attribute) -> np.ndarray:
    """The unit vector from the mean code without an attribute to the mean code with it::

        v = (mean{z : attribute} − mean{z : not attribute}) / ‖ · ‖

    (The book accumulates the two means over batches of CelebA until they stop moving; with all
    the codes at hand the means are simply taken.)  ``has_attribute`` is a boolean array."""
    points, has_attribute = np.asarray(points), np.asarray(has_attribute, dtype=bool)
    if has_attribute.all() or not has_attribute.any():
        raise ValueError("attribute_vector needs codes both with and without the attribute")
    difference = points[has_attribute].mean(axis=0) - points[~has_attribute].mean(axis=0)
    return (difference / np.linalg.norm(difference)).astype(np.float32)


def shift_along(points, vector, factors) -> np.ndarray:
    """``z + f·v`` for every point and every factor f: shape (len(points), len(factors), d)."""
    points, factors = np.asarray(points), np.asarray(factors, dtype=np.float32)
    return (points[:, None, :] + factors[None, :, None] * np.asarray(vector)[None, None, :]).astype(np.float32)


def normal_cdf(points) -> np.ndarray:
    """Φ(z) elementwise: codes seen in *probability* space, where the prior N(0, I) becomes uniform on
    the unit square (the book's second view of the 2-D VAE latent space)."""
    points = np.asarray(points, dtype=np.float64)
    return np.vectorize(NormalDist().cdf)(points) if points.size else points


def active_dimensions(means, threshold: float = 0.01) -> np.ndarray:
    """The "active units" of a VAE (Burda, Grosse & Salakhutdinov 2016): dimension d is active when
    its posterior mean moves with the input, ``Var_x(μ_d(x)) > threshold``.  Dimensions whose mean
    stays put carry no information (q(z_d | x) ≈ the prior, their KL ≈ 0): a KL weighted too strongly
    leaves few active.  Returns the boolean mask."""
    return np.asarray(means, dtype=np.float64).var(axis=0) > threshold


def latent_statistics(points) -> dict:
    """Per dimension: ``mean`` and ``std`` of the codes (N(0, 1) has 0 and 1), and over all of them
    ``mean_abs_mean`` and ``mean_std`` — one-line summaries of how close to the prior the codes are."""
    points = np.asarray(points, dtype=np.float64)
    mean, std = points.mean(axis=0), points.std(axis=0)
    return {"mean": mean, "std": std, "mean_abs_mean": float(np.abs(mean).mean()), "mean_std": float(std.mean())}


# --------------------------------------------------------------------------- linear subspaces


def principal_subspace(data, k: int) -> np.ndarray:
    """An orthonormal basis (D, k) of the top-``k`` principal subspace of ``data`` (N, D): the first
    ``k`` right singular vectors of the centred data (NumPy's SVD)."""
    data = np.asarray(data, dtype=np.float64)
    _, _, vt = np.linalg.svd(data - data.mean(axis=0), full_matrices=False)
    return vt[:k].T


def principal_angles(a, b) -> np.ndarray:
    """The principal angles (radians, ascending) between the column spaces of ``a`` (D, p) and ``b``
    (D, q) (Björck & Golub 1973): with orthonormal bases Q_a, Q_b, the cosines are the singular values
    of ``Q_aᵀ·Q_b``.  All zero when the spaces coincide, π/2 where they are orthogonal."""
    qa, _ = np.linalg.qr(np.asarray(a, dtype=np.float64))
    qb, _ = np.linalg.qr(np.asarray(b, dtype=np.float64))
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.sort(np.arccos(np.clip(cosines, -1.0, 1.0)))


# --------------------------------------------------------------------------- figures


def reconstruction_figure(model, images, path) -> str:
    """Originals above, reconstructions below."""
    return plot.reconstructions(images, reconstruct(model, images), path, value_range=(0, 1))


def scatter_figure(model, images, labels, path, class_names=None) -> str:
    """The 2-D latent points of ``images``, coloured by label (the book's embedding plot)."""
    return plot.latent_scatter(codes(model, images), labels, path, class_names=class_names)


def grid_figure(model, points, path) -> str:
    """Decode a square grid of 2-D points (``linear_grid``, ``normal_grid``) and show the images
    where the points lie."""
    n = math.isqrt(len(points))
    return plot.image_grid(decode(model, points), path, nrow=n, value_range=(0, 1))


def decoded_figure(model, points, path, nrow: int | None = None) -> str:
    """The images of latent points (prior samples, box samples ...), each titled by its point when 2-D."""
    points = np.asarray(points)
    titles = [f"{p[0]:.1f}, {p[1]:.1f}" for p in points] if points.shape[1] == 2 else None
    return plot.image_grid(decode(model, points), path, nrow=nrow, titles=titles, value_range=(0, 1))


def interpolation_figure(model, starts, ends, path, steps: int = 10) -> str:
    """One row per pair of images: the decoded path from the code of ``starts[i]`` to that of
    ``ends[i]`` (the book's morphing), titled by f."""
    start_codes, end_codes = codes(model, starts), codes(model, ends)
    points = np.concatenate([interpolate(a, b, steps) for a, b in zip(start_codes, end_codes)])
    titles = [f"f={f:.2f}" for f in np.linspace(0, 1, steps)] * len(start_codes)
    return plot.image_grid(decode(model, points), path, nrow=steps, titles=titles, value_range=(0, 1))


def attribute_figure(model, images, vector, path, factors=(-3, -2, -1, 0, 1, 2, 3)) -> str:
    """One row per image: its code moved by ``f·vector`` for each factor f, decoded."""
    shifted = shift_along(codes(model, images), vector, factors)
    titles = [f"{f:+g}" for f in factors] * len(shifted)
    return plot.image_grid(decode(model, shifted.reshape(-1, shifted.shape[-1])), path, nrow=len(factors),
                           titles=titles, value_range=(0, 1))


def histogram_figure(points, path, max_dims: int = 50, bins: int = 30) -> str:
    """A histogram (as a density) of each of the first ``max_dims`` latent dimensions, with the
    N(0, 1) density drawn over it; each panel titled with that dimension's mean and std."""
    points = np.asarray(points, dtype=np.float64)[:, :max_dims]
    dims = points.shape[1]
    columns = min(dims, 5)
    rows = math.ceil(dims / columns)
    figure = plot._figure(2.4 * columns, 1.9 * rows)
    grid = np.linspace(-4, 4, 200)
    density = np.exp(-0.5 * grid ** 2) / math.sqrt(2 * math.pi)
    for d, axes in enumerate(figure.subplots(rows, columns, squeeze=False).ravel()):
        if d >= dims:
            axes.set_axis_off()
            continue
        axes.hist(points[:, d], bins=bins, range=(-4, 4), density=True, color="tab:blue", alpha=0.6)
        axes.plot(grid, density, color="tab:orange", linewidth=1.2)
        axes.set_title(f"z[{d}]: mean {points[:, d].mean():.2f}, std {points[:, d].std():.2f}", fontsize=7)
        axes.tick_params(labelsize=6)
    figure.tight_layout()
    return plot._save(figure, path)


__all__ = [
    "active_dimensions", "attribute_figure", "attribute_vector", "box_samples", "codes", "decode", "decoded_figure",
    "grid_figure", "grid_points", "histogram_figure", "interpolate", "interpolation_figure", "latent_statistics",
    "linear_grid", "map_batches", "normal_cdf", "normal_grid", "normal_quantiles", "principal_angles",
    "principal_subspace", "prior_samples", "reconstruct", "reconstruction_figure", "scatter_figure", "shift_along",
]
