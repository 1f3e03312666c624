"""Datasets and the DataLoader that cuts them into shuffled batches of Tensors.

A ``Dataset`` hands out examples by index.  Its ``__getitem__`` takes an int (one example), a
slice, or an array of indices (a whole batch at once): a batch is fetched in one go (for arrays by
fancy indexing), never by a Python loop that stacks examples one by one.

The ``DataLoader`` shuffles without hidden state: the order of epoch ``e`` is the permutation drawn
from ``numpy.random.default_rng([seed, e])``.  Nothing but ``(seed, epoch)`` decides it, so a run
resumed from a checkpoint continues with the same batches by calling ``loader.set_epoch(e)``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend


def _as_tuple(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


class Dataset:
    """Base class: a sized collection of examples, each a tuple of arrays.

    Subclasses implement ``__len__`` and ``fetch(indices)``, which returns a tuple of arrays whose
    first axis runs over ``indices``.  ``transform``, if set, is called on every fetched batch as
    ``transform(*arrays)`` and returns an array or a tuple of arrays.
    """

    transform = None

    def __len__(self) -> int:
        raise NotImplementedError

    def fetch(self, indices: np.ndarray) -> tuple:
        """The examples at ``indices`` (a 1-D int64 array), batched: a tuple of arrays."""
        raise NotImplementedError

    def __getitem__(self, index) -> tuple:
        """``dataset[i]`` is one example; ``dataset[indices]`` or ``dataset[a:b]`` is a batch."""
        if isinstance(index, slice):
            index = np.arange(len(self))[index]
        indices = np.asarray(index)
        if indices.dtype == bool:
            indices = np.flatnonzero(indices)
        batch = self.fetch(np.atleast_1d(indices).astype(np.int64))
        if self.transform is not None:
            batch = _as_tuple(self.transform(*batch))
        # One example is a batch of one, unwrapped: the transform always sees whole batches.
        return tuple(array[0] for array in batch) if indices.ndim == 0 else batch


class ArrayDataset(Dataset):
    """Examples stored as arrays with one row each: ``ArrayDataset(images, labels)``."""

    def __init__(self, *arrays, transform=None):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        arrays = tuple(np.asanyarray(array) for array in arrays)
        if len({len(array) for array in arrays}) != 1:
            raise ValueError(f"all arrays need the same length, got {[len(a) for a in arrays]}")
        self.arrays = arrays
        self.transform = transform

    def __len__(self) -> int:
        return len(self.arrays[0])

    def fetch(self, indices: np.ndarray) -> tuple:
        return tuple(array[indices] for array in self.arrays)


class DataLoader:
    """Iterate over a dataset in batches of ``tinygdl.Tensor`` on ``device``.

    * ``shuffle``: a new order every epoch, from ``default_rng([seed, epoch])``.  ``seed=None``
      draws a seed from ``tinygdl.backend.generator()`` once, here, so ``manual_seed`` makes it
      reproducible.
    * ``drop_last``: skip the final, smaller batch.
    * ``transform(*arrays)``: applied to each batch of NumPy arrays (after the dataset's own).
    * Floating arrays become tensors of ``dtype`` (default: the default float type); integer
      arrays, such as labels, become int64.

    ``loader.epoch`` is the epoch the next ``for`` loop runs; it goes up by one when a loop has
    gone through every batch (a loop left early does not count).  ``set_epoch`` sets it.
    """

    def __init__(self, dataset, batch_size: int = 32, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, device="cpu", transform=None, dtype=None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = int(backend.generator().integers(2**63)) if seed is None else int(seed)
        self.device = backend.device(device)
        self.transform = transform
        self.dtype = dtype
        self.epoch = 0

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        count = len(self.dataset) / self.batch_size
        return math.floor(count) if self.drop_last else math.ceil(count)

    def set_epoch(self, epoch: int) -> None:
        """Make the next loop run epoch ``epoch`` (its order depends on nothing else)."""
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The order in which epoch ``epoch`` visits the examples."""
        if not self.shuffle:
            return np.arange(len(self.dataset))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.dataset))

    def __iter__(self):
        epoch = self.epoch
        order = self.order(epoch)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self.make_batch(order[start:start + self.batch_size])
        self.epoch = epoch + 1

    def make_batch(self, indices: np.ndarray) -> tuple:
        """The examples at ``indices`` as a tuple of tensors on the loader's device."""
        arrays = self.dataset[indices]
        if self.transform is not None:
            arrays = _as_tuple(self.transform(*arrays))
        return tuple(self.to_tensor(array) for array in arrays)

    def to_tensor(self, array):
        from ..tensor import Tensor  # imported here: tinygdl.data needs no autograd to load files

        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(self.dtype or backend.get_default_dtype(), copy=False)
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64, copy=False)
        return Tensor(backend.to_device(array, self.device))
