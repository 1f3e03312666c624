"""tinygdl.data: datasets on disk, their parsers, batching into Tensors, and transforms.

* ``loader``: ``Dataset``, ``ArrayDataset``, ``DataLoader`` (resumable seeded shuffling).
* ``paths`` / ``download``: where files are looked for (``root=``, ``$TINYGDL_DATA``, the cache,
  system folders), checked downloads, ``DatasetNotFoundError`` saying what to put where.
* ``vision``, ``text``, ``music``, ``toy``, ``image_folder``: the book's datasets as NumPy arrays.
* ``transforms``: batch-wise NumPy transforms (scaling, padding, resizing, quantising, one-hot).
"""

from .catalog import LOADERS, get_dataset
from .download import RemoteFile, download_file
from .errors import CorruptFileError, DatasetNotFoundError, DownloadError
from .formats import read_cifar_batch, read_idx, read_npz
from .image_folder import AttributeImageFolder, ImageFolder
from .loader import ArrayDataset, DataLoader, Dataset
from .music import load_jsb_chorales, musegan_bars
from .paths import DatasetFiles, cache_dir, find_files, search_dirs
from .text import (
    CharTokenizer,
    WordTokenizer,
    load_corpus,
    load_text,
    make_windows,
    pack_documents,
    pad_punctuation,
    pad_sequences,
    prepare_language_model,
    split_documents,
    split_input_target,
)
from .toy import make_moons
from .transforms import (
    one_hot,
    pad,
    quantize,
    resize,
    scale_to_symmetric,
    scale_to_unit,
    to_float_nchw,
    to_nchw,
    to_nhwc,
    to_uint8,
)
from .vision import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    FLOWERS12_CLASSES,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_flowers,
    load_mnist,
)

__all__ = [
    "AttributeImageFolder", "ArrayDataset", "CIFAR10_CLASSES", "CharTokenizer", "CorruptFileError",
    "DataLoader", "Dataset", "DatasetFiles", "DatasetNotFoundError", "DownloadError", "FASHION_MNIST_CLASSES",
    "FLOWERS12_CLASSES", "ImageFolder", "LOADERS", "RemoteFile", "WordTokenizer", "cache_dir", "download_file",
    "find_files", "get_dataset", "load_cifar10", "load_digits", "load_fashion_mnist", "load_flowers",
    "load_corpus", "load_jsb_chorales", "load_mnist", "load_text", "make_moons", "make_windows", "musegan_bars",
    "one_hot", "pack_documents", "pad", "pad_punctuation", "pad_sequences", "prepare_language_model", "quantize",
    "read_cifar_batch", "read_idx", "read_npz",
    "resize", "scale_to_symmetric", "scale_to_unit", "search_dirs", "split_documents", "split_input_target",
    "to_float_nchw", "to_nchw", "to_nhwc", "to_uint8",
]
