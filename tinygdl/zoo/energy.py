"""Chapter 7: the energy-based model sampled by Langevin dynamics (book notebook ``07_ebm/01_ebm``).

Images are MNIST in [−1, 1], padded with −1 to 32×32 (``--dataset fashion-mnist`` works alike;
``--dataset digits`` resizes scikit-learn's 8×8 digits, offline).  The network outputs a *score*,
the negative energy (``tinygdl.models.energy`` explains the signs).  Each training step runs 60
Langevin steps from the replay buffer (8,192 images, 5% fresh noise per batch) and minimises the
contrastive divergence plus 0.1 × the squared scores, with Adam 1e-4 (Keras's ε), batch 128.

The replay buffer is recipe state: every checkpoint keeps it, so a resumed run continues the same
chains.  ``sample`` runs 1,000 Langevin steps from uniform noise and draws each chain as a strip of
snapshots (``tinygdl sample CKPT --set steps=2000 --set snapshots=8 --set seed=7``; ``sample_steps`` sets the steps of
the per-epoch strips during training).  Validation is the book's: the scores of test images against
plain uniform noise.  ``report`` adds the final strip, a grid of buffer images and the mean scores
of test images, Langevin samples and noise.

Differences from the book: the batches are shuffled (the book's ``tf.data`` pipeline was not,
although its ``fit`` call asks for it); the last, smaller batch of an epoch gets as many fakes as it
has real images (the book mixed fakes into its "real" half there).
"""

from __future__ import annotations

import numpy as np

from .. import backend, plot
from ..data import ArrayDataset
from ..models import energy
from ..optim import Adam
from ..tensor import no_grad, tensor
from .images import SHAPES, load_images
from .recipe import Recipe

REPORT_IMAGES = 512  # test images whose mean score the report gives
SAMPLE_SEED = 1234  # the strips start from the same noise every epoch (``--set seed=N`` in tinygdl sample)


class EnergyRecipe(Recipe):
    name = "ebm"
    chapter = 7
    title = "energy-based model: conv score network, Langevin sampling, replay buffer (book ch. 7)"
    dataset = "mnist"
    datasets = ("mnist", "fashion-mnist", "digits")
    # steps / step_size / noise / gradient_clip: the Langevin sampler in training; alpha: the weight
    # of the squared-score regulariser; fresh: the expected fraction of new chains per batch;
    # sample_steps: the Langevin steps of the per-epoch sample strips
    defaults = dict(epochs=60, batch_size=128, lr=1e-4, image_size=32, steps=60, step_size=10.0, noise=0.005,
                    gradient_clip=0.03, alpha=0.1, buffer_size=8192, fresh=0.05, sample_steps=1000, limit=None,
                    eval_limit=None)
    sample_options = dict(steps=1000, step_size=10.0, noise=0.005, gradient_clip=0.03, snapshots=10, seed=SAMPLE_SEED)

    def __init__(self, dataset=None, **overrides):
        super().__init__(dataset, **overrides)
        self.buffer = None  # made by train_step
        self._saved_buffer = None  # a checkpoint's buffer, waiting for train_step

    # -- data ------------------------------------------------------------------------------------

    def input_shape(self, role=None):
        return (1, self.image_size, self.image_size)

    def load_data(self):
        native = SHAPES[self.dataset][-1]
        splits = load_images(self.dataset, pad_to=32 if native == 28 else None, image_size=self.image_size,
                             symmetric=True, limit=self.limit, channels=1)
        self._test_images = splits.x_test[:self.eval_limit]
        return (ArrayDataset(splits.x_train, splits.y_train),
                ArrayDataset(self._test_images, splits.y_test[:self.eval_limit]))

    # -- training --------------------------------------------------------------------------------

    def build(self):
        return {"model": energy.energy_network(self.image_size, 1)}

    def optimizers(self, models):
        return {"optimizer": Adam(models["model"].parameters(), lr=self.lr, eps_convention="keras")}

    def train_step(self, models, optimizers):
        model = models["model"]
        images = self._saved_buffer
        if images is None:  # the book starts the buffer with one batch of uniform noise
            images = self._noise(model, self.batch_size)
        self.buffer = energy.ReplayBuffer(backend.to_device(images, model.device), self.buffer_size)
        return energy.EnergyStep(model, optimizers["optimizer"], self.buffer, self.steps, self.step_size,
                                 self.noise, self.gradient_clip, self.alpha, self.fresh)

    def eval_step(self, models):
        """The book's validation: test images against uniform noise (no Langevin), by their scores."""
        model = models["model"]

        def step(batch):
            real = batch[0]
            real_scores = model(real).data.mean()
            fake_scores = model(tensor(self._noise(model, len(real)), device=model.device)).data.mean()
            return {"cdiv": float(fake_scores - real_scores), "real": float(real_scores), "fake": float(fake_scores)}

        return step

    def state_dict(self):
        return {} if self.buffer is None else {"replay_buffer": self.buffer.images}

    def load_state_dict(self, state):
        images = state.get("replay_buffer")
        if images is None:
            return
        if self.buffer is None:
            self._saved_buffer = images
        else:
            self.buffer.images = backend.to_device(images, backend.device_of(self.buffer.images))

    # -- samples and report ------------------------------------------------------------------------

    def _noise(self, model, count: int, seed: int | None = None):
        """``count`` U(−1, 1) images on the model's device (from tinygdl's generator, or ``seed``)."""
        dtype = next(iter(model.parameters())).dtype
        shape = (count, 1, self.image_size, self.image_size)
        if seed is not None:
            return backend.to_device(energy.uniform_images(np.random.default_rng(seed), shape, dtype), model.device)
        return energy.uniform_images(backend.generator(model.device), shape, dtype)

    def generate(self, model, n: int, steps: int, every: int, seed: int = SAMPLE_SEED, **langevin_options):
        """``n`` chains of ``steps`` Langevin steps from uniform noise: the snapshots every ``every``
        steps, as one NumPy array (snapshots, n, 1, H, W).  Every draw comes from ``seed`` (not from
        the training run's generator): successive epochs' strips start from the same noise."""
        start = self._noise(model, n, seed=seed)
        rng = np.random.default_rng(seed + 1)
        normals = (backend.to_device(rng.standard_normal(start.shape).astype(start.dtype), model.device)
                   for _ in range(steps))
        _, snapshots = energy.langevin(model, start, steps, normals=normals, every=every, **langevin_options)
        return np.stack([backend.to_numpy(s) for s in snapshots])

    def sample(self, models, path, n=16, steps=None, step_size=10.0, noise=0.005, gradient_clip=0.03,
               snapshots=10, seed=SAMPLE_SEED):
        """One row per chain: the starting noise, then ``snapshots`` images along ``steps`` steps."""
        steps = self.sample_steps if steps is None else steps
        every = max(1, steps // max(1, snapshots))
        chains = self.generate(models["model"], n, steps, every, seed, step_size=step_size, noise=noise,
                               gradient_clip=gradient_clip)
        columns = len(chains)
        cells = chains.transpose(1, 0, 2, 3, 4).reshape(-1, *chains.shape[2:])  # row by row
        titles = [f"step {k * every}" if row == 0 else "" for row in range(n) for k in range(columns)]
        return plot.image_grid(cells, path, nrow=columns, titles=titles, value_range=(-1.0, 1.0))

    def mean_score(self, model, images) -> float:
        with no_grad():
            return float(model(tensor(images, device=model.device, dtype=images.dtype)).data.mean())

    def report(self, models, out_dir):
        """The sample strip, 64 buffer images, and the mean scores of test images, of the last
        snapshots of 16 Langevin chains and of uniform noise."""
        model = models["model"]
        self.sample(models, self.output(out_dir, "samples.png"))
        chains = self.generate(model, 16, self.sample_steps, self.sample_steps, step_size=self.step_size,
                               noise=self.noise, gradient_clip=self.gradient_clip)
        numbers = {"score_samples": self.mean_score(model, chains[-1]),
                   "score_noise": self.mean_score(model, chains[0])}
        if getattr(self, "_test_images", None) is not None:
            numbers["score_test"] = self.mean_score(model, self._test_images[:REPORT_IMAGES])
        if self.buffer is not None:
            picks = np.random.default_rng(SAMPLE_SEED).integers(0, len(self.buffer), 64)
            plot.image_grid(backend.to_numpy(self.buffer.images)[picks], self.output(out_dir, "buffer.png"),
                            value_range=(-1.0, 1.0))
        return numbers


RECIPES = (EnergyRecipe,)
