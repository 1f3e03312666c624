"""Training runs that never lose work and never lie (issue 10), at the library level: divergence
(``on_nan``), checkpoints that refuse non-finite weights and damaged files, stale temporary files,
and recipe settings checked before any work."""

import json
import os
import signal

import numpy as np
import pytest

import tinygdl
from tinygdl import nn, zoo
from tinygdl.checkpoint import load_checkpoint, save_checkpoint
from tinygdl.data import ArrayDataset, DataLoader
from tinygdl.errors import CheckpointError, ConfigError, TrainingError
from tinygdl.nn.module import save_arrays
from tinygdl.optim import SGD, Adam
from tinygdl.training import ModelCheckpoint, Trainer


def regression_trainer(out_dir, lr_by_step, on_nan="stop", epochs_data=12, poison=False):
    """A linear regression whose learning rate at step k is ``lr_by_step(k)`` (a huge one diverges);
    ``poison``: one example is NaN (a bad record), so one batch per epoch gives a NaN loss."""
    tinygdl.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(epochs_data, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    if poison:
        x[5, 1] = np.nan
    loader = DataLoader(ArrayDataset(x, y), batch_size=4, shuffle=True, seed=1)
    count = [0]

    def step(batch):
        count[0] += 1
        optimizer.param_groups[0]["lr"] = lr_by_step(count[0])
        optimizer.zero_grad()
        loss = tinygdl.losses.mse_loss(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return {"loss": loss}

    return Trainer(step, loader, {"model": model}, {"optimizer": optimizer}, out_dir=out_dir,
                   callbacks=[ModelCheckpoint()] if out_dir else [], progress=False, on_nan=on_nan)


def explodes_from(step):
    return lambda k: 1e30 if k >= step else 0.01


# --------------------------------------------------------------------------- divergence


def test_a_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    trainer = regression_trainer(tmp_path, explodes_from(5))  # 3 steps per epoch: epoch 1 is clean
    with pytest.raises(TrainingError) as error:
        trainer.fit(4)
    message = str(error.value)
    assert "diverged at step" in message and "loss = " in message and "learning rate" in message
    assert str(tmp_path / "checkpoint.npz") in message  # the good file it kept, named
    saved = load_checkpoint(tmp_path / "checkpoint.npz")
    assert saved.epoch == 1 and not saved.non_finite()
    assert not (tmp_path / "interrupted.npz").exists()


def test_weights_that_go_non_finite_are_never_saved(tmp_path):
    trainer = regression_trainer(tmp_path, lambda k: 0.01)
    trainer.fit(1)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    trainer.models["model"].weight.data[0, 0] = np.nan
    with pytest.raises(TrainingError, match="weights are not finite.*weight.*checkpoint.npz, is kept"):
        trainer.save_checkpoint(tmp_path / "checkpoint.npz")
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    trainer.on_nan = "ignore"  # ignore: a warning, and still no file from those weights
    assert trainer.save_checkpoint(tmp_path / "checkpoint.npz") is None
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


def test_skip_batch_undoes_the_diverging_step():
    trainer = regression_trainer(None, lambda k: 0.01, on_nan="skip-batch", poison=True)
    trainer.fit(2)
    assert trainer.skipped_steps == 2  # the batch holding the bad record, once per epoch
    assert np.isfinite(trainer.models["model"].weight.numpy()).all()
    assert all(np.isfinite(trainer.history["loss"]))


def test_ignore_keeps_going():
    trainer = regression_trainer(None, explodes_from(2), on_nan="ignore")
    trainer.fit(2)
    assert trainer.epoch == 2 and not np.isfinite(trainer.history["loss"][-1])
    with pytest.raises(ConfigError, match="on_nan"):
        regression_trainer(None, explodes_from(2), on_nan="sometimes")


def test_a_checkpoint_with_non_finite_weights_is_refused_on_resume(tmp_path):
    model = nn.Linear(3, 1)
    model.weight.data[...] = np.inf
    with pytest.raises(CheckpointError, match="not finite"):
        save_checkpoint(tmp_path / "bad.npz", {"model": model})
    path = save_checkpoint(tmp_path / "bad.npz", {"model": model}, allow_non_finite=True)
    trainer = regression_trainer(tmp_path, lambda k: 0.01)
    with pytest.raises(CheckpointError, match="non-finite weights.*cannot be resumed"):
        trainer.fit(2, resume=path)


# --------------------------------------------------------------------------- damaged files


def small_checkpoint(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = Adam(model.parameters())
    optimizer.zero_grad()
    model(tinygdl.randn(4, 3)).sum().backward()
    optimizer.step()
    return model, optimizer, save_checkpoint(tmp_path / "ckpt.npz", {"model": model}, {"optimizer": optimizer})


def rewrite(path, edit):
    """Rewrite an .npz checkpoint with ``edit(arrays, meta)`` applied."""
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays["__checkpoint__"]))
    edit(arrays, meta)
    arrays["__checkpoint__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def test_random_bytes_are_not_an_archive_and_get_no_pickle_hint(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert "not an .npz (zip) archive" in str(error.value) and "pickle" not in str(error.value)


@pytest.mark.parametrize("edit, message", [
    (lambda arrays, meta: meta.update(epoch="three"), "'epoch' should be a int but is a str"),
    (lambda arrays, meta: meta.pop("model_names"), "'model_names' should be a list but is missing"),
    (lambda arrays, meta: meta.update(step=-4), "epoch 0, step -4"),
    (lambda arrays, meta: meta.update(model_names=["other"]), "arrays of model 'model'"),
])
def test_edited_metadata_is_named(tmp_path, edit, message):
    *_, path = small_checkpoint(tmp_path)
    rewrite(path, edit)
    with pytest.raises(CheckpointError, match="edited or damaged") as error:
        load_checkpoint(path)
    assert message in str(error.value)


def test_a_missing_optimizer_entry_is_named_in_words(tmp_path):
    model, optimizer, path = small_checkpoint(tmp_path)
    rewrite(path, lambda arrays, meta: arrays.pop("optimizer/optimizer/state.1.exp_avg_sq"))
    before = optimizer.state_dict()
    with pytest.raises(CheckpointError, match="lacks the exp_avg_sq of parameter 1"):
        load_checkpoint(path).restore({"model": model}, {"optimizer": optimizer})
    assert all(np.array_equal(optimizer.state_dict()[k], v) for k, v in before.items())


def test_a_killed_saves_temporary_file_is_removed_by_the_next_save(tmp_path):
    stale = tmp_path / ".checkpoint.npz.999999999.abc123.tmp.npz"  # no such process
    stale.write_bytes(b"PK\x03\x04 half an archive")
    ours = tmp_path / f".other.npz.{os.getpid()}.live.tmp.npz"  # a save of this (live) process: kept
    ours.write_bytes(b"")
    save_arrays(tmp_path / "weights.npz", {"a": np.zeros(2)})
    assert not stale.exists() and ours.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([ours.name, "weights.npz"])


# --------------------------------------------------------------------------- settings before any work


@pytest.mark.parametrize("model, settings, message", [
    ("cnn", {"limit": 0}, "limit must be a whole number of at least 1"),
    ("cnn", {"limit": "-5"}, "limit must be a whole number of at least 1"),
    ("cnn", {"batch_size": "0"}, "batch_size must be a whole number"),
    ("vae_fashion", {"latent_dim": "0"}, "latent_dim must be"),
    ("cnn", {"lr": "-1"}, "lr must be a positive number"),
    ("cnn", {"lr": "abc"}, "setting lr: expected a float, got 'abc'"),
    ("cnn", {"dropout": "1.5"}, r"dropout must be in \[0, 1\)"),
    ("cgan", {"sample_class": "unicorn"}, "no class 'unicorn'"),
    ("wgan", {"only_class": "unicorn"}, "not a class of cifar10"),
])
def test_bad_settings_are_refused_when_the_recipe_is_made(model, settings, message):
    with pytest.raises(ConfigError, match=message):
        zoo.recipe(model, **settings)


def test_networks_that_cannot_run_are_refused_before_the_data(monkeypatch):
    recipe = zoo.recipe("vae_fashion", "digits", image_size=3)
    monkeypatch.setattr(recipe, "load_data", lambda: pytest.fail("the data must not be loaded"))
    with pytest.raises(ConfigError, match="image_size 3"):
        recipe.check_networks(recipe.build())


def test_end_of_run_settings_are_checked_right_after_loading():
    recipe = zoo.recipe("vae_fashion", "digits", attribute="Smiling")
    with pytest.raises(ConfigError, match="unknown attribute 'Smiling'.*digits has 0, 1"):
        recipe.check_data()
    zoo.recipe("vae_fashion", "digits", attribute="7").check_data()


def test_ctrl_c_during_validation_stops_after_the_epoch(tmp_path):
    tinygdl.manual_seed(0)
    model = nn.Linear(3, 1)
    data = DataLoader(ArrayDataset(np.ones((8, 3), np.float32)), batch_size=4)
    asked = []

    def evaluate(batch):
        if not asked:
            asked.append(1)
            signal.raise_signal(signal.SIGINT)
        return {"value": model(batch[0]).mean()}

    trainer = Trainer(lambda batch: {}, data, {"model": model}, eval_step=evaluate, val_loader=data,
                      out_dir=tmp_path, progress=False)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(3)
    saved = load_checkpoint(tmp_path / "interrupted.npz")
    assert (saved.epoch, saved.trainer_state["batch_in_epoch"]) == (1, 0)  # the epoch was finished first
    assert saved.history["history"]["val_value"]
