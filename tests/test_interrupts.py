"""Ctrl-C, then resume, is bit-identical to a run never stopped (issue 10): zoo runs of a classifier, a
VAE and a GAN (its experience-replay buffer included) are interrupted by a real SIGINT mid-epoch (in the
middle of a step), at an epoch boundary and while the epoch-end samples are drawn, resumed with
``--resume`` semantics, and every array of the final checkpoint is compared with an uninterrupted run's."""

import json
import signal

import numpy as np
import pytest

from tinygdl.zoo import REGISTRY
from tinygdl.zoo.run import train

pytest.importorskip("sklearn")  # the offline digits

# Small, fast runs: 2 epochs of 3 steps; the end-of-run report is skipped (it is not what is compared).
RUNS = {
    "cnn": dict(limit=48, batch_size=16, channels="4,4,8,8", dense=16),
    "vae_fashion": dict(limit=48, batch_size=16, image_size=16, channels="4,8,8"),
    "dcgan": dict(limit=48, batch_size=16, image_size=8, replay=0.5, replay_size=24),
}
# where the Ctrl-C comes: in step k (counted over the whole run), or in the k-th epoch-end sample drawing
POINTS = {"mid-epoch": ("train_step", 2), "epoch boundary": ("train_step", 3), "while plotting": ("sample", 1)}
STOPPED_AT = {"mid-epoch": (0, 2), "epoch boundary": (0, 3), "while plotting": (1, 0)}  # (epochs done, steps)


def run(name, out_dir, resume=None):
    return train(name, "digits", epochs=2, out_dir=str(out_dir), resume=resume, progress=False,
                 **({} if resume else RUNS[name]))


def every_array(path):
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files if key != "__checkpoint__"}
        meta = json.loads(str(archive["__checkpoint__"]))
    return arrays, {key: meta[key] for key in ("epoch", "step", "rng_state", "loaders", "history", "trainer_state")}


@pytest.fixture(autouse=True)
def no_report(monkeypatch):
    for recipe in REGISTRY.values():
        monkeypatch.setattr(recipe, "report", lambda self, models, out_dir: {})


@pytest.fixture(scope="module")
def straight_runs(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for recipe in REGISTRY.values():
            patch.setattr(recipe, "report", lambda self, models, out_dir: {})
        return {name: every_array(run(name, tmp_path_factory.mktemp(name)).out_dir + "/checkpoint.npz")
                for name in RUNS}


def ctrl_c_at(monkeypatch, recipe, hook: str, call: int):
    """Send SIGINT at the ``call``-th training step (before it runs) or epoch-end sample of ``recipe``."""
    calls = [0]

    def count():
        calls[0] += 1
        if calls[0] == call:
            signal.raise_signal(signal.SIGINT)

    original = getattr(recipe, hook)
    if hook == "train_step":
        def patched(self, models, optimizers):
            step = original(self, models, optimizers)
            return lambda batch: (count(), step(batch))[1]
    else:
        def patched(self, *args, **kwargs):
            count()
            return original(self, *args, **kwargs)
    monkeypatch.setattr(recipe, hook, patched)


@pytest.mark.parametrize("name, point", [
    ("cnn", "mid-epoch"), ("cnn", "while plotting"),
    ("vae_fashion", "epoch boundary"), ("vae_fashion", "while plotting"),
    ("dcgan", "mid-epoch"), ("dcgan", "epoch boundary"),
])
def test_interrupt_then_resume_is_bit_identical(name, point, straight_runs, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        ctrl_c_at(patch, REGISTRY[name], *POINTS[point])
        with pytest.raises(KeyboardInterrupt):
            run(name, tmp_path)
    interrupted = tmp_path / "interrupted.npz"
    _, stopped = every_array(interrupted)
    assert (stopped["epoch"], stopped["trainer_state"]["batch_in_epoch"]) == STOPPED_AT[point]
    run(name, tmp_path, resume=str(interrupted))
    arrays, meta = every_array(tmp_path / "checkpoint.npz")
    expected_arrays, expected_meta = straight_runs[name]
    assert arrays.keys() == expected_arrays.keys()
    for key, array in arrays.items():
        assert np.array_equal(array, expected_arrays[key]), key
    assert meta == expected_meta
    if name == "dcgan":
        assert "state/replay_images" in arrays  # the replay buffer is part of what resumes exactly
