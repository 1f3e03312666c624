"""Losses: forward and backward against PyTorch (float64), Keras's clipped forms against NumPy
formulas, gradient checks, and the WGAN-GP gradient penalty against a PyTorch twin."""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import tinygdl
from tinygdl import losses, testing
from tinygdl.nn import Parameter

REDUCTIONS = ["mean", "sum", "none"]


# --------------------------------------------------------------------------- the cases


def probabilities(rng, shape, axis=-1):
    """A softmax of random logits: positive, summing to one along ``axis``."""
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis=axis, keepdims=True)


def torch_reduce(values, reduction):
    return {"mean": values.mean, "sum": values.sum, "none": lambda: values}[reduction]()


def torch_gaussian_kl(torch, mu, logvar, reduction):
    normal = torch.distributions.Normal
    kl = torch.distributions.kl_divergence(normal(mu, (0.5 * logvar).exp()), normal(0.0, 1.0))
    return torch_reduce(kl.sum(dim=1), reduction)


@dataclass
class Case:
    inputs: Callable   # rng -> list of arrays (integer arrays are labels)
    ours: Callable     # (*tensors, reduction) -> Tensor
    theirs: Callable   # (torch, *torch tensors, reduction) -> torch tensor
    wrt: tuple = (0,)  # the inputs whose gradients are compared and checked


CASES = {
    "mse": Case(lambda r: [r.standard_normal((3, 4)), r.standard_normal((3, 4))],
                lambda x, y, red: losses.mse_loss(x, y, red),
                lambda torch, x, y, red: torch.nn.functional.mse_loss(x, y, reduction=red), wrt=(0, 1)),
    "mae": Case(lambda r: [r.standard_normal((3, 4)), r.standard_normal((3, 4))],
                lambda x, y, red: losses.mae_loss(x, y, red),
                lambda torch, x, y, red: torch.nn.functional.l1_loss(x, y, reduction=red), wrt=(0, 1)),
    "bce_exact": Case(lambda r: [r.uniform(0.05, 0.95, (4, 3)), r.uniform(0, 1, (4, 3))],
                      lambda p, y, red: losses.binary_cross_entropy(p, y, red, eps=0.0),
                      lambda torch, p, y, red: torch.nn.functional.binary_cross_entropy(p, y, reduction=red)),
    "bce_logits": Case(lambda r: [np.array([[0.0, -30.0, 30.0], [2.0, -0.5, 800.0]]), r.uniform(0, 1, (2, 3))],
                       lambda z, y, red: losses.binary_cross_entropy_with_logits(z, y, red),
                       lambda torch, z, y, red: torch.nn.functional.binary_cross_entropy_with_logits(
                           z, y, reduction=red), wrt=(0, 1)),
    "cce_logits": Case(lambda r: [r.standard_normal((4, 5)), probabilities(r, (4, 5))],
                       lambda z, t, red: losses.categorical_cross_entropy_with_logits(z, t, reduction=red),
                       lambda torch, z, t, red: torch.nn.functional.cross_entropy(z, t, reduction=red)),
    "cce_logits_sequence": Case(
        lambda r: [r.standard_normal((2, 3, 5)), probabilities(r, (2, 3, 5))],
        lambda z, t, red: losses.categorical_cross_entropy_with_logits(z, t, reduction=red),
        lambda torch, z, t, red: torch.nn.functional.cross_entropy(z.permute(0, 2, 1), t.permute(0, 2, 1),
                                                                    reduction=red)),
    "cce_probs": Case(lambda r: [probabilities(r, (4, 5)), probabilities(r, (4, 5))],
                      lambda p, t, red: losses.categorical_cross_entropy(p, t, reduction=red, eps=0.0),
                      lambda torch, p, t, red: torch.nn.functional.cross_entropy(p.log(), t, reduction=red)),
    "scce_logits": Case(lambda r: [r.standard_normal((4, 5)), r.integers(0, 5, (4,))],
                        lambda z, k, red: losses.sparse_categorical_cross_entropy_with_logits(z, k, reduction=red),
                        lambda torch, z, k, red: torch.nn.functional.cross_entropy(z, k, reduction=red)),
    "scce_logits_classes_last": Case(
        lambda r: [r.standard_normal((2, 3, 5)), r.integers(0, 5, (2, 3))],
        lambda z, k, red: losses.sparse_categorical_cross_entropy_with_logits(z, k, axis=-1, reduction=red),
        lambda torch, z, k, red: torch.nn.functional.cross_entropy(z.permute(0, 2, 1), k, reduction=red)),
    "scce_logits_classes_axis1": Case(
        lambda r: [r.standard_normal((2, 5, 3)), r.integers(0, 5, (2, 3))],
        lambda z, k, red: losses.sparse_categorical_cross_entropy_with_logits(z, k, axis=1, reduction=red),
        lambda torch, z, k, red: torch.nn.functional.cross_entropy(z, k, reduction=red)),
    "scce_probs": Case(
        lambda r: [probabilities(r, (2, 3, 5)), r.integers(0, 5, (2, 3))],
        lambda p, k, red: losses.sparse_categorical_cross_entropy(p, k, reduction=red, eps=0.0),
        lambda torch, p, k, red: torch.nn.functional.nll_loss((p / p.sum(-1, keepdim=True)).log().permute(0, 2, 1),
                                                              k, reduction=red)),
    "gaussian_kl": Case(lambda r: [r.standard_normal((4, 3)), r.standard_normal((4, 3))],
                        lambda mu, logvar, red: losses.gaussian_kl(mu, logvar, red),
                        torch_gaussian_kl, wrt=(0, 1)),
    "wasserstein": Case(lambda r: [r.standard_normal((6, 1)), np.array([[1.0], [-1.0]] * 3)],
                        lambda s, t, red: losses.wasserstein_loss(s, t, red),
                        lambda torch, s, t, red: torch_reduce(-(t * s), red)),
}


def our_inputs(arrays, wrt, device=None):
    return [tinygdl.tensor(a.copy(), requires_grad=i in wrt, device=device) for i, a in enumerate(arrays)]


# --------------------------------------------------------------------------- against PyTorch


@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", CASES)
def test_loss_matches_torch(name, reduction, torch):
    case = CASES[name]
    rng = np.random.default_rng(0)
    arrays = case.inputs(rng)
    ours = our_inputs(arrays, case.wrt)
    theirs = [torch.tensor(a.copy(), requires_grad=i in case.wrt) for i, a in enumerate(arrays)]
    loss = case.ours(*ours, reduction)
    expected = case.theirs(torch, *theirs, reduction)
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    cotangent = rng.standard_normal(expected.shape)
    loss.backward(tinygdl.tensor(cotangent))
    expected.backward(torch.tensor(cotangent))
    for i in case.wrt:
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=1e-10, atol=1e-14,
                                   err_msg=f"gradient of input {i}")


@pytest.mark.parametrize("name", CASES)
def test_loss_gradcheck(name):
    case = CASES[name]
    inputs = our_inputs(case.inputs(np.random.default_rng(1)), case.wrt)
    testing.gradcheck(lambda *xs: case.ours(*xs, "none"), inputs, name=name)


@pytest.mark.parametrize("name", ["mse", "wasserstein", "bce_logits"])
def test_loss_gradgradcheck(name):
    """Second derivatives of the losses a gradient-penalised critic loss goes through."""
    case = CASES[name]
    inputs = our_inputs(case.inputs(np.random.default_rng(2)), case.wrt)
    testing.gradgradcheck(lambda *xs: case.ours(*xs, "none"), inputs, name=name)


@pytest.mark.gpu
@pytest.mark.parametrize("name", CASES)
def test_loss_on_cuda_matches_the_cpu(name):
    case = CASES[name]
    arrays = case.inputs(np.random.default_rng(0))
    results = []
    for device in ("cpu", "cuda"):
        inputs = our_inputs(arrays, case.wrt, device)
        loss = case.ours(*inputs, "sum")
        loss.backward()
        results.append([loss.numpy()] + [inputs[i].grad.numpy() for i in case.wrt])
    for on_cpu, on_gpu in zip(*results):
        np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------- Keras's clipped forms


def test_binary_cross_entropy_is_keras_clipped_form():
    """§1.6: p clipped to [1e-7, 1 − 1e-7], then −[y·log(p + 1e-7) + (1 − y)·log(1 − p + 1e-7)];
    noisy DCGAN targets outside [0, 1] allowed; no gradient where p was clipped."""
    p = np.array([0.0, 1e-9, 0.3, 1 - 1e-9, 1.0, 0.7])
    y = np.array([1.05, 0.0, 0.5, 1.0, -0.05, 1.0])
    eps = 1e-7
    clipped = np.clip(p, eps, 1 - eps)
    expected = -(y * np.log(clipped + eps) + (1 - y) * np.log(1 - clipped + eps))
    probs = tinygdl.tensor(p, requires_grad=True)
    loss = losses.binary_cross_entropy(probs, tinygdl.tensor(y), reduction="none")
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-13)
    loss.sum().backward()
    inside = (p > eps) & (p < 1 - eps)
    np.testing.assert_array_equal(probs.grad.numpy()[~inside], 0.0)
    np.testing.assert_allclose(probs.grad.numpy()[inside],
                               (-(y / (p + eps)) + (1 - y) / (1 - p + eps))[inside], rtol=1e-12)
    assert losses.binary_cross_entropy(probs, tinygdl.tensor(y)).item() == pytest.approx(expected.mean(), rel=1e-13)


def test_categorical_cross_entropies_on_probabilities_are_keras_forms():
    """Softmax outputs are rescaled to sum to 1, clipped to [1e-7, 1 − 1e-7], then logged."""
    p = np.array([[0.5, 0.5 - 1e-9, 1e-9], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    t = np.array([[0.0, 0.0, 1.0], [0.1, 0.6, 0.3], [0.0, 1.0, 0.0]])
    log_p = np.log(np.clip(p / p.sum(axis=-1, keepdims=True), 1e-7, 1 - 1e-7))
    probs = tinygdl.tensor(p)
    np.testing.assert_allclose(losses.categorical_cross_entropy(probs, tinygdl.tensor(t), reduction="none").numpy(),
                               -(t * log_p).sum(axis=-1), rtol=1e-13)
    labels = np.array([2, 0, 1])
    np.testing.assert_allclose(losses.sparse_categorical_cross_entropy(probs, labels, reduction="none").numpy(),
                               -log_p[np.arange(3), labels], rtol=1e-13)


def test_bce_with_logits_is_stable_and_agrees_with_bce():
    z = np.array([-1000.0, -40.0, -3.0, 0.0, 3.0, 40.0, 1000.0])
    y = np.full(7, 0.25)
    logits = tinygdl.tensor(z, requires_grad=True)
    loss = losses.binary_cross_entropy_with_logits(logits, y, reduction="none")
    loss.sum().backward()
    assert np.isfinite(loss.numpy()).all() and np.isfinite(logits.grad.numpy()).all()
    np.testing.assert_allclose(loss.numpy()[[0, -1]], [250.0, 750.0])  # −z·y, and z·(1 − y)
    middle = slice(2, 5)
    p = 1 / (1 + np.exp(-z[middle]))
    np.testing.assert_allclose(loss.numpy()[middle], -(0.25 * np.log(p) + 0.75 * np.log(1 - p)), rtol=1e-12)
    np.testing.assert_allclose(logits.grad.numpy()[middle], p - 0.25, rtol=1e-12)


# --------------------------------------------------------------------------- helpers and errors


def test_sum_per_sample_and_the_vae_reductions():
    rng = np.random.default_rng(3)
    x, x_hat = rng.uniform(0, 1, (2, 1, 4, 4)), rng.uniform(0.1, 0.9, (2, 1, 4, 4))
    bce = losses.binary_cross_entropy(tinygdl.tensor(x_hat), tinygdl.tensor(x), reduction="none")
    per_image = losses.sum_per_sample(bce)
    assert per_image.shape == (2,)
    np.testing.assert_allclose(per_image.numpy(), bce.numpy().sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(bce.mean(axis=(1, 2, 3)).mean().item(), losses.binary_cross_entropy(
        tinygdl.tensor(x_hat), tinygdl.tensor(x)).item())  # per-image mean, then batch mean = overall mean


def test_gaussian_kl_is_summed_over_latent_dims_then_reduced_over_the_batch():
    mu, logvar = np.array([[0.0, 1.0], [2.0, 0.0]]), np.array([[0.0, 0.0], [np.log(4.0), 0.0]])
    per_sample = losses.gaussian_kl(tinygdl.tensor(mu), tinygdl.tensor(logvar), reduction="none")
    # KL = ½ Σ (σ² + μ² − 1 − log σ²): sample 0: ½·1; sample 1: ½·(4 + 4 − 1 − log 4)
    np.testing.assert_allclose(per_sample.numpy(), [0.5, 0.5 * (7 - np.log(4.0))], rtol=1e-14)
    assert losses.gaussian_kl(tinygdl.tensor(mu), tinygdl.tensor(logvar)).item() == pytest.approx(
        per_sample.numpy().mean(), rel=1e-14)


@pytest.mark.parametrize("call,message", [
    (lambda: losses.mse_loss(tinygdl.zeros(2), tinygdl.zeros(2), reduction="batchmean"), "reduction"),
    (lambda: losses.sparse_categorical_cross_entropy_with_logits(tinygdl.zeros(2, 3), np.array([0, 3])), r"\[0, 3\)"),
    (lambda: losses.sparse_categorical_cross_entropy_with_logits(tinygdl.zeros(2, 3), np.array([0])), "shape"),
    (lambda: losses.sparse_categorical_cross_entropy_with_logits(tinygdl.zeros(2, 3), np.array([0.0, 1.0])),
     "integers"),
    (lambda: losses.gradient_penalty(lambda x: x, tinygdl.zeros(2, 3), tinygdl.zeros(2, 3), alpha_dist="beta"),
     "alpha_dist"),
    (lambda: losses.gradient_penalty(lambda x: x, tinygdl.zeros(2, 3), tinygdl.zeros(3, 3)), "shape"),
])
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_losses_are_in_the_functional_namespace():
    import tinygdl.nn.functional as F

    assert F.gradient_penalty is losses.gradient_penalty and F.binary_cross_entropy is losses.binary_cross_entropy
    assert set(losses.__all__) <= set(dir(F))


# --------------------------------------------------------------------------- gradient penalty

CRITIC_SHAPES = [(18, 8), (8,), (8, 1), (1,)]


def critic_weights(seed=4):
    rng = np.random.default_rng(seed)
    return [0.5 * rng.standard_normal(shape) for shape in CRITIC_SHAPES]


class TinyCritic:
    """Flatten → linear 18→8 → leaky ReLU 0.2 → linear 8→1, from raw parameters."""

    def __init__(self, weights):
        self.params = [Parameter(w.copy()) for w in weights]

    def __call__(self, x):
        w1, b1, w2, b2 = self.params
        hidden = tinygdl.leaky_relu(x.reshape(x.shape[0], -1) @ w1 + b1, 0.2)
        return hidden @ w2 + b2


def torch_critic_loss_and_penalty(torch, weights, real, fake, alpha, norm_dims):
    """The PyTorch twin: c_loss = mean C(fake) − mean C(real) + 10·gp, the usual WGAN-GP code."""
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    w1, b1, w2, b2 = params

    def critic(x):
        return torch.nn.functional.leaky_relu(x.flatten(1) @ w1 + b1, 0.2) @ w2 + b2

    real, fake = torch.tensor(real), torch.tensor(fake)
    interpolated = (real + torch.tensor(alpha) * (fake - real)).requires_grad_()
    (gradient,) = torch.autograd.grad(critic(interpolated).sum(), interpolated, create_graph=True)
    norms = torch.linalg.vector_norm(gradient, dim=norm_dims)
    penalty = ((norms - 1) ** 2).mean()
    loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
    loss.backward()
    return loss, penalty, norms, params


@pytest.mark.torch
@pytest.mark.parametrize("alpha_draw", ["uniform", "normal"])
def test_gradient_penalty_and_critic_gradients_match_a_torch_twin(alpha_draw, torch):
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal((4, 2, 3, 3))
    alpha = rng.uniform(0, 1, (4, 1, 1, 1)) if alpha_draw == "uniform" else rng.standard_normal((4, 1, 1, 1))
    critic = TinyCritic(critic_weights())
    real_t, fake_t = tinygdl.tensor(real), tinygdl.tensor(fake)
    penalty, norms = losses.gradient_penalty(critic, real_t, fake_t, alpha=alpha.reshape(4), return_norms=True)
    loss = losses.wasserstein_loss(critic(fake_t), -1) + losses.wasserstein_loss(critic(real_t), 1) + 10 * penalty
    loss.backward()

    expected = torch_critic_loss_and_penalty(torch, critic_weights(), real, fake, alpha, (1, 2, 3))
    for ours, theirs in zip([loss, penalty, norms], expected[:3]):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10)
    for p, tp in zip(critic.params, expected[3]):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.torch
def test_gradient_penalty_norm_over_chosen_axes_matches_torch(torch):
    """MuseGAN style: the norm per (sample, track) — here axis 1 is kept."""
    rng = np.random.default_rng(6)
    real, fake = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((3, 2, 3, 3))
    alpha = rng.standard_normal((3, 1, 1, 1))
    critic = TinyCritic(critic_weights())
    penalty, norms = losses.gradient_penalty(critic, tinygdl.tensor(real), tinygdl.tensor(fake), alpha=alpha,
                                             norm_axes=(2, 3), return_norms=True)
    _, expected_penalty, expected_norms, _ = torch_critic_loss_and_penalty(torch, critic_weights(), real, fake,
                                                                           alpha, (2, 3))
    assert norms.shape == (3, 2)
    np.testing.assert_allclose(norms.numpy(), expected_norms.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(penalty.item(), expected_penalty.item(), rtol=1e-10)


def test_gradient_penalty_gradcheck_through_the_critic():
    """Finite differences of the penalty w.r.t. the critic's weights (double backprop, no torch)."""
    rng = np.random.default_rng(7)
    real, fake = tinygdl.tensor(rng.standard_normal((3, 2, 3, 3))), tinygdl.tensor(rng.standard_normal((3, 2, 3, 3)))
    alpha = rng.uniform(0, 1, 3)
    critic = TinyCritic(critic_weights())

    def penalty(*weights):
        critic.params = list(weights)
        return losses.gradient_penalty(critic, real, fake, alpha=alpha)

    testing.gradcheck(penalty, [Parameter(w) for w in critic_weights()], mode="directional", directions=6)


@pytest.mark.gpu
def test_gradient_penalty_on_cuda_matches_the_cpu():
    rng = np.random.default_rng(9)
    real, fake, alpha = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    results = []
    for device in ("cpu", "cuda"):
        critic = TinyCritic(critic_weights())
        critic.params = [Parameter(p.numpy(), device=device) for p in critic.params]
        penalty = losses.gradient_penalty(critic, tinygdl.tensor(real, device=device),
                                          tinygdl.tensor(fake, device=device), alpha=alpha)
        penalty.backward()
        results.append([penalty.numpy()] + [p.grad.numpy() for p in critic.params[::2]])
    drawn = losses.gradient_penalty(critic, tinygdl.tensor(real, device="cuda"), tinygdl.tensor(fake, device="cuda"),
                                    alpha_dist="normal")
    assert drawn.device.type == "cuda"
    for on_cpu, on_gpu in zip(*results):
        np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-10)


def interpolation_coefficients(alpha_dist, n=64):
    """The α the penalty drew, read back from the points the critic was called on."""
    real, fake = tinygdl.zeros(n, 2), tinygdl.ones(n, 2)
    seen = []

    def critic(x):
        seen.append(x.numpy().copy())
        return (x * x).sum(axis=1)

    losses.gradient_penalty(critic, real, fake, alpha_dist=alpha_dist)
    (points,) = seen
    np.testing.assert_allclose(points[:, 0], points[:, 1])  # one α per sample
    return points[:, 0]


def test_gradient_penalty_draws_alpha_per_sample_from_the_chosen_distribution():
    tinygdl.manual_seed(0)
    uniform = interpolation_coefficients("uniform")
    assert uniform.min() >= 0 and uniform.max() < 1 and len(np.unique(uniform)) == 64
    normal = interpolation_coefficients("normal")
    assert normal.min() < 0 and normal.max() > 1  # the book's N(0, 1): points off the segment
    tinygdl.manual_seed(0)
    np.testing.assert_array_equal(interpolation_coefficients("uniform"), uniform)


def test_gradient_penalty_trains_the_critic_only():
    generator_weight = Parameter(np.ones((2, 2)))
    fake = tinygdl.ones(3, 2) @ generator_weight  # still attached to the generator's graph
    critic = TinyCritic(critic_weights())
    critic.params[0] = Parameter(0.5 * np.random.default_rng(8).standard_normal((2, 8)))
    penalty = losses.gradient_penalty(critic, tinygdl.zeros(3, 2), fake)
    penalty.backward()
    assert generator_weight.grad is None
    w1, b1, w2, b2 = critic.params
    # ∇ₓC = W1·diag(leaky_relu')·W2 depends on the weights only (the biases move it nowhere but a kink)
    assert w1.grad is not None and w2.grad is not None


# --------------------------------------------------------------------------- PyTorch-named losses: errors
# (their values and gradients are checked against PyTorch by the op table, tinygdl/checks/ops_nn.py)


def test_cross_entropy_target_of_the_wrong_shape_names_the_op_and_both_shapes():
    from tinygdl.errors import ShapeError

    logits = tinygdl.zeros(4, 5)
    with pytest.raises(ShapeError, match=r"cross_entropy: .* class indices \(integers\) of shape \(4,\) .* "
                                         r"got int64 of shape \(4, 1\) for an input of shape \(4, 5\)"):
        losses.cross_entropy(logits, np.zeros((4, 1), np.int64))
    with pytest.raises(ShapeError, match=r"got float64 of shape \(4,\)"):  # float class indices
        losses.cross_entropy(logits, np.zeros(4))
    with pytest.raises(ShapeError, match=r"nll_loss: the target must hold class indices of shape \(4,\)"):
        losses.nll_loss(logits, np.full((4, 5), 0.2))
    with pytest.raises(ShapeError, match=r"cross_entropy: weight must have one entry per class, shape \(5,\)"):
        losses.cross_entropy(logits, np.zeros(4, np.int64), weight=np.ones(4))
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 5\) \(or equal ignore_index=-100\)"):
        losses.cross_entropy(logits, np.array([0, 1, 5, -100]))
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        losses.cross_entropy(logits, np.zeros(4, np.int64), label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index goes with class-index targets"):
        losses.cross_entropy(logits, np.full((4, 5), 0.2), ignore_index=0)


def test_cross_entropy_ignores_every_ignored_position(torch):
    """All targets ignored: the weighted mean is 0/0 = NaN, as PyTorch's; "sum" is 0."""
    logits = np.random.default_rng(0).standard_normal((3, 4))
    target = np.full(3, -100)
    with np.errstate(invalid="ignore"):
        assert np.isnan(losses.cross_entropy(tinygdl.tensor(logits), target).item())
    assert np.isnan(torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target)).item())
    assert losses.cross_entropy(tinygdl.tensor(logits), target, reduction="sum").item() == 0.0


def test_other_new_loss_errors():
    from tinygdl.errors import ShapeError

    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be >= 0"):
        losses.smooth_l1_loss(tinygdl.zeros(2), tinygdl.zeros(2), beta=-1)
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0"):
        losses.huber_loss(tinygdl.zeros(2), tinygdl.zeros(2), delta=0)
    with pytest.raises(ShapeError, match=r"cosine_similarity: shapes \(2, 3\) and \(4,\) do not broadcast"):
        losses.cosine_similarity(tinygdl.zeros(2, 3), tinygdl.zeros(4))
    assert losses.kl_div(tinygdl.zeros(4, 3), np.full((4, 3), 1 / 3), "batchmean").item() == \
        pytest.approx(3 * (1 / 3) * np.log(1 / 3))
