"""Writing arrays to disk so that a crash never leaves half a file: what ``Module.save`` and
checkpoints both use.  (Reading needs nothing special: ``numpy.load``.)"""

from __future__ import annotations

import contextlib
import os
import tempfile

import numpy as np


def save_arrays(path, arrays: dict) -> None:
    """``numpy.savez`` to a temporary file in the same folder, then an atomic rename.

    The temporary file is named ``.<name>.<process id>.tmp.npz``; a save killed before its rename
    leaves one behind, and the next save in that folder removes those whose process is gone."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    _remove_stale_temporaries(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.{os.getpid()}.",
                                         suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


TEMPORARY_SUFFIX = ".tmp.npz"


def _remove_stale_temporaries(folder: str) -> None:
    """Delete the temporary files of saves whose process no longer runs (killed mid-save)."""
    for name in os.listdir(folder):
        parts = name.split(".")
        if not (name.startswith(".") and name.endswith(TEMPORARY_SUFFIX) and len(parts) >= 5):
            continue
        pid = parts[-4]  # ".<name>.<pid>.<random>.tmp.npz"
        if pid.isdigit() and not _process_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, name))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True
