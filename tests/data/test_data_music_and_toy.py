"""JSB chorales, MuseGAN's piano-roll preprocessing, and the two-moons data."""

import numpy as np
import pytest

from tinygdl.data import CorruptFileError, load_jsb_chorales, make_moons, musegan_bars


def write_chorales(path, chorales_by_split):
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, chorales in chorales_by_split.items():
        arrays[split] = np.empty(len(chorales), dtype=object)
        arrays[split][:] = chorales
    np.savez(path, **arrays)


def test_load_jsb_chorales_from_a_generated_file(tmp_path):
    chorale = np.full((40, 4), 60.0, np.float16)
    chorale[3, 1] = np.nan
    write_chorales(tmp_path / "jsb-chorales" / "Jsb16thSeparated.npz",
                   {"train": [chorale, chorale[:35]], "valid": [chorale], "test": [chorale]})
    train = load_jsb_chorales("train", root=tmp_path)
    assert [c.shape for c in train] == [(40, 4), (35, 4)] and train[0].dtype == np.float32
    assert np.isnan(train[0][3, 1])
    with pytest.raises(ValueError, match="split"):
        load_jsb_chorales("training", root=tmp_path)


def test_jsb_missing_split_and_bad_shape(tmp_path):
    path = tmp_path / "jsb-chorales" / "Jsb16thSeparated.npz"
    write_chorales(path, {"train": [np.zeros((40, 3))]})
    with pytest.raises(CorruptFileError, match=r"missing keys \['test'\]"):
        load_jsb_chorales("test", root=tmp_path)
    with pytest.raises(CorruptFileError, match=r"chorale 0 should have shape \(T, 4\)"):
        load_jsb_chorales("train", root=tmp_path)


def test_musegan_bars():
    rng = np.random.default_rng(0)
    chorales = [rng.integers(36, 82, size=(t, 4)).astype(np.float32) for t in (32, 50)]
    chorales[1][5, 2] = np.nan  # a rest in the tenor, bar 0, step 5
    bars = musegan_bars(chorales)
    assert bars.shape == (2, 2, 16, 84, 4) and set(np.unique(bars)) == {-1.0, 1.0}
    assert (bars == 1).sum(axis=3).min() == 1  # exactly one pitch on per (song, bar, step, track)
    pitch = int(chorales[0][20, 3])  # bass, bar 1, step 4
    assert bars[0, 1, 4, pitch, 3] == 1 and bars[0, 1, 4, :, 3].sum() == 1 - 83
    assert bars[1, 0, 5, 83, 2] == 1  # rests become pitch 83
    with pytest.raises(ValueError, match="fewer than 32 steps"):
        musegan_bars([np.zeros((31, 4))])


def test_real_jsb_chorales(shared_data):
    counts = {split: len(load_jsb_chorales(split, root=shared_data)) for split in ("train", "valid", "test")}
    assert counts == {"train": 229, "valid": 76, "test": 77}
    train = load_jsb_chorales(root=shared_data)
    assert train[0].shape == (192, 4)
    assert musegan_bars(train).shape == (229, 2, 16, 84, 4)


# --------------------------------------------------------------------------- moons


def test_moons_without_noise_equal_scikit_learn():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    for n in (7, 100):
        ours, our_labels = make_moons(n, shuffle=False)
        theirs, their_labels = sklearn_datasets.make_moons(n, shuffle=False)
        np.testing.assert_allclose(ours, theirs, atol=1e-12)
        np.testing.assert_array_equal(our_labels, their_labels)


def test_moons_noise_and_shuffle_statistics_match_scikit_learn():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ours, labels = make_moons(30000, noise=0.05, seed=0)
    theirs, _ = sklearn_datasets.make_moons(30000, noise=0.05, random_state=0)
    assert ours.dtype == np.float64 and labels.dtype == np.int64 and labels.sum() == 15000
    np.testing.assert_allclose(ours.mean(axis=0), theirs.mean(axis=0), atol=0.01)
    np.testing.assert_allclose(ours.std(axis=0), theirs.std(axis=0), atol=0.01)
    # every point lies within a few noise widths of its moon's circle
    centres = np.where(labels[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    radius = np.linalg.norm(ours - centres, axis=1)
    assert abs(radius.mean() - 1) < 0.01 and np.abs(radius - 1).max() < 0.05 * 6
    assert not np.array_equal(labels[:100], np.sort(labels[:100]))  # shuffled


def test_moons_seeding():
    np.testing.assert_array_equal(make_moons(50, noise=0.1, seed=3)[0], make_moons(50, noise=0.1, seed=3)[0])
    assert not np.array_equal(make_moons(50, noise=0.1, seed=3)[0], make_moons(50, noise=0.1, seed=4)[0])
