"""The Trainer loop, its callbacks and History, and the Keras-style fit / evaluate / predict."""

import csv

import numpy as np
import pytest

import tinygdl
from tinygdl import losses
from tinygdl.data import ArrayDataset, DataLoader
from tinygdl.nn import Module, Parameter
from tinygdl.optim import SGD, Adam
from tinygdl.training import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    ModelCheckpoint,
    SampleSaver,
    Trainer,
    evaluate,
    fit,
    format_logs,
    predict,
)
from tinygdl.training.supervised import accuracy, categorical_crossentropy, resolve_loss


class Probe(Module):
    """A module with a submodule, recording the mode it was called in."""

    def __init__(self):
        super().__init__()
        self.inner = Module()
        self.scale = Parameter(np.ones(1, np.float32))
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, self.inner.training, tinygdl.is_training(), tinygdl.is_grad_enabled()))
        return x * self.scale


def numbers_loader(n=10, batch_size=4, **kwargs):
    """Example i is the float i; batches of 4, 4 and 2."""
    return DataLoader(ArrayDataset(np.arange(n, dtype=np.float32)[:, None]), batch_size=batch_size, **kwargs)


def mean_step(batch):
    return {"mean": batch[0].numpy().mean()}


class Recorder(Callback):
    def __init__(self, name="recorder", events=None):
        self.name, self.events = name, [] if events is None else events

    def on_train_begin(self):
        self.events.append((self.name, "train_begin"))

    def on_epoch_begin(self, epoch):
        self.events.append((self.name, "epoch_begin", epoch))

    def on_batch_end(self, step, logs):
        self.events.append((self.name, "batch_end", step))

    def on_epoch_end(self, epoch, logs):
        self.events.append((self.name, "epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs):
        self.events.append((self.name, "train_end"))


# --------------------------------------------------------------------------- the loop


def test_epoch_means_are_weighted_by_batch_size():
    history = Trainer(mean_step, numbers_loader(), progress=False).fit(2)
    assert history["mean"] == [4.5, 4.5]  # batches of 4, 4 and 2: a plain mean of batch means gives 4.0
    assert history.epoch == [0, 1] and len(history) == 2 and history.last() == {"mean": 4.5}


def test_modes_during_steps_and_evaluation():
    model = Probe()
    model.inner.eval()  # a submodule the user froze in eval mode keeps that mode after validation

    def step(batch):
        model(batch[0])
        return {}

    trainer = Trainer(step, numbers_loader(), {"probe": model}, eval_step=step, val_loader=numbers_loader(),
                      progress=False)
    trainer.fit(1)
    training_calls, eval_calls = model.calls[:3], model.calls[3:]
    assert set(training_calls) == {(True, True, True, True)}  # fit() puts the whole model in train mode
    assert set(eval_calls) == {(False, False, False, False)}
    model.inner.eval()
    with trainer.evaluating():
        assert not model.training and not tinygdl.is_grad_enabled()
    assert model.training and not model.inner.training and tinygdl.is_grad_enabled()


def test_validation_metrics_are_prefixed_and_logged():
    events = []
    trainer = Trainer(mean_step, numbers_loader(), eval_step=lambda batch: {"mean": 2 * batch[0].numpy().mean()},
                      val_loader=numbers_loader(), callbacks=[Recorder(events=events)], progress=False)
    history = trainer.fit(1)
    assert history.history == {"mean": [4.5], "val_mean": [9.0]}
    assert events[-2] == ("recorder", "epoch_end", 0, {"mean": 4.5, "val_mean": 9.0})
    assert trainer.evaluate() == {"mean": 9.0}


def test_callback_hooks_run_in_order_and_checkpoints_last(tmp_path):
    events = []

    class LoggingCheckpoint(ModelCheckpoint):
        def on_epoch_end(self, epoch, logs):
            events.append(("checkpoint", "epoch_end", epoch))

    callbacks = [LoggingCheckpoint(), Recorder("a", events), Recorder("b", events)]
    Trainer(mean_step, numbers_loader(n=8), callbacks=callbacks, out_dir=tmp_path, progress=False).fit(1)
    assert [e[:3] for e in events] == [
        ("a", "train_begin"), ("b", "train_begin"),
        ("a", "epoch_begin", 0), ("b", "epoch_begin", 0),
        ("a", "batch_end", 1), ("b", "batch_end", 1), ("a", "batch_end", 2), ("b", "batch_end", 2),
        ("a", "epoch_end", 0), ("b", "epoch_end", 0), ("checkpoint", "epoch_end", 0),
        ("a", "train_end"), ("b", "train_end"),
    ]


def test_steps_per_epoch_takes_the_first_batches_of_each_epochs_order():
    seen = []
    loader = numbers_loader(n=16, shuffle=True, seed=5)
    trainer = Trainer(lambda batch: seen.append(batch[0].numpy().ravel().tolist()), loader, steps_per_epoch=2,
                      progress=False)
    trainer.fit(3)
    expected = [loader.order(epoch)[start:start + 4].tolist() for epoch in range(3) for start in (0, 4)]
    assert seen == expected
    assert trainer.global_step == 6 and loader.epoch == 3
    with pytest.raises(ValueError, match="steps_per_epoch=5"):
        Trainer(mean_step, numbers_loader(n=16), steps_per_epoch=5, progress=False).fit(1)


def test_per_step_history():
    history = Trainer(mean_step, numbers_loader(), log_steps=True, progress=False).fit(2)
    assert history.step == [1, 2, 3, 4, 5, 6]
    assert history.steps["mean"] == [1.5, 5.5, 8.5] * 2


def test_history_pads_missing_metrics_and_round_trips():
    history = History()
    history.record_epoch(0, {"loss": 1.0})
    history.record_epoch(1, {"loss": 0.5, "val_loss": 0.75})
    assert history["val_loss"][0] != history["val_loss"][0]  # NaN where it was not logged
    copy = History.from_dict(history.to_dict())
    assert copy.epoch == [0, 1] and copy["loss"] == [1.0, 0.5] and copy["val_loss"][1] == 0.75


def test_a_step_must_return_a_dict():
    with pytest.raises(TypeError, match="dict of metric names"):
        Trainer(lambda batch: 1.0, numbers_loader(), progress=False).fit(1)
    with pytest.raises(ValueError, match="eval_step"):
        Trainer(mean_step, numbers_loader(), val_loader=numbers_loader())


def test_progress_bar_shows_keras_style_running_means(capsys):
    Trainer(lambda batch: {"loss": 0.25, "acc": 0.5}, numbers_loader(), progress=True).fit(2)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err
    assert "loss: 0.2500 - acc: 0.5000" in err
    assert format_logs({"loss": 0.2534, "kl": 2e-5}) == "loss: 0.2534 - kl: 2.0000e-05"


# --------------------------------------------------------------------------- callbacks


def test_model_checkpoint_every_n_epochs(tmp_path):
    callback = ModelCheckpoint("ckpt-{epoch:02d}.npz", every=2)
    Trainer(mean_step, numbers_loader(), {"probe": Probe()}, callbacks=[callback], out_dir=tmp_path,
            progress=False).fit(5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-02.npz", "ckpt-04.npz"]
    assert callback.last_path == str(tmp_path / "ckpt-04.npz")
    with pytest.raises(ValueError, match="out_dir"):
        Trainer(mean_step, numbers_loader(), callbacks=[ModelCheckpoint()])


def test_sample_saver_runs_in_eval_mode_without_gradients(tmp_path):
    model = Probe()
    seen = []

    def save_samples(path):
        model(tinygdl.ones(1))
        seen.append(path)
        open(path, "wb").write(b"png")

    by_epoch = SampleSaver(save_samples, every_epochs=2)
    by_step = SampleSaver(save_samples, every_steps=4)
    Trainer(lambda batch: {}, numbers_loader(), {"probe": model}, callbacks=[by_epoch, by_step], out_dir=tmp_path,
            progress=False).fit(3)
    assert seen == [str(tmp_path / "samples" / name) for name in
                    ("step-0000004.png", "epoch-0002.png", "step-0000008.png")]
    assert set(model.calls) == {(False, False, False, False)}
    assert model.training


def test_early_stopping_stops_after_patience_and_reads_the_history():
    val_losses = iter([1.0, 0.5, 0.6, 0.55, 0.4, 0.3])
    stopper = EarlyStopping("val_loss", patience=2, verbose=False)
    trainer = Trainer(lambda batch: {}, numbers_loader(), eval_step=lambda batch: {"loss": value},
                      val_loader=[()], callbacks=[stopper], progress=False)
    for epoch in range(6):
        value = next(val_losses)
        trainer.fit(epoch + 1)
        if trainer.stop_training:
            break
    assert trainer.history["val_loss"] == [1.0, 0.5, 0.6, 0.55] and stopper.stopped_epoch == 3
    assert EarlyStopping("val_accuracy").mode == "max"
    assert EarlyStopping("loss", min_delta=0.1).epochs_without_improvement([1.0, 0.95, 0.85, 0.8]) == 1
    with pytest.raises(KeyError, match="val_loss"):
        Trainer(mean_step, numbers_loader(), callbacks=[EarlyStopping()], progress=False).fit(1)


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    Trainer(mean_step, numbers_loader(), callbacks=[CSVLogger()], out_dir=tmp_path, progress=False).fit(2)
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "mean"], ["1", "4.5"], ["2", "4.5"]]


# --------------------------------------------------------------------------- fit / evaluate / predict


class SoftmaxClassifier(Module):
    """2 features -> 3 classes; outputs probabilities (softmax), or logits with ``logits=True``."""

    def __init__(self, logits=False):
        super().__init__()
        self.weight = Parameter(tinygdl.randn(2, 3) * 0.1)
        self.bias = Parameter(np.zeros(3, np.float32))
        self.logits = logits

    def forward(self, x):
        z = tinygdl.dropout(x, 0.1, training=self.training) @ self.weight + self.bias
        return z if self.logits else tinygdl.softmax(z)


def blobs(n=90, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = np.array([[2.0, 0.0], [-2.0, 1.0], [0.0, -2.0]])
    return (centres[labels] + 0.3 * rng.normal(size=(n, 2))).astype(np.float32), labels


@pytest.mark.parametrize("one_hot, logits", [(False, False), (True, False), (False, True)])
def test_fit_learns_a_classifier(one_hot, logits):
    tinygdl.manual_seed(0)
    x, y = blobs()
    targets = np.eye(3, dtype=np.float32)[y] if one_hot else y
    model = SoftmaxClassifier(logits)
    history = fit(model, x, targets, epochs=8, batch_size=16, optimizer=Adam(model.parameters(), lr=0.05),
                  from_logits=logits, validation_data=blobs(30, seed=1), seed=0, verbose=False)
    assert history.keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history["loss"][-1] < history["loss"][0] / 3
    assert history["val_accuracy"][-1] > 0.95
    result = evaluate(model, x, targets, batch_size=32, from_logits=logits)
    assert result.keys() == {"loss", "accuracy"} and result["accuracy"] > 0.95


def test_evaluate_matches_a_direct_computation():
    tinygdl.manual_seed(1)
    x, y = blobs(20)
    model = SoftmaxClassifier()
    probs = predict(model, x, batch_size=7)
    assert probs.shape == (20, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-6)
    assert np.array_equal(probs, predict(model, x))  # eval mode: no dropout, deterministic
    expected_loss = losses.sparse_categorical_cross_entropy(tinygdl.tensor(probs), y).item()
    result = evaluate(model, x, y, batch_size=7)
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(probs.argmax(axis=1) == y))


def test_probabilities_and_logits_give_the_same_cross_entropy():
    logits = tinygdl.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3]])
    ids = np.array([0, 2])
    one_hot = tinygdl.one_hot(ids, 3)
    from_probs = categorical_crossentropy(tinygdl.softmax(logits), tinygdl.tensor(ids)).item()
    assert categorical_crossentropy(logits, tinygdl.tensor(ids), from_logits=True).item() == pytest.approx(from_probs)
    assert categorical_crossentropy(logits, one_hot, from_logits=True).item() == pytest.approx(from_probs)
    assert resolve_loss("sparse_categorical_crossentropy")(tinygdl.softmax(logits), one_hot).item() == \
        pytest.approx(from_probs)
    with pytest.raises(ValueError, match="unknown loss"):
        resolve_loss("hinge")


def test_accuracy_for_ids_one_hot_and_binary_outputs():
    probs = tinygdl.tensor([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
    assert accuracy(probs, tinygdl.tensor(np.array([0, 1, 1]))) == pytest.approx(2 / 3)
    assert accuracy(probs, tinygdl.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])) == 1.0
    binary = tinygdl.tensor([[0.9], [0.2], [0.6]])
    assert accuracy(binary, tinygdl.tensor([1.0, 0.0, 0.0])) == pytest.approx(2 / 3)
    assert accuracy(tinygdl.tensor([[1.5], [-0.5]]), tinygdl.tensor([1.0, 0.0]), from_logits=True) == 1.0


def test_fit_is_reproducible_and_resumable(tmp_path):
    x, y = blobs(40)

    def run(epochs, out_dir=None, resume=None, init_seed=0):
        tinygdl.manual_seed(init_seed)
        model = SoftmaxClassifier()
        fit(model, x, y, epochs=epochs, batch_size=16, optimizer=SGD(model.parameters(), lr=0.1, momentum=0.9),
            out_dir=out_dir, resume=resume, callbacks=[ModelCheckpoint()] if out_dir else None, verbose=False)
        return model.weight.numpy()

    straight = run(3)
    assert np.array_equal(straight, run(3))
    run(2, out_dir=tmp_path)
    resumed = run(3, out_dir=tmp_path, resume=tmp_path / "checkpoint.npz", init_seed=42)
    assert np.array_equal(resumed, straight)


def test_fit_accepts_a_dataset():
    tinygdl.manual_seed(0)
    x, y = blobs(30)
    model = SoftmaxClassifier()
    history = fit(model, ArrayDataset(x, y), epochs=1, batch_size=10, verbose=False)
    assert len(history) == 1
    assert predict(model, ArrayDataset(x, y)).shape == (30, 3)
    with pytest.raises(ValueError, match="not a Dataset and y"):
        fit(model, ArrayDataset(x, y), y, verbose=False)
