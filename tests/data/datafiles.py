"""Writers of tiny data files in the real formats, for the tests (imported by name: pytest puts
this folder on sys.path)."""

import gzip
import struct
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in IDX format: magic 00 00 08 <ndim>, big-endian sizes, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_file(path: Path, data: bytes, compress: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_idx_dataset(folder, n_train=12, n_test=5, compress=True) -> dict:
    """Write a tiny MNIST-style dataset (random pixels and labels) into ``folder``; return
    ``{"train": (images, labels), "test": (images, labels)}`` as a loader should read them."""
    rng = np.random.default_rng(0)
    written = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        suffix = ".gz" if compress else ""
        write_file(Path(folder) / f"{prefix}-images-idx3-ubyte{suffix}", idx_bytes(images), compress)
        write_file(Path(folder) / f"{prefix}-labels-idx1-ubyte{suffix}", idx_bytes(labels), compress)
        written[split] = (images, labels.astype(np.int64))
    return written
