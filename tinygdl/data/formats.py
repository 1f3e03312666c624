"""Parsers for the file formats the datasets come in: IDX, CIFAR's pickled batches and ``.npz``.

Each parser checks what it reads (magic numbers, sizes, shapes, label ranges) and raises
``CorruptFileError`` naming the file, rather than handing a model garbage or failing later with a
puzzling reshape error.

The IDX format (MNIST, Fashion-MNIST), byte by byte:

* bytes 0-1: zero;  byte 2: element type (0x08 = unsigned byte);  byte 3: number of dimensions d;
* then d sizes, each a big-endian 32-bit unsigned integer;
* then the elements, row-major: exactly the product of the sizes of them.

So an image file starts ``00 00 08 03`` (magic number 2051) and a label file ``00 00 08 01`` (2049).
"""

from __future__ import annotations

import gzip
import pickle
import struct
import zipfile
import zlib

import numpy as np

from .errors import CorruptFileError

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path) -> bytes:
    """The bytes of a file, gunzipped if it is gzip-compressed (told by its magic, not its name)."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:  # EOFError: the gzip stream is cut short
        raise CorruptFileError(path, f"damaged or truncated gzip data ({error})") from None


def read_idx(path) -> np.ndarray:
    """Parse an IDX file (plain or gzipped) into an array of its shape and type."""
    raw = read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise CorruptFileError(path, f"not an IDX file (it starts with bytes {raw[:4].hex(' ') or 'nothing'})")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise CorruptFileError(path, "the IDX header is cut short")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        raise CorruptFileError(
            path, f"header announces shape {shape} ({expected} bytes of data) but {found} bytes follow"
            + (" (truncated file?)" if found < expected else ""))
    return np.frombuffer(raw, dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def check_labels(labels: np.ndarray, num_classes: int, path) -> np.ndarray:
    """Return ``labels`` as int64 after checking that every one lies in ``0 .. num_classes - 1``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise CorruptFileError(path, f"labels should be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise CorruptFileError(
            path, f"labels should lie in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def check_same_length(images: np.ndarray, labels: np.ndarray, path) -> None:
    if len(images) != len(labels):
        raise CorruptFileError(path, f"{len(images)} images but {len(labels)} labels")


def check_uint8_images(images: np.ndarray, path, channels: int | None = None) -> np.ndarray:
    """Check an (N, H, W[, C]) uint8 image array; ``channels`` fixes C when given."""
    if images.dtype != np.uint8 or images.ndim != (3 if channels is None else 4):
        raise CorruptFileError(path, f"expected uint8 images, got {images.dtype} of shape {images.shape}")
    if channels is not None and images.shape[-1] != channels:
        raise CorruptFileError(path, f"expected {channels} channels (N, H, W, C), got shape {images.shape}")
    return images


# --------------------------------------------------------------------------- CIFAR-10 pickles


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and plain containers, and nothing else.

    A pickle can name any Python callable to rebuild an object, so loading an untrusted pickle can
    run arbitrary code.  CIFAR's batches only need the three NumPy names below.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_cifar_batch(path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Parse one batch of the CIFAR "python version": ``(images uint8 (N, 32, 32, 3), labels int64)``.

    A batch is a pickled dict with ``b"data"``, an (N, 3072) uint8 array whose rows hold the
    red, green and blue 32x32 planes one after the other, and ``b"labels"``, N integers.
    """
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise CorruptFileError(path, f"not a readable CIFAR batch ({error})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise CorruptFileError(path, "a CIFAR batch should be a dict with b'data' and b'labels'")
    data = np.asarray(batch[b"data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise CorruptFileError(path, f"b'data' should be uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
    labels = check_labels(np.asarray(batch[b"labels"]), num_classes, path)
    check_same_length(data, labels, path)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # planes (N, C, H, W) -> NHWC
    return np.ascontiguousarray(images), labels


# --------------------------------------------------------------------------- npz archives


def read_npz(path, keys, allow_pickle: bool = False, encoding: str = "ASCII") -> dict:
    """Read the arrays ``keys`` from an ``.npz`` archive into a dict, with clear errors.

    ``allow_pickle`` is needed for object arrays (arrays of arrays); like any pickle, only use it
    on files you trust.
    """
    try:
        with np.load(path, allow_pickle=allow_pickle, encoding=encoding) as archive:
            present = sorted(archive.files)
            arrays = {key: archive[key] for key in keys if key in present}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error, pickle.UnpicklingError) as error:
        raise CorruptFileError(path, f"not a readable .npz archive ({error})") from None
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise CorruptFileError(path, f"missing keys {missing} (it has {present})")
    return arrays


def read_text(path) -> str:
    """A UTF-8 text file's contents."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as error:
        raise CorruptFileError(path, f"not UTF-8 text ({error})") from None
