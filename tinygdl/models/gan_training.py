"""How GANs learn: the objectives of chapter 4, one training step per family, and two tricks.

A GAN is a game between two networks.  The *generator* G maps noise z to images; the
*discriminator* D (a *critic* C in the Wasserstein family) scores images.  Each step below updates
both players, and each player only from its own loss: ``gradients(loss, params)`` differentiates
a loss with respect to one player's parameters (the other player's ``.grad`` is never touched) and
``apply_gradients`` steps that player's optimizer.

The objectives
--------------
**GAN** (Goodfellow et al. 2014, "Generative Adversarial Nets", eq. 1)::

    min_G max_D  E_x[log D(x)] + E_z[log(1 − D(G(z)))]

D maximises it by classifying real (label 1) against fake (label 0), i.e. it minimises the binary
cross-entropy ``BCE(D(x), 1) + BCE(D(G(z)), 0)``.  G minimising ``log(1 − D(G(z)))`` saturates
(no gradient) while D wins easily, early on; the same paper (§3) proposes the **non-saturating**
loss instead, ``−log D(G(z)) = BCE(D(G(z)), 1)``, which every GAN here uses.

**Wasserstein GAN** (Arjovsky et al. 2017, eq. 3): the critic estimates the earth mover's distance
between the real and generated distributions, ``max over 1-Lipschitz C of E[C(x)] − E[C(G(z))]``::

    critic loss    = mean C(G(z)) − mean C(x)
    generator loss = − mean C(G(z))

C must be kept 1-Lipschitz: the 1st edition clips every critic weight to [−0.01, 0.01] after each
update (the paper's way); **WGAN-GP** (Gulrajani et al. 2017, "Improved Training of Wasserstein
GANs", Algorithm 1) adds a gradient penalty instead::

    x̂ = x + α·(G(z) − x)                 α ~ U[0, 1], one per sample
    critic loss = mean C(G(z)) − mean C(x) + λ · mean (‖∇_x̂ C(x̂)‖₂ − 1)²        λ = 10

(``tinygdl.losses.gradient_penalty``; the book draws α ~ N(0, 1), available as ``alpha_dist="normal"``.)
"""

from __future__ import annotations

from ..losses import binary_cross_entropy, gradient_penalty
from ..ops.creation import ones, rand, randint, randn, zeros
from ..ops.neural import one_hot
from ..ops.shape import concatenate, split
from ..tensor import grad, no_grad

__all__ = [
    "trainable_parameters", "gradients", "apply_gradients",
    "discriminator_loss", "generator_loss", "wasserstein_critic_loss", "wasserstein_generator_loss",
    "DCGANStep", "WassersteinGPStep", "ClippedWGANStep", "DenseGANStep",
    "ReplayBuffer", "clip_weights",
]


# --------------------------------------------------------------------------- one player at a time


def trainable_parameters(module) -> list:
    return [p for p in module.parameters() if p.requires_grad]


def gradients(loss, params, retain_graph: bool = False) -> list:
    """d loss / d params, for these parameters only (another player's are neither computed nor stored)."""
    return grad(loss, params, retain_graph=retain_graph)


def apply_gradients(optimizer, params, grads) -> None:
    """Give ``params`` these gradients and take one ``optimizer`` step."""
    for param, gradient in zip(params, grads):
        param.grad = gradient
    optimizer.step()


def _images(batch):
    """The images of a batch: ``(images, labels)`` or ``(images,)`` from a DataLoader, or a Tensor."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _noise(n: int, latent_dim: int, like):
    """z ~ N(0, I): ``n`` latent vectors in the dtype and on the device of ``like``."""
    return randn(n, latent_dim, dtype=like.dtype, device=like.device)


# --------------------------------------------------------------------------- the objectives


def discriminator_loss(p_real, p_fake, label_noise: float = 0.0):
    """The book's DCGAN discriminator loss: ``(BCE(p_real, 1 + ν·u) + BCE(p_fake, −ν·u)) / 2``,
    ``u ~ U[0, 1)`` per sample, ν = ``label_noise`` (0.1 in the book; ν = 0 is the plain GAN loss).

    Noisy targets (outside [0, 1], so the loss can go negative) keep D from becoming too sure too
    early.  BCE is Keras's clipped form, the mean over the batch.
    """
    real_targets = 1 + label_noise * rand(*p_real.shape, dtype=p_real.dtype, device=p_real.device)
    fake_targets = -label_noise * rand(*p_fake.shape, dtype=p_fake.dtype, device=p_fake.device)
    return (binary_cross_entropy(p_real, real_targets) + binary_cross_entropy(p_fake, fake_targets)) / 2


def generator_loss(p_fake):
    """The non-saturating generator loss ``BCE(D(G(z)), 1) = −mean log D(G(z))`` (clean targets)."""
    return binary_cross_entropy(p_fake, ones(*p_fake.shape, dtype=p_fake.dtype, device=p_fake.device))


def wasserstein_critic_loss(real_scores, fake_scores):
    """``mean C(G(z)) − mean C(x)``: the negated estimate of the Wasserstein distance."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores):
    """``−mean C(G(z))``: the generator raises the critic's score of its images."""
    return -fake_scores.mean()


def _fraction(condition) -> float:
    return float(condition.mean())


def detached_losses(losses: dict) -> dict:
    """A critic update's losses as 0-d tensors without their graph: of ``critic_steps`` updates only the
    last one's are logged, so they are read back to the host (a device synchronisation each) once, by
    ``_numbers``, not after every update."""
    return {name: loss.detach() for name, loss in losses.items()}


def _numbers(losses: dict) -> dict:
    return {name: loss.item() for name, loss in losses.items()}


# --------------------------------------------------------------------------- DCGAN


class DCGANStep:
    """One DCGAN step as the book takes it: **one** forward pass feeds both updates.

    1. ``fake = G(z)``; ``p_real = D(real)`` and ``p_fake = D(fake)``: two separate D calls, so
       BatchNorm normalises (and updates its running statistics with) each batch on its own;
    2. ``d_loss = discriminator_loss(p_real, p_fake, label_noise)``, ``g_loss = generator_loss(p_fake)``;
    3. D's gradient of ``d_loss`` and G's gradient of ``g_loss`` are both taken from that pass, then
       both optimizers step (D is not re-run after its update).

    With a ``ReplayBuffer`` D also sees earlier fakes next to the new ones (G's loss uses only the new).
    Returns the losses and accuracies (threshold 0.5) the book logs.
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, latent_dim: int,
                 label_noise: float = 0.1, replay: "ReplayBuffer | None" = None):
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.latent_dim, self.label_noise, self.replay = latent_dim, label_noise, replay

    def losses(self, real) -> tuple:
        """``(d_loss, g_loss, p_real, p_fake)`` of one forward pass (graph kept for both players)."""
        fake = self.generator(_noise(real.shape[0], self.latent_dim, real))
        shown = self.replay.mix(fake) if self.replay is not None else fake
        p_real, p_shown = self.discriminator(real), self.discriminator(shown)
        p_fake = p_shown[:real.shape[0]]  # the new fakes come first
        return discriminator_loss(p_real, p_shown, self.label_noise), generator_loss(p_fake), p_real, p_fake

    def __call__(self, batch) -> dict:
        d_loss, g_loss, p_real, p_fake = self.losses(_images(batch))
        d_params, g_params = trainable_parameters(self.discriminator), trainable_parameters(self.generator)
        d_grads = gradients(d_loss, d_params, retain_graph=True)  # the pass through D(fake) serves g_loss too
        g_grads = gradients(g_loss, g_params)
        apply_gradients(self.d_optimizer, d_params, d_grads)
        apply_gradients(self.g_optimizer, g_params, g_grads)
        p_real, p_fake = p_real.numpy(), p_fake.numpy()
        real_acc, fake_acc = _fraction(p_real > 0.5), _fraction(p_fake < 0.5)
        return {"d_loss": d_loss.item(), "d_real_acc": real_acc, "d_fake_acc": fake_acc,
                "d_acc": (real_acc + fake_acc) / 2, "g_loss": g_loss.item(), "g_acc": _fraction(p_fake > 0.5)}


# --------------------------------------------------------------------------- WGAN-GP, conditional GAN


class WassersteinGPStep:
    """One WGAN-GP step (Gulrajani et al. 2017, Algorithm 1, as the book runs it):

    * ``critic_steps`` times, with the **same real batch** x: ``x̃ = G(z)`` for fresh z (G in
      training mode, so its BatchNorm statistics move here too, but no gradient reaches G);
      ``c_loss = mean C(x̃) − mean C(x) + gp_weight · gradient_penalty(C, x, x̃)``; one critic step;
    * then one generator step on fresh z: ``g_loss = −mean C(G(z))``.

    ``alpha_dist``: ``"uniform"`` (the paper, default) or ``"normal"`` (the book's N(0, 1) draw).
    ``num_classes``: the conditional GAN.  Batches are then ``(images, labels)``; G gets the
    one-hot labels after z, C gets them as image planes, and the fakes are made with the *real*
    batch's labels.  In the penalty only the image is interpolated; the label planes stay the real
    ones and the norm runs over the image's (C, H, W) only.

    Logs the numbers of the last critic step and of the generator step.
    """

    def __init__(self, generator, critic, g_optimizer, c_optimizer, latent_dim: int, critic_steps: int = 3,
                 gp_weight: float = 10.0, alpha_dist: str = "uniform", num_classes: int | None = None):
        if alpha_dist not in ("uniform", "normal"):
            raise ValueError(f"WassersteinGPStep: alpha_dist must be 'uniform' or 'normal', got {alpha_dist!r}")
        self.generator, self.critic = generator, critic
        self.g_optimizer, self.c_optimizer = g_optimizer, c_optimizer
        self.latent_dim, self.critic_steps, self.gp_weight = latent_dim, critic_steps, gp_weight
        self.alpha_dist, self.num_classes = alpha_dist, num_classes

    def players(self, batch) -> tuple:
        """``(generate(z), score(x))``: the two networks, given the batch's labels when conditional."""
        if self.num_classes is None:
            return self.generator, self.critic
        images, labels = batch
        condition = one_hot(labels, self.num_classes, dtype=images.dtype)
        return (lambda z: self.generator(z, condition)), (lambda x: self.critic(x, condition))

    def train_critic(self, real, generate, score) -> dict:
        """One critic update; G runs without a graph."""
        with no_grad():
            fake = generate(_noise(real.shape[0], self.latent_dim, real))
        c_wass = wasserstein_critic_loss(score(real), score(fake))
        c_gp = gradient_penalty(score, real, fake, alpha_dist=self.alpha_dist)
        c_loss = c_wass + self.gp_weight * c_gp
        params = trainable_parameters(self.critic)
        apply_gradients(self.c_optimizer, params, gradients(c_loss, params))
        return detached_losses({"c_loss": c_loss, "c_wass_loss": c_wass, "c_gp": c_gp})

    def train_generator(self, n: int, generate, score, like) -> dict:
        """One generator update; the critic's parameters get no gradient."""
        g_loss = wasserstein_generator_loss(score(generate(_noise(n, self.latent_dim, like))))
        params = trainable_parameters(self.generator)
        apply_gradients(self.g_optimizer, params, gradients(g_loss, params))
        return {"g_loss": g_loss.item()}

    def __call__(self, batch) -> dict:
        real = _images(batch)
        generate, score = self.players(batch)
        for _ in range(self.critic_steps):
            losses = self.train_critic(real, generate, score)
        return {**_numbers(losses), **self.train_generator(real.shape[0], generate, score, real)}


# --------------------------------------------------------------------------- WGAN with weight clipping (1st edition)


def clip_weights(module, limit: float) -> None:
    """Clip every parameter of ``module`` to [−limit, limit] in place (Arjovsky et al. 2017, Algorithm 1)."""
    with no_grad():
        for param in module.parameters():
            param.copy_(param.clip(-limit, limit))


class ClippedWGANStep:
    """One step of the 1st edition's WGAN (``models/WGAN.py``): ``critic_steps`` critic iterations,
    each on its own slice of the batch (the 1st edition draws a fresh real batch per iteration,
    so a batch here holds ``critic_steps`` of them), then one generator step.

    A critic iteration is *two* updates, as its two ``train_on_batch`` calls: on the real slice
    with loss ``−mean C(x)``, then on as many fakes with ``mean C(G(z))``; then every critic weight
    is clipped to [−clip, clip].  (The 1st edition made its fakes with ``predict``, BatchNorm in
    inference mode; here G stays in training mode, as in the 2nd edition's steps.)
    """

    def __init__(self, generator, critic, g_optimizer, c_optimizer, latent_dim: int, critic_steps: int = 5,
                 clip: float = 0.01):
        self.generator, self.critic = generator, critic
        self.g_optimizer, self.c_optimizer = g_optimizer, c_optimizer
        self.latent_dim, self.critic_steps, self.clip = latent_dim, critic_steps, clip

    def _critic_update(self, loss):
        params = trainable_parameters(self.critic)
        apply_gradients(self.c_optimizer, params, gradients(loss, params))
        return loss.detach()

    def __call__(self, batch) -> dict:
        real = _images(batch)
        n, k = real.shape[0], self.critic_steps  # k pieces as equal as can be (sizes differ by at most one)
        pieces = split(real, [size for size in (n // k + (i < n % k) for i in range(k)) if size])
        for piece in pieces:
            with no_grad():
                fake = self.generator(_noise(piece.shape[0], self.latent_dim, real))
            loss_real = self._critic_update(-self.critic(piece).mean())
            loss_fake = self._critic_update(self.critic(fake).mean())
            clip_weights(self.critic, self.clip)
        z = _noise(pieces[0].shape[0], self.latent_dim, real)
        g_loss = wasserstein_generator_loss(self.critic(self.generator(z)))
        params = trainable_parameters(self.generator)
        apply_gradients(self.g_optimizer, params, gradients(g_loss, params))
        loss_real, loss_fake = loss_real.item(), loss_fake.item()  # the last critic iteration's, as logged
        return {"c_loss": (loss_real + loss_fake) / 2, "c_loss_real": loss_real, "c_loss_fake": loss_fake,
                "g_loss": g_loss.item()}


# --------------------------------------------------------------------------- the dense GAN (Hands-On ML, ch. 17)


class DenseGANStep:
    """Hands-On ML's two-phase GAN step (3rd ed., ch. 17):

    1. D learns on one batch of fakes (label 0) followed by the real batch (label 1);
    2. G learns through the frozen D on fresh noise, labelled 1 (the non-saturating loss).

    With a ``ReplayBuffer`` phase 1 also shows D earlier fakes.
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, codings: int,
                 replay: "ReplayBuffer | None" = None):
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.codings, self.replay = codings, replay

    def __call__(self, batch) -> dict:
        real = _images(batch)
        n = real.shape[0]
        with no_grad():
            fake = self.generator(_noise(n, self.codings, real))
        shown = self.replay.mix(fake) if self.replay is not None else fake
        targets = concatenate([zeros(shown.shape[0], 1, dtype=real.dtype, device=real.device),
                               ones(n, 1, dtype=real.dtype, device=real.device)])
        d_loss = binary_cross_entropy(self.discriminator(concatenate([shown, real])), targets)
        d_params = trainable_parameters(self.discriminator)
        apply_gradients(self.d_optimizer, d_params, gradients(d_loss, d_params))
        g_loss = generator_loss(self.discriminator(self.generator(_noise(n, self.codings, real))))
        g_params = trainable_parameters(self.generator)
        apply_gradients(self.g_optimizer, g_params, gradients(g_loss, g_params))
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item()}


# --------------------------------------------------------------------------- experience replay


class ReplayBuffer:
    """Experience replay for the discriminator (Hands-On ML ch. 17; Shrivastava et al. 2017, §2.3).

    A discriminator that only ever sees the generator's latest images forgets the earlier ones,
    and the generator can go back to them: the two chase each other in circles.  The buffer keeps
    the last ``capacity`` generated images; ``mix(fakes)`` returns the new fakes followed by
    ``round(fraction·N)`` images drawn from the buffer (none while it is empty), then stores the new
    ones, dropping the oldest.  (The zoo's GAN recipes save its images in their checkpoints.)
    """

    def __init__(self, capacity: int = 2048, fraction: float = 0.5):
        if capacity < 1 or not 0 < fraction <= 1:
            raise ValueError(f"ReplayBuffer: need capacity >= 1 and 0 < fraction <= 1, got {capacity}, {fraction}")
        self.capacity, self.fraction = capacity, fraction
        self.images = None  # a Tensor of up to ``capacity`` earlier fakes, oldest first

    def __len__(self) -> int:
        return 0 if self.images is None else self.images.shape[0]

    def mix(self, fakes):
        count = min(round(self.fraction * fakes.shape[0]), len(self))
        old = self.images[randint(0, len(self), (count,), device=self.images.device)] if count else None
        self.push(fakes)
        return fakes if old is None else concatenate([fakes, old])

    def push(self, fakes) -> None:
        """Store (detached copies of) ``fakes``, keeping the newest ``capacity`` images."""
        fakes = fakes.detach()
        kept = fakes if self.images is None else concatenate([self.images, fakes])
        self.images = kept[-self.capacity:]
