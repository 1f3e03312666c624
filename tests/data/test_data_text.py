"""Text loading, Keras-style tokenizers, documents and language-model windows."""

import dataclasses
import hashlib

import numpy as np
import pytest

from tinygdl.data import (
    CharTokenizer,
    DatasetNotFoundError,
    RemoteFile,
    WordTokenizer,
    cache_dir,
    load_text,
    make_windows,
    pad_punctuation,
    pad_sequences,
    split_documents,
    split_input_target,
)
from tinygdl.data import text as text_module


def test_word_vocabulary_sorted_by_frequency_with_padding_and_unknown_first():
    tokenizer = WordTokenizer().fit(["b a a", "c b A"])
    assert tokenizer.vocabulary == ["", "[UNK]", "a", "b", "c"] and len(tokenizer) == 5


def test_ties_put_the_higher_sorting_token_first():
    assert WordTokenizer().fit("x z y").vocabulary[2:] == ["z", "y", "x"]
    assert CharTokenizer().fit("abba").vocabulary == ["", "[UNK]", "b", "a"]


def test_max_tokens_counts_padding_and_unknown():
    tokenizer = WordTokenizer(max_tokens=4).fit("a a a b b c")
    assert tokenizer.vocabulary == ["", "[UNK]", "a", "b"]
    assert tokenizer.encode("A c b").tolist() == [2, 1, 3]
    with pytest.raises(ValueError, match="at least 3"):
        WordTokenizer(max_tokens=2)


def test_lower_only_punctuation_kept():
    tokenizer = WordTokenizer().fit("Hello, world! hello")
    assert tokenizer.tokens("Hello, World") == ["hello,", "world"]
    assert WordTokenizer(standardize=None).tokens("Hello") == ["Hello"]


def test_output_sequence_length_pads_and_truncates():
    tokenizer = WordTokenizer(output_sequence_length=3).fit("a a b")
    assert tokenizer.encode("a b a b").tolist() == [2, 3, 2]
    assert tokenizer.encode("b").tolist() == [3, 0, 0]
    batch = tokenizer.encode_batch(["a", "b a b a"])
    assert batch.dtype == np.int64 and batch.tolist() == [[2, 0, 0], [3, 2, 3]]


def test_encode_batch_without_length_pads_to_the_longest():
    tokenizer = WordTokenizer().fit("a a b")
    assert tokenizer.encode_batch(["a", "a b b"]).tolist() == [[2, 0, 0], [2, 3, 3]]


def test_decode_skips_padding():
    words = WordTokenizer(output_sequence_length=6).fit("to be or not")
    assert words.decode(words.encode("To be or not")) == "to be or not"
    chars = CharTokenizer().fit("To be")
    assert chars.decode(chars.encode("be To")) == "be To"
    assert chars.decode(chars.encode("bez")) == "be[UNK]"


def test_saved_vocabulary_round_trip():
    fitted = WordTokenizer().fit("one two two")
    restored = WordTokenizer(vocabulary=fitted.vocabulary)
    assert restored.encode("two one three").tolist() == fitted.encode("two one three").tolist()
    with pytest.raises(ValueError, match="starts with"):
        WordTokenizer(vocabulary=["a", "b"])


def test_encode_needs_a_vocabulary():
    with pytest.raises(RuntimeError, match="fit"):
        CharTokenizer().encode("abc")


def test_pad_sequences():
    assert pad_sequences([[1, 2, 3], [4]], length=2).tolist() == [[1, 2], [4, 0]]
    assert pad_sequences([[1], [2, 3]], value=-1).tolist() == [[1, -1], [2, 3]]


def test_documents_are_blank_line_separated():
    assert split_documents("A:\nx y\n\nB:\nz\n  \n\n\nC\n") == ["A:\nx y", "B:\nz", "C"]


def test_pad_punctuation():
    assert pad_punctuation("Hear me, sir!") == "Hear me , sir ! "
    assert pad_punctuation("a\nb", extra="\n") == "a \n b"


def test_windows_for_language_modelling():
    inputs, targets = make_windows(np.arange(10), length=3)
    assert inputs.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert targets.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    inputs, targets = make_windows(np.arange(10), length=3, stride=1)
    assert inputs.shape == (7, 3) and targets[-1].tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="at least 4"):
        make_windows(np.arange(3), length=3)


def test_split_input_target():
    inputs, targets = split_input_target(np.array([[5, 6, 7, 0]]))
    assert inputs.tolist() == [[5, 6, 7]] and targets.tolist() == [[6, 7, 0]]


# --------------------------------------------------------------------------- files


def test_load_text_downloads_into_the_cache(tmp_path, monkeypatch):
    content = "First Citizen:\nSpeak.\n\nAll:\nSpeak, speak.\n"
    source = tmp_path / "server.txt"
    source.write_text(content, encoding="utf-8")
    remote = RemoteFile("input.txt", (source.as_uri(),), "sha256:" + hashlib.sha256(content.encode()).hexdigest())
    spec = dataclasses.replace(text_module.TEXTS["tinyshakespeare"], remote=(remote,))
    monkeypatch.setitem(text_module.TEXTS, "tinyshakespeare", spec)
    assert load_text() == content
    assert (cache_dir() / "tinyshakespeare" / "input.txt").read_text() == content


def test_missing_text_offline(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"input\.txt[\s\S]*tinyshakespeare"):
        load_text(root=tmp_path, download=False)


def test_unknown_text():
    with pytest.raises(ValueError, match="unknown text"):
        load_text("war-and-peace")


def test_real_tiny_shakespeare(shared_data):
    text = load_text(root=shared_data, download=False)
    assert len(text) == 1115394
    assert len(CharTokenizer().fit(text)) == 65 + 2
    documents = split_documents(text)
    assert documents[0] == "First Citizen:\nBefore we proceed any further, hear me speak."
    assert len(documents) > 7000
