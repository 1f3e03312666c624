"""Bach's chorales (JSB), as piano-roll voices, and MuseGAN's preprocessing of them.

``Jsb16thSeparated.npz`` holds 382 four-part chorales split 229 / 76 / 77 (train / valid / test).
Each chorale is a (T, 4) array: one row per 16th note, one column per voice (soprano, alto, tenor,
bass), the MIDI pitch sounding, NaN for a rest.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import CorruptFileError, DatasetNotFoundError
from .formats import read_npz
from .paths import DatasetFiles, cache_dir, find_files
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


# --------------------------------------------------------------------------- an offline stand-in for the chorales

# Triads of C major as scale degrees (0 = C): I, ii, IV, V, vi, and which may follow which
# (a simple functional-harmony walk: tonic -> predominant -> dominant -> tonic).
_TRIADS = {"I": (0, 4, 7), "ii": (2, 5, 9), "IV": (5, 9, 0), "V": (7, 11, 2), "vi": (9, 0, 4)}
_NEXT = {"I": ("IV", "ii", "vi", "V"), "ii": ("V",), "IV": ("V", "I", "ii"), "V": ("I", "vi"), "vi": ("ii", "IV")}
_VOICE_RANGES = ((60, 81), (55, 74), (48, 67), (36, 55))  # soprano, alto, tenor, bass (MIDI)


def synthetic_chorales(n: int = 229, n_steps: int = 64, seed: int = 0) -> list[np.ndarray]:
    """SYNTHETIC four-voice "chorales" in C major, in the layout of ``load_jsb_chorales``: a list of
    float32 (n_steps, 4) arrays of MIDI pitches (soprano, alto, tenor, bass), 16th-note steps.

    Not Bach: a deterministic toy for offline runs and tests.  A chord (I, ii, IV, V, vi, walking
    tonic -> predominant -> dominant) changes every half bar (8 steps); the bass plays its root, the
    upper voices change every beat (4 steps) to the chord tone nearest their last note, within
    each voice's range.  Enough structure (steady rhythm, consonant vertical sonorities, voices
    in order) for a GAN to have something to learn in minutes; none of Bach's counterpoint.
    """
    rng = np.random.default_rng(seed)
    chorales = []
    for _ in range(n):
        key = int(rng.integers(-3, 4))  # a transposition, so the pieces are not all in C
        chord, voices = "I", [72, 67, 64, 48]
        roll = np.empty((n_steps, 4), np.float32)
        for step in range(n_steps):
            if step % 8 == 0 and step:
                options = _NEXT[chord]
                chord = options[int(rng.integers(len(options)))]
            if step % 4 == 0:
                tones = _TRIADS[chord]
                voices = [_nearest_chord_tone(voices[v], tones if v < 3 else tones[:1], *_VOICE_RANGES[v], rng)
                          for v in range(4)]
            roll[step] = [v + key for v in voices]
        chorales.append(roll)
    return chorales


def _nearest_chord_tone(previous: int, tones, low: int, high: int, rng) -> int:
    """The pitch in [low, high] whose pitch class is in ``tones`` and nearest ``previous`` (ties: random)."""
    candidates = np.array([p for p in range(low, high + 1) if p % 12 in tones])
    distance = np.abs(candidates - previous) + rng.uniform(0, 0.5, len(candidates))
    return int(candidates[np.argmin(distance)])


# --------------------------------------------------------------------------- MuseGAN rolls to notes


def roll_to_notes(pitches: np.ndarray, steps_per_beat: int = 4, step_length: float = 0.25) -> list[list[tuple]]:
    """The book's score rendering of MuseGAN's output, as notes: ``pitches`` (tracks, steps) of
    MIDI pitches (the argmax over the pitch axis, bars joined) -> per track a list of
    ``(offset, quarter_length, pitch)``.

    Consecutive equal pitches merge into one note, but a new note starts on every beat
    (``steps_per_beat`` steps); each step lasts ``step_length`` quarters.  Pitch 83 (the
    "rest" of the preprocessing) is written as a note, as the book does.
    """
    tracks = []
    for voice in np.asarray(pitches):
        notes = []
        for step, pitch in enumerate(voice):
            if notes and step % steps_per_beat and notes[-1][2] == int(pitch):
                offset, length, _ = notes[-1]
                notes[-1] = (offset, length + step_length, int(pitch))
            else:
                notes.append((step * step_length, step_length, int(pitch)))
        tracks.append(notes)
    return tracks


# --------------------------------------------------------------------------- the music Transformer's tokens
#
# The book parses each score with music21, chordifies it (every vertical sonority becomes one chord)
# and turns each element into a (note, duration) token pair, appended to one stream for all files:
# (START, 0.0) first; a key -> ("G:major", 0.0); a time signature -> ("3/4TS", 0.0); a chord -> its
# last listed (highest) pitch; a rest -> ("rest", length); a note -> its name with octave.  Durations
# are music21 quarter lengths as text ("0.25", "1/3").  music21 is an optional dependency
# (``pip install tinygdl[music]``); it ships Bach's 371 chorales, which stand in offline for the
# book's cello-suite MIDI files.

START, REST = "START", "rest"
MUSIC21_HINT = "the music Transformer's data and MIDI export need music21: pip install 'tinygdl[music]'"
TOKEN_CACHE_VERSION = 1


def _music21():
    try:
        import music21
    except ImportError as error:
        raise ImportError(MUSIC21_HINT) from error
    return music21


def score_tokens(score) -> tuple[list[str], list[str]]:
    """The book's (note, duration) tokens of one music21 score, chordified, START first."""
    m21 = _music21()
    notes, durations = [START], ["0.0"]
    for element in score.chordify().flatten():
        if isinstance(element, m21.key.Key):
            token, length = f"{element.tonic.name}:{element.mode}", "0.0"
        elif isinstance(element, m21.meter.TimeSignature):
            token, length = f"{element.ratioString}TS", "0.0"
        elif isinstance(element, m21.chord.Chord):
            token, length = element.pitches[-1].nameWithOctave, str(element.duration.quarterLength)
        elif isinstance(element, m21.note.Rest):
            token, length = REST, str(element.duration.quarterLength)
        elif isinstance(element, m21.note.Note):
            token, length = element.nameWithOctave, str(element.duration.quarterLength)
        else:
            continue
        notes.append(token)
        durations.append(length)
    return notes, durations


def bach_chorale_tokens(limit: int | None = None, cache: bool = True) -> tuple[list[str], list[str]]:
    """The token streams of music21's Bach chorales (371, or the first ``limit``), all files joined.

    Parsing takes about half a second per chorale, so the result is cached as JSON in the tinygdl
    cache folder (``~/.cache/tinygdl/music21-chorales/``, one file per ``limit``) after the first call.
    """
    m21 = _music21()
    name = f"tokens-v{TOKEN_CACHE_VERSION}-{m21.VERSION_STR}-{'all' if limit is None else limit}.json"
    path = cache_dir() / "music21-chorales" / name
    if cache and path.exists():
        saved = json.loads(path.read_text())
        return saved["notes"], saved["durations"]
    names = list(m21.corpus.chorales.Iterator(returnType="filename"))[:limit]
    notes, durations = [], []
    for name in tqdm(names, desc="parsing chorales", unit="chorale", disable=len(names) < 20):
        n, d = score_tokens(m21.corpus.parse(name))
        notes += n
        durations += d
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"notes": notes, "durations": durations}))
    return notes, durations


def midi_folder_tokens(folder) -> tuple[list[str], list[str]]:
    """The token streams of every ``.mid`` file in ``folder`` (the book's 36 cello-suite movements,
    ``cs1-1pre.mid`` ... ``cs6-6gig.mid``), in name order."""
    m21 = _music21()
    files = sorted(Path(folder).expanduser().glob("*.mid"))
    if not files:
        raise DatasetNotFoundError(f"no .mid files in {folder} (the book's cello suites: cs1-1pre.mid ... "
                                   "cs6-6gig.mid from jsbach.net)")
    notes, durations = [], []
    for file in tqdm(files, desc="parsing MIDI files", unit="file"):
        n, d = score_tokens(m21.converter.parse(file))
        notes += n
        durations += d
    return notes, durations


def is_sounding(note_token: str) -> bool:
    """True for a pitch or a rest token; False for START, keys ("G:major") and time signatures ("3/4TS")."""
    return note_token not in (START, "", "[UNK]") and ":" not in note_token and not note_token.endswith("TS")


_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def note_name_to_midi(name: str) -> int:
    """music21's name with octave -> MIDI number: ``"C4"`` 60, ``"F#3"`` 54, ``"E-5"`` 75 (``-`` is flat)."""
    letter, rest = name[0], name[1:]
    accidentals = len(rest) - len(rest.lstrip("#-"))
    shift = rest[:accidentals].count("#") - rest[:accidentals].count("-")
    return 12 * (int(rest[accidentals:]) + 1) + _STEPS[letter] + shift


def token_events(notes, durations) -> list:
    """The notes of a token stream as ``(offset, quarter_length, midi_pitch)``; rests advance time."""
    events, offset = [], 0.0
    for note, duration in zip(notes, durations):
        if not is_sounding(note):
            continue
        length = float(Fraction(duration))
        if note != REST:
            events.append((offset, length, note_name_to_midi(note)))
        offset += length
    return events


def tokens_to_stream(notes, durations):
    """A music21 stream of token pairs (the book's rendering): keys and time signatures become
    signatures, pitches and rests become notes and rests of ``Fraction(duration)`` quarters; START
    and padding are skipped."""
    m21 = _music21()
    stream = m21.stream.Stream()
    for token, length in zip(notes, durations):
        if token.endswith("TS"):
            stream.append(m21.meter.TimeSignature(token[:-2]))
        elif ":" in token:
            tonic, mode = token.split(":")
            stream.append(m21.key.Key(tonic, mode))
        elif is_sounding(token) and Fraction(length) > 0:
            kind = m21.note.Rest() if token == REST else m21.note.Note(token)
            kind.duration.quarterLength = Fraction(length)
            stream.append(kind)
    return stream


def notes_to_score(tracks, bpm: float = 66.0):
    """A music21 score of one part per track of ``(offset, quarter_length, midi_pitch)`` notes, at ``bpm``."""
    m21 = _music21()
    score = m21.stream.Score()
    for notes in tracks:
        part = m21.stream.Part()
        part.insert(0, m21.tempo.MetronomeMark(number=bpm))
        for offset, length, pitch in notes:
            note = m21.note.Note(int(pitch))
            note.duration.quarterLength = length
            part.insert(offset, note)
        score.insert(0, part)
    return score


def write_midi(stream, path) -> str:
    """Write a music21 stream or score to the MIDI file ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stream.write("midi", fp=str(path))
    return str(path)


def read_midi_notes(path) -> list[list[tuple]]:
    """Per part of the MIDI file ``path``, its notes as ``(offset, quarter_length, midi_pitch)``
    (music21's parse; for checking what ``write_midi`` wrote)."""
    m21 = _music21()
    # music21 cuts notes at barlines into tied pieces when it reads a file: join them again.
    score = m21.converter.parse(str(path)).stripTies()
    parts = score.parts if len(score.parts) else [score]
    return [[(float(n.offset), float(n.duration.quarterLength), int(n.pitch.midi))
             for n in part.flatten().notes] for part in parts]
