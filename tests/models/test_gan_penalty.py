"""The WGAN-GP critic loss against a PyTorch twin: same critic weights, same real and fake batch, same
α — the penalty and the gradient of ``c_wass + 10·gp`` with respect to every critic parameter agree
in float64.  This runs double backward through conv, leaky_relu and the linear output."""

import numpy as np
import pytest

import tinygdl
from tinygdl import losses, nn
from tinygdl.models import gan
from tinygdl.models.gan_training import wasserstein_critic_loss

pytestmark = pytest.mark.torch
TOLERANCE = dict(rtol=1e-6, atol=1e-9)


def randomize_biases(critic, rng):
    """Keras starts biases at zero; non-zero ones make the test see every term."""
    with tinygdl.no_grad():
        for name, param in critic.named_parameters():
            if name.endswith("bias"):
                param.copy_(0.1 * rng.standard_normal(param.shape))


def torch_twin(torch, critic: nn.Sequential):
    """The same layers in PyTorch, weights copied (Keras "same" k4 s2 = PyTorch padding 1; dropout kept
    as a layer, the test runs both in eval mode)."""
    layers = []
    for layer in critic.children():
        if isinstance(layer, nn.Conv2d):
            padding = {"same": 1, "valid": 0}[layer.padding]
            twin = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, padding,
                                   bias=layer.bias is not None, dtype=torch.float64)
            with torch.no_grad():
                twin.weight.copy_(torch.from_numpy(layer.weight.numpy()))
                twin.bias.copy_(torch.from_numpy(layer.bias.numpy()))
        elif isinstance(layer, nn.LeakyReLU):
            twin = torch.nn.LeakyReLU(layer.negative_slope)
        elif isinstance(layer, nn.Dropout):
            twin = torch.nn.Dropout(layer.p)
        else:
            assert isinstance(layer, nn.Flatten), type(layer)
            twin = torch.nn.Flatten()
        layers.append(twin)
    return torch.nn.Sequential(*layers).eval()


def torch_critic_loss(torch, critic_fn, real, fake, alpha):
    """``mean C(fake) − mean C(real) + 10·mean (‖∇_x̂ C(x̂)‖₂ − 1)²`` written out in PyTorch."""
    real, fake = torch.from_numpy(real), torch.from_numpy(fake)
    interpolated = (real + torch.from_numpy(alpha).view(-1, 1, 1, 1) * (fake - real)).requires_grad_()
    (gradient,) = torch.autograd.grad(critic_fn(interpolated).sum(), interpolated, create_graph=True)
    penalty = (((gradient ** 2).sum(dim=(1, 2, 3)) + 1e-12).sqrt() - 1).pow(2).mean()
    return critic_fn(fake).mean() - critic_fn(real).mean() + 10 * penalty, penalty


def batches(rng, n, shape):
    real = rng.uniform(-1, 1, (n,) + shape)
    fake = np.tanh(rng.standard_normal((n,) + shape))
    return real, fake, rng.uniform(0, 1, n)


def assert_same_critic_gradients(critic, twin, loss, penalty, expected_loss, expected_penalty):
    loss.backward()
    expected_loss.backward()
    np.testing.assert_allclose(penalty.item(), expected_penalty.item(), **TOLERANCE)
    np.testing.assert_allclose(loss.item(), expected_loss.item(), **TOLERANCE)
    mine, theirs = critic.parameters(), list(twin.parameters())
    assert len(mine) == len(theirs) == 2 * sum(isinstance(m, nn.Conv2d) for m in critic.modules())
    for p, q in zip(mine, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **TOLERANCE)


def test_wgan_gp_critic_penalty_and_gradients_match_torch(torch, float64, rng):
    critic = gan.wgan_gp_critic(channels=3, image_size=32).eval()  # eval: dropout off in both
    randomize_biases(critic, rng)
    twin = torch_twin(torch, critic)
    real, fake, alpha = batches(rng, 4, (3, 32, 32))
    penalty = losses.gradient_penalty(critic, tinygdl.tensor(real), tinygdl.tensor(fake), alpha=alpha)
    loss = wasserstein_critic_loss(critic(tinygdl.tensor(real)), critic(tinygdl.tensor(fake))) + 10 * penalty
    expected_loss, expected_penalty = torch_critic_loss(torch, twin, real, fake, alpha)
    assert_same_critic_gradients(critic, twin, loss, penalty, expected_loss, expected_penalty)


def test_conditional_critic_interpolates_only_the_image(torch, float64, rng):
    critic = gan.ConditionalCritic(num_classes=2, channels=3, image_size=16).eval()
    randomize_biases(critic, rng)
    twin = torch_twin(torch, critic.net)
    real, fake, alpha = batches(rng, 4, (3, 16, 16))
    labels = np.eye(2)[[0, 1, 1, 0]]
    condition = tinygdl.tensor(labels)
    score = lambda x: critic(x, condition)  # noqa: E731  (the label planes are the real ones throughout)
    penalty = losses.gradient_penalty(score, tinygdl.tensor(real), tinygdl.tensor(fake), alpha=alpha)
    loss = wasserstein_critic_loss(score(tinygdl.tensor(real)), score(tinygdl.tensor(fake))) + 10 * penalty

    planes = torch.from_numpy(labels)[:, :, None, None].expand(4, 2, 16, 16)
    expected_loss, expected_penalty = torch_critic_loss(torch, lambda x: twin(torch.cat([x, planes], 1)),
                                                        real, fake, alpha)
    assert_same_critic_gradients(critic, twin, loss, penalty, expected_loss, expected_penalty)
