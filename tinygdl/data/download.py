"""Downloading a dataset file safely: mirrors, a progress bar, a checksum and an atomic write.

A downloaded file is first written to a temporary file next to its destination, hashed while it
streams in, and renamed into place only once its checksum matches the published one.  So a
half-finished or tampered download never sits where a loader would find it.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from .errors import DownloadError

CHUNK_SIZE = 1 << 20  # bytes read per step: 1 MiB


@dataclass(frozen=True)
class RemoteFile:
    """A file with canonical download addresses and a published checksum.

    ``checksum`` is written ``"<algorithm>:<hex digest>"``, e.g. ``"md5:9fb6..."`` or
    ``"sha256:86c4..."``; ``urls`` are mirrors, tried in order.
    """

    name: str
    urls: tuple[str, ...]
    checksum: str


def file_digest(path, algorithm: str) -> str:
    """The hex digest of a file's bytes (``algorithm`` is any ``hashlib`` name)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def has_checksum(path, checksum: str) -> bool:
    """Whether the file at ``path`` exists and matches ``checksum`` (``"md5:..."`` style)."""
    algorithm, expected = checksum.split(":")
    return Path(path).is_file() and file_digest(path, algorithm) == expected


def download_file(remote: RemoteFile, folder, progress: bool = True) -> Path:
    """Fetch ``remote`` into ``folder``, trying each mirror; return the file's path.

    A file already there with the right checksum is kept.  Raises ``DownloadError`` listing
    what went wrong with every mirror when none of them delivers the right bytes.
    """
    destination = Path(folder) / remote.name
    if has_checksum(destination, remote.checksum):
        return destination
    problems = []
    for url in remote.urls:
        try:
            download_url(url, destination, remote.checksum, progress)
            return destination
        except DownloadError as error:
            problems.append(f"{url}: {error}")
    raise DownloadError(f"could not download {remote.name}:\n    " + "\n    ".join(problems))


def download_url(url: str, destination, checksum: str, progress: bool = True) -> None:
    """Stream ``url`` to ``destination``, verifying ``checksum``; nothing is left behind on failure."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    algorithm, expected = checksum.split(":")
    fd, partial = tempfile.mkstemp(dir=destination.parent, prefix=destination.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _stream(url, out, hashlib.new(algorithm), destination.name, progress)
        if actual != expected:
            raise DownloadError(f"checksum mismatch ({algorithm} expected {expected}, got {actual})")
        os.replace(partial, destination)  # atomic: the file appears complete or not at all
    except DownloadError:
        raise
    except (OSError, http.client.HTTPException) as error:  # network trouble, HTTP 404, disk full
        raise DownloadError(str(error) or type(error).__name__) from error
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _stream(url: str, out, digest, label: str, progress: bool) -> str:
    """Copy the body of ``url`` into the open file ``out`` with a progress bar; return its digest."""
    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                  disable=not progress) as bar:
            for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()


def extract_folder(archive, target, folder_name: str) -> None:
    """Extract the files under ``folder_name/`` in a tar archive into ``target``; delete the archive.

    Only regular files whose paths stay inside ``folder_name/`` are written, so a crafted archive
    cannot write anywhere else; the folder is assembled under a temporary name and renamed into
    place, so it appears complete or not at all.
    """
    target = Path(target)
    if (target / folder_name).exists():
        raise DownloadError(f"{target / folder_name} exists but is incomplete: remove it and retry")
    staging = Path(tempfile.mkdtemp(dir=target, prefix=folder_name + "."))
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if member.isfile() and parts[0] == folder_name and ".." not in parts:
                    _extract_member(tar, member, staging.joinpath(*parts))
        os.replace(staging / folder_name, target / folder_name)
    except (tarfile.TarError, OSError) as error:
        raise DownloadError(f"could not extract {archive}: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    os.remove(archive)


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tar.extractfile(member) as source, open(destination, "wb") as out:
        shutil.copyfileobj(source, out)
