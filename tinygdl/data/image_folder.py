"""Datasets of image files on disk, decoded when fetched.

Two layouts:

* ``ImageFolder(root)``: one sub-folder per class, ``root/<class name>/<image file>``; labels are
  class numbers in alphabetical order of the folder names (as Keras' and torchvision's loaders).
* ``AttributeImageFolder(root, csv)``: one flat folder of images plus a CSV of attributes, the
  layout of CelebA's ``list_attr_celeba.csv``: a header ``image_id,<attribute>,<attribute>,...``
  and one row per image, its file name then one -1 / +1 per attribute.

Images come out channels-last like every loader: ``(N, H, W, 3)`` for ``mode="RGB"``,
``(N, H, W, 1)`` for ``mode="L"`` (grey), as uint8.  With ``image_size`` every image is resized
(bilinear, half-pixel centres, no antialiasing, aspect ratio not kept, as Keras'
``image_dataset_from_directory``) and, like there, comes out as float32 values in [0, 255].
Without it, all images of a batch must already have the same size.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import CorruptFileError
from .loader import Dataset
from .transforms import resize

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".webp")
MODES = ("RGB", "L")


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


class ImageFiles(Dataset):
    """Image files with one target row each; images are decoded when fetched."""

    def __init__(self, paths, targets, image_size=None, mode: str = "RGB", transform=None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.paths = list(paths)
        self.targets = np.asarray(targets, dtype=np.int64)
        self.image_size = image_size
        self.mode = mode
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def load_image(self, index: int) -> np.ndarray:
        """Decode one image into an (H, W, C) array, resized if ``image_size`` was given."""
        path = self.paths[index]
        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert(self.mode))
        except FileNotFoundError:
            raise
        except OSError as error:  # PIL's "cannot identify image file", truncated data ...
            raise CorruptFileError(path, f"not a readable image ({error})") from None
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if self.image_size is not None:
            pixels = resize(pixels.transpose(2, 0, 1), self.image_size).transpose(1, 2, 0)
        return pixels

    def fetch(self, indices: np.ndarray) -> tuple:
        images = [self.load_image(i) for i in indices]  # one file per image: a loop is unavoidable
        if len({image.shape for image in images}) > 1:
            raise ValueError("images of different sizes cannot form a batch: pass image_size= to resize them")
        return np.stack(images), self.targets[indices]


class ImageFolder(ImageFiles):
    """Images sorted into one sub-folder per class; ``classes`` lists the class names."""

    def __init__(self, root, image_size=None, mode: str = "RGB", transform=None):
        root = Path(root)
        self.classes = sorted(d.name for d in root.iterdir() if d.is_dir())
        paths, labels = [], []
        for label, name in enumerate(self.classes):
            files = image_files(root / name)
            paths += files
            labels += [label] * len(files)
        if not paths:
            raise FileNotFoundError(f"no images in {root}: expected {root}/<class name>/<image file>")
        super().__init__(paths, labels, image_size, mode, transform)


class AttributeImageFolder(ImageFiles):
    """A flat folder of images labelled by a CSV of -1/+1 attributes (CelebA's layout).

    ``attributes`` picks columns (e.g. ``["Blond_Hair"]``); all by default.  Targets are the int64
    values -1 / +1, shape (N, number of attributes), named by ``self.attributes``.
    """

    def __init__(self, root, attributes_csv, attributes=None, image_size=None, mode: str = "RGB",
                 transform=None):
        root = Path(root)
        names, file_names, values = read_attribute_csv(attributes_csv)
        if attributes is not None:
            unknown = [a for a in attributes if a not in names]
            if unknown:
                raise ValueError(f"unknown attributes {unknown}; {attributes_csv} has {names}")
            values = values[:, [names.index(a) for a in attributes]]
            names = list(attributes)
        self.attributes = names
        super().__init__([root / f for f in file_names], values, image_size, mode, transform)


def read_attribute_csv(path) -> tuple[list[str], list[str], np.ndarray]:
    """Parse a CelebA-style attribute CSV into (attribute names, file names, (N, A) int64 of +-1)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or len(rows[0]) < 2 or rows[0][0] != "image_id":
        raise CorruptFileError(path, "expected a header 'image_id,<attribute>,...'")
    header, body = rows[0], [row for row in rows[1:] if row]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header) or any(value.strip() not in ("-1", "1") for value in row[1:]):
            expected = f"a file name and {len(header) - 1} values of -1 or 1"
            raise CorruptFileError(path, f"line {line}: expected {expected}")
    values = np.array([[int(v) for v in row[1:]] for row in body], dtype=np.int64).reshape(len(body), -1)
    return header[1:], [row[0] for row in body], values
