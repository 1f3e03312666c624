"""Image folders (one folder per class, or flat + CelebA-style attribute CSV), made with PIL."""

import numpy as np
import pytest
from PIL import Image

from tinygdl.data import AttributeImageFolder, CorruptFileError, DataLoader, ImageFolder, resize


def save_image(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return array


@pytest.fixture
def class_folders(tmp_path):
    """cats/ holds two 6x4 images, dogs/ one; plus a stray text file to be ignored."""
    rng = np.random.default_rng(0)
    images = {}
    for name in ("dogs/d1.png", "cats/c2.png", "cats/c1.png"):
        images[name] = save_image(tmp_path / name, rng.integers(0, 256, size=(6, 4, 3), dtype=np.uint8))
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    return tmp_path, images


def test_image_folder_labels_by_sorted_class_names(class_folders):
    root, images = class_folders
    dataset = ImageFolder(root)
    assert dataset.classes == ["cats", "dogs"] and len(dataset) == 3
    x, y = dataset[np.arange(3)]
    assert x.shape == (3, 6, 4, 3) and x.dtype == np.uint8 and y.tolist() == [0, 0, 1]
    np.testing.assert_array_equal(x[0], images["cats/c1.png"])
    np.testing.assert_array_equal(dataset[2][0], images["dogs/d1.png"])


def test_image_folder_resize_and_grey(class_folders):
    root, images = class_folders
    dataset = ImageFolder(root, image_size=(3, 2), mode="L")
    x, _ = dataset[np.array([0, 1])]
    assert x.shape == (2, 3, 2, 1) and x.dtype == np.float32
    grey = np.asarray(Image.fromarray(images["cats/c1.png"]).convert("L"))
    np.testing.assert_allclose(x[0, :, :, 0], resize(grey[None], (3, 2))[0])


def test_image_folder_through_a_loader(class_folders):
    root, _ = class_folders
    batches = list(DataLoader(ImageFolder(root, image_size=8), batch_size=2, shuffle=True, seed=0))
    assert [tuple(b[0].shape) for b in batches] == [(2, 8, 8, 3), (1, 8, 8, 3)]


def test_images_of_different_sizes_need_image_size(tmp_path):
    save_image(tmp_path / "a" / "1.png", np.zeros((4, 4, 3), np.uint8))
    save_image(tmp_path / "a" / "2.png", np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="image_size"):
        ImageFolder(tmp_path)[np.array([0, 1])]


def test_corrupt_image_names_the_file(tmp_path):
    save_image(tmp_path / "a" / "good.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "a" / "bad.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(CorruptFileError, match=r"bad\.jpg: not a readable image"):
        ImageFolder(tmp_path)[0]


def test_empty_image_folder(tmp_path):
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        ImageFolder(tmp_path)


def write_celeba(tmp_path, rows):
    csv = tmp_path / "list_attr_celeba.csv"
    csv.write_text("image_id,Bald,Blond_Hair,Smiling\n" + "".join(f"{r}\n" for r in rows))
    return csv


def test_attribute_folder(tmp_path):
    for name in ("000001.jpg", "000002.jpg"):
        save_image(tmp_path / "img" / name, np.full((8, 8, 3), 200, np.uint8))
    csv = write_celeba(tmp_path, ["000001.jpg,-1,1,1", "000002.jpg,1,-1,-1"])
    dataset = AttributeImageFolder(tmp_path / "img", csv)
    assert dataset.attributes == ["Bald", "Blond_Hair", "Smiling"]
    x, y = dataset[np.arange(2)]
    assert x.shape == (2, 8, 8, 3) and y.tolist() == [[-1, 1, 1], [1, -1, -1]]
    blond = AttributeImageFolder(tmp_path / "img", csv, attributes=["Blond_Hair"], image_size=4)
    x, y = blond[np.arange(2)]
    assert x.shape == (2, 4, 4, 3) and y.tolist() == [[1], [-1]]
    with pytest.raises(ValueError, match="unknown attributes"):
        AttributeImageFolder(tmp_path / "img", csv, attributes=["Wings"])


@pytest.mark.parametrize("rows", [["000001.jpg,-1,1"], ["000001.jpg,0,1,1"]])
def test_bad_attribute_rows(tmp_path, rows):
    with pytest.raises(CorruptFileError, match="line 2"):
        AttributeImageFolder(tmp_path, write_celeba(tmp_path, rows))


def test_attribute_csv_needs_its_header(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("name,Bald\nx.jpg,1\n")
    with pytest.raises(CorruptFileError, match="image_id"):
        AttributeImageFolder(tmp_path, csv)
