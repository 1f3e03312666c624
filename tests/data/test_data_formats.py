"""The parsers on tiny generated files, valid and deliberately broken."""

import gzip
import pickle

import numpy as np
import pytest
from datafiles import idx_bytes, write_file

from tinygdl.data import CorruptFileError, read_cifar_batch, read_idx, read_npz


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_file(tmp_path / "x.idx", idx_bytes(array), compress)
    result = read_idx(path)
    assert result.dtype == np.uint8 and result.flags.writeable
    np.testing.assert_array_equal(result, array)


def test_idx_big_endian_int32(tmp_path):
    values = np.array([1, -2, 70000], dtype=">i4")
    header = bytes([0, 0, 0x0C, 1]) + (3).to_bytes(4, "big")  # type 0x0C: big-endian int32
    path = write_file(tmp_path / "x.idx", header + values.tobytes(), False)
    np.testing.assert_array_equal(read_idx(path), [1, -2, 70000])


def test_idx_wrong_magic(tmp_path):
    path = write_file(tmp_path / "bad.gz", b"\x12\x34\x08\x01" + bytes(8), True)
    with pytest.raises(CorruptFileError, match=r"bad\.gz: not an IDX file"):
        read_idx(path)


def test_idx_truncated_payload(tmp_path):
    data = idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-100]
    path = write_file(tmp_path / "short.gz", data, True)
    with pytest.raises(CorruptFileError, match=r"short\.gz: .*shape \(4, 28, 28\).*truncated"):
        read_idx(path)


def test_idx_truncated_header(tmp_path):
    path = write_file(tmp_path / "head", bytes([0, 0, 8, 3, 0, 0]), False)
    with pytest.raises(CorruptFileError, match="header"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    compressed = gzip.compress(idx_bytes(np.zeros((10, 28, 28), np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(CorruptFileError, match=r"cut\.gz: damaged or truncated gzip"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "noise.gz"
    path.write_bytes(b"\x1f\x8b" + bytes(range(200)))
    with pytest.raises(CorruptFileError, match=r"noise\.gz"):
        read_idx(path)


# --------------------------------------------------------------------------- CIFAR batches


def write_cifar_batch(path, images_nchw, labels):
    batch = {b"data": images_nchw.reshape(len(images_nchw), -1), b"labels": list(labels)}
    path.write_bytes(pickle.dumps(batch))
    return path


def test_cifar_batch_is_converted_to_nhwc(tmp_path):
    rng = np.random.default_rng(0)
    planes = rng.integers(0, 256, size=(3, 3, 32, 32), dtype=np.uint8)  # (N, C, H, W) as stored
    images, labels = read_cifar_batch(write_cifar_batch(tmp_path / "b", planes, [0, 9, 3]))
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[1, 5, 7], planes[1, :, 5, 7])  # pixel (5, 7): R, G, B
    assert labels.dtype == np.int64 and labels.tolist() == [0, 9, 3]


def test_cifar_batch_label_out_of_range(tmp_path):
    path = write_cifar_batch(tmp_path / "b", np.zeros((2, 3, 32, 32), np.uint8), [1, 10])
    with pytest.raises(CorruptFileError, match=r"labels should lie in 0\.\.9"):
        read_cifar_batch(path)


def test_cifar_batch_wrong_row_size(tmp_path):
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(CorruptFileError, match=r"\(N, 3072\)"):
        read_cifar_batch(path)


class Exploit:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_batch_refuses_arbitrary_code(tmp_path, capsys):
    path = tmp_path / "evil"
    path.write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}))
    with pytest.raises(CorruptFileError, match="refusing to load builtins.print"):
        read_cifar_batch(path)
    assert "never run" not in capsys.readouterr().out


def test_cifar_batch_truncated(tmp_path):
    path = write_cifar_batch(tmp_path / "b", np.zeros((2, 3, 32, 32), np.uint8), [0, 1])
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CorruptFileError, match="not a readable CIFAR batch"):
        read_cifar_batch(path)


# --------------------------------------------------------------------------- npz


def test_npz_missing_keys(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(CorruptFileError, match=r"a\.npz: missing keys \['y'\] \(it has \['x'\]\)"):
        read_npz(path, ["x", "y"])


def test_npz_not_a_zip(tmp_path):
    path = tmp_path / "a.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorruptFileError, match=r"a\.npz: not a readable \.npz"):
        read_npz(path, ["x"])


def test_npz_reads_requested_keys(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.arange(3), y=np.ones(2), z=np.zeros(1))
    arrays = read_npz(path, ["x", "y"])
    assert sorted(arrays) == ["x", "y"] and arrays["x"].tolist() == [0, 1, 2]
