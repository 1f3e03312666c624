"""Checkpoints: round trip, atomic writes, clear errors, and exact resumption of a training run."""

import os
import signal

import numpy as np
import pytest

import tinygdl
from tinygdl import backend, nn
from tinygdl.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tinygdl.data import ArrayDataset, DataLoader
from tinygdl.nn import Module, Parameter
from tinygdl.optim import Adam
from tinygdl.training import History, Trainer

# --------------------------------------------------------------------------- a tiny training run


class TinyNet(Module):
    """4 -> 8 (ReLU, dropout) -> 3 logits, from raw parameters so that it needs no layer library."""

    def __init__(self):
        super().__init__()
        self.w1 = Parameter(tinygdl.randn(4, 8) * 0.5)
        self.b1 = Parameter(np.zeros(8, np.float32))
        self.w2 = Parameter(tinygdl.randn(8, 3) * 0.5)

    def forward(self, x):
        hidden = tinygdl.relu(x @ self.w1 + self.b1)
        return tinygdl.dropout(hidden, 0.3, training=self.training) @ self.w2


def cross_entropy(logits, labels):
    return -(tinygdl.one_hot(labels, 3) * tinygdl.log_softmax(logits)).sum(axis=-1).mean()


def make_trainer(out_dir=None, init_seed=0, interrupt_at_step=None, data_seed=None, hard=False):
    """A seeded run: shuffled batches (the last one smaller), dropout from the backend generator, Adam.

    ``data_seed=None`` lets the DataLoader draw its shuffling seed from the backend generator.
    ``interrupt_at_step=k``: a Ctrl-C (a real SIGINT) arrives in the middle of step k + 1, between
    its forward pass and its update; ``hard=True``: a KeyboardInterrupt is raised there instead
    (what a second Ctrl-C does).
    """
    tinygdl.manual_seed(init_seed)
    model = TinyNet()
    optimizer = Adam(model.parameters(), lr=0.05)
    data = np.random.default_rng(1)
    x, y = data.normal(size=(20, 4)).astype(np.float32), data.integers(0, 3, size=20)
    loader = DataLoader(ArrayDataset(x, y), batch_size=6, shuffle=True, seed=data_seed)
    steps = []

    def step(batch):
        inputs, labels = batch
        optimizer.zero_grad()
        loss = cross_entropy(model(inputs), labels)
        if len(steps) == interrupt_at_step:
            if hard:
                raise KeyboardInterrupt
            signal.raise_signal(signal.SIGINT)
        steps.append(1)
        loss.backward()
        optimizer.step()
        return {"loss": loss}

    return Trainer(step, loader, {"net": model}, {"adam": optimizer}, out_dir=out_dir, progress=False)


def parameters(trainer):
    return [p.numpy().copy() for p in trainer.models["net"].parameters()]


def assert_identical(params_a, params_b):
    assert len(params_a) == len(params_b)
    for a, b in zip(params_a, params_b):
        assert np.array_equal(a, b)


def straight_run(epochs=4, data_seed=None):
    trainer = make_trainer(data_seed=data_seed)
    trainer.fit(epochs)
    return trainer


# --------------------------------------------------------------------------- resuming


@pytest.mark.parametrize("data_seed", [3, None])
def test_resumed_run_is_bitwise_identical_to_a_straight_run(tmp_path, data_seed):
    straight = straight_run(4, data_seed)

    first = make_trainer(tmp_path, data_seed=data_seed)
    first.fit(2)
    path = first.save_checkpoint(tmp_path / "after-2.npz")
    del first
    tinygdl.randn(100)  # disturb the global generator: the checkpoint must restore it
    resumed = make_trainer(tmp_path, init_seed=99, data_seed=data_seed)  # fresh objects, other initial weights
    resumed.fit(4, resume=path)

    assert_identical(parameters(resumed), parameters(straight))
    assert resumed.global_step == straight.global_step == 16
    assert resumed.history.to_dict() == straight.history.to_dict()


def test_seeded_runs_are_reproducible():
    assert_identical(parameters(straight_run(3)), parameters(straight_run(3)))


def test_resuming_continues_the_epoch_count_and_history(tmp_path):
    first = make_trainer(tmp_path, data_seed=3)
    first.fit(2)
    path = first.save_checkpoint(tmp_path / "ckpt.npz")
    losses_before = list(first.history["loss"])

    resumed = make_trainer(tmp_path, data_seed=3)
    history = resumed.fit(3, resume=path)
    assert history.epoch == [0, 1, 2]
    assert history["loss"][:2] == losses_before and len(history["loss"]) == 3
    assert resumed.epoch == 3 and resumed.global_step == 12
    assert resumed.loader.epoch == 3


def test_interrupt_saves_a_checkpoint_that_resumes_mid_epoch_exactly(tmp_path, capsys):
    straight = straight_run(3, data_seed=3)
    interrupted = make_trainer(tmp_path, data_seed=3, interrupt_at_step=6)  # Ctrl-C in step 7, epoch 2's 3rd batch
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(3)
    path = tmp_path / "interrupted.npz"
    assert path.exists() and str(path) in capsys.readouterr().err
    checkpoint = load_checkpoint(path)
    assert (checkpoint.epoch, checkpoint.step, checkpoint.trainer_state["batch_in_epoch"]) == (1, 7, 3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # fit() put Python's handler back

    resumed = make_trainer(tmp_path, init_seed=5, data_seed=3)
    resumed.fit(3, resume=path)
    assert_identical(parameters(resumed), parameters(straight))
    assert resumed.history.to_dict() == straight.history.to_dict()


def test_a_second_ctrl_c_stops_at_once_and_saves_nothing_half_done(tmp_path, capsys):
    trainer = make_trainer(tmp_path, data_seed=3, interrupt_at_step=6, hard=True)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(3)
    assert not (tmp_path / "interrupted.npz").exists()
    assert "part-way through a step: nothing saved" in capsys.readouterr().err


def test_interrupt_without_out_dir_says_nothing_was_saved(capsys):
    trainer = make_trainer(interrupt_at_step=1)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(1)
    assert "nothing saved" in capsys.readouterr().err


def make_gan_trainer(init_seed=0, critic_steps=2):
    """A WGAN-shaped run from the real layers: two models (batch-norm running statistics in the
    generator, dropout in the critic), two Adams, several critic steps per batch, fresh noise each."""
    tinygdl.manual_seed(init_seed)
    generator = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 2))
    critic = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(8, 1))
    g_opt = Adam(generator.parameters(), lr=1e-2, betas=(0.5, 0.9), eps_convention="keras")
    c_opt = Adam(critic.parameters(), lr=1e-2, betas=(0.5, 0.9), eps_convention="keras")
    real_data = np.random.default_rng(2).normal(loc=3.0, size=(24, 2)).astype(np.float32)
    loader = DataLoader(ArrayDataset(real_data), batch_size=8, shuffle=True, seed=4)

    def step(batch):
        (real,) = batch
        for _ in range(critic_steps):
            fake = generator(tinygdl.randn(len(real), 2)).detach()
            c_loss = critic(fake).mean() - critic(real).mean()
            c_opt.zero_grad()
            c_loss.backward()
            c_opt.step()
        g_loss = -critic(generator(tinygdl.randn(len(real), 2))).mean()
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        return {"c_loss": c_loss, "g_loss": g_loss}

    return Trainer(step, loader, {"generator": generator, "critic": critic},
                   {"generator": g_opt, "critic": c_opt}, progress=False)


def full_state(trainer):
    return [t.numpy().copy() for model in trainer.models.values() for t in model.state_dict().values()]


def test_a_gan_with_two_optimizers_resumes_exactly(tmp_path):
    straight = make_gan_trainer()
    straight.fit(3)
    first = make_gan_trainer()
    first.fit(1)
    path = first.save_checkpoint(tmp_path / "gan.npz")
    resumed = make_gan_trainer(init_seed=8)
    resumed.fit(3, resume=path)
    assert_identical(full_state(resumed), full_state(straight))  # weights and batch-norm running statistics
    assert resumed.history.to_dict() == straight.history.to_dict()


# --------------------------------------------------------------------------- the file


def saved_pieces(tmp_path):
    tinygdl.manual_seed(7)
    trainer = make_trainer(data_seed=11)
    trainer.fit(1)
    history = History()
    history.record_epoch(0, {"loss": 1.5, "val_loss": 1.75})
    path = save_checkpoint(tmp_path / "run.npz", trainer.models, trainer.optimizers, epoch=1, step=4,
                           history=history, loaders={"train": trainer.loader},
                           extra={"zoo": "mlp", "overrides": {"lr": 0.001}})
    return trainer, path, history


def test_round_trip_of_every_piece(tmp_path):
    trainer, path, history = saved_pieces(tmp_path)
    after_save = tinygdl.rand(5).numpy()
    checkpoint = load_checkpoint(path)

    assert (checkpoint.epoch, checkpoint.step) == (1, 4)
    assert checkpoint.history == history.to_dict()
    assert checkpoint.loaders == {"train": {"epoch": 1, "seed": 11}}
    assert checkpoint.extra == {"zoo": "mlp", "overrides": {"lr": 0.001}}
    assert checkpoint.metadata["models"]["net"]["class"].endswith(".TinyNet")
    assert checkpoint.metadata["models"]["net"]["parameters"] == 4 * 8 + 8 + 8 * 3
    for name, tensor in trainer.models["net"].state_dict().items():
        assert np.array_equal(checkpoint.models["net"][name], tensor.numpy())
    saved_state = trainer.optimizers["adam"].state_dict()
    assert checkpoint.optimizers["adam"].keys() == saved_state.keys()
    assert checkpoint.optimizers["adam"]["group.0.eps_convention"] == "torch"
    assert checkpoint.optimizers["adam"]["state.0.step"] == 4

    fresh = make_trainer(init_seed=3, data_seed=0)
    checkpoint.restore(fresh.models, fresh.optimizers, {"train": fresh.loader})
    assert_identical(parameters(fresh), parameters(trainer))
    restored_state = fresh.optimizers["adam"].state_dict()
    for key, value in saved_state.items():
        assert np.array_equal(restored_state[key], value), key
    assert (fresh.loader.epoch, fresh.loader.seed) == (1, 11)
    assert np.array_equal(tinygdl.rand(5).numpy(), after_save)  # the generator continues from the save


def test_the_file_is_a_plain_npz_without_pickles(tmp_path):
    _, path, _ = saved_pieces(tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        keys = set(archive.files)
        assert all(archive[key].dtype != object for key in keys)
    assert "__checkpoint__" in keys and "model/net/w1" in keys and "optimizer/adam/state.0.exp_avg" in keys


def test_a_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    trainer, path, _ = saved_pieces(tmp_path)
    before = open(path, "rb").read()

    def crash_halfway(file, **arrays):
        file.write(b"PK\x03\x04 half a zip archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, trainer.models, trainer.optimizers, epoch=2, step=8)
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["run.npz"]  # the temporary file was removed
    assert load_checkpoint(path).epoch == 1


def test_a_truncated_file_is_reported_by_name(tmp_path):
    _, path, _ = saved_pieces(tmp_path)
    data = open(path, "rb").read()
    for cut in (len(data) // 2, len(data) - 30):
        open(path, "wb").write(data[:cut])
        with pytest.raises(CheckpointError, match="truncated or corrupt") as error:
            load_checkpoint(path)
        assert str(path) in str(error.value)


def test_files_that_are_not_checkpoints(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file at all")
    with pytest.raises(CheckpointError, match="garbage.npz"):
        load_checkpoint(garbage)

    weights = tmp_path / "weights.npz"
    TinyNet().save(weights)  # Module.save: an .npz of arrays, but no checkpoint metadata
    with pytest.raises(CheckpointError, match="not a tinygdl checkpoint.*module.load"):
        load_checkpoint(weights)

    other = tmp_path / "other.npz"
    np.savez(other, __checkpoint__=np.array('{"format": "something else"}'))
    with pytest.raises(CheckpointError, match="not a tinygdl checkpoint"):
        load_checkpoint(other)

    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_checkpoint(tmp_path / "missing.npz")


def test_restore_requires_matching_names(tmp_path):
    _, path, _ = saved_pieces(tmp_path)
    with pytest.raises(CheckpointError, match="models"):
        load_checkpoint(path).restore({"generator": TinyNet()})


def test_bad_names_and_unserialisable_extras_are_refused(tmp_path):
    model = TinyNet()
    with pytest.raises(ValueError, match="no '/'"):
        save_checkpoint(tmp_path / "a.npz", {"a/b": model})
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path / "b.npz", {"net": model}, extra={"array": np.zeros(3)})
    assert not os.listdir(tmp_path)


def test_rng_state_is_the_backend_state(tmp_path):
    tinygdl.manual_seed(4)
    tinygdl.randn(3)
    path = save_checkpoint(tmp_path / "rng.npz", {"net": TinyNet()})
    assert load_checkpoint(path).rng_state == backend.get_rng_state()
