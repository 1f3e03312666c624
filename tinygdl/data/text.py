"""Text: the tiny-Shakespeare corpus, tokenizers and language-modelling windows.

The tokenizers follow Keras' ``TextVectorization``, which the book uses:

* the vocabulary is sorted by frequency (ties: the token that sorts *higher* comes first), with
  index 0 = ``""`` (padding) and 1 = ``"[UNK]"`` (any token not in the vocabulary);
* ``max_tokens`` caps the vocabulary size *counting those two*;
* ``standardize="lower"`` only lower-cases (punctuation is kept), then words are split on
  whitespace; the book first puts spaces around punctuation (``pad_punctuation``) so that each
  punctuation mark becomes a word of its own;
* ``output_sequence_length=L`` pads every encoded text with 0 or truncates it to ``L`` ids.

``WordTokenizer`` and ``CharTokenizer`` differ only in how a text is cut into tokens.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

from .download import RemoteFile
from .formats import read_text
from .paths import DatasetFiles, find_files

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TEXTS = {
    "tinyshakespeare": DatasetFiles(
        title="Tiny Shakespeare",
        folder="tinyshakespeare",
        files=(("input.txt",),),
        remote=(RemoteFile("input.txt", (TINY_SHAKESPEARE_URL,),
                           "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),),
        source=TINY_SHAKESPEARE_URL,
    ),
}


def load_text(name: str = "tinyshakespeare", root=None, download: bool = True) -> str:
    """The whole text of a corpus (tiny Shakespeare: 1,115,394 characters)."""
    if name not in TEXTS:
        raise ValueError(f"unknown text {name!r}; known: {sorted(TEXTS)}")
    return read_text(find_files(TEXTS[name], root, download)[0])


def split_documents(text: str) -> list[str]:
    """Cut a text at blank lines into documents (in tiny Shakespeare: one speech each)."""
    pieces = re.split(r"\n\s*\n", text)
    return [piece.strip() for piece in pieces if piece.strip()]


def pad_punctuation(text: str, extra: str = "") -> str:
    """Put a space on both sides of every ASCII punctuation mark (and of each ``extra`` character),
    then collapse runs of spaces: ``"Hear me, sir!"`` -> ``"Hear me , sir ! "``."""
    marks = re.escape(string.punctuation + extra)
    spaced = re.sub(f"([{marks}])", r" \1 ", text)
    return re.sub(" +", " ", spaced)


# --------------------------------------------------------------------------- tokenizers


def pad_sequences(sequences, length: int | None = None, value: int = 0) -> np.ndarray:
    """Stack id sequences into an (N, length) int64 array, padding at the end with ``value`` and
    truncating at the end; ``length`` defaults to the longest sequence."""
    sequences = [np.asarray(s, dtype=np.int64) for s in sequences]
    if length is None:
        length = max((len(s) for s in sequences), default=0)
    out = np.full((len(sequences), length), value, dtype=np.int64)
    for row, sequence in zip(out, sequences):
        kept = sequence[:length]
        row[:len(kept)] = kept
    return out


class Tokenizer:
    """Text <-> ids with a frequency-sorted vocabulary; subclasses say how to cut a text."""

    PADDING = ""
    UNKNOWN = "[UNK]"
    separator = ""  # what ``decode`` puts between tokens

    def __init__(self, max_tokens: int | None = None, output_sequence_length: int | None = None,
                 standardize: str | None = None, vocabulary=None):
        if max_tokens is not None and max_tokens < 3:
            raise ValueError("max_tokens counts the padding and [UNK] tokens, so it must be at least 3")
        if standardize not in (None, "lower"):
            raise ValueError(f"standardize must be None or 'lower', got {standardize!r}")
        self.max_tokens = max_tokens
        self.output_sequence_length = output_sequence_length
        self.standardize = standardize
        self.vocabulary: list[str] = []
        self.index: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    def split(self, text: str) -> list[str]:
        raise NotImplementedError

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text``, after standardisation."""
        return self.split(text.lower() if self.standardize == "lower" else text)

    def fit(self, texts) -> "Tokenizer":
        """Build the vocabulary from a text or a list of texts; returns ``self``."""
        counts = Counter()
        for text in [texts] if isinstance(texts, str) else texts:
            counts.update(self.tokens(text))
        ranked = sorted(counts, key=lambda token: (counts[token], token.encode("utf-8")), reverse=True)
        if self.max_tokens is not None:
            ranked = ranked[:self.max_tokens - 2]
        self.set_vocabulary([self.PADDING, self.UNKNOWN] + ranked)
        return self

    def set_vocabulary(self, vocabulary) -> None:
        """Use a saved vocabulary (the list ``tokenizer.vocabulary``, starting ``"", "[UNK]"``)."""
        vocabulary = list(vocabulary)
        if vocabulary[:2] != [self.PADDING, self.UNKNOWN] or len(set(vocabulary)) != len(vocabulary):
            raise ValueError('a vocabulary starts with "" and "[UNK]" and has no repeated token')
        self.vocabulary = vocabulary
        self.index = {token: i for i, token in enumerate(vocabulary)}

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text`` (int64), padded/truncated to ``output_sequence_length`` if set."""
        if not self.vocabulary:
            raise RuntimeError("the tokenizer has no vocabulary yet: call fit(texts) first")
        ids = np.array([self.index.get(token, 1) for token in self.tokens(text)], dtype=np.int64)
        if self.output_sequence_length is None:
            return ids
        return pad_sequences([ids], self.output_sequence_length)[0]

    def encode_batch(self, texts) -> np.ndarray:
        """Encode several texts into one (N, L) array (L: ``output_sequence_length`` or the longest)."""
        return pad_sequences([self.encode(text) for text in texts], self.output_sequence_length)

    def decode(self, ids) -> str:
        """The text of ``ids``, padding dropped."""
        return self.separator.join(self.vocabulary[i] for i in np.asarray(ids).ravel() if i != 0)


class WordTokenizer(Tokenizer):
    """Words split on whitespace, lower-cased by default (``TextVectorization(standardize="lower")``)."""

    separator = " "

    def __init__(self, max_tokens=None, output_sequence_length=None, standardize="lower", vocabulary=None):
        super().__init__(max_tokens, output_sequence_length, standardize, vocabulary)

    def split(self, text: str) -> list[str]:
        return text.split()


class CharTokenizer(Tokenizer):
    """One token per character, case kept by default (newlines and spaces are tokens too)."""

    def split(self, text: str) -> list[str]:
        return list(text)


# --------------------------------------------------------------------------- language-model pairs


def split_input_target(sequences) -> tuple[np.ndarray, np.ndarray]:
    """Next-token pairs from sequences of length T + 1: inputs ``[..., :-1]``, targets ``[..., 1:]``."""
    sequences = np.asarray(sequences)
    return sequences[..., :-1], sequences[..., 1:]


def make_windows(ids, length: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut one long id stream into (inputs, targets) windows of ``length`` tokens each.

    Window ``k`` covers ``ids[k*stride : k*stride + length + 1]``; the target is the input shifted
    by one.  ``stride`` defaults to ``length`` (windows that do not overlap); ``stride=1`` gives
    every window.
    """
    ids = np.asarray(ids)
    if len(ids) < length + 1:
        raise ValueError(f"need at least {length + 1} ids for one window, got {len(ids)}")
    windows = np.lib.stride_tricks.sliding_window_view(ids, length + 1)[::stride or length]
    return split_input_target(np.ascontiguousarray(windows))
