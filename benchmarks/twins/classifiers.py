"""The PyTorch twins of chapter 2's classifiers (``mlp``, ``cnn``), for ``benchmarks/models.py`` and
``benchmarks/classifiers.py``.

The twin is ``sequential.torch_sequential`` of the zoo model (same layers, same weights).  One
training step on both sides: forward, Keras's clipped categorical cross-entropy on the softmax
probabilities, backward, Adam (lr 5e-4, ε 1e-7; ``torch.optim.Adam`` puts ε on the bias-corrected
√v, Keras on the uncorrected one: the same work, a slightly different ε).
"""

from __future__ import annotations

import numpy as np

from benchmarks.twins import ModelRow
from benchmarks.twins.sequential import KERAS_EPS, torch_sequential

BOOK_BATCH = CPU_BATCH = 32  # the book trains both at batch 32, which a CPU runs as it is


def torch_classifier_step(torch, twin, lr: float = 5e-4):
    """``step(x, y)``: one Adam step of the twin on images ``x`` and class ids ``y`` (torch tensors)."""
    optimizer = torch.optim.Adam(twin.parameters(), lr=lr, eps=KERAS_EPS)

    def step(x, y):
        probs = twin(x).clamp(KERAS_EPS, 1 - KERAS_EPS)
        loss = torch.nn.functional.nll_loss(probs.log(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def make_classifier(torch, name: str, batch_size: int, device: str = "cpu", seed: int = 0):
    """The zoo's ``name`` on CIFAR-10-shaped images and its twin, one random batch: the two steps."""
    import tinygdl
    from tinygdl import zoo

    tinygdl.manual_seed(seed)
    recipe = zoo.recipe(name)
    models = recipe.build()
    twin = torch_sequential(torch, models["model"]).to(device)
    models["model"].to(device)
    ours = recipe.train_step(models, recipe.optimizers(models))
    theirs = torch_classifier_step(torch, twin, recipe.lr)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch_size,) + recipe.input_shape()).astype(np.float32)
    y = rng.integers(0, 10, batch_size)
    batch = (tinygdl.tensor(x, device=device), tinygdl.tensor(y, device=device))
    x_t, y_t = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    models["model"].train()
    twin.train()
    return (lambda: ours(batch)), (lambda: theirs(x_t, y_t))


def _row(name):
    def make(torch, batch_size, device="cpu"):
        return make_classifier(torch, name, batch_size, device)
    return ModelRow(name, "cifar10", BOOK_BATCH, CPU_BATCH, make)


ROWS = [_row("mlp"), _row("cnn")]
