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
The Keras-named categorical losses take the classes on ``axis=-1`` by default, as Keras does: logits
of shape (N, V) with labels (N,), or (N, T, V) with labels (N, T) for sequences.  PyTorch's layout,
classes on axis 1 ((N, V, T) with labels (N, T)), is ``axis=1``.  The PyTorch-named ``cross_entropy``
and ``nll_loss`` always use PyTorch's layout and options (``weight``, ``ignore_index``,
``label_smoothing``, class-index or probability targets).
"""

from __future__ import annotations

import numpy as np

from . import backend
from . import tensor as autograd
from .errors import ShapeError
from .ops import creation
from .ops.elementwise import _const, clip, sigmoid, sqrt, where
from .ops.index import check_index_range, getitem
from .ops.neural import log_softmax
from .ops.shape import broadcast_to, reshape, sum_to
from .tensor import Function, Tensor

__all__ = [
    "mse_loss", "mae_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "categorical_cross_entropy", "categorical_cross_entropy_with_logits",
    "sparse_categorical_cross_entropy", "sparse_categorical_cross_entropy_with_logits",
    "cross_entropy", "nll_loss", "kl_div", "cosine_similarity", "normalize",
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


def _check_target_shape(loss: str, prediction, target) -> None:
    """A target that would broadcast the prediction to a bigger shape (prediction (4, 1) against
    target (4,) gives (4, 4): 16 wrong terms) is a ShapeError naming both shapes; a scalar target
    or one that broadcasts into the prediction's shape is fine."""
    shapes = getattr(prediction, "shape", None), getattr(target, "shape", None)
    if None in shapes or shapes[0] == shapes[1]:
        return
    try:
        combined = np.broadcast_shapes(*shapes)
    except ValueError:
        return  # the op itself reports shapes that do not broadcast at all
    if tuple(combined) != tuple(shapes[0]):
        raise ShapeError(f"{loss}: prediction {tuple(shapes[0])} and target {tuple(shapes[1])} would broadcast "
                         f"to {tuple(combined)}; give the target the prediction's shape (e.g. reshape it)")


def mse_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: ``(prediction − target)²`` per element."""
    _check_target_shape("mse_loss", prediction, target)
    difference = prediction - target
    return _reduce(difference * difference, reduction)


def mae_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error: ``|prediction − target|`` per element (the diffusion model's loss)."""
    _check_target_shape("mae_loss", prediction, target)
    return _reduce((prediction - target).abs(), reduction)


l1_loss = mae_loss  # PyTorch's name


def smooth_l1_loss(prediction: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """PyTorch's smooth L1 loss: with ``d = prediction − target``, ``½d²/β`` where ``|d| < β`` and
    ``|d| − ½β`` elsewhere — quadratic near zero, linear (robust to outliers) beyond ``β``, and
    continuous with a continuous slope at ``|d| = β``.  ``beta=0`` is the L1 loss."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    difference = prediction - target
    size = difference.abs()
    if beta == 0:
        return _reduce(size, reduction)
    inside = _const(size.data < beta)
    return _reduce(where(inside, 0.5 * difference * difference / beta, size - 0.5 * beta), reduction)


def huber_loss(prediction: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """The Huber loss: ``½d²`` where ``|d| < δ`` and ``δ·(|d| − ½δ)`` elsewhere, which is
    ``δ · smooth_l1_loss(..., beta=δ)``."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return delta * smooth_l1_loss(prediction, target, reduction, beta=delta)


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
    _check_target_shape("binary_cross_entropy", probs, target)
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


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean", weight=None,
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target``, stable for any logit.

    ``weight`` rescales each element's loss; ``pos_weight`` (PyTorch's; one per class, broadcast
    along the last axis) weighs the positive term, ``−[p·y·log σ(z) + (1 − y)·log(1 − σ(z))]``,
    to trade recall against precision.  Since ``−log σ(z)`` is the loss of ``z`` against the
    target 1, that is the plain loss plus ``(p − 1)·y·loss(z, 1)``: the same stable Function twice.
    """
    _check_target_shape("binary_cross_entropy_with_logits", logits, target)
    loss = BinaryCrossEntropyWithLogits()(logits, target)
    if pos_weight is not None:
        ones = _const(backend.get_array_module(logits.data).ones_like(logits.data))
        loss = loss + (pos_weight - 1) * target * BinaryCrossEntropyWithLogits()(logits, ones)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


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
    labels = labels.data if isinstance(labels, Tensor) else backend.get_array_module(labels).asarray(labels)
    axis = axis % values.ndim
    positions = values.shape[:axis] + values.shape[axis + 1:]
    if labels.shape != positions or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers of shape {positions} (the logits' shape {values.shape} "
                         f"without the class axis {axis}), got {labels.dtype} of shape {labels.shape}")
    classes = values.shape[axis]
    check_index_range(labels, classes, "labels", ValueError)  # host labels always; device ones when debugging
    labels = backend.to_device(labels, values.device)
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


# --------------------------------------------------------------------------- PyTorch's cross_entropy and nll_loss


def _class_target(op: str, values: Tensor, target):
    """Check a PyTorch-layout target against (N, C, d1, ...) or (C,) ``values``: returns the class
    axis and either ``("index", labels)`` (integers of the shape of ``values`` without the class
    axis) or ``("probability", target)`` (floats of the shape of ``values``)."""
    axis = 0 if values.ndim == 1 else 1
    data = target.data if isinstance(target, Tensor) else backend.to_device(target, values.device)
    expected = values.shape[:axis] + values.shape[axis + 1:]
    if data.dtype.kind in "iu" and tuple(data.shape) == expected:
        return axis, "index", data
    if data.dtype.kind == "f" and tuple(data.shape) == values.shape:
        return axis, "probability", target if isinstance(target, Tensor) else Tensor(data)
    raise ShapeError(f"{op}: the target must hold class indices (integers) of shape {expected} or class "
                     f"probabilities (floats) of the input's shape {values.shape}; got {data.dtype} of shape "
                     f"{tuple(data.shape)} for an input of shape {values.shape}")


def _class_weight(op: str, weight, values: Tensor, axis: int):
    """The (C,) class weights as a Tensor (None stays None)."""
    if weight is None:
        return None
    weight = weight if isinstance(weight, Tensor) else Tensor(weight, dtype=values.dtype, device=values.device)
    if weight.shape != (values.shape[axis],):
        raise ShapeError(f"{op}: weight must have one entry per class, shape ({values.shape[axis]},), "
                         f"got {weight.shape} for an input of shape {values.shape}")
    return weight


def _along(weight: Tensor, axis: int, ndim: int) -> Tensor:
    """A (C,) weight shaped to broadcast along ``axis`` of an ``ndim``-axis tensor."""
    return reshape(weight, (-1,) + (1,) * (ndim - axis - 1))


def _index_losses(op: str, log_probs: Tensor, labels, axis: int, weight, ignore_index: int,
                  label_smoothing: float):
    """Per position, for class-index targets: ``(loss, w)`` with

        loss = (1 − ε)·w_y·(−log p_y) + (ε/C)·Σ_c w_c·(−log p_c)        (0 where y = ignore_index)

    and ``w = w_y`` (0 where ignored): the label-smoothed cross-entropy of PyTorch, whose mean is
    ``Σ loss / Σ w`` — a mean over the targets counted by their class weights."""
    xp = backend.get_array_module(labels)
    kept = labels != ignore_index
    safe = xp.where(kept, labels, 0)
    classes = log_probs.shape[axis]
    check_index_range(safe, classes, f"{op}: class indices", ValueError, f" (or equal ignore_index={ignore_index})")
    kept_w = _const(kept.astype(log_probs.dtype))
    w = kept_w if weight is None else getitem(weight, safe) * kept_w
    loss = -_pick(log_probs, safe, axis) * w
    if label_smoothing:
        weighted = log_probs if weight is None else log_probs * _along(weight, axis, log_probs.ndim)
        smooth = -weighted.sum(axis=axis) * kept_w
        loss = (1 - label_smoothing) * loss + (label_smoothing / classes) * smooth
    return loss, w


def _weighted_reduce(loss: Tensor, w: Tensor, reduction: str) -> Tensor:
    """``"mean"`` divides by the total weight of the targets (PyTorch's weighted mean)."""
    return loss.sum() / w.sum() if reduction == "mean" else _reduce(loss, reduction)


def nll_loss(log_probs: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """The negative log-likelihood ``−w_y·log p_y`` of class-index targets (PyTorch's ``nll_loss``).

    ``log_probs``: (N, C), (N, C, d1, ...) or (C,) log-probabilities (a ``log_softmax`` over axis 1);
    ``target``: integers of the same shape without the class axis.  ``weight``: one per class;
    targets equal to ``ignore_index`` count for nothing.  ``"mean"`` is the weighted mean
    ``Σ w_y·(−log p_y) / Σ w_y``.
    """
    axis, kind, labels = _class_target("nll_loss", log_probs, target)
    if kind != "index":
        raise ShapeError(f"nll_loss: the target must hold class indices of shape "
                         f"{log_probs.shape[:axis] + log_probs.shape[axis + 1:]}, got floats of shape {labels.shape}")
    weight = _class_weight("nll_loss", weight, log_probs, axis)
    return _weighted_reduce(*_index_losses("nll_loss", log_probs, labels, axis, weight, ignore_index, 0.0), reduction)


def cross_entropy(logits: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """PyTorch's ``cross_entropy``: ``nll_loss(log_softmax(logits, 1), target)``, classes on axis 1.

    ``target`` is either class indices (integers, shape of ``logits`` without axis 1) or class
    probabilities (floats, the shape of ``logits``); any other shape raises ShapeError.
    ``label_smoothing = ε`` mixes the target with the uniform distribution, ``(1 − ε)·y + ε/C``;
    for class indices the mean is weighted as ``nll_loss``'s, for probabilities it is a plain mean
    over the positions (both as PyTorch).  ``ignore_index`` goes with class indices only.
    """
    op = "cross_entropy"
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    axis, kind, target = _class_target(op, logits, target)
    weight = _class_weight(op, weight, logits, axis)
    log_probs = log_softmax(logits, axis)
    if kind == "index":
        return _weighted_reduce(*_index_losses(op, log_probs, target, axis, weight, ignore_index, label_smoothing),
                                reduction)
    if ignore_index != -100:
        raise ValueError(f"{op}: ignore_index goes with class-index targets, not probabilities")
    if label_smoothing:
        target = (1 - label_smoothing) * target + label_smoothing / logits.shape[axis]
    if weight is not None:
        target = target * _along(weight, axis, logits.ndim)
    return _reduce(-(target * log_probs).sum(axis=axis), reduction)


# --------------------------------------------------------------------------- divergences and similarities


def kl_div(log_probs: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """PyTorch's ``kl_div``: ``target·(log target − log_probs)`` per element, i.e. KL(target ‖ p)
    once summed, with the *input* given as log-probabilities (and the target too if
    ``log_target``; then ``exp(t)·(t − log_probs)``).  ``0·log 0 = 0``.  Reductions: ``"mean"``
    over every element (PyTorch's default, not the KL divergence), ``"batchmean"`` (the sum over
    the first axis' size: the KL divergence per sample), ``"sum"``, ``"none"``.
    """
    target = target if isinstance(target, Tensor) else Tensor(target, dtype=log_probs.dtype, device=log_probs.device)
    if log_target:
        values = target.exp() * (target - log_probs)
    else:
        positive = target.data > 0
        safe = where(_const(positive), target, 1.0)  # log 1 = 0 where the target is 0: 0·log 0 = 0
        values = target * (safe.log() - log_probs)
    if reduction == "batchmean":
        return values.sum() / (log_probs.shape[0] if log_probs.ndim else 1)
    return _reduce(values, reduction)


def _norm(x: Tensor, p: float, axis: int) -> Tensor:
    """The p-norm along ``axis`` (kept): ``(Σ|x|^p)^(1/p)``; ``sqrt(Σx²)`` for p = 2."""
    if p == 2:
        return sqrt((x * x).sum(axis=axis, keepdims=True))
    return (x.abs() ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)


def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(‖x‖_p, eps)`` along ``dim`` (PyTorch's ``F.normalize``): unit vectors along ``dim``."""
    return x / clip(_norm(x, p, dim), lo=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``Σ x1·x2 / (max(‖x1‖, eps)·max(‖x2‖, eps))`` along ``dim`` (PyTorch's; the inputs
    broadcast against each other)."""
    if not isinstance(x2, Tensor):
        x2 = Tensor(x2, dtype=x1.dtype, device=x1.device)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ShapeError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} do not broadcast") from None
    x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    return ((x1 / clip(_norm(x1, 2, dim), lo=eps)) * (x2 / clip(_norm(x2, 2, dim), lo=eps))).sum(axis=dim)


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
