"""Image datasets: MNIST, Fashion-MNIST, CIFAR-10, the flowers subset and scikit-learn's digits.

Every loader returns NumPy arrays ``(images, labels)``: images uint8, channels-last as stored
(``(N, 28, 28)`` grey, ``(N, 32, 32, 3)`` colour), labels int64.  ``transforms.to_float_nchw``
turns the images into what a model takes.
"""

from __future__ import annotations

import numpy as np

from .download import RemoteFile, extract_folder
from .formats import check_labels, check_same_length, check_uint8_images, read_cifar_batch, read_idx, read_npz
from .paths import DatasetFiles, find_files, locate

SPLITS = ("train", "test")

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FLOWERS12_CLASSES = ("bluebell", "buttercup", "colts-foot", "daisy", "dandelion", "fritillary",
                     "iris", "lily-valley", "pansy", "sunflower", "tigerlily", "windflower")


def _check_split(split: str, allowed=SPLITS) -> str:
    if split not in allowed:
        raise ValueError(f"split must be one of {allowed}, got {split!r}")
    return split


# --------------------------------------------------------------------------- MNIST and Fashion-MNIST

# Published MD5s of the canonical .gz files (verified on download only: packaged copies, such as
# Debian's, are recompressed and differ byte-wise while holding the same data).
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/")
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}


def idx_files(title: str, folder: str, split: str, mirrors, md5s) -> DatasetFiles:
    """The two IDX files (images, labels) of one split of an MNIST-style dataset."""
    prefix = "train" if split == "train" else "t10k"
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    return DatasetFiles(
        title=f"{title} ({split} split)",
        folder=folder,
        files=tuple((name, name[:-len(".gz")]) for name in names),
        remote=tuple(RemoteFile(name, tuple(m + name for m in mirrors), "md5:" + md5s[name]) for name in names),
        source=mirrors[0],
    )


def read_idx_pair(images_path, labels_path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check an IDX image file and its label file."""
    images = check_uint8_images(read_idx(images_path), images_path)
    labels = check_labels(read_idx(labels_path), num_classes, labels_path)
    check_same_length(images, labels, labels_path)
    return images, labels


def load_mnist(split: str = "train", root=None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits: ``(images uint8 (N, 28, 28), labels int64 (N,))``, N = 60,000 or 10,000."""
    spec = idx_files("MNIST", "mnist", _check_split(split), MNIST_MIRRORS, MNIST_MD5)
    return read_idx_pair(*find_files(spec, root, download))


def load_fashion_mnist(split: str = "train", root=None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: like ``load_mnist``; class names in ``FASHION_MNIST_CLASSES``."""
    spec = idx_files("Fashion-MNIST", "fashion-mnist", _check_split(split), FASHION_MNIST_MIRRORS,
                     FASHION_MNIST_MD5)
    return read_idx_pair(*find_files(spec, root, download))


# --------------------------------------------------------------------------- CIFAR-10

CIFAR10_BATCHES = "cifar-10-batches-py"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_PICKLES = DatasetFiles(
    title="CIFAR-10 (python version)",
    folder="cifar10",
    files=tuple((f"{CIFAR10_BATCHES}/{name}",) for name in CIFAR10_TRAIN_FILES + ("test_batch",)),
    remote=(RemoteFile("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                       "md5:c58f30108f718f92721af3b95e74349a"),),
    unpack=lambda folder: extract_folder(folder / "cifar-10-python.tar.gz", folder, CIFAR10_BATCHES),
    source="https://www.cs.toronto.edu/~kriz/cifar.html (or, offline, cifar10-jpeg/test.npz: see load_cifar10)",
)
CIFAR10_NPZ = DatasetFiles(title="CIFAR-10 test set as .npz", folder="cifar10-jpeg", files=(("test.npz",),))
HELD_OUT_EVERY = 5  # the npz's train/test split: every fifth image of each class is held out


def load_cifar10(split: str = "train", root=None, source: str = "auto",
                 download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10: ``(images uint8 (N, 32, 32, 3) NHWC, labels int64)``; class names in ``CIFAR10_CLASSES``.

    ``split`` is ``"train"``, ``"test"`` or ``"all"`` (both).  ``source``:

    * ``"pickle"``: the canonical ``cifar10/cifar-10-batches-py/`` (downloaded if missing):
      50,000 train and 10,000 test images.
    * ``"npz"``: ``cifar10-jpeg/test.npz`` with keys ``x`` (N, 32, 32, 3) uint8 and ``y``.  The
      offline copy holds only the 10,000 *test* images, decoded from JPEG copies (lossy), so
      it is split in two, a fixed split independent of file order: within each class, every fifth
      image (the 5th, 10th, ... of that class in file order) is held out as ``"test"`` (2,000), the
      rest is ``"train"`` (8,000).
    * ``"auto"`` (default): the pickles when they are on disk, else the npz when it is, else
      download the pickles.
    """
    _check_split(split, SPLITS + ("all",))
    if source == "auto":
        offline_only = locate(CIFAR10_PICKLES, root) is None and locate(CIFAR10_NPZ, root) is not None
        source = "npz" if offline_only else "pickle"
    if source == "pickle":
        return _cifar10_from_pickles(split, find_files(CIFAR10_PICKLES, root, download))
    if source == "npz":
        return _cifar10_from_npz(split, find_files(CIFAR10_NPZ, root, download)[0])
    raise ValueError(f"source must be 'auto', 'pickle' or 'npz', got {source!r}")


def _cifar10_from_pickles(split: str, paths) -> tuple[np.ndarray, np.ndarray]:
    wanted = {"train": paths[:5], "test": paths[5:], "all": paths}[split]
    images, labels = zip(*(read_cifar_batch(path) for path in wanted))
    return np.concatenate(images), np.concatenate(labels)


def _cifar10_from_npz(split: str, path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_labelled_npz(path, num_classes=10)
    if split == "all":
        return images, labels
    keep = held_out_mask(labels, HELD_OUT_EVERY) == (split == "test")
    return images[keep], labels[keep]


def held_out_mask(labels: np.ndarray, every: int) -> np.ndarray:
    """True for every ``every``-th example of each class (counting in order, 1-based)."""
    rank_in_class = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        rank_in_class[where] = np.arange(1, len(where) + 1)
    return rank_in_class % every == 0


def read_labelled_npz(path, num_classes: int, extra_keys=()) -> tuple:
    """Read ``x`` (N, H, W, 3) uint8 and ``y`` from an npz, checked; then the ``extra_keys`` arrays."""
    arrays = read_npz(path, ("x", "y") + tuple(extra_keys))
    images = check_uint8_images(arrays["x"], path, channels=3)
    labels = check_labels(arrays["y"], num_classes, path)
    check_same_length(images, labels, path)
    return (images, labels) + tuple(arrays[key] for key in extra_keys)


# --------------------------------------------------------------------------- flowers

FLOWERS12 = DatasetFiles(
    title="The 12-species flowers subset (64x64)",
    folder="flowers12",
    files=(("flowers12_64.npz",),),
    source="a subset of the Oxford 17-category flowers, see https://www.robots.ox.ac.uk/~vgg/data/flowers/17/",
)


def load_flowers(split: str = "all", root=None) -> tuple[np.ndarray, np.ndarray]:
    """960 flower photos, 12 species x 80: ``(images uint8 (N, 64, 64, 3), labels int64)``.

    ``split``: ``"all"`` (960), or the file's own ``"train"`` (720) / ``"test"`` (240) split.
    Species names in ``FLOWERS12_CLASSES``.
    """
    _check_split(split, SPLITS + ("all",))
    path = find_files(FLOWERS12, root, download=False)[0]
    images, labels, train = read_labelled_npz(path, len(FLOWERS12_CLASSES), extra_keys=("train",))
    if split == "all":
        return images, labels
    keep = train.astype(bool) == (split == "train")
    return images[keep], labels[keep]


# --------------------------------------------------------------------------- scikit-learn's digits


def load_digits(raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real 8x8 digits: ``(images (N, 8, 8), labels int64)``; needs no files.

    The stored values are grey levels 0..16.  By default they are rescaled to uint8 0..255
    (``round(v * 255 / 16)``) so that the digits go through the same transforms as MNIST;
    ``raw=True`` returns the original 0..16 values, as uint8.  A tiny stand-in for MNIST in tests.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn: pip install scikit-learn") from None
    digits = sklearn_load_digits()
    values = digits.images if raw else np.rint(digits.images * (255 / 16))
    return values.astype(np.uint8), digits.target.astype(np.int64)
