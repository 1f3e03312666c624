"""Where dataset files are looked for, and what happens when they are not there.

Every dataset lives in a folder of its own (``mnist/``, ``fashion-mnist/``, ``cifar10-jpeg/``,
``tinyshakespeare/``, ``jsb-chorales/``, ``flowers12/`` ...).  That folder is looked for, in order,
inside:

1. the ``root=`` argument given to the loader;
2. ``$TINYGDL_DATA`` (one directory, or several separated by ``os.pathsep``);
3. the cache, ``$XDG_CACHE_HOME/tinygdl`` or else ``~/.cache/tinygdl``;
4. system directories: ``/usr/share/datasets`` (where Debian's ``dataset-fashion-mnist`` package
   installs ``fashion-mnist/*.gz``) and ``/usr/local/share/datasets``.

The first folder holding *all* the files a loader needs wins.  When none does and the dataset has
canonical download addresses, the files are downloaded (into ``root`` when given, else into the
cache) and checked against their published checksums.  Files found on disk are not checksummed
(packaged copies are sometimes recompressed); their parsers check them instead.  When nothing
works, ``DatasetNotFoundError`` says which files to put where.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .download import RemoteFile, download_file
from .errors import DatasetNotFoundError, DownloadError

ENV_VARIABLE = "TINYGDL_DATA"
SYSTEM_DIRS = (Path("/usr/share/datasets"), Path("/usr/local/share/datasets"))


@dataclass(frozen=True)
class DatasetFiles:
    """What a loader needs: a folder name, the files in it and how to get them.

    ``files`` lists each needed file as a tuple of accepted names (``("x.gz", "x")`` accepts the
    compressed or the plain file).  ``remote`` holds the canonical downloads, after which
    ``unpack(folder)`` runs if given (e.g. to extract an archive).  ``source`` tells a person where
    to get the files by hand; it is shown in the error message.
    """

    title: str
    folder: str
    files: tuple[tuple[str, ...], ...]
    remote: tuple[RemoteFile, ...] = ()
    unpack: Callable[[Path], None] | None = None
    source: str = ""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/tinygdl``, or ``~/.cache/tinygdl`` when that variable is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinygdl"


def search_dirs(root=None) -> list[tuple[Path, str]]:
    """The directories searched for dataset folders, in order, each with why it is searched."""
    dirs = []
    if root is not None:
        dirs.append((Path(root).expanduser(), "root= argument"))
    for entry in os.environ.get(ENV_VARIABLE, "").split(os.pathsep):
        if entry:
            dirs.append((Path(entry).expanduser(), f"${ENV_VARIABLE}"))
    dirs.append((cache_dir(), "cache"))
    dirs.extend((d, "system") for d in SYSTEM_DIRS)
    return dirs


def locate(spec: DatasetFiles, root=None) -> list[Path] | None:
    """The paths of ``spec``'s files in the first searched folder that holds them all, or None."""
    for directory, _ in search_dirs(root):
        found = files_in(directory / spec.folder, spec.files)
        if found is not None:
            return found
    return None


def files_in(folder: Path, files) -> list[Path] | None:
    """For each needed file the first accepted name present in ``folder``; None if one is missing."""
    found = []
    for names in files:
        present = [folder / name for name in names if (folder / name).is_file()]
        if not present:
            return None
        found.append(present[0])
    return found


def find_files(spec: DatasetFiles, root=None, download: bool = True) -> list[Path]:
    """The paths of ``spec``'s files, found on disk or downloaded; else ``DatasetNotFoundError``."""
    found = locate(spec, root)
    if found is not None:
        return found
    if not spec.remote:
        reason = "no download address is known for these files"
    elif not download:
        reason = "downloading is switched off (download=False)"
    else:
        target = (Path(root).expanduser() if root is not None else cache_dir()) / spec.folder
        try:
            return fetch(spec, target)
        except DownloadError as error:
            reason = f"the download failed: {error}"
    raise DatasetNotFoundError(not_found_message(spec, root, reason))


def fetch(spec: DatasetFiles, target: Path) -> list[Path]:
    """Download ``spec``'s remote files into ``target``, unpack them and return the needed paths."""
    for remote in spec.remote:
        download_file(remote, target)
    if spec.unpack is not None:
        spec.unpack(target)
    found = files_in(target, spec.files)
    if found is None:
        raise DownloadError(f"the downloaded files in {target} do not include everything needed")
    return found


def not_found_message(spec: DatasetFiles, root, reason: str) -> str:
    """One message that tells a person exactly which files to put where."""
    lines = [f"{spec.title} not found. Put these files:"]
    for names in spec.files:
        alternatives = f"   (or {', '.join(names[1:])})" if len(names) > 1 else ""
        lines.append(f"    {names[0]}{alternatives}")
    lines.append("into one of these folders (searched in this order):")
    places = [(str(directory / spec.folder), why) for directory, why in search_dirs(root)]
    width = max(len(place) for place, _ in places)
    lines += [f"    {place.ljust(width)}   ({why})" for place, why in places]
    if not os.environ.get(ENV_VARIABLE):
        lines.append(f"or set {ENV_VARIABLE} to a directory that holds '{spec.folder}/'.")
    if spec.source:
        lines.append(f"Source: {spec.source}")
    lines.append(f"Not downloaded: {reason}")
    return "\n".join(lines)
