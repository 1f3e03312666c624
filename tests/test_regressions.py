"""Regression tests for bugs found in review (each test names the behaviour it pins)."""

import numpy as np
import pytest

import tinygdl
from tinygdl import nn, optim


def test_truth_value_of_tensors():
    assert not tinygdl.tensor([0.0]) and tinygdl.tensor(2.0)
    assert bool(tinygdl.tensor(1.0) < tinygdl.tensor(2.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tinygdl.tensor([1.0, 2.0]))


def test_grad_through_a_freed_graph_says_so():
    x = tinygdl.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        tinygdl.grad(y, [x])


def test_cumulative_ops_flatten_when_axis_is_none():
    x = tinygdl.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(tinygdl.cumsum(x, axis=None).numpy(), np.cumsum(np.arange(6.0)))
    np.testing.assert_array_equal(tinygdl.cumprod(x + 1, axis=None).numpy(), np.cumprod(np.arange(6.0) + 1))


def test_mean_of_nothing_is_nan():
    assert np.isnan(tinygdl.zeros(0).mean().item())


def test_embedding_accepts_a_list_of_ids():
    w = tinygdl.randn(4, 2)
    np.testing.assert_array_equal(tinygdl.embedding([1, 3], w).numpy(), w.numpy()[[1, 3]])


def test_sequential_append_never_overwrites_a_named_layer():
    first, second, third = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    model = nn.Sequential({"2": first, "x": second})
    model.append(third)
    assert list(model) == [first, second, third]


def test_summary_keeps_each_modules_own_mode():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    model[1].eval()
    nn.summary(model, (3,), print_fn=None)
    assert model.training and model[0].training and not model[1].training


def test_batchnorm_default_momentum_follows_the_convention():
    assert nn.BatchNorm2d(3).new_value_weight == pytest.approx(0.01)  # Keras 0.99
    assert nn.BatchNorm2d(3, momentum_convention="torch").new_value_weight == pytest.approx(0.1)


def test_optimizer_state_follows_the_model_to_another_dtype():
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters())
    for _ in range(2):
        opt.zero_grad()
        model(tinygdl.randn(4, 3, dtype=model.weight.dtype)).sum().backward()
        opt.step()
        model.to(dtype=np.float64)
    states = [v for s in opt.state.values() for v in s.values() if hasattr(v, "dtype")]
    assert states and all(v.dtype == np.float64 for v in states)


def test_arange_of_numpy_integers_is_integer():
    assert tinygdl.arange(np.int64(3)).dtype == np.int64


# --------------------------------------------------------------------------- issue 10: the library refuses bad input


@pytest.mark.parametrize("data", ["abc", b"abc", np.array([1, "a"], dtype=object), [1.0, None], np.array(["x"])])
def test_tensor_refuses_text_and_objects(data):
    with pytest.raises(tinygdl.errors.DtypeError, match="tensor\\(\\) takes numbers"):
        tinygdl.tensor(data)


def test_a_layer_refuses_a_python_list_naming_itself():
    with pytest.raises(tinygdl.errors.DtypeError, match=r"Linear\(.*Python list; pass a Tensor"):
        nn.Linear(2, 1)([[1.0, 2.0]])
    assert nn.Embedding(5, 2)([1, 3]).shape == (2, 2)  # ids: Embedding takes lists


@pytest.mark.parametrize("dtype, words", [(np.float64, "float64 input to a float32 layer"),
                                          (np.int64, "an integer input to a float32 layer")])
def test_a_float32_layer_refuses_other_dtypes_naming_both(dtype, words):
    layer = nn.Conv2d(1, 2, 3)
    with pytest.raises(tinygdl.errors.DtypeError, match=r"Conv2d\(.*input dtype .* float32 weights") as error:
        layer(tinygdl.tensor(np.ones((1, 1, 4, 4), dtype)))
    assert words in str(error.value) and np.dtype(dtype).name in str(error.value)
    assert layer.to(dtype=np.float64)(tinygdl.tensor(np.ones((1, 1, 4, 4)))).dtype == np.float64


@pytest.mark.parametrize("loss", ["mse_loss", "mae_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_losses_refuse_a_target_that_broadcasts_the_prediction(loss):
    fn = getattr(tinygdl.losses, loss)
    prediction = tinygdl.full((4, 1), 0.5)
    with pytest.raises(tinygdl.errors.ShapeError, match=r"prediction \(4, 1\) and target \(4,\).*\(4, 4\)"):
        fn(prediction, tinygdl.full((4,), 0.5))
    assert fn(prediction, tinygdl.full((4, 1), 0.5)).shape == ()
    fn(prediction, 0.5)  # a scalar target is fine


def test_load_state_dict_checks_every_shape_before_writing():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    state = {key: np.full(t.shape, 7.0, np.float32) for key, t in model.state_dict().items()}
    state["1.weight"] = np.zeros((5, 5), np.float32)  # the last key is wrong; the first ones are fine
    before = [t.numpy().copy() for t in model.state_dict().values()]
    with pytest.raises(tinygdl.errors.ShapeError, match="'1.weight' has shape \\(5, 5\\).*nothing was loaded"):
        model.load_state_dict(state)
    assert all(np.array_equal(a, t.numpy()) for a, t in zip(before, model.state_dict().values()))


def test_tuple_settings_read_back_from_a_checkpoint_are_tuples():
    """A checkpoint's JSON records tuples as lists; resuming compares them as the settings they are."""
    from tinygdl.zoo.recipe import _coerce

    assert _coerce([16, 32], (32, 64, 96), "widths") == (16, 32)
    assert _coerce("16,32", (32, 64, 96), "widths") == (16, 32)
