"""Image dataset loaders: on tiny generated files, and on the real files when they are present."""

import dataclasses
import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest
from datafiles import idx_bytes, write_file, write_idx_dataset

from tinygdl.data import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    FLOWERS12_CLASSES,
    CorruptFileError,
    DatasetNotFoundError,
    RemoteFile,
    cache_dir,
    get_dataset,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_flowers,
    load_mnist,
    vision,
)

# --------------------------------------------------------------------------- MNIST-style, generated


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_from_generated_files(tmp_path, split, compress):
    written = write_idx_dataset(tmp_path / "mnist", compress=compress)
    images, labels = load_mnist(split, root=tmp_path, download=False)
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    np.testing.assert_array_equal(images, written[split][0])
    np.testing.assert_array_equal(labels, written[split][1])


def test_fashion_mnist_found_through_the_environment(tmp_path, monkeypatch):
    written = write_idx_dataset(tmp_path / "data" / "fashion-mnist")
    monkeypatch.setenv("TINYGDL_DATA", str(tmp_path / "data"))
    np.testing.assert_array_equal(load_fashion_mnist("test")[1], written["test"][1])
    assert len(FASHION_MNIST_CLASSES) == 10


def test_label_out_of_range(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    write_file(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.array([1, 2, 3, 4, 10])), True)
    with pytest.raises(CorruptFileError, match=r"t10k-labels-idx1-ubyte\.gz: labels should lie in 0\.\.9"):
        load_mnist("test", root=tmp_path)


def test_image_and_label_counts_must_agree(tmp_path):
    write_idx_dataset(tmp_path / "mnist")
    write_file(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.array([1, 2])), True)
    with pytest.raises(CorruptFileError, match="5 images but 2 labels"):
        load_mnist("test", root=tmp_path)


def test_missing_mnist_offline(tmp_path):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_mnist("test", root=tmp_path, download=False)
    message = str(caught.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "mnist") in message and "download=False" in message


def test_mnist_download_from_a_mirror(tmp_path, monkeypatch):
    """The download path end to end, with a local file:// mirror standing in for the network."""
    server = tmp_path / "server"
    written = write_idx_dataset(server)
    md5s = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in server.iterdir()}
    monkeypatch.setattr(vision, "MNIST_MIRRORS", ((tmp_path / "dead").as_uri() + "/", server.as_uri() + "/"))
    monkeypatch.setattr(vision, "MNIST_MD5", md5s)
    images, labels = load_mnist("train")
    np.testing.assert_array_equal(labels, written["train"][1])
    assert sorted(p.name for p in (cache_dir() / "mnist").iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_unknown_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


# --------------------------------------------------------------------------- CIFAR-10, generated


def cifar_batch_bytes(labels, seed) -> bytes:
    data = np.random.default_rng(seed).integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    return pickle.dumps({b"data": data, b"labels": list(labels), b"batch_label": b"fake"})


def write_cifar_pickles(folder):
    folder.mkdir(parents=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(cifar_batch_bytes([i, i, i], seed=i))
    (folder / "test_batch").write_bytes(cifar_batch_bytes([0, 9], seed=0))


def write_cifar_npz(path, labels):
    path.parent.mkdir(parents=True, exist_ok=True)
    images = np.zeros((len(labels), 32, 32, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(len(labels))  # tag each image with its position
    np.savez(path, x=images, y=np.asarray(labels, np.int64))


def test_cifar10_pickles(tmp_path):
    write_cifar_pickles(tmp_path / "cifar10" / "cifar-10-batches-py")
    images, labels = load_cifar10("train", root=tmp_path)
    assert images.shape == (15, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]
    assert load_cifar10("test", root=tmp_path)[1].tolist() == [0, 9]
    assert len(load_cifar10("all", root=tmp_path)[0]) == 17


def test_cifar10_auto_prefers_the_canonical_pickles(tmp_path):
    write_cifar_pickles(tmp_path / "cifar10" / "cifar-10-batches-py")
    write_cifar_npz(tmp_path / "cifar10-jpeg" / "test.npz", [0] * 10)
    assert len(load_cifar10("test", root=tmp_path)[0]) == 2


def test_cifar10_npz_split_holds_out_every_fifth_image_of_each_class(tmp_path):
    labels = [0, 1] * 10 + [2] * 4  # interleaved classes: the rule counts within each class
    write_cifar_npz(tmp_path / "cifar10-jpeg" / "test.npz", labels)
    train_x, train_y = load_cifar10("train", root=tmp_path)
    test_x, test_y = load_cifar10("test", root=tmp_path)
    # class 0 sits at positions 0, 2, ..., 18: its 5th and 10th are positions 8 and 18
    assert test_x[:, 0, 0, 0].tolist() == [8, 9, 18, 19] and test_y.tolist() == [0, 1, 0, 1]
    assert len(train_x) == 20 and not set(train_x[:, 0, 0, 0]) & set(test_x[:, 0, 0, 0])
    assert len(load_cifar10("all", root=tmp_path)[0]) == 24


def test_cifar10_npz_missing_key(tmp_path):
    (tmp_path / "cifar10-jpeg").mkdir()
    np.savez(tmp_path / "cifar10-jpeg" / "test.npz", x=np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(CorruptFileError, match=r"test\.npz: missing keys \['y'\]"):
        load_cifar10("train", root=tmp_path, source="npz")


def test_cifar10_npz_wrong_image_shape(tmp_path):
    (tmp_path / "cifar10-jpeg").mkdir()
    np.savez(tmp_path / "cifar10-jpeg" / "test.npz", x=np.zeros((2, 3, 32, 32), np.uint8), y=np.zeros(2, np.int64))
    with pytest.raises(CorruptFileError, match="channels"):
        load_cifar10("all", root=tmp_path, source="npz")


def test_cifar10_download_and_extract(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in vision.CIFAR10_TRAIN_FILES + ("test_batch", "batches.meta"):
            data = cifar_batch_bytes([7, 8], seed=1)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(buffer.getvalue())
    remote = RemoteFile(archive.name, (archive.as_uri(),), "md5:" + hashlib.md5(buffer.getvalue()).hexdigest())
    monkeypatch.setattr(vision, "CIFAR10_PICKLES", dataclasses.replace(vision.CIFAR10_PICKLES, remote=(remote,)))
    images, labels = load_cifar10("train")
    assert images.shape == (10, 32, 32, 3) and labels.tolist() == [7, 8] * 5
    assert not (cache_dir() / "cifar10" / archive.name).exists()


def test_cifar10_offline_message_mentions_the_npz(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cifar10-jpeg/test.npz"):
        load_cifar10("train", root=tmp_path, download=False)


def test_cifar10_bad_source():
    with pytest.raises(ValueError, match="source"):
        load_cifar10("train", source="jpeg")


# --------------------------------------------------------------------------- flowers, digits


def test_flowers_splits(tmp_path):
    (tmp_path / "flowers12").mkdir()
    train = np.array([True, False, True, True])
    np.savez(tmp_path / "flowers12" / "flowers12_64.npz", x=np.zeros((4, 64, 64, 3), np.uint8),
             y=np.array([0, 11, 5, 5]), train=train, classes=np.array(FLOWERS12_CLASSES))
    assert load_flowers("train", root=tmp_path)[1].tolist() == [0, 5, 5]
    assert load_flowers("test", root=tmp_path)[1].tolist() == [11]
    assert len(load_flowers(root=tmp_path)[0]) == 4


def test_digits():
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 255
    assert labels.dtype == np.int64 and set(labels.tolist()) == set(range(10))
    raw, _ = load_digits(raw=True)
    assert raw.max() == 16
    np.testing.assert_array_equal(images, np.rint(raw * (255 / 16)).astype(np.uint8))


def test_get_dataset_wraps_a_loader():
    dataset = get_dataset("moons", n_samples=10, seed=0)
    assert len(dataset) == 10 and dataset[np.arange(3)][0].shape == (3, 2)
    with pytest.raises(ValueError, match="unknown dataset"):
        get_dataset("imagenet")


# --------------------------------------------------------------------------- the real files


@pytest.fixture(scope="module")
def mnist_train(shared_data):
    return load_mnist("train", root=shared_data, download=False)


def test_real_mnist_train(mnist_train):
    images, labels = mnist_train
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels[0] == 5 and labels.min() == 0 and labels.max() == 9
    # re-encoded as IDX, the pixels give back the canonical file byte for byte (its published MD5)
    assert hashlib.md5(idx_bytes(images)).hexdigest() == "6bbc9ace898e44ae57da46a324031adb"


def test_real_mnist_and_fashion_test_sets(shared_data):
    images, labels = load_mnist("test", root=shared_data, download=False)
    assert images.shape == (10000, 28, 28) and labels[0] == 7
    images, labels = load_fashion_mnist("test", root=shared_data, download=False)
    assert images.shape == (10000, 28, 28) and np.bincount(labels).tolist() == [1000] * 10


def test_real_cifar10_npz_split(shared_data):
    train_x, train_y = load_cifar10("train", root=shared_data)
    test_x, test_y = load_cifar10("test", root=shared_data)
    assert train_x.shape == (8000, 32, 32, 3) and test_x.shape == (2000, 32, 32, 3)
    assert np.bincount(train_y).tolist() == [800] * 10 and np.bincount(test_y).tolist() == [200] * 10
    assert len(CIFAR10_CLASSES) == 10


def test_real_flowers(shared_data):
    images, labels = load_flowers(root=shared_data)
    assert images.shape == (960, 64, 64, 3) and np.bincount(labels).tolist() == [80] * 12
    assert len(load_flowers("train", root=shared_data)[0]) == 720
    classes = np.load(shared_data / "flowers12" / "flowers12_64.npz")["classes"]
    assert tuple(classes.tolist()) == FLOWERS12_CLASSES
