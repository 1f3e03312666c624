"""Word-level language models: the chapter-5 LSTM (book notebook ``05_autoregressive/01_lstm``) and
the chapter-9 GPT (``09_transformer/gpt``), on one text pipeline (``tinygdl.data.text``).

* ``lstm``: Embedding 10000×100 -> LSTM 100→128 -> Dense 128→10000 per step (2,407,248
  parameters); 200-token windows; Adam 1e-3 (Keras ε), batch 32, 25 epochs.
* ``gpt``: token + position embeddings (256) -> one post-LN Transformer block (2 heads of key_dim
  256, causal, ReLU feed-forward 256, dropout 0.1, LayerNorm ε 1e-6) -> Dense 256→10000
  (5,809,168 parameters); 80-token windows; Adam 1e-3, batch 32, 5 epochs.

Data (``--dataset``): ``tinyshakespeare`` when it is on disk (``TINYGDL_DATA=/path/to/data`` holding
``tinyshakespeare/input.txt``), else ``pydocs`` — the docstrings of the installed Python standard
library, English every machine has.  The book's own corpora are ``recipes`` (Epicurious
``epicurious/full_format_recipes.json``) and ``wine`` (``wine-reviews/winemag-data-130k-v2.json``).
The last 10% of the text is held out; the vocabulary (10,000 words with ``""`` and ``[UNK]``) is
fitted on the rest and saved in every checkpoint, so ``tinygdl sample`` needs nothing else:

    tinygdl sample runs/lstm/checkpoint.npz --set prompt="to be or not" --set temperature=0.5 -n 3

writes the generated texts (and the book's table of the most likely next words) to a ``.txt``; the
GPT's sampler also writes a PNG of the attention weights over its first generated text.

The loss is the book's: the mean cross-entropy over every position, padding included
(``--set count_padding=false`` leaves padding out).  Validation and the report give the
**perplexity over non-padding targets only**: exp(mean negative log-likelihood per real token).
"""

from __future__ import annotations

import math
import os

import numpy as np

from .. import plot
from ..data import ArrayDataset, DataLoader
from ..data import text as text_data
from ..errors import ConfigError
from ..models import text as lm
from ..nn.module import evaluation_mode
from ..optim import Adam
from ..training.trainer import metrics_as_floats
from .recipe import Recipe


class _LanguageModel(Recipe):
    """What the two text models share: the corpus, the vocabulary in the checkpoint, the loss,
    the padding-free perplexity, and sampling from a prompt."""

    dataset = "tinyshakespeare"
    datasets = text_data.CORPORA
    window = 0  # tokens per training row (N; the rows hold N + 1 ids)
    common = dict(batch_size=32, lr=1e-3, vocab_size=text_data.BOOK_VOCABULARY, held_out=0.1, count_padding=True,
                  limit=None)
    sample_options = dict(prompt="", temperature=1.0, max_tokens=100, top_k=0, table_words=10)
    # The prompt when none is given, by corpus (the book's callbacks start from "recipe for" / "wine review").
    default_prompts = {"tinyshakespeare": "first citizen :", "pydocs": "return the", "recipes": "recipe for",
                       "wine": "wine review"}

    def __init__(self, dataset=None, **overrides):
        super().__init__(dataset, **overrides)
        self.fall_back = dataset is None  # no corpus asked for: tiny Shakespeare if present, else pydocs
        self.tokenizer = None
        self.held_out_rows = None

    # -- data and the vocabulary -------------------------------------------------------------

    def input_shape(self, role=None):
        return (self.window,)

    def documents(self) -> list:
        if self.dataset == "tinyshakespeare" and self.fall_back and not text_data.has_tiny_shakespeare():
            print("tiny Shakespeare not found (set TINYGDL_DATA to a folder holding tinyshakespeare/input.txt): "
                  "training on the Python standard library's docstrings (--dataset pydocs)")
            self.dataset = "pydocs"
        return text_data.load_corpus(self.dataset)

    def load_data(self):
        data = text_data.prepare_language_model(self.documents(), self.window, self.vocab_size, self.held_out)
        self.tokenizer = data.tokenizer
        if self.limit:
            data.train = data.train[:self.limit]
        self.held_out_rows = data.held_out
        return data.datasets()

    def state_dict(self):
        return {} if self.tokenizer is None else {"vocabulary": np.array(self.tokenizer.vocabulary)}

    def load_state_dict(self, state):
        if "vocabulary" in state:
            self.tokenizer = text_data.book_tokenizer(self.vocab_size, [str(w) for w in state["vocabulary"]])
        super().load_state_dict({k: v for k, v in state.items() if k != "vocabulary"})

    # -- training ------------------------------------------------------------------------------

    def optimizers(self, models):
        return {"optimizer": Adam(models["model"].parameters(), lr=self.lr, eps_convention="keras")}

    def train_step(self, models, optimizers):
        model, optimizer = models["model"], optimizers["optimizer"]

        def step(batch):
            inputs, targets = batch
            optimizer.zero_grad()
            loss = lm.language_model_loss(model(inputs), targets, self.count_padding)
            loss.backward()
            optimizer.step()
            return metrics_as_floats({"loss": loss})

        return step

    def eval_step(self, models):
        def step(batch):
            inputs, targets = batch
            total, count = lm.padding_free_nll(models["model"](inputs), targets)
            nll = total / max(count, 1)
            return {"loss": nll, "perplexity": math.exp(nll)}

        return step

    def held_out_perplexity(self, model) -> dict:
        """Exact over the held-out split: exp(Σ NLL / number of non-padding targets)."""
        rows = self.held_out_rows
        if rows is None or not len(rows):
            return {}
        total, count = 0.0, 0
        for inputs, targets in DataLoader(ArrayDataset(*text_data.split_input_target(rows)),
                                          self.batch_size, device=model.device):
            batch_total, batch_count = lm.padding_free_nll(model(inputs), targets)
            total, count = total + batch_total, count + batch_count
        return {"held_out_nll": total / count, "held_out_perplexity": math.exp(total / count),
                "held_out_tokens": count}

    # -- sampling -----------------------------------------------------------------------------

    @property
    def default_prompt(self) -> str:
        return self.default_prompts[self.dataset]

    def sampling_options(self, given):
        if "prompt" in given and not str(given["prompt"]).strip():
            raise ConfigError(f"{self.name}: the prompt is empty; give one with --set prompt=\"...\" "
                              f"(or leave it out for {self.default_prompt!r})")
        return super().sampling_options(given)

    def prompt_ids(self, prompt: str) -> list:
        """The prompt's ids: punctuation spaced and lower-cased as in training; unknown words -> [UNK]."""
        if self.tokenizer is None:
            raise ConfigError(f"{self.name}: no vocabulary: train first, or sample from a checkpoint")
        ids = self.tokenizer.encode(text_data.pad_punctuation(prompt)).tolist()
        if not ids:
            raise ConfigError(f"{self.name}: the prompt is empty; give one with --set prompt=\"...\"")
        return ids

    def generate(self, model, prompt: str, temperature=1.0, max_tokens=100, top_k=0, rng=None,
                 use_cache=True) -> list:
        return lm.generate(model, self.prompt_ids(prompt), max_tokens, temperature, top_k or None, rng, use_cache,
                           len(self.tokenizer))

    def word_table(self, model, prompt: str, temperature: float = 1.0, k: int = 10) -> str:
        """The book's table: the ``k`` most likely next words after ``prompt`` at ``temperature``."""
        rows = lm.next_word_table(model, self.prompt_ids(prompt), self.tokenizer.vocabulary, temperature, k)
        return lm.format_word_table(rows, f"next word after {prompt!r} at temperature {temperature}:")

    def sample(self, models, path, n=4, **options):
        """Write ``n`` generated texts and the next-word table to a ``.txt`` (``path``'s extension
        replaced) and return its path.  ``options``: ``sample_options`` (an empty prompt means the
        model's default prompt)."""
        options = {**self.sample_options, **options}
        prompt, temperature, max_tokens, top_k = (options[k] for k in ("prompt", "temperature", "max_tokens", "top_k"))
        model, prompt = models["model"], prompt or self.default_prompt
        self.check_sampling(max_tokens)
        rng = np.random.default_rng(0)
        generated = [self.generate(model, prompt, temperature, max_tokens, top_k, rng) for _ in range(n)]
        texts = [self.tokenizer.decode(ids) for ids in generated]
        lines = [f"{self.name}: prompt {prompt!r}, temperature {temperature}, max_tokens {max_tokens}"
                 + (f", top_k {top_k}" if top_k else ""), ""]
        lines += [f"[{i + 1}] {text}\n" for i, text in enumerate(texts)]
        lines += [self.word_table(model, prompt, temperature, options["table_words"]), ""]
        path = os.path.splitext(path)[0] + ".txt"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        self.after_sampling(model, generated[0], path)
        return path

    def check_sampling(self, max_tokens: int) -> None:
        if max_tokens < 1:
            raise ConfigError(f"{self.name}: max_tokens must be at least 1, got {max_tokens}")

    def after_sampling(self, model, ids, path) -> None:
        """Extra outputs of a model's sampler, given the first generated text's ids (the GPT's attention PNG)."""

    def report(self, models, out_dir):
        model = models["model"]
        results = self.held_out_perplexity(model)
        self.sample(models, self.output(out_dir, "generated.txt"), prompt=self.default_prompt)
        return results


class LSTM(_LanguageModel):
    name = "lstm"
    chapter = 5
    title = "word-level LSTM language model (Embedding 100, LSTM 128)"
    window = 200
    defaults = dict(_LanguageModel.common, epochs=25, embed_dim=100, hidden=128)
    def build(self):
        return {"model": lm.LSTMLanguageModel(self.vocab_size, self.embed_dim, self.hidden)}


class GPT(_LanguageModel):
    name = "gpt"
    chapter = 9
    title = "one-block GPT (2 heads of key_dim 256, causal, post-LN)"
    window = 80
    defaults = dict(_LanguageModel.common, epochs=5, embed_dim=256, num_heads=2, key_dim=256, ff_dim=256,
                    dropout=0.1)
    sample_options = dict(_LanguageModel.sample_options, max_tokens=80)

    def build(self):
        return {"model": lm.GPT(self.vocab_size, self.window, self.embed_dim, self.num_heads, self.key_dim,
                                self.ff_dim, self.dropout)}

    def check_sampling(self, max_tokens):
        super().check_sampling(max_tokens)
        if max_tokens > self.window:
            raise ConfigError(f"gpt: max_tokens={max_tokens} exceeds the model's {self.window} positions")

    def after_sampling(self, model, ids, path):
        attention_figure(model, ids, self.tokenizer.vocabulary,
                         os.path.splitext(path)[0] + "-attention.png")


def attention_figure(model, ids, vocabulary, path, max_tokens: int = 40) -> str:
    """A PNG of the GPT's attention weights over a text (its first ``max_tokens`` tokens): one
    heat map per head, row = the query token, column = the token it attends to."""
    ids = list(ids)[:max_tokens]
    with evaluation_mode([model]):
        _, weights = model(np.array([ids]), return_weights=True)
    weights = weights.numpy()[0]
    words = [vocabulary[i] for i in ids]
    heads = weights.shape[0]
    size = 2 + 0.18 * len(ids)
    figure = plot._figure(size * heads, size)
    for h in range(heads):
        axes = figure.add_subplot(1, heads, h + 1)
        axes.imshow(weights[h], cmap="viridis", vmin=0, vmax=1)
        axes.set_xticks(range(len(words)), words, rotation=90, fontsize=7)
        axes.set_yticks(range(len(words)), words, fontsize=7)
        axes.set_title(f"head {h + 1}: query (row) attends to key (column)", fontsize=9)
    figure.tight_layout()
    return plot._save(figure, path)


RECIPES = (LSTM, GPT)
