"""The library's one error hierarchy.

Every error that tinygdl raises on purpose (bad input, a missing dataset, a broken checkpoint, a
setting that makes no sense) is a ``TinyGDLError``.  Each kind is *also* a subclass of the built-in
class people already catch, so ``except ValueError`` keeps working:

    TinyGDLError
    ├── ShapeError          (ValueError)    shapes that do not fit: name the op/layer and both shapes
    ├── DtypeError          (TypeError)     a dtype the op or layer does not accept
    ├── DeviceError         (RuntimeError)  arrays on different devices, or no CUDA device/CuPy
    ├── ConfigError         (ValueError)    a setting or command-line option that is invalid
    ├── TrainingError       (RuntimeError)  a run that cannot go on (a non-finite loss ...)
    ├── CheckpointError     (ValueError)    a file that is not a usable checkpoint
    └── DataError           (OSError)       data that cannot be had: DatasetNotFoundError,
                                            DownloadError; CorruptFileError is (DataError, ValueError)

The command line (``tinygdl ...``) prints any ``TinyGDLError`` as one line and exits with status 2;
anything else is a bug and keeps its traceback.  This module imports nothing from the library, so
every module may import it.
"""

from __future__ import annotations


class TinyGDLError(Exception):
    """Base class of every error tinygdl raises on purpose."""


class ShapeError(TinyGDLError, ValueError):
    """Shapes that do not fit together (the message names the op or layer and the shapes)."""


class DtypeError(TinyGDLError, TypeError):
    """A dtype the op or layer does not accept (the message names both dtypes)."""


class DeviceError(TinyGDLError, RuntimeError):
    """Tensors on different devices, or a device that is not available."""


class ConfigError(TinyGDLError, ValueError):
    """An invalid setting: a ``--set`` override, a command-line option, a constructor argument."""


class TrainingError(TinyGDLError, RuntimeError):
    """A training run that cannot continue, e.g. a non-finite loss or non-finite weights."""


class CheckpointError(TinyGDLError, ValueError):
    """A file that cannot be used as a checkpoint (truncated, corrupt, edited, or something else)."""


class DataError(TinyGDLError, OSError):
    """Data that cannot be read or fetched."""


__all__ = ["CheckpointError", "ConfigError", "DataError", "DeviceError", "DtypeError", "ShapeError",
           "TinyGDLError", "TrainingError"]
