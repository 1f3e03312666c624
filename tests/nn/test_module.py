"""Module, Parameter, buffers, containers, state_dict/save/load (tinygdl/nn/module.py) and the
Keras-style summary (tinygdl/nn/summary.py), checked on the book's MLP and CNN."""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import pytest

import tinygdl
from tinygdl import nn
from tinygdl.testing import assert_close


class Block(nn.Module):
    """A small model with a parameter, a submodule, a persistent and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.fc = nn.Linear(3, 2)
        self.register_buffer("count", np.zeros(1, dtype=np.float32))
        self.register_buffer("mask", np.ones(3, dtype=np.float32), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc(x * self.scale * self.mask)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block()
        self.bn = nn.BatchNorm1d(2)
        self.last = nn.Linear(2, 1)

    def forward(self, x):
        return self.last(self.bn(self.first(x)))


# --------------------------------------------------------------------------- registration


def test_named_parameters_follow_definition_order_depth_first():
    assert [name for name, _ in Net().named_parameters()] == [
        "first.scale", "first.fc.weight", "first.fc.bias", "bn.weight", "bn.bias", "last.weight", "last.bias"]


def test_buffers_and_their_persistence():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == ["first.count", "first.mask", "bn.running_mean", "bn.running_var"]
    assert [n for n, _ in net.named_buffers(persistent_only=True)] == ["first.count", "bn.running_mean",
                                                                      "bn.running_var"]
    assert "first.mask" not in net.state_dict()
    block = Block()
    block.count = np.full(1, 5.0, dtype=np.float32)  # assigning to a buffer name keeps it a buffer
    assert isinstance(block.count, tinygdl.Tensor) and "count" in block.state_dict()
    assert block.note == "plain attribute" and "note" not in block.state_dict()


def test_plain_tensors_are_not_parameters_and_shared_parameters_count_once():
    model = nn.Module()
    model.constant = tinygdl.ones(3)
    layer = nn.Linear(2, 2)
    model.a, model.b = layer, layer
    assert model.parameters() == [layer.weight, layer.bias]
    assert model.num_parameters() == 6


def test_init_must_call_super_first():
    class Forgetful(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\) before assigning attribute 'fc'"):
        Forgetful()


def test_deleting_a_submodule_unregisters_it():
    net = Net()
    del net.last
    assert "last.weight" not in net.state_dict()


# --------------------------------------------------------------------------- freezing, modes, gradients, devices


def test_frozen_parameters_get_no_gradient_and_count_as_non_trainable():
    net = Net()
    net.first.fc.weight.trainable = False
    net(tinygdl.ones(4, 3)).sum().backward()
    assert net.first.fc.weight.grad is None and net.first.fc.bias.grad is not None
    assert net.parameters(trainable=False) == [net.first.fc.weight]
    assert net.num_parameters(trainable=False) == 6
    text = nn.summary(net, (3,), print_fn=None)
    assert "Non-trainable params: 11" in text  # the frozen 6, BatchNorm's 2 + 2 running stats, Block.count
    net.freeze()
    assert net.num_parameters(trainable=True) == 0
    net.unfreeze()
    assert net.num_parameters(trainable=False) == 0


def test_train_and_eval_recurse():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_clears_every_gradient():
    net = Net()
    net(tinygdl.ones(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_moves_and_casts_in_place_keeping_the_parameter_objects():
    net = Net()
    params = net.parameters()
    assert net.to("cpu") is net and net.parameters() == params and net.device == "cpu"
    net.to(dtype=np.float64)
    assert all(t.dtype == np.float64 for t in net.parameters() + net.buffers())
    assert net(tinygdl.ones(4, 3, dtype=np.float64)).dtype == np.float64


def test_forward_hooks_run_after_forward_and_can_be_removed():
    seen = []
    layer = nn.Linear(2, 2)
    remove = layer.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    layer(tinygdl.ones(3, 2))
    remove()
    layer(tinygdl.ones(3, 2))
    assert seen == [(3, 2)]


# --------------------------------------------------------------------------- state_dict, save, load


def test_state_dict_round_trip_copies_values(rng):
    source, target = Net(), Net()
    for t in source.state_dict().values():
        t.data[...] = rng.standard_normal(t.shape)
    target.load_state_dict(source.state_dict())
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert_close(a, b, msg=name)
        assert a.data is not b.data  # copied, not shared


def test_strict_loading_names_missing_and_unexpected_keys():
    state = Net().state_dict()
    del state["last.bias"]
    state["extra"] = tinygdl.zeros(1)
    with pytest.raises(KeyError, match=r"missing keys \['last.bias'\], unexpected keys \['extra'\]"):
        Net().load_state_dict(state)
    Net().load_state_dict(state, strict=False)  # loads what matches


def test_shape_mismatch_names_the_key_and_both_shapes():
    state = Net().state_dict()
    state["first.fc.weight"] = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"'first.fc.weight' has shape \(2, 3\) in the checkpoint but \(3, 2\)"):
        Net().load_state_dict(state)


def test_save_and_load_npz_round_trip(tmp_path, rng):
    source = Net()
    source(tinygdl.tensor(rng.standard_normal((5, 3)), dtype=np.float32))  # moves BN's running stats
    path = tmp_path / "sub" / "net.npz"
    source.save(path)
    target = Net().load(path)
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert_close(a, b, msg=name)
    assert sorted(np.load(path).files) == sorted(source.state_dict())


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    old = Net()
    old.save(path)
    before = path.read_bytes()

    def failing_savez(file, **arrays):
        file.write(b"half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        Net().save(path)
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["net.npz"]  # and no temporary file is left behind


# --------------------------------------------------------------------------- containers


def test_sequential_chains_names_indexes_and_slices():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert len(model) == 3 and isinstance(model[1], nn.ReLU)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and head(tinygdl.ones(1, 3)).shape == (1, 4)
    model.append(nn.Sigmoid())
    assert model(tinygdl.ones(5, 3)).shape == (5, 2) and len(list(model)) == 4
    named = nn.Sequential(OrderedDict(encoder=nn.Linear(3, 2), act=nn.Tanh()))
    assert [n for n, _ in named.named_parameters()] == ["encoder.weight", "encoder.bias"]
    assert "(encoder): Linear(in_features=3, out_features=2, bias=True)" in repr(named)


def test_module_list_and_dict_register_their_modules():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4 and layers[-1].out_features == 1
    assert len(layers.parameters()) == 8 and [type(m) for m in layers] == [nn.Linear] * 4
    heads = nn.ModuleDict({"notes": nn.Linear(4, 3)})
    heads["durations"] = nn.Linear(4, 2)
    assert "durations" in heads and len(heads) == 2 and list(heads) == ["notes", "durations"]
    assert [n for n, _ in heads.named_parameters()][-1] == "durations.bias"
    assert list(heads.keys()) == ["notes", "durations"] and len(list(heads.values())) == len(heads.items())


# --------------------------------------------------------------------------- summary


def mlp():
    """book-models §3.1."""
    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 200), nn.ReLU(), nn.Linear(200, 150), nn.ReLU(),
                         nn.Linear(150, 10), nn.Softmax())


def test_summary_of_the_book_mlp():
    text = nn.summary(mlp(), (3, 32, 32), print_fn=None)
    assert "Total params: 646,260" in text
    assert "Trainable params: 646,260" in text and "Non-trainable params: 0" in text
    rows = [line.split() for line in text.splitlines() if line[:1].isdigit()]
    assert [(r[1], " ".join(r[2:-1]), r[-1]) for r in rows] == [
        ("(Flatten)", "(None, 3072)", "0"), ("(Linear)", "(None, 200)", "614,600"), ("(ReLU)", "(None, 200)", "0"),
        ("(Linear)", "(None, 150)", "30,150"), ("(ReLU)", "(None, 150)", "0"), ("(Linear)", "(None, 10)", "1,510"),
        ("(Softmax)", "(None, 10)", "0")]


def test_summary_prints_and_restores_the_training_mode(capsys):
    model = mlp()
    nn.summary(model, (3, 32, 32))
    assert "Total params: 646,260" in capsys.readouterr().out
    assert model.training


def test_summary_of_the_book_cnn():
    """book-models §3.2: 592,554 parameters, 640 of them BatchNorm's running statistics."""
    if not hasattr(nn, "Conv2d"):
        pytest.skip("tinygdl.nn.Conv2d is not written yet")

    def conv_block(c_in, c_out, stride):
        return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding="same"), nn.BatchNorm2d(c_out), nn.LeakyReLU()]

    model = nn.Sequential(*conv_block(3, 32, 1), *conv_block(32, 32, 2), *conv_block(32, 64, 1),
                          *conv_block(64, 64, 2), nn.Flatten(), nn.Linear(4096, 128), nn.BatchNorm1d(128),
                          nn.LeakyReLU(), nn.Dropout(0.5), nn.Linear(128, 10), nn.Softmax())
    text = nn.summary(model, (3, 32, 32), print_fn=None)
    assert "Total params: 592,554" in text
    assert "Trainable params: 591,914" in text
    assert "Non-trainable params: 640" in text
    rows = [line.split() for line in text.splitlines() if line[:1].isdigit()]
    shapes = [" ".join(r[2:-1]) for r in rows]
    counts = [r[-1] for r in rows]
    assert shapes == (["(None, 32, 32, 32)"] * 3 + ["(None, 32, 16, 16)"] * 3 + ["(None, 64, 16, 16)"] * 3
                      + ["(None, 64, 8, 8)"] * 3 + ["(None, 4096)"] + ["(None, 128)"] * 4 + ["(None, 10)"] * 2)
    assert counts == ["896", "128", "0", "9,248", "128", "0", "18,496", "256", "0", "36,928", "256", "0",
                      "0", "524,416", "512", "0", "0", "1,290", "0"]


def test_summary_counts_buffers_only_when_persistent():
    text = nn.summary(Block(), (3,), print_fn=None)
    assert "Trainable params: 11" in text and "Non-trainable params: 1" in text  # count, not mask


def test_summary_takes_example_inputs_for_integer_models():
    model = nn.Sequential(nn.Embedding(50, 8), nn.LSTM(8, 16))
    text = nn.summary(model, inputs=tinygdl.tensor(np.zeros((2, 7), dtype=np.int64)), print_fn=None)
    assert "(None, 7, 8)" in text and "(None, 7, 16), (None, 16), (None, 16)" in text  # outputs, (h, c)
    assert f"Total params: {50 * 8 + 4 * 16 * (8 + 16 + 1):,}" in text
