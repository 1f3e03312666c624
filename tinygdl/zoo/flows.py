"""Chapter 6: RealNVP on two moons (book notebook ``06_normflow/01_realnvp``).

The data are 30,000 points of scikit-learn-style two moons (noise 0.05, ``tinygdl.data.toy``),
standardised per coordinate with the training set's mean and population standard deviation
(floored at 1e-7, as Keras's ``Normalization``).  Those two statistics are recipe state: every
checkpoint keeps them, so ``tinygdl sample`` maps its samples back to data units with nothing else.

The network is ``tinygdl.models.flows.RealNVP`` (two couplings by default; ``--set
coupling_layers=N`` stacks N with alternating masks), trained on the mean negative log-likelihood
with Adam 1e-4 (Keras's ε), batch 256, 300 epochs.  Validation is the same loss on 10,000 fresh
points drawn with another seed.  ``sample`` writes the book's latent → data pair (3,000 draws of
N(0, I) and where the flow sends them, ``--set points=N``); ``report`` adds the data → latent pair
(test points and their codes, which should look like N(0, I)), a heat map of the learned density
p(x) in data units, and the test negative log-likelihood in nats.
"""

from __future__ import annotations

import numpy as np

from .. import plot
from ..backend import to_numpy
from ..data import ArrayDataset, DataLoader
from ..data.toy import make_moons
from ..models import flows
from ..nn.module import evaluation_mode
from ..optim import Adam
from ..tensor import no_grad, tensor
from ..training import evaluate_loader
from ..training.trainer import metrics_as_floats
from .recipe import Recipe

TEST_SEED = 2024  # the fresh moons of the validation set and the report
STD_FLOOR = 1e-7  # Keras's Normalization: (x − mean) / max(std, 1e-7)
DENSITY_GRID = 200  # points per axis of the density heat map
EVAL_BATCH = 4096


class RealNVPRecipe(Recipe):
    name = "realnvp"
    chapter = 6
    title = "RealNVP: two affine couplings on two moons, exact likelihood (book ch. 6)"
    dataset = "moons"
    datasets = ("moons",)
    # points / noise: the training set (make_moons); test_points: fresh moons for validation and report
    defaults = dict(epochs=300, batch_size=256, lr=1e-4, coupling_layers=2, hidden=256, depth=4, points=30000,
                    noise=0.05, test_points=10000)
    sample_options = dict(points=3000)

    def __init__(self, dataset=None, **overrides):
        super().__init__(dataset, **overrides)
        self.mean = self.std = None  # the standardisation statistics, set by load_data or a checkpoint

    # -- data ------------------------------------------------------------------------------------

    def input_shape(self, role=None):
        return (2,)

    def load_data(self):
        """Two moons (drawn from tinygdl's seeded generator) standardised, and fresh test moons."""
        train, _ = make_moons(self.points, noise=self.noise)
        test, _ = make_moons(self.test_points, noise=self.noise, seed=TEST_SEED)
        if self.mean is None:  # a resumed run keeps the checkpoint's statistics
            self.mean = train.mean(axis=0)
            self.std = np.maximum(train.std(axis=0), STD_FLOOR)
        self._test = test
        return ArrayDataset(self.standardise(train)), ArrayDataset(self.standardise(test))

    def standardise(self, points: np.ndarray) -> np.ndarray:
        return ((points - self.mean) / self.std).astype(np.float32)

    def to_data_units(self, points: np.ndarray) -> np.ndarray:
        return points * self.std + self.mean

    def state_dict(self):
        return {} if self.mean is None else {"mean": self.mean, "std": self.std}

    def load_state_dict(self, state):
        self.mean, self.std = np.asarray(state["mean"], np.float64), np.asarray(state["std"], np.float64)

    # -- training --------------------------------------------------------------------------------

    def build(self):
        return {"model": flows.RealNVP(2, self.coupling_layers, self.hidden, self.depth)}

    def optimizers(self, models):
        return {"optimizer": Adam(models["model"].parameters(), lr=self.lr, eps_convention="keras")}

    def train_step(self, models, optimizers):
        model, optimizer = models["model"], optimizers["optimizer"]

        def step(batch):
            optimizer.zero_grad()
            loss = flows.flow_loss(model, batch[0])
            loss.backward()
            optimizer.step()
            return {"loss": loss.item()}

        return step

    def eval_step(self, models):
        return lambda batch: metrics_as_floats({"loss": flows.flow_loss(models["model"], batch[0])})

    # -- samples and report ------------------------------------------------------------------------

    def _points_tensor(self, model, points: np.ndarray):
        return tensor(points, device=model.device, dtype=next(iter(model.parameters())).dtype)

    def generate(self, model, count: int, seed: int = 0):
        """``(z, x)``: ``count`` draws of N(0, I) and the flow's samples x = f⁻¹(z) in data units."""
        z = np.random.default_rng(seed).standard_normal((count, 2))
        with no_grad(), evaluation_mode([model]):
            x = to_numpy(model.inverse(self._points_tensor(model, z)).data)
        return z, self.to_data_units(x)

    def sample(self, models, path, n=16, points=3000):
        """The book's latent → data pair: z ~ N(0, I) and f⁻¹(z) (``points`` of each)."""
        z, x = self.generate(models["model"], points)
        return scatter_pair(z, x, ("latent z ~ N(0, I)", "z1", "z2"), ("f⁻¹(z): samples (data units)", "x1", "x2"),
                            path)

    def encode(self, model, points: np.ndarray) -> np.ndarray:
        with no_grad(), evaluation_mode([model]):
            return to_numpy(model(self._points_tensor(model, self.standardise(points)))[0].data)

    def log_density(self, model, points: np.ndarray) -> np.ndarray:
        """log p(x) in data units: the flow's density of the standardised points minus Σ log std."""
        with no_grad(), evaluation_mode([model]):
            values = [to_numpy(model.log_prob(self._points_tensor(model, self.standardise(chunk))).data)
                      for chunk in np.array_split(points, max(1, len(points) // EVAL_BATCH))]
        return np.concatenate(values).astype(np.float64) - np.log(self.std).sum()

    def report(self, models, out_dir):
        """Test NLL (nats per point, standardised and data units); the data → latent and latent →
        data pairs; a heat map of the learned density p(x)."""
        model = models["model"]
        test = self._test if getattr(self, "_test", None) is not None else \
            make_moons(self.test_points, noise=self.noise, seed=TEST_SEED)[0]
        self.sample(models, self.output(out_dir, "latent_to_data.png"))
        scatter_pair(test, self.encode(model, test), ("test data (data units)", "x1", "x2"),
                     ("f(x): codes", "z1", "z2"), self.output(out_dir, "data_to_latent.png"))
        density_map(lambda p: self.log_density(model, p), test, self.output(out_dir, "density.png"))
        loader = DataLoader(ArrayDataset(self.standardise(test)), EVAL_BATCH, device=model.device)
        nll = evaluate_loader(self.eval_step(models), loader, [model])["loss"]
        return {"test_nll": nll, "test_nll_data_units": nll + float(np.log(self.std).sum())}


# --------------------------------------------------------------------------- figures


def scatter_pair(left, right, left_labels, right_labels, path) -> str:
    """Two scatter plots side by side, each with (title, x label, y label)."""
    figure = plot._figure(10.0, 4.6)
    for index, (points, (title, xlabel, ylabel)) in enumerate(((left, left_labels), (right, right_labels))):
        axes = figure.add_subplot(1, 2, index + 1)
        axes.scatter(points[:, 0], points[:, 1], s=1.5, alpha=0.5)
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
    figure.tight_layout()
    return plot._save(figure, path)


def density_map(log_density, data: np.ndarray, path: str, size: int = DENSITY_GRID) -> str:
    """A heat map of ``exp(log_density)`` on a grid covering ``data`` with a margin, the data on top."""
    low, high = data.min(axis=0), data.max(axis=0)
    margin = 0.25 * (high - low)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], size)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], size)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    density = np.exp(log_density(grid)).reshape(size, size)
    figure = plot._figure(6.4, 5.0)
    axes = figure.add_subplot()
    image = axes.imshow(density, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), aspect="auto",
                        cmap="viridis")
    axes.scatter(data[:500, 0], data[:500, 1], s=0.5, c="white", alpha=0.4)
    figure.colorbar(image, ax=axes, label="p(x)")
    axes.set_title("learned density p(x) (white: 500 test points)")
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    return plot._save(figure, path)


RECIPES = (RealNVPRecipe,)
