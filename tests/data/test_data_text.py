"""Text loading, Keras-style tokenizers, documents and language-model windows."""

import dataclasses
import hashlib
from pathlib import Path

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


# --------------------------------------------------------------------------- the book's language-model pipeline


def test_pack_documents_keeps_order_and_pads_only_row_ends():
    docs = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10, 11, 12], [13]]
    rows = text_module.pack_documents(docs, 5, max_gap=1)
    # [1 2 3 4 5] full; [6..12] is longer than a row: it fills rows and its tail shares with [13]
    np.testing.assert_array_equal(rows, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 0, 0]])
    # With a gap of 2 allowed, a row that cannot take the next document is closed and padded
    rows = text_module.pack_documents([[1, 2, 3], [4, 5, 6]], 5, max_gap=2)
    np.testing.assert_array_equal(rows, [[1, 2, 3, 0, 0], [4, 5, 6, 0, 0]])
    rows = text_module.pack_documents([[1, 2, 3], [4, 5, 6]], 5, max_gap=1)  # too big a gap: split
    np.testing.assert_array_equal(rows, [[1, 2, 3, 4, 5], [6, 0, 0, 0, 0]])
    flat = text_module.pack_documents([list(range(1, 40))], 7)
    np.testing.assert_array_equal(flat[flat != 0], np.arange(1, 40))


def test_held_out_split_is_the_last_part_of_the_text():
    docs = ["a" * 10] * 9 + ["b" * 10] * 1
    train, held_out = text_module.held_out_split(docs, 0.1)
    assert train == docs[:9] and held_out == ["b" * 10]
    assert text_module.held_out_split(docs, 0.0) == (docs, [])
    with pytest.raises(ValueError, match="fraction"):
        text_module.held_out_split(docs, 1.0)


def test_prepare_language_model_fits_the_vocabulary_on_training_text_only():
    docs = ["Hear me, sir!", "Speak, speak."] * 20 + ["Unseen words here."] * 2
    data = text_module.prepare_language_model(docs, length=8, max_tokens=20, held_out=0.1)
    vocabulary = data.tokenizer.vocabulary
    assert vocabulary[:2] == ["", "[UNK]"] and "," in vocabulary and "speak" in vocabulary
    assert "unseen" not in vocabulary  # only in the held-out tenth
    assert data.train.shape[1] == data.held_out.shape[1] == 9
    assert (data.held_out == 1).any()  # held-out words it lacks are [UNK]
    train, held_out = data.datasets()
    inputs, targets = train[0:2]
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])


def test_python_docstrings_corpus_is_always_there(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text('"""Module doc."""\ndef f():\n    """Function doc."""\n')
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "skipped.py").write_text('"""Test doc."""\n')
    (tmp_path / "broken.py").write_text("def (:\n")
    assert text_module.python_docstrings(tmp_path) == ["Module doc.", "Function doc."]
    with pytest.raises(text_module.DataError, match="no docstrings"):
        text_module.python_docstrings(tmp_path / "test" / "nothing")


def test_standard_library_corpus_is_real_english():
    import sysconfig

    docs = text_module.python_docstrings(Path(sysconfig.get_paths()["stdlib"]) / "email")  # a part: quick
    assert len(docs) > 100 and sum(map(len, docs)) > 20_000
    words = WordTokenizer(max_tokens=50).fit([pad_punctuation(d) for d in docs]).vocabulary
    assert {"the", "of", "a", "is", "to"} <= set(words)


def test_recipes_and_wine_loaders_read_the_book_formats(tmp_path):
    import json

    (tmp_path / "epicurious").mkdir()
    (tmp_path / "epicurious" / "full_format_recipes.json").write_text(json.dumps([
        {"title": "Toast", "directions": ["Toast the bread.", "Serve."]},
        {"title": None, "directions": ["x"]}, {"title": "No directions"}]))
    assert text_module.load_corpus("recipes", tmp_path) == ["Recipe for Toast | Toast the bread. Serve."]
    (tmp_path / "wine-reviews").mkdir()
    (tmp_path / "wine-reviews" / "winemag-data-130k-v2.json").write_text(json.dumps([
        {"country": "Italy", "province": "Sicily", "variety": "White Blend", "description": "Aromas of fruit."},
        {"country": None, "province": "x", "variety": "y", "description": "z"}]))
    assert text_module.load_corpus("wine", tmp_path) == [
        "wine review : Italy : Sicily : White Blend : Aromas of fruit."]
    with pytest.raises(DatasetNotFoundError, match="full_format_recipes.json"):
        text_module.load_recipes(tmp_path / "nothing")
    with pytest.raises(ValueError, match="unknown text corpus"):
        text_module.load_corpus("war-and-peace")


def test_tiny_shakespeare_is_found_without_downloading(tmp_path):
    assert not text_module.has_tiny_shakespeare(tmp_path)
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("A:\nhi.\n\nB:\nho.\n")
    assert text_module.has_tiny_shakespeare(tmp_path)
    assert text_module.load_corpus("tinyshakespeare", tmp_path) == ["A:\nhi.", "B:\nho."]


def test_real_tiny_shakespeare_packs_with_little_padding(shared_data):
    data = text_module.prepare_language_model(text_module.load_corpus("tinyshakespeare", shared_data), 200)
    assert len(data.tokenizer) == 10_000
    assert data.tokenizer.vocabulary[:5] == ["", "[UNK]", ",", ":", "."]
    assert (data.train == 0).mean() < 0.03 and len(data.held_out) > 100
