"""Loss functions: regression, cross-entropies, the VAE's KL term and the WGAN-GP losses.

Every loss takes Tensors and is built from differentiable ops (one, BCE on logits, is its own
Function), so gradients — and, where the gradient penalty needs them, second derivatives — come for
free.  They are re-exported by ``tinygdl.nn.functional``.

Arguments come in PyTorch's order, the model's output first and the target second
(``binary_cross_entropy(x_hat, x)``); Keras's losses take them the other way round, ``(y_true, y_pred)``.

Reductions
----------
Each loss first computes one value per element (per position, for the cross-entropies over
classes) and then applies ``reduction``:

* ``"mean"`` (default): the mean of all of them — what Keras's ``SUM_OVER_BATCH_SIZE`` gives,
  e.g. binary cross-entropy on (N, 1, 32, 32) images is the mean over all N·32·32 pixels;
* ``"sum"``: their sum;
* ``"none"``: the values themselves, to reduce as a model needs.  The book's VAEs reduce per image
  first and then over the batch::

      recon = 500 * binary_cross_entropy(x_hat, x, reduction="none").mean(axis=(1, 2, 3)).mean()
      recon = sum_per_sample(mse_loss(x_hat, x, reduction="none")).mean()   # a sum over pixels

Class axis
----------
The categorical losses take the classes on ``axis=-1`` by default, as Keras does: logits of shape
(N, V) with labels (N,), or (N, T, V) with labels (N, T) for sequences.  PyTorch's layout, classes on
axis 1 ((N, V, T) with labels (N, T)), is ``axis=1``.
"""

from __future__ import annotations

from . import backend
from . import tensor as autograd
from .ops import creation
from .ops.elementwise import sigmoid
from .ops.index import getitem
from .ops.neural import log_softmax
from .ops.shape import sum_to
from .tensor import Function, Tensor

__all__ = [
    "mse_loss", "mae_loss", "l1_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "categorical_cross_entropy", "categorical_cross_entropy_with_logits",
    "sparse_categorical_cross_entropy", "sparse_categorical_cross_entropy_with_logits",
    "gaussian_kl", "wasserstein_loss", "gradient_penalty", "sum_per_sample",
]

KERAS_EPSILON = 1e-7  # Keras's backend.epsilon(): its clipping bound for probabilities


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def sum_per_sample(values: Tensor) -> Tensor:
    """Sum over every axis but the first: one number per sample, shape (N,)."""
    return values.sum(axis=tuple(range(1, values.ndim))) if values.ndim > 1 else values


# --------------------------------------------------------------------------- regression


def mse_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: ``(prediction − target)²`` per element."""
    difference = prediction - target
    return _reduce(difference * difference, reduction)


def mae_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error: ``|prediction − target|`` per element (the diffusion model's loss)."""
    return _reduce((prediction - target).abs(), reduction)


l1_loss = mae_loss  # PyTorch's name


# --------------------------------------------------------------------------- binary cross-entropy


def binary_cross_entropy(probs: Tensor, target, reduction: str = "mean", eps: float = KERAS_EPSILON) -> Tensor:
    """Binary cross-entropy of probabilities, in Keras's clipped form::

        p = clip(probs, ε, 1 − ε)
        loss = −[y·log(p + ε) + (1 − y)·log(1 − p + ε)]

    The clipping keeps the log finite when a sigmoid saturates (ε = 1e-7, Keras's
    ``backend.epsilon()``); there the gradient is zero.  ``eps=0`` gives the plain formula
    (PyTorch's ``binary_cross_entropy`` instead clamps each log at −100).  Targets outside [0, 1] are
    allowed (the DCGAN's noisy labels).  Prefer ``binary_cross_entropy_with_logits`` when the model
    can output logits.
    """
    p = probs.clip(eps, 1 - eps)
    return _reduce(-(target * (p + eps).log() + (1 - target) * (1 - p + eps).log()), reduction)


class BinaryCrossEntropyWithLogits(Function):
    """``loss(z, y) = −[y·log σ(z) + (1 − y)·log(1 − σ(z))]`` from the logit ``z``, computed as

        max(z, 0) − z·y + log(1 + e^−|z|)

    which never overflows (``e^−|z|`` ≤ 1).  Its derivatives are simple: ∂/∂z = σ(z) − y and
    ∂/∂y = −z.  (Composing ``relu`` and ``abs`` would give the wrong slope at exactly z = 0, where
    both have a kink but their sum does not.)
    """

    def forward(self, z, y):
        xp = backend.get_array_module(z)
        return xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))

    def backward(self, gy):
        z, y = self.inputs
        gz = sum_to(gy * (sigmoid(z) - y), z.shape) if z.requires_grad else None
        gy_target = sum_to(-gy * z, y.shape) if y.requires_grad else None
        return gz, gy_target


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target``, stable for any logit."""
    return _reduce(BinaryCrossEntropyWithLogits()(logits, target), reduction)


# --------------------------------------------------------------------------- categorical cross-entropy


def _clipped_log_probs(probs: Tensor, axis: int, eps: float) -> Tensor:
    """Keras's treatment of softmax outputs: rescale to sum to 1 along ``axis``, clip to [ε, 1 − ε], log.

    (Keras's sparse variant clips before rescaling; the two differ only for probabilities
    outside [ε, 1 − ε].)
    """
    return (probs / probs.sum(axis=axis, keepdims=True)).clip(eps, 1 - eps).log()


def _pick(values: Tensor, labels, axis: int) -> Tensor:
    """``values[..., labels[...], ...]``: the entry of class ``labels`` along ``axis`` at every
    position; the result has the shape of ``labels`` (``values`` without ``axis``)."""
    labels = labels.data if isinstance(labels, Tensor) else labels
    labels = backend.to_device(labels, values.device)
    axis = axis % values.ndim
    positions = values.shape[:axis] + values.shape[axis + 1:]
    if labels.shape != positions or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers of shape {positions} (the logits' shape {values.shape} "
                         f"without the class axis {axis}), got {labels.dtype} of shape {labels.shape}")
    classes = values.shape[axis]
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise ValueError(f"labels must lie in [0, {classes}), got range [{int(labels.min())}, {int(labels.max())}]")
    xp = backend.get_array_module(labels)
    # One index array per axis, shaped to broadcast against the others (an open grid).
    grid = [xp.arange(n).reshape((-1,) + (1,) * (len(positions) - i - 1)) for i, n in enumerate(positions)]
    grid.insert(axis, labels)
    return getitem(values, tuple(grid))


def categorical_cross_entropy(probs: Tensor, target: Tensor, axis: int = -1, reduction: str = "mean",
                              eps: float = KERAS_EPSILON) -> Tensor:
    """``−Σ_c y_c·log p_c`` over the class axis, for probabilities (a softmax output) and one-hot or
    soft targets; ``p`` is rescaled and clipped as Keras does (``_clipped_log_probs``)."""
    return _reduce(-(target * _clipped_log_probs(probs, axis, eps)).sum(axis=axis), reduction)


def categorical_cross_entropy_with_logits(logits: Tensor, target: Tensor, axis: int = -1,
                                          reduction: str = "mean") -> Tensor:
    """``−Σ_c y_c·log softmax(z)_c`` over the class axis, for logits and one-hot or soft targets."""
    return _reduce(-(target * log_softmax(logits, axis)).sum(axis=axis), reduction)


def sparse_categorical_cross_entropy(probs: Tensor, labels, axis: int = -1, reduction: str = "mean",
                                     eps: float = KERAS_EPSILON) -> Tensor:
    """``−log p_label`` for probabilities and integer labels (the book's text and PixelCNN models)."""
    return _reduce(-_pick(_clipped_log_probs(probs, axis, eps), labels, axis), reduction)


def sparse_categorical_cross_entropy_with_logits(logits: Tensor, labels, axis: int = -1,
                                                 reduction: str = "mean") -> Tensor:
    """``−log softmax(z)_label`` for logits and integer labels (PyTorch's ``cross_entropy``)."""
    return _reduce(-_pick(log_softmax(logits, axis), labels, axis), reduction)


# --------------------------------------------------------------------------- VAE


def gaussian_kl(mu: Tensor, logvar: Tensor, reduction: str = "mean") -> Tensor:
    """KL( N(μ, σ²) ‖ N(0, I) ) of a diagonal Gaussian, with ``logvar = log σ²`` (so σ² = exp(logvar))::

        KL = Σ_d −½·(1 + log σ²_d − μ_d² − σ²_d)

    summed over every latent axis (all but the first) — one number per sample — then reduced over the
    batch: ``"mean"`` (the book's VAEs), ``"sum"``, or ``"none"`` for the (N,) per-sample values.
    """
    per_dimension = -0.5 * (1 + logvar - mu * mu - logvar.exp())
    return _reduce(sum_per_sample(per_dimension), reduction)


# --------------------------------------------------------------------------- WGAN-GP


def wasserstein_loss(scores: Tensor, target, reduction: str = "mean") -> Tensor:
    """``−target·score``, with target +1 for samples whose score should rise and −1 for those
    whose score should fall (Keras's WGAN convention).  The book's losses are::

        critic:     wasserstein_loss(C(fake), -1) + wasserstein_loss(C(real), 1)   # mean C(fake) − mean C(real)
        generator:  wasserstein_loss(C(G(z)), 1)                                   # −mean C(G(z))
    """
    return _reduce(-(target * scores), reduction)


def gradient_penalty(critic, real: Tensor, fake: Tensor, alpha=None, alpha_dist: str = "uniform",
                     norm_axes=None, return_norms: bool = False):
    """The WGAN-GP gradient penalty (Gulrajani et al., 2017)::

        x̂ = real + α·(fake − real)             α: one number per sample
        g = ∇_x̂ Σ critic(x̂)                    (per sample: the gradient of that sample's score)
        penalty = mean over samples of (‖g‖₂ − 1)²

    ``alpha``: given (shape (N,) or broadcastable to the images), or drawn per sample from
    ``alpha_dist``: ``"uniform"`` on [0, 1), the paper's choice (points between real and fake), or
    ``"normal"``, N(0, 1), what the book's WGAN-GP, conditional GAN and MuseGAN draw (most points
    then lie off the segment).  ``norm_axes``: the axes of the norm, all but the first by default;
    with fewer (MuseGAN's per-track norm) the mean runs over every remaining (sample, …) entry.

    ``real`` and ``fake`` are detached first: the penalty trains the critic only.  The gradient is
    taken with ``create_graph=True``, so ``penalty.backward()`` differentiates through it (double
    backpropagation through the critic).  ``1e-12`` under the square root keeps that second
    derivative finite if a gradient is exactly zero.

    Returns the penalty, or ``(penalty, norms)`` with ``return_norms=True``.
    """
    real, fake = real.detach(), fake.detach()
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {real.shape} and fake {fake.shape} differ in shape")
    alpha = _draw_alpha(real, alpha_dist) if alpha is None else _as_alpha(alpha, real)
    interpolated = (real + alpha * (fake - real)).detach().requires_grad_()
    scores = critic(interpolated)
    (gradient,) = autograd.grad(scores.sum(), interpolated, create_graph=True)
    axes = tuple(range(1, real.ndim)) if norm_axes is None else norm_axes
    norms = ((gradient * gradient).sum(axis=axes) + 1e-12).sqrt()
    penalty = ((norms - 1) ** 2).mean()
    return (penalty, norms) if return_norms else penalty


def _alpha_shape(x: Tensor):
    return (x.shape[0],) + (1,) * (x.ndim - 1)


def _draw_alpha(x: Tensor, distribution: str) -> Tensor:
    draw = {"uniform": creation.rand, "normal": creation.randn}.get(distribution)
    if draw is None:
        raise ValueError(f"gradient_penalty: alpha_dist must be 'uniform' or 'normal', got {distribution!r}")
    return draw(_alpha_shape(x), dtype=x.dtype, device=x.device)


def _as_alpha(alpha, x: Tensor) -> Tensor:
    alpha = Tensor(alpha, dtype=x.dtype, device=x.device)
    return alpha.reshape(_alpha_shape(x)) if alpha.ndim == 1 else alpha
