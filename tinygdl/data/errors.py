"""The three ways getting data can fail, each with its own exception class.

* ``DatasetNotFoundError``: the files are nowhere to be found and could not be downloaded.  Its
  message says which files to put where, so that an offline user can fix it by hand.
* ``DownloadError``: a download failed (network error, or a checksum that does not match).
* ``CorruptFileError``: a file exists but is not what it claims to be (wrong magic number,
  truncated, labels out of range, missing keys).  The message names the file.
"""

from __future__ import annotations

from ..errors import DataError


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A dataset's files are not in any searched directory and could not be downloaded."""


class DownloadError(DataError):
    """Fetching a file failed, or what arrived does not match its published checksum."""


class CorruptFileError(DataError, ValueError):
    """A data file is malformed: its message starts with the file's path."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
