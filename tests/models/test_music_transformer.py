"""The music Transformer: its parameter count (formula and the book's figure), the position code,
causality, parity with a PyTorch twin, the book's generation rules, the music21 tokens and MIDI."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import tinygdl as tg
from tinygdl.data import music as music_data
from tinygdl.models import music
from tinygdl.testing import assert_close

SMALL = dict(embed_dim=8, num_heads=2, key_dim=4, ff_dim=12)


def test_parameter_count_formula_and_the_book_figure():
    model = music.MusicTransformer()  # the book's vocabularies: 59 notes, 24 durations
    assert model.num_parameters() == music.transformer_parameter_count(59, 24) == 1_479_379
    other = music.MusicTransformer(31, 7)
    assert other.num_parameters() == music.transformer_parameter_count(31, 7)
    assert music.transformer_parameter_count(60, 24) - 1_479_379 == 128 + 257  # one more note: a row and a column
    from tinygdl.nn import summary

    table = summary(model, [(50,), (50,)], print_fn=None)  # zeros as ids, as `tinygdl summary` feeds them
    assert "Total params: 1,479,379" in table



def test_states_saved_with_the_old_block_names_still_load(tmp_path):
    """Before the block moved to tinygdl.nn its layers were block.norm_1, block.ff_1 ... (now norm1, ff1)."""
    saved = music.MusicTransformer(9, 5, **SMALL)
    old_names = {"block.norm1.": "block.norm_1.", "block.norm2.": "block.norm_2.", "block.ff1.": "block.ff_1.",
                 "block.ff2.": "block.ff_2."}

    def old_name(key):
        return next((old + key[len(new):] for new, old in old_names.items() if key.startswith(new)), key)

    state = {old_name(key): value.numpy() for key, value in saved.state_dict().items()}
    assert "block.ff_1.weight" in state and "block.norm_2.bias" in state
    np.savez(tmp_path / "old.npz", **state)
    loaded = music.MusicTransformer(9, 5, **SMALL).load(tmp_path / "old.npz")
    for key, value in saved.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key].numpy(), value.numpy(), err_msg=key)

def test_position_code_is_interleaved_sines_and_cosines():
    code = music.position_code(7, 6)
    p, i = 5, 2  # an even feature: sin(p / 10000^(i/d)); the next one, its cosine
    assert code[p, i] == pytest.approx(np.sin(p / 10000 ** (2 / 6)))
    assert code[p, i + 1] == pytest.approx(np.cos(p / 10000 ** (2 / 6)))
    assert np.array_equal(code[0], np.tile([0.0, 1.0], 3))


def test_position_t_sees_no_later_position(float64):
    """The gradient of position t's logits with respect to the block's input at positions > t is
    exactly zero (and not at positions <= t); changing later tokens leaves earlier logits unchanged."""
    model = music.MusicTransformer(9, 5, **SMALL)
    model.eval()
    rng = np.random.default_rng(0)
    notes, durations = rng.integers(0, 9, (2, 6)), rng.integers(0, 5, (2, 6))
    x = model.embed(notes, durations).detach().requires_grad_()
    note_logits, duration_logits = model.decode(x)
    for t in range(6):
        (g,) = tg.grad(note_logits[:, t].sum() + duration_logits[:, t].sum(), [x], retain_graph=True)
        g = g.numpy()
        assert np.all(g[:, t + 1:] == 0), t
        assert np.all(np.abs(g[:, :t + 1]).sum(axis=-1) > 0), t
    changed = notes.copy()
    changed[:, 4:] = (changed[:, 4:] + 1) % 9
    a, b = model(notes, durations)[0].numpy(), model(changed, durations)[0].numpy()
    assert np.array_equal(a[:, :4], b[:, :4]) and not np.array_equal(a[:, 4:], b[:, 4:])


# --------------------------------------------------------------------------- against PyTorch


@pytest.fixture(autouse=True)
def one_torch_thread(request):
    """The PyTorch twins on one thread (tests/conftest.py's ``torch_one_thread``)."""
    if "torch" in request.fixturenames:
        request.getfixturevalue("torch_one_thread")


def test_forward_and_gradients_match_the_twin(torch, float64):
    from benchmarks.twins.music import make_transformer, torch_transformer_loss

    setup = make_transformer(torch, batch=3, length=6, n_notes=9, n_durations=5, **SMALL)
    model, twin = setup["model"], setup["twin"]
    notes, durations = setup["notes"], setup["durations"]
    logits = model(notes[:, :-1], durations[:, :-1])
    t_logits = twin(torch.tensor(notes[:, :-1]), torch.tensor(durations[:, :-1]))
    for ours, theirs in zip(logits, t_logits):
        assert_close(ours, theirs.detach(), rtol=1e-9, atol=1e-12)
    loss = music.music_transformer_loss(model, notes, durations)[0]
    t_loss = torch_transformer_loss(torch, twin, torch.tensor(notes), torch.tensor(durations))
    assert abs(loss.item() - t_loss.item()) <= 1e-12
    grads = tg.grad(loss, model.parameters())
    t_grads = dict(zip([n for n, _ in twin.named_parameters()], torch.autograd.grad(t_loss, list(twin.parameters()))))
    by_name = dict(zip([n for n, _ in model.named_parameters()], grads))
    pairs = {"note_embedding.weight": "note_embedding", "duration_embedding.weight": "duration_embedding",
             "block.attention.query.weight": "block.query_weight", "block.attention.key.bias": "block.key_bias",
             "block.attention.output.weight": "block.output_weight", "block.norm1.weight": "block.norm1.weight",
             "block.ff1.weight": "block.ff1.weight", "note_head.bias": "note_head.bias",
             "duration_head.weight": "duration_head.weight"}
    for ours, theirs in pairs.items():
        g = by_name[ours].numpy()
        expected = t_grads[theirs].numpy()
        assert_close(g.T if ours.endswith(("ff1.weight", "head.weight")) else g, expected, rtol=1e-9, atol=1e-12,
                     msg=ours)


def run_steps(torch, setup, steps: int, p: float = 0.3) -> tuple:
    from benchmarks.twins.music import torch_transformer_loss

    model, twin, masks = setup["model"], setup["twin"], setup["masks"]
    notes, durations = setup["notes"], setup["durations"]
    ours, theirs = [], []
    for _ in range(steps):
        masks.update({key: ((setup["rng"].random(m.shape) >= p) / (1 - p)).astype(m.dtype)
                      for key, m in masks.items()})  # new masks each step, the same for both engines
        loss = music.music_transformer_loss(model, notes, durations)[0]
        setup["optimizer"].zero_grad()
        loss.backward()
        setup["optimizer"].step()
        t_loss = torch_transformer_loss(torch, twin, torch.tensor(notes), torch.tensor(durations))
        setup["twin_optimizer"].zero_grad()
        t_loss.backward()
        setup["twin_optimizer"].step()
        ours.append(loss.item())
        theirs.append(t_loss.item())
    return np.array(ours), np.array(theirs)


def test_first_50_training_steps_match_the_twin_in_float32(torch):
    from benchmarks.twins.music import make_transformer

    setup = make_transformer(torch, batch=4, length=10, n_notes=11, n_durations=6, **SMALL)
    ours, theirs = run_steps(torch, setup, 50)
    assert ours[-1] < ours[0]  # it learns the batch
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)


@pytest.mark.slow
def test_book_shapes_match_the_twin(torch, float64):
    from benchmarks.twins.music import make_transformer

    setup = make_transformer(torch, batch=8, length=50)
    ours, theirs = run_steps(torch, setup, 2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


# --------------------------------------------------------------------------- generation


class Scripted:
    """A stand-in model whose last-position logits are fixed: it likes [UNK], START and a zero duration."""

    training = False

    def __init__(self, note_logits, duration_logits):
        self.note_logits, self.duration_logits = note_logits, duration_logits

    def modules(self):
        return [self]

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def __call__(self, notes, durations):
        n, t = notes.shape
        return (tg.tensor(np.tile(self.note_logits, (n, t, 1))), tg.tensor(np.tile(self.duration_logits, (n, t, 1))))


def test_generation_follows_the_book_rules():
    notes = ["", "[UNK]", "START", "C4", "rest", "G:major"]
    durations = ["", "[UNK]", "0.0", "0.5"]
    model = Scripted(np.log([1e-9, 0.5, 1e-9, 0.2, 0.2, 0.1]), np.log([1e-9, 0.3, 0.4, 0.3]))
    out_notes, out_durations = music.generate_tokens(model, notes, durations, temperature=1.0, max_tokens=200,
                                                     rng=np.random.default_rng(0))
    assert out_notes[0] == "START" and len(out_notes) == 200
    assert "[UNK]" not in out_notes + out_durations and "" not in out_notes[1:]
    for note, duration in zip(out_notes[1:], out_durations[1:]):
        assert not (music_data.is_sounding(note) and Fraction(duration) == 0)
    assert "G:major" in out_notes  # signatures may keep a zero duration
    # a drawn START ends the piece
    stopping = Scripted(np.log([1e-9, 1e-9, 1.0, 1e-9, 1e-9, 1e-9]), np.log([1e-9, 1e-9, 0.5, 0.5]))
    assert music.generate_tokens(stopping, notes, durations, rng=np.random.default_rng(0)) == (["START"], ["0.0"])


def test_token_events_and_note_names():
    assert [music_data.note_name_to_midi(n) for n in ("C4", "F#3", "E-5", "B-2", "C#1")] == [60, 54, 75, 46, 25]
    events = music_data.token_events(["START", "G:major", "3/4TS", "G4", "rest", "B4"],
                                     ["0.0", "0.0", "0.0", "1/3", "0.5", "1.0"])
    assert events == [(0.0, 1 / 3, 67), (1 / 3 + 0.5, 1.0, 71)]


# --------------------------------------------------------------------------- music21: tokens and MIDI


def test_score_tokens_follow_the_book(tmp_path):
    m21 = pytest.importorskip("music21")
    part = m21.stream.Part()
    part.append(m21.key.Key("G"))
    part.append(m21.meter.TimeSignature("3/4"))
    part.append(m21.chord.Chord(["G3", "D4", "B4"], quarterLength=1.0))
    part.append(m21.note.Rest(quarterLength=0.5))
    part.append(m21.note.Note("F#4", quarterLength=Fraction(1, 3)))
    notes, durations = music_data.score_tokens(m21.stream.Score([part]))
    assert notes == ["START", "G:major", "3/4TS", "B4", "rest", "F#4"]
    assert durations == ["0.0", "0.0", "0.0", "1.0", "0.5", "1/3"]


def test_bach_chorales_parse_into_token_streams():
    pytest.importorskip("music21")
    notes, durations = music_data.bach_chorale_tokens(limit=1, cache=False)
    assert notes[:3] == ["START", "G:major", "3/4TS"] and len(notes) == len(durations) > 50


def test_midi_export_parses_back_into_the_same_notes(tmp_path):
    pytest.importorskip("music21")
    notes = ["START", "G:major", "4/4TS", "G4", "A4", "rest", "B4", "D5", "C5"]
    durations = ["0.0", "0.0", "0.0", "1.0", "0.5", "0.5", "1.5", "0.25", "2.0"]
    path = music_data.write_midi(music_data.tokens_to_stream(notes, durations), tmp_path / "piece.mid")
    (parsed,) = music_data.read_midi_notes(path)
    assert parsed == music_data.token_events(notes, durations)


def test_the_recipe_keeps_its_vocabularies_in_the_checkpoint_state():
    from tinygdl.zoo import recipe

    small = dict(embed_dim=8, num_heads=2, key_dim=4, ff_dim=8)
    trained = recipe("music_transformer", n_notes=4, **small)
    trained.note_tokens = music_data_tokenizer(["START", "G4", "A4", "G4", "B4"], 4)  # room for 2 tokens
    trained.duration_tokens = music_data_tokenizer(["0.0", "1.0", "0.5"], 24)
    assert trained.note_tokens.vocabulary == ["", "[UNK]", "G4", "START"]
    state = trained.state_dict()
    fresh = recipe("music_transformer", n_notes=4, **small)
    fresh.load_state_dict(state)
    assert fresh.note_tokens.vocabulary == trained.note_tokens.vocabulary
    model = fresh.build()["model"]
    assert (model.n_notes, model.n_durations) == (4, 24)  # the sizes are settings; 5 durations leave rows unused
    notes, durations = fresh.generate(model, max_tokens=30)
    assert set(notes) <= set(fresh.note_tokens.vocabulary) and set(durations) <= set(fresh.duration_tokens.vocabulary)


def music_data_tokenizer(tokens, size):
    from tinygdl.data.text import WordTokenizer

    return WordTokenizer(max_tokens=size, standardize=None).fit(" ".join(tokens))
