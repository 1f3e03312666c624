"""Bach's chorales (JSB), as piano-roll voices, and MuseGAN's preprocessing of them.

``Jsb16thSeparated.npz`` holds 382 four-part chorales split 229 / 76 / 77 (train / valid / test).
Each chorale is a (T, 4) array: one row per 16th note, one column per voice (soprano, alto, tenor,
bass), the MIDI pitch sounding, NaN for a rest.
"""

from __future__ import annotations

import numpy as np

from .errors import CorruptFileError
from .formats import read_npz
from .paths import DatasetFiles, find_files
from .transforms import one_hot

JSB_SPLITS = ("train", "valid", "test")
JSB_CHORALES = DatasetFiles(
    title="JSB chorales (16th-note steps, voices separated)",
    folder="jsb-chorales",
    files=(("Jsb16thSeparated.npz",),),
    source="https://github.com/czhuang/JSB-Chorales-dataset",
)


def load_jsb_chorales(split: str = "train", root=None) -> list[np.ndarray]:
    """The chorales of one split: a list of float32 (T_i, 4) arrays of MIDI pitches, NaN = rest.

    The file stores arrays of arrays (object arrays), which NumPy can only read through pickle:
    load it only from a source you trust.
    """
    if split not in JSB_SPLITS:
        raise ValueError(f"split must be one of {JSB_SPLITS}, got {split!r}")
    path = find_files(JSB_CHORALES, root, download=False)[0]
    chorales = read_npz(path, [split], allow_pickle=True, encoding="latin1")[split]
    return [_checked_chorale(np.asarray(c, dtype=np.float32), path, i) for i, c in enumerate(chorales)]


def _checked_chorale(chorale: np.ndarray, path, number: int) -> np.ndarray:
    if chorale.ndim != 2 or chorale.shape[1] != 4:
        raise CorruptFileError(path, f"chorale {number} should have shape (T, 4), got {chorale.shape}")
    return chorale


def musegan_bars(chorales, n_bars: int = 2, steps_per_bar: int = 16, n_pitches: int = 84,
                 rest_pitch: int = 83) -> np.ndarray:
    """MuseGAN's input: the first ``n_bars`` bars of each chorale as a +-1 piano roll.

    Take the first ``n_bars * steps_per_bar`` steps, replace rests (NaN) by ``rest_pitch``, one-hot
    each voice's pitch over ``n_pitches`` with -1 for "off" and +1 for "on", and order the axes
    (song, bar, step, pitch, track): shape (N, 2, 16, 84, 4) with the defaults.
    """
    steps = n_bars * steps_per_bar
    short = [i for i, c in enumerate(chorales) if len(c) < steps]
    if short:
        raise ValueError(f"chorales {short} have fewer than {steps} steps")
    start = np.stack([np.asarray(c[:steps], dtype=np.float64) for c in chorales])
    pitches = np.where(np.isnan(start), rest_pitch, start).astype(np.int64)
    pitches = pitches.reshape(len(chorales), n_bars, steps_per_bar, -1)  # (song, bar, step, track)
    roll = one_hot(pitches, n_pitches, on_value=1, off_value=-1)  # (song, bar, step, track, pitch)
    return np.ascontiguousarray(roll.transpose(0, 1, 2, 4, 3))
