"""Datasets and the DataLoader: indexing, batching, shuffling, resuming, tensor conversion."""

import numpy as np
import pytest

from tinygdl import backend
from tinygdl.data import ArrayDataset, DataLoader, Dataset
from tinygdl.tensor import Tensor


def numbers(n=10):
    """A dataset whose example i is (float row [i, i], label i)."""
    x = np.repeat(np.arange(n, dtype=np.float64)[:, None], 2, axis=1)
    return ArrayDataset(x, np.arange(n))


def labels_seen(loader):
    return [batch[1].numpy().tolist() for batch in loader]


# --------------------------------------------------------------------------- datasets


def test_array_dataset_indexing():
    dataset = numbers()
    x, y = dataset[3]
    assert x.tolist() == [3.0, 3.0] and y == 3
    x, y = dataset[np.array([4, 1, -1])]
    assert x.shape == (3, 2) and y.tolist() == [4, 1, 9]
    assert dataset[2:5][1].tolist() == [2, 3, 4]
    assert dataset[np.arange(10) % 3 == 0][1].tolist() == [0, 3, 6, 9]
    assert len(dataset) == 10


def test_array_dataset_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="same length"):
        ArrayDataset(np.zeros(3), np.zeros(4))


def test_transform_sees_whole_batches_even_for_one_example():
    shapes = []

    def transform(x, y):
        shapes.append(x.shape)
        return x * 2, y

    dataset = ArrayDataset(np.ones((5, 2)), np.arange(5), transform=transform)
    assert dataset[1][0].tolist() == [2.0, 2.0]
    assert dataset[np.array([0, 1, 2])][0].shape == (3, 2)
    assert shapes == [(1, 2), (3, 2)]


def test_a_transform_may_return_a_single_array():
    dataset = ArrayDataset(np.ones((4, 2)), transform=lambda x: x + 1)
    (x,) = dataset[np.array([0, 1])]
    assert x.tolist() == [[2, 2], [2, 2]]


def test_batch_fetch_is_one_fancy_index_not_a_loop():
    class CountingArray(np.ndarray):
        calls = 0

        def __getitem__(self, index):
            CountingArray.calls += 1
            return np.asarray(self).__getitem__(index)

    data = np.arange(100).view(CountingArray)
    ArrayDataset(data)[np.arange(50)]
    assert CountingArray.calls == 1


# --------------------------------------------------------------------------- loader


def test_batches_in_order_with_a_short_last_batch():
    loader = DataLoader(numbers(10), batch_size=4, seed=0)
    assert len(loader) == 3
    assert labels_seen(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_drop_last():
    loader = DataLoader(numbers(10), batch_size=4, drop_last=True, seed=0)
    assert len(loader) == 2
    assert labels_seen(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(numbers(8), batch_size=4, drop_last=True, seed=0)) == 2


def test_batches_are_tensors_float_default_dtype_and_int64():
    x, y = next(iter(DataLoader(numbers(), batch_size=3, seed=0)))
    assert isinstance(x, Tensor) and isinstance(y, Tensor)
    assert x.dtype == backend.get_default_dtype() and y.dtype == np.int64
    assert str(x.device) == "cpu" and not x.requires_grad


def test_dtype_option_and_uint8_become_int64():
    dataset = ArrayDataset(np.zeros((4, 2), np.float32), np.zeros(4, np.uint8))
    x, y = next(iter(DataLoader(dataset, batch_size=2, dtype=np.float64, seed=0)))
    assert x.dtype == np.float64 and y.dtype == np.int64


def test_loader_transform_runs_on_numpy_batches():
    loader = DataLoader(numbers(), batch_size=5, seed=0, transform=lambda x, y: (x / 10, y))
    x, _ = next(iter(loader))
    np.testing.assert_allclose(x.numpy()[:, 0], [0, 0.1, 0.2, 0.3, 0.4], rtol=1e-6)


def test_shuffle_visits_every_example_once_and_changes_each_epoch():
    loader = DataLoader(numbers(10), batch_size=3, shuffle=True, seed=1)
    first, second = sum(labels_seen(loader), []), sum(labels_seen(loader), [])
    assert sorted(first) == sorted(second) == list(range(10))
    assert first != second and loader.epoch == 2


def test_shuffle_order_is_the_documented_permutation():
    loader = DataLoader(numbers(10), batch_size=10, shuffle=True, seed=7)
    loader.set_epoch(3)
    expected = np.random.default_rng([7, 3]).permutation(10)
    assert labels_seen(loader) == [expected.tolist()]


def test_same_seed_same_batches():
    def run(seed):
        loader = DataLoader(numbers(20), batch_size=6, shuffle=True, seed=seed)
        return [labels_seen(loader) for _ in range(3)]

    assert run(5) == run(5) and run(5) != run(6)


def test_set_epoch_resumes_the_same_order():
    full = DataLoader(numbers(20), batch_size=6, shuffle=True, seed=3)
    epochs = [labels_seen(full) for _ in range(4)]
    resumed = DataLoader(numbers(20), batch_size=6, shuffle=True, seed=3)
    resumed.set_epoch(2)
    assert [labels_seen(resumed) for _ in range(2)] == epochs[2:]


def test_an_abandoned_epoch_is_not_counted():
    loader = DataLoader(numbers(10), batch_size=2, shuffle=True, seed=0)
    first_batch = next(iter(loader))[1].numpy().tolist()
    assert loader.epoch == 0
    assert labels_seen(loader)[0] == first_batch


@pytest.fixture
def restore_rng():
    state = backend.get_rng_state()
    yield
    backend.set_rng_state(state)


def test_seed_none_follows_manual_seed(restore_rng):
    backend.manual_seed(123)
    a = DataLoader(numbers(), shuffle=True)
    backend.manual_seed(123)
    b = DataLoader(numbers(), shuffle=True)
    c = DataLoader(numbers(), shuffle=True)
    assert a.seed == b.seed != c.seed


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(numbers(), batch_size=0)


def test_a_custom_dataset_only_needs_len_and_fetch():
    class Squares(Dataset):
        def __len__(self):
            return 6

        def fetch(self, indices):
            return (indices ** 2,)

    assert [b[0].numpy().tolist() for b in DataLoader(Squares(), batch_size=4, seed=0)] == [[0, 1, 4, 9], [16, 25]]


@pytest.mark.gpu
def test_batches_on_the_gpu():
    x, y = next(iter(DataLoader(numbers(), batch_size=4, device="cuda", seed=0)))
    assert str(x.device).startswith("cuda") and backend.is_cupy_array(y.data)
    assert y.numpy().tolist() == [0, 1, 2, 3]
