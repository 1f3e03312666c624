"""Where files are looked for, the offline error message, and checked, atomic downloads."""

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from tinygdl.data import (
    DatasetFiles,
    DatasetNotFoundError,
    DownloadError,
    RemoteFile,
    cache_dir,
    download_file,
    find_files,
    paths,
    search_dirs,
)
from tinygdl.data.download import extract_folder

DEFAULT_SYSTEM_DIRS = paths.SYSTEM_DIRS  # read before the autouse fixture replaces it


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def spec_for(folder="toy", names=("a.txt",), remote=()):
    return DatasetFiles(title="Toy data", folder=folder, files=tuple((n,) for n in names), remote=remote)


def put(directory: Path, name: str, text: str = "x") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- search order


def test_cache_dir_follows_home_and_xdg(tmp_path, monkeypatch):
    assert cache_dir() == tmp_path / "home" / ".cache" / "tinygdl"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "tinygdl"


def test_search_order_is_root_env_cache_system(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGDL_DATA", f"{tmp_path / 'env1'}:{tmp_path / 'env2'}")
    dirs = [d for d, _ in search_dirs(tmp_path / "root")]
    assert dirs == [tmp_path / "root", tmp_path / "env1", tmp_path / "env2", cache_dir(), tmp_path / "system"]


@pytest.mark.parametrize("winner", ["root", "env", "cache", "system"])
def test_first_directory_holding_the_files_wins(tmp_path, monkeypatch, winner):
    monkeypatch.setenv("TINYGDL_DATA", str(tmp_path / "env"))
    candidates = {"root": tmp_path / "root", "env": tmp_path / "env", "cache": cache_dir(),
                  "system": tmp_path / "system"}
    order = list(candidates)
    for name in order[order.index(winner):]:  # the winner and every later directory hold the file
        put(candidates[name] / "toy", "a.txt")
    put(tmp_path / "root" / "toy", "other.txt")  # a folder lacking the file does not stop the search
    assert find_files(spec_for(), root=tmp_path / "root") == [candidates[winner] / "toy" / "a.txt"]


def test_alternative_names_and_order_of_files(tmp_path):
    put(tmp_path / "toy", "b")
    put(tmp_path / "toy", "a.gz")
    spec = DatasetFiles(title="Toy", folder="toy", files=(("a.gz", "a"), ("b.gz", "b")))
    assert find_files(spec, root=tmp_path) == [tmp_path / "toy" / "a.gz", tmp_path / "toy" / "b"]


def test_offline_error_lists_files_and_every_searched_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGDL_DATA", str(tmp_path / "env"))
    spec = DatasetFiles(title="Toy data", folder="toy", files=(("a.gz", "a"), ("b.npz",)),
                        source="http://example/")
    with pytest.raises(DatasetNotFoundError) as caught:
        find_files(spec, root=tmp_path / "root", download=False)
    message = str(caught.value)
    for expected in ["Toy data not found", "a.gz", "(or a)", "b.npz", str(tmp_path / "root" / "toy"),
                     str(tmp_path / "env" / "toy"), str(cache_dir() / "toy"), str(tmp_path / "system" / "toy"),
                     "http://example/", "no download address"]:
        assert expected in message
    assert caught.value.__context__ is None  # one clear error, no chain of tracebacks


def test_download_false_is_said_in_the_message(tmp_path):
    remote = (RemoteFile("a.txt", ("file:///nowhere/a.txt",), md5(b"x")),)
    with pytest.raises(DatasetNotFoundError, match=r"download=False"):
        find_files(spec_for(remote=remote), download=False)
    assert not (cache_dir() / "toy").exists()


# --------------------------------------------------------------------------- downloads


@pytest.fixture
def served(tmp_path):
    """A file reachable through a file:// URL, with its md5."""
    content = b"hello dataset\n" * 1000
    path = put(tmp_path / "server", "a.txt", content.decode())
    return path.as_uri(), content


def test_download_into_cache_then_found_without_network(served, tmp_path):
    url, content = served
    spec = spec_for(remote=(RemoteFile("a.txt", (url,), md5(content)),))
    found = find_files(spec)
    assert found == [cache_dir() / "toy" / "a.txt"] and found[0].read_bytes() == content
    (tmp_path / "server" / "a.txt").unlink()  # the second call must not need the source
    assert find_files(spec) == found


def test_download_goes_to_root_when_given(served, tmp_path):
    url, content = served
    spec = spec_for(remote=(RemoteFile("a.txt", (url,), md5(content)),))
    assert find_files(spec, root=tmp_path / "mine") == [tmp_path / "mine" / "toy" / "a.txt"]


def test_checksum_mismatch_raises_and_leaves_nothing_behind(served, tmp_path):
    url, _ = served
    remote = RemoteFile("a.txt", (url,), md5(b"something else"))
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_file(remote, tmp_path / "dest", progress=False)
    assert list((tmp_path / "dest").iterdir()) == []  # neither the file nor a .part temp file


def test_checksum_mismatch_through_find_files_is_a_not_found_error(served):
    url, _ = served
    spec = spec_for(remote=(RemoteFile("a.txt", (url,), md5(b"other")),))
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch") as caught:
        find_files(spec)
    assert caught.value.__context__ is None
    assert list((cache_dir() / "toy").iterdir()) == []


def test_mirrors_are_tried_in_order(served, tmp_path):
    url, content = served
    sha256 = "sha256:" + hashlib.sha256(content).hexdigest()
    remote = RemoteFile("a.txt", ((tmp_path / "missing.txt").as_uri(), url), sha256)
    assert download_file(remote, tmp_path / "dest", progress=False).read_bytes() == content


def test_every_failed_mirror_is_reported(tmp_path):
    remote = RemoteFile("a.txt", ((tmp_path / "m1").as_uri(), (tmp_path / "m2").as_uri()), md5(b""))
    with pytest.raises(DownloadError) as caught:
        download_file(remote, tmp_path / "dest", progress=False)
    assert "m1" in str(caught.value) and "m2" in str(caught.value)


def test_a_file_with_the_right_checksum_is_kept(tmp_path):
    existing = put(tmp_path / "dest", "a.txt", "kept")
    remote = RemoteFile("a.txt", ((tmp_path / "unreachable").as_uri(),), md5(b"kept"))
    assert download_file(remote, tmp_path / "dest") == existing


def tar_with(members: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_download_then_unpack_an_archive(tmp_path):
    archive = tar_with({"pack/one": b"1", "pack/sub/two": b"2", "../evil": b"!", "elsewhere/x": b"x"})
    source = tmp_path / "server" / "pack.tar.gz"
    source.parent.mkdir()
    source.write_bytes(archive)
    spec = DatasetFiles(
        title="Packed", folder="packed", files=(("pack/one",), ("pack/sub/two",)),
        remote=(RemoteFile("pack.tar.gz", (source.as_uri(),), md5(archive)),),
        unpack=lambda folder: extract_folder(folder / "pack.tar.gz", folder, "pack"))
    one, two = find_files(spec)
    assert one.read_bytes() == b"1" and two.read_bytes() == b"2"
    assert sorted(p.name for p in (cache_dir() / "packed").iterdir()) == ["pack"]  # archive removed
    assert not (tmp_path / "evil").exists() and not (cache_dir() / "evil").exists()


def test_system_dirs_include_debians_dataset_folder():
    # Debian's dataset-fashion-mnist package installs /usr/share/datasets/fashion-mnist/*.gz
    assert Path("/usr/share/datasets") in DEFAULT_SYSTEM_DIRS
