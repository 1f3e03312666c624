"""Chapter 11: music (book notebooks ``11_music/01_transformer`` and ``02_musegan``).

Networks: ``tinygdl/models/music.py``; data, tokens and MIDI: ``tinygdl/data/music.py``.

* ``musegan`` trains on the JSB chorales (``jsb-chorales/Jsb16thSeparated.npz`` under
  ``TINYGDL_DATA``, the book's data).  Without that file it says so and trains on
  ``--dataset synthetic``: deterministic, chorale-*like* four-voice progressions made up on the spot
  (clearly not Bach; see ``synthetic_chorales``).  ``samples/`` holds piano rolls (one panel per
  track); the report adds ``latent_demos.png`` (the book's demos: one latent group redrawn at a
  time) and, with music21 installed, ``sample.mid``.
* ``music_transformer`` trains on the token streams of music21's 371 Bach chorales (``pip install
  'tinygdl[music]'``; parsed once, then cached), or on a folder of MIDI files such as the book's
  cello suites (``--dataset midi --set midi_folder=PATH``).  Its vocabularies are saved in the
  checkpoint.  Samples are a piano-roll PNG, the tokens as text, and a MIDI file.
"""

from __future__ import annotations

import numpy as np

from .. import plot
from ..data import ArrayDataset
from ..data import music as music_data
from ..data.errors import DatasetNotFoundError
from ..data.text import WordTokenizer
from ..errors import ConfigError
from ..models import music
from ..nn.module import evaluation_mode
from ..optim import Adam
from ..tensor import tensor
from .recipe import Recipe

SAMPLE_SEED = 1234
TRACK_NAMES = ("soprano", "alto", "tenor", "bass")
TRACK_COLOURS = np.array([[0.85, 0.2, 0.2], [0.95, 0.6, 0.1], [0.2, 0.6, 0.3], [0.2, 0.35, 0.8]])


# --------------------------------------------------------------------------- piano rolls


def piano_roll_tracks(pitches: np.ndarray, path: str, titles=None, lowest: int = 24) -> str:
    """A grid of piano rolls, one row per piece and one panel per track: ``pitches`` (pieces,
    tracks, steps) of MIDI pitches (−1: silent) drawn as dark cells on a (pitch, step) canvas."""
    pieces, tracks, steps = pitches.shape
    figure = plot._figure(2.6 * tracks, 1.8 * pieces + 0.4)
    for i in range(pieces):
        for k in range(tracks):
            axes = figure.add_subplot(pieces, tracks, i * tracks + k + 1)
            roll = np.zeros((128, steps))
            for step, pitch in enumerate(pitches[i, k]):
                if pitch >= 0:
                    roll[int(pitch), step] = 1
            used = np.nonzero(pitches[i, k] >= 0)[0]
            low = max(min(int(pitches[i, k][used].min()) - 3, 127), 0) if len(used) else lowest
            high = min(int(pitches[i, k][used].max()) + 4, 128) if len(used) else lowest + 24
            axes.imshow(roll[low:high], origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
                        extent=(0, steps, low, high))
            axes.tick_params(labelsize=6)
            if i == 0:
                axes.set_title(TRACK_NAMES[k] if tracks == 4 else f"track {k}", fontsize=8)
            if k == 0 and titles is not None:
                axes.set_ylabel(titles[i], fontsize=7)
    figure.tight_layout()
    return plot._save(figure, path)


def piano_roll_overlay(pitches: np.ndarray, path: str, titles, steps_per_bar: int = 16) -> str:
    """One panel per piece with every track in its own colour: ``pitches`` (pieces, tracks, steps)."""
    pieces, tracks, steps = pitches.shape
    figure = plot._figure(4.0, 1.6 * pieces + 0.3)
    sounding = pitches[pitches >= 0]
    low, high = (int(sounding.min()) - 2, int(sounding.max()) + 3) if sounding.size else (36, 84)
    for i in range(pieces):
        canvas = np.ones((high - low, steps, 3))
        for k in range(tracks):
            for step, pitch in enumerate(pitches[i, k]):
                if pitch >= 0:
                    canvas[int(pitch) - low, step] = TRACK_COLOURS[k % len(TRACK_COLOURS)]
        axes = figure.add_subplot(pieces, 1, i + 1)
        axes.imshow(canvas, origin="lower", aspect="auto", interpolation="nearest", extent=(0, steps, low, high))
        for bar in range(steps_per_bar, steps, steps_per_bar):
            axes.axvline(bar, color="black", linewidth=0.5)
        axes.set_title(titles[i], fontsize=8)
        axes.tick_params(labelsize=6)
    figure.tight_layout()
    return plot._save(figure, path)


# --------------------------------------------------------------------------- MuseGAN


class MuseGAN(Recipe):
    name = "musegan"
    chapter = 11
    title = "MuseGAN: 4-track, 2-bar piano rolls, chords/style/melody/groove noise, 3-D conv critic (WGAN-GP)"
    dataset = "jsb-chorales"
    datasets = ("jsb-chorales", "synthetic")
    # The book declares BATCH_SIZE = 64 but never passes it to fit: Keras's default 32 is what runs.
    # alpha_dist: the book's penalty draws α ~ N(0, 1) ("uniform" is Gulrajani et al.'s U[0, 1]).
    # scale: divides every hidden width (1 = the book's networks).
    defaults = dict(epochs=6000, batch_size=32, lr=1e-3, beta1=0.5, beta2=0.9, critic_steps=5, gp_weight=10.0,
                    alpha_dist="normal", scale=1, limit=None)

    def __init__(self, dataset=None, **overrides):
        super().__init__(dataset, **overrides)
        self.fall_back = dataset is None

    def input_shape(self, role=None):
        if role in (None, "generator"):
            return ((2 + 2 * music.N_TRACKS) * music.Z_DIM,)
        return (music.N_TRACKS, music.N_BARS, music.N_STEPS, music.N_PITCHES)

    def build(self):
        return {"generator": music.MuseGANGenerator(scale=self.scale), "critic": music.musegan_critic(scale=self.scale)}

    def chorales(self) -> list:
        if self.dataset == "jsb-chorales":
            try:
                return music_data.load_jsb_chorales("train")
            except DatasetNotFoundError:
                if not self.fall_back:
                    raise
                print("JSB chorales not found (set TINYGDL_DATA to a folder holding jsb-chorales/"
                      "Jsb16thSeparated.npz): training on SYNTHETIC chorale-like data (--dataset synthetic)")
                self.dataset = "synthetic"
        return music_data.synthetic_chorales()

    def load_data(self):
        bars = music_data.musegan_bars(self.chorales()[:self.limit])  # (N, bar, step, pitch, track)
        return ArrayDataset(np.ascontiguousarray(bars.transpose(0, 4, 1, 2, 3)).astype(np.float32)), None

    def optimizers(self, models):
        return {role: Adam(model.parameters(), lr=self.lr, betas=(self.beta1, self.beta2), eps_convention="keras")
                for role, model in models.items()}

    def train_step(self, models, optimizers):
        return music.MuseGANStep(models["generator"], models["critic"], optimizers["generator"], optimizers["critic"],
                                 self.critic_steps, self.gp_weight, self.alpha_dist)

    # -- samples ---------------------------------------------------------------------------------

    def fixed_noise(self, n: int, generator) -> np.ndarray:
        return np.random.default_rng(SAMPLE_SEED).standard_normal((n, generator.latent_dim))

    def generate(self, generator, z: np.ndarray) -> np.ndarray:
        """Scores as MIDI pitches (n, tracks, bars·steps): the argmax over the pitch axis, as the book."""
        dtype = next(iter(generator.parameters())).dtype
        with evaluation_mode([generator]):
            rolls = generator(tensor(z.astype(dtype), device=generator.device)).numpy()
        n, tracks, bars, steps, _ = rolls.shape
        return rolls.argmax(axis=-1).reshape(n, tracks, bars * steps)

    def sample(self, models, path, n=4):
        scores = self.generate(models["generator"], self.fixed_noise(n, models["generator"]))
        return piano_roll_tracks(scores, path, titles=[f"sample {i}" for i in range(n)])

    def latent_demos(self, generator, path: str) -> str:
        """The book's demos: one score, then the same score with one latent group redrawn at a time
        (the chords; the style; the melody of track 0; the groove of track 3)."""
        rng = np.random.default_rng(SAMPLE_SEED + 1)
        d, k = generator.z_dim, generator.n_tracks
        base = rng.standard_normal(generator.latent_dim)
        groups = {"chords redrawn": slice(0, d), "style redrawn": slice(d, 2 * d),
                  "melody of track 0 redrawn": slice(2 * d, 3 * d),
                  f"groove of track {k - 1} redrawn": slice((2 + 2 * k - 1) * d, (2 + 2 * k) * d)}
        zs = [base]
        for part in groups.values():
            z = base.copy()
            z[part] = rng.standard_normal(part.stop - part.start)
            zs.append(z)
        scores = self.generate(generator, np.stack(zs))
        return piano_roll_overlay(scores, path, ["original"] + list(groups))

    def report(self, models, out_dir):
        generator = models["generator"]
        self.sample(models, self.output(out_dir, "samples.png"))
        self.latent_demos(generator, self.output(out_dir, "latent_demos.png"))
        score = self.generate(generator, self.fixed_noise(1, generator))[0]
        try:
            midi = music_data.write_midi(music_data.notes_to_score(music_data.roll_to_notes(score)),
                                         self.output(out_dir, "sample.mid"))
        except ImportError as error:
            print(f"no MIDI file: {error}")
            return {}
        return {"midi": midi}


# --------------------------------------------------------------------------- the music Transformer


class MusicTransformer(Recipe):
    name = "music_transformer"
    chapter = 11
    title = "music Transformer: pitch and duration tokens, 5-head causal block, two softmax heads"
    dataset = "bach-chorales"
    datasets = ("bach-chorales", "midi")
    # n_notes / n_durations: the vocabulary sizes, "" and [UNK] included (the book's run: 59 and 24,
    # so the model has its 1,479,379 parameters); the data's rarest tokens beyond them become [UNK],
    # and a smaller vocabulary leaves rows unused.  limit: the first N files only.  held_out: the
    # fraction of token windows at the end of the stream kept for a validation loss (the book: 0).
    defaults = dict(epochs=5000, batch_size=256, lr=1e-3, seq_len=50, embed_dim=128, num_heads=5, key_dim=256,
                    ff_dim=256, dropout=0.3, n_notes=59, n_durations=24, midi_folder=None, limit=None, held_out=0.05)
    sample_options = dict(temperature=0.5, max_tokens=50, seed=0)

    def __init__(self, dataset=None, **overrides):
        super().__init__(dataset, **overrides)
        self.note_tokens = self.duration_tokens = None  # WordTokenizers once the data (or a checkpoint) is read

    def input_shape(self, role=None):
        return [(self.seq_len,), (self.seq_len,)]

    # -- data and vocabularies ---------------------------------------------------------------------

    def token_streams(self) -> tuple:
        if self.dataset == "midi":
            if not self.midi_folder:
                raise ConfigError("music_transformer --dataset midi needs --set midi_folder=PATH (a folder of .mid)")
            return music_data.midi_folder_tokens(self.midi_folder)
        return music_data.bach_chorale_tokens(limit=self.limit)

    def load_data(self):
        notes, durations = self.token_streams()
        self.note_tokens = _vocabulary(notes, self.n_notes, "note")
        self.duration_tokens = _vocabulary(durations, self.n_durations, "duration")
        note_ids = self.note_tokens.encode(" ".join(notes))
        duration_ids = self.duration_tokens.encode(" ".join(durations))
        # Every window of seq_len + 1 tokens (stride 1, across file boundaries, as the book).
        windows = [np.lib.stride_tricks.sliding_window_view(ids, self.seq_len + 1) for ids in (note_ids, duration_ids)]
        count = len(windows[0])
        cut = count - int(round(self.held_out * count))
        # The held-out windows start after the last training window ends (no shared token).
        train = ArrayDataset(*(np.ascontiguousarray(w[:max(cut - self.seq_len, 0)]) for w in windows))
        held_out = ArrayDataset(*(np.ascontiguousarray(w[cut:]) for w in windows)) if cut < count else None
        return train, held_out

    def state_dict(self) -> dict:
        if self.note_tokens is None:
            return {}
        return {"note_vocabulary": np.array(self.note_tokens.vocabulary),
                "duration_vocabulary": np.array(self.duration_tokens.vocabulary)}

    def load_state_dict(self, state: dict) -> None:
        vocabularies = ("note_vocabulary", "duration_vocabulary")
        super().load_state_dict({key: value for key, value in state.items() if key not in vocabularies})
        if all(key in state for key in vocabularies):
            self.note_tokens, self.duration_tokens = (
                WordTokenizer(standardize=None, vocabulary=[str(t) for t in state[key]]) for key in vocabularies)

    # -- the network and its training ----------------------------------------------------------------

    def build(self):
        return {"model": music.MusicTransformer(self.n_notes, self.n_durations, self.embed_dim, self.num_heads,
                                                self.key_dim, self.ff_dim, self.dropout)}

    def optimizers(self, models):
        return {"optimizer": Adam(models["model"].parameters(), lr=self.lr, eps_convention="keras")}

    def train_step(self, models, optimizers):
        model, optimizer = models["model"], optimizers["optimizer"]

        def step(batch) -> dict:
            loss, note_loss, duration_loss = music.music_transformer_loss(model, *batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return {"loss": loss.item(), "note_loss": note_loss.item(), "duration_loss": duration_loss.item()}

        return step

    def eval_step(self, models):
        def step(batch) -> dict:
            loss, note_loss, duration_loss = music.music_transformer_loss(models["model"], *batch)
            return {"loss": loss.item(), "note_loss": note_loss.item(), "duration_loss": duration_loss.item()}

        return step

    # -- generation ----------------------------------------------------------------------------------------

    def generate(self, model, temperature: float = 0.5, max_tokens: int = 50, seed: int = 0) -> tuple:
        """The book's generation: from (START, 0.0), add one (note, duration) pair at a time until
        ``max_tokens`` pairs (or a drawn START).  See ``music.generate_tokens``."""
        if self.note_tokens is None:
            raise ConfigError("music_transformer: no vocabulary (train the model, or sample from its checkpoint)")
        return music.generate_tokens(model, self.note_tokens.vocabulary, self.duration_tokens.vocabulary,
                                     temperature, max_tokens, np.random.default_rng(seed))

    def sample(self, models, path, n=1, temperature=0.5, max_tokens=50, seed=0):
        """A piano roll of one generated piece at ``path``; its tokens (``.txt``) and, with music21,
        its MIDI file (``.mid``) beside it."""
        notes, durations = self.generate(models["model"], temperature, max_tokens, seed)
        stem = path[:-4] if path.endswith(".png") else path
        with open(stem + ".txt", "w") as f:
            f.write(" ".join(f"{n}|{d}" for n, d in zip(notes, durations)) + "\n")
        try:
            music_data.write_midi(music_data.tokens_to_stream(notes, durations), stem + ".mid")
        except ImportError as error:
            print(f"no MIDI file: {error}")
        return piano_roll_of_tokens(notes, durations, path)

    def report(self, models, out_dir):
        """One piece with the book's settings: ``sample.png``, ``sample.txt`` and ``sample.mid``."""
        return {"sample": self.sample(models, self.output(out_dir, "sample.png"), **self.sample_options)}


def _vocabulary(tokens, size: int, kind: str) -> WordTokenizer:
    """The ``size``-token vocabulary of a stream (TextVectorization with ``max_tokens=size``); says
    how many distinct tokens it has no room for (they become [UNK])."""
    tokenizer = WordTokenizer(max_tokens=size, standardize=None).fit(" ".join(tokens))
    dropped = len(set(tokens)) + 2 - size
    if dropped > 0:
        print(f"music_transformer: {dropped} rare {kind} token(s) become [UNK] (n_{kind}s={size}; "
              f"--set n_{kind}s={size + dropped} keeps them all)")
    return tokenizer


def piano_roll_of_tokens(notes, durations, path: str, steps_per_quarter: int = 12) -> str:
    """The generated melody as a piano roll (time in quarters across, pitch up)."""
    events = music_data.token_events(notes, durations)
    total = max((offset + length for offset, length, _ in events), default=1.0)
    steps = max(int(np.ceil(total * steps_per_quarter)), 1)
    pitches = np.full((1, 1, steps), -1)
    for offset, length, pitch in events:
        start = int(round(offset * steps_per_quarter))
        cells = int(round(length * steps_per_quarter))
        pitches[0, 0, start:start + max(cells - 1, 1)] = pitch  # a gap after each note: repeats stay visible
    return piano_roll_overlay(pitches, path, [f"{len(events)} notes, {total:g} quarters"],
                              steps_per_bar=4 * steps_per_quarter)


RECIPES = (MusicTransformer, MuseGAN)
