"""Text: the corpora of the book's word-level language models, tokenizers, and the one pipeline
that turns documents into training rows (``prepare_language_model``: held-out split, vocabulary,
packing) for both the chapter-5 LSTM and the chapter-9 GPT.

Corpora (``load_corpus``): tiny Shakespeare (one document per speech), ``pydocs`` (the installed
Python standard library's docstrings: English prose every machine has), and the book's own
Epicurious recipes and wine reviews for those who have the files.

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

import os
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .download import RemoteFile
from .errors import DataError
from .formats import read_text
from .paths import DatasetFiles, find_files, locate

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


# --------------------------------------------------------------------------- the book's language-model corpora
#
# The book's two word-level models (the chapter-5 LSTM and the chapter-9 GPT) share one pipeline:
# documents -> ``pad_punctuation`` -> lower-cased words -> a 10,000-word vocabulary (``""`` and
# ``[UNK]`` included) -> fixed-length rows of N + 1 ids (input ids[:-1], target ids[1:]).  The book's
# documents (recipes, wine reviews) are long enough to fill most of a row; tiny Shakespeare's
# speeches are not (median ~20 words), so ``pack_documents`` puts consecutive documents in one row
# until it is full, which keeps padding rare.

BOOK_VOCABULARY = 10_000
RECIPES = DatasetFiles(
    title="Epicurious recipes (the book's chapter-5 data)",
    folder="epicurious",
    files=(("full_format_recipes.json",),),
    source="https://www.kaggle.com/datasets/hugodarwood/epirecipes",
)
WINE_REVIEWS = DatasetFiles(
    title="Wine reviews (the book's chapter-9 data)",
    folder="wine-reviews",
    files=(("winemag-data-130k-v2.json",),),
    source="https://www.kaggle.com/datasets/zynicide/wine-reviews",
)
# The corpora a text model can train on, by name (``tinygdl train lstm --dataset NAME``).
CORPORA = ("tinyshakespeare", "pydocs", "recipes", "wine")


def load_recipes(root=None) -> list[str]:
    """The book's recipe documents from Epicurious ``full_format_recipes.json``: every entry with a
    title and directions becomes ``"Recipe for <title> | <directions joined by spaces>"`` (20,111
    documents in the book)."""
    import json

    with open(find_files(RECIPES, root, download=False)[0], encoding="utf-8") as f:
        entries = json.load(f)
    return [f"Recipe for {e['title']} | {' '.join(e['directions'])}" for e in entries
            if e.get("title") is not None and e.get("directions") is not None]


def load_wine_reviews(root=None) -> list[str]:
    """The book's wine-review documents from ``winemag-data-130k-v2.json``: every entry with a
    country, province, variety and description becomes
    ``"wine review : <country> : <province> : <variety> : <description>"`` (129,907 in the book)."""
    import json

    with open(find_files(WINE_REVIEWS, root, download=False)[0], encoding="utf-8") as f:
        entries = json.load(f)
    fields = ("country", "province", "variety", "description")
    return [" : ".join(["wine review"] + [e[k] for k in fields]) for e in entries
            if all(e.get(k) is not None for k in fields)]


# Standard-library folders whose docstrings are not English prose (tests, demos, the IDE).
_SKIPPED_STDLIB_FOLDERS = {"test", "tests", "site-packages", "dist-packages", "idlelib", "lib2to3", "turtledemo",
                           "__pycache__", "ensurepip", "pydoc_data"}


def python_docstrings(folder=None) -> list[str]:
    """An English corpus every machine has: the docstrings of the installed Python standard
    library (module, class and function docstrings, in file order; ~7,600 documents and 1.6 million
    characters for Python 3.11).  ``folder`` defaults to the standard library's; the corpus
    depends on the Python version, so a vocabulary trained on it travels with the checkpoint."""
    import ast
    import sysconfig

    root = Path(folder or sysconfig.get_paths()["stdlib"])
    documents = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories
                                   if d not in _SKIPPED_STDLIB_FOLDERS and not d.startswith("config-"))
        for name in sorted(f for f in files if f.endswith(".py")):
            try:
                tree = ast.parse(Path(directory, name).read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            documents += [doc for node in ast.walk(tree)
                          if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                          and (doc := ast.get_docstring(node))]
    if not documents:
        raise DataError(f"no docstrings found under {root}")
    return documents


def has_tiny_shakespeare(root=None) -> bool:
    """Whether tiny Shakespeare is on disk (``root``, ``$TINYGDL_DATA``, the cache ...), without downloading."""
    return locate(TEXTS["tinyshakespeare"], root) is not None


def load_corpus(name: str, root=None) -> list[str]:
    """The documents of a text corpus: ``tinyshakespeare`` (one speech each), ``pydocs`` (the
    standard library's docstrings, always available), ``recipes`` or ``wine`` (the book's data)."""
    if name == "tinyshakespeare":
        return split_documents(load_text("tinyshakespeare", root))
    if name == "pydocs":
        return python_docstrings()
    if name == "recipes":
        return load_recipes(root)
    if name == "wine":
        return load_wine_reviews(root)
    raise ValueError(f"unknown text corpus {name!r}; known: {', '.join(CORPORA)}")


def held_out_split(documents, fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """``(train, held_out)``: the held-out part is the last ``fraction`` of the text (counted in
    characters, cut between documents), so it is text the model never saw, not a random sample of
    speeches interleaved with the training ones."""
    if not 0 <= fraction < 1:
        raise ValueError(f"held_out_split: fraction must lie in [0, 1), got {fraction}")
    sizes = np.cumsum([len(d) for d in documents])
    cut = int(np.searchsorted(sizes, (1 - fraction) * sizes[-1])) + 1 if len(sizes) and fraction else len(documents)
    return list(documents[:cut]), list(documents[cut:])


def pack_documents(documents, length: int, max_gap: int | None = None) -> np.ndarray:
    """Rows of ``length`` ids (int64, 0-padded at the end) holding consecutive documents.

    ``documents`` are id sequences, taken in order.  A row takes whole documents while they fit.
    When the next one does not fit, the row is closed (padded) if at most ``max_gap`` places are
    left (default: a tenth of the row); otherwise the document fills the row and continues in the
    next one.  So padding is at most ``max_gap`` per row (plus the end of the last row), most
    rows start at a document's start, and the rows read the documents in their original order.
    """
    max_gap = length // 10 if max_gap is None else max_gap
    rows, current = [], []
    for document in documents:
        document = list(document)
        if current and len(current) + len(document) > length and length - len(current) <= max_gap:
            rows.append(current)
            current = []
        while len(current) + len(document) > length:
            room = length - len(current)
            rows.append(current + document[:room])
            current, document = [], document[room:]
        current += document
    if current:
        rows.append(current)
    return pad_sequences(rows, length)


@dataclass
class LanguageModelData:
    """A corpus ready for a language model: the fitted tokenizer and the packed rows of each split
    ((M, length + 1) int64; input ``rows[:, :-1]``, target ``rows[:, 1:]``)."""

    tokenizer: WordTokenizer
    train: np.ndarray
    held_out: np.ndarray

    def datasets(self):
        """``(train, held_out)`` ArrayDatasets of (input ids, target ids) pairs."""
        from .loader import ArrayDataset

        return tuple(ArrayDataset(*split_input_target(rows)) if len(rows) else None
                     for rows in (self.train, self.held_out))


def book_tokenizer(max_tokens: int = BOOK_VOCABULARY, vocabulary=None) -> WordTokenizer:
    """The book's ``TextVectorization(standardize="lower", max_tokens=10000)`` on punctuation-spaced text."""
    return WordTokenizer(max_tokens=max_tokens, vocabulary=vocabulary)


def prepare_language_model(documents, length: int, max_tokens: int = BOOK_VOCABULARY,
                           held_out: float = 0.1) -> LanguageModelData:
    """Split ``documents`` (last ``held_out`` of the text held out), fit the vocabulary on the
    training part only (held-out words it lacks become ``[UNK]``, as unseen text would), and pack
    each split into rows of ``length + 1`` ids (``length`` = the model's window: 200 for the LSTM,
    80 for the GPT)."""
    train, rest = held_out_split(documents, held_out)
    train = [pad_punctuation(d) for d in train]
    rest = [pad_punctuation(d) for d in rest]
    tokenizer = book_tokenizer(max_tokens).fit(train)
    pack = lambda texts: pack_documents([tokenizer.encode(t) for t in texts], length + 1)  # noqa: E731
    return LanguageModelData(tokenizer, pack(train), pack(rest))
