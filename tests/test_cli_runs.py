"""Issue 10 on the real command line (subprocesses): a diverging run keeps its last good checkpoint,
resume continues the recorded run, settings are checked before any work, every known failure is one
line, and ``tinygdl sample`` never overwrites the run's files."""

import json
import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinygdl import backend
from tinygdl.checkpoint import load_checkpoint

pytest.importorskip("sklearn")  # the offline digits
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tinygdl(*args, check=True, env=None, limit_memory=False):
    """Run ``tinygdl ARGS`` from the repository root (``limit_memory``: at most 4 GB of address space)."""
    limit = (lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))) if limit_memory else None
    result = subprocess.run([sys.executable, "-m", "tinygdl", *args], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}, preexec_fn=limit)
    if check and result.returncode != 0:
        raise AssertionError(f"tinygdl {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def one_line_error(result, *fragments):
    """The run failed with exit status 2 and one ``tinygdl: error:`` line holding every fragment."""
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("tinygdl: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_a_diverging_run_stops_and_keeps_the_last_finite_checkpoint(tmp_path):
    out = tmp_path / "vae"
    result = tinygdl("train", "vae_fashion", "--dataset", "digits", "--set", "lr=1e9", "--epochs", "2",
                     "--limit", "64", "--image-size", "16", "--quiet", "--out", str(out), check=False)
    line = one_line_error(result, "training diverged at step 2", "loss = nan", "learning rate", "checkpoint.npz")
    assert "--on-nan" in line
    saved = load_checkpoint(out / "checkpoint.npz")
    assert saved.epoch == 1 and not saved.non_finite()  # the file of epoch 1, intact


@pytest.mark.parametrize("args, fragments", [
    (("--seed", "-1"), ("--seed", "from 0")),
    (("--set", "limit=0"), ("limit must be a whole number of at least 1",)),
    (("--set", "limit=-5"), ("limit must be a whole number of at least 1",)),
    (("--limit", "0"), ("--limit", "at least 1")),
    (("--set", "latent_dim=0"), ("latent_dim must be a whole number",)),
    (("--set", "batch_size=0"), ("batch_size must be a whole number",)),
    (("--set", "epochs=0"), ("--set epochs", "at least 1")),
    (("--set", "epochs=1", "--epochs", "2"), ("epochs given twice",)),
    (("--set", "lr=abc"), ("setting lr: expected a float, got 'abc'",)),
    (("--image-size", "3"), ("image_size 3",)),
    (("--set", "attribute=Smiling"), ("unknown attribute 'Smiling'",)),  # used only at the end: checked first
    (("--out", ""), ("--out", "empty")),
    (("--on-nan", "sometimes"), ("--on-nan", "invalid choice")),
    (("--override-on-resume", "lr=1"), ("needs --resume",)),
    (("--device", "cuda"), ("--device cuda", "use --device cpu")),
])
def test_bad_options_are_one_line_before_any_work(tmp_path, args, fragments):
    if "cuda" in args and backend.cuda_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "run"
    result = tinygdl("train", "vae_fashion", "--dataset", "digits", "--quiet", "--out", str(out), *args, check=False)
    one_line_error(result, *fragments)
    assert not (out / "checkpoint.npz").exists() and not (out / "samples").exists()  # no training happened


def test_out_of_memory_is_one_line(tmp_path):
    result = tinygdl("train", "mlp", "--dataset", "digits", "--set", "hidden=1000000000000,10", "--quiet",
                     "--out", str(tmp_path / "run"), check=False, limit_memory=True)
    one_line_error(result, "out of memory", "--batch-size")


def test_debug_shows_the_traceback(tmp_path):
    args = ("train", "cnn", "--dataset", "digits", "--set", "limit=0", "--out", str(tmp_path))
    assert "Traceback" in tinygdl("--debug", *args, check=False).stderr
    assert "Traceback" in tinygdl(*args, check=False, env={"TINYGDL_DEBUG": "1"}).stderr


def test_resume_continues_the_recorded_run(tmp_path):
    out = tmp_path / "cnn"
    tinygdl("train", "cnn", "--dataset", "digits", "--limit", "100", "--batch-size", "50", "--set", "epochs=1",
            "--set", "lr=0.001", "--steps-per-epoch", "1", "--quiet", "--out", str(out))
    checkpoint = str(out / "checkpoint.npz")

    # the README's example: nothing repeated (no --dataset digits: it must not look for CIFAR-10)
    tinygdl("train", "cnn", "--resume", checkpoint, "--epochs", "2", "--quiet")
    saved = load_checkpoint(checkpoint)
    assert saved.epoch == 2 and saved.extra["run"]["settings"] == {"limit": 100, "batch_size": 50, "lr": "0.001"}
    assert saved.step == 2  # --steps-per-epoch 1 was kept too
    log = (out / "run.log").read_text()
    assert "started cnn on digits" in log and "resumed from" in log and "epochs 1 -> 2" in log

    conflict = tinygdl("train", "cnn", "--resume", checkpoint, "--epochs", "3", "--limit", "60", "--set", "lr=0.1",
                       "--dataset", "mnist", check=False)
    one_line_error(conflict, "--limit 60 (the run: 100)", "--set lr=0.1 (the run: 0.001)", "--dataset mnist",
                   "--override-on-resume")
    one_line_error(tinygdl("train", "cnn", "--resume", checkpoint, "--epochs", "2", check=False),
                   "already trained 2 epoch(s)", "--epochs 2 leaves nothing to train")
    one_line_error(tinygdl("train", "cnn", "--resume", checkpoint, check=False),
                   "already trained 2 epoch(s)", "the run's own target of 2 epochs")

    tinygdl("train", "cnn", "--resume", checkpoint, "--epochs", "3", "--override-on-resume", "lr=0.0001", "--quiet")
    saved = load_checkpoint(checkpoint)
    assert saved.epoch == 3 and saved.optimizers["optimizer"]["group.0.lr"] == pytest.approx(1e-4)
    assert "lr 0.001 -> 0.0001 (--override-on-resume)" in (out / "run.log").read_text()
    assert "optimizer optimizer lr 0.001 -> 0.0001" in (out / "run.log").read_text()


def test_a_checkpoint_with_non_finite_weights_cannot_be_resumed_or_sampled(tmp_path):
    out = tmp_path / "mlp"
    tinygdl("train", "mlp", "--dataset", "digits", "--limit", "50", "--epochs", "1", "--quiet", "--out", str(out))
    path = out / "checkpoint.npz"
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    weight = next(key for key in arrays if key.startswith("model/") and key.endswith("weight"))
    arrays[weight] = arrays[weight] * np.nan
    np.savez(path, **arrays)
    one_line_error(tinygdl("train", "mlp", "--resume", str(path), "--epochs", "2", check=False),
                   "non-finite weights", "cannot be resumed")
    one_line_error(tinygdl("sample", str(path), check=False), "non-finite weights")


def test_damaged_checkpoints_are_one_line(tmp_path):
    random_bytes = tmp_path / "random.npz"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(2048))
    line = one_line_error(tinygdl("sample", str(random_bytes), check=False), "not an .npz (zip) archive")
    assert "pickle" not in line
    edited = tmp_path / "edited.npz"
    np.savez(edited, __checkpoint__=np.array(json.dumps({"format": "tinygdl-checkpoint", "version": 1, "epoch": "x"})))
    one_line_error(tinygdl("sample", str(edited), check=False), "metadata entry 'epoch'", "edited or damaged")


def test_sample_writes_new_files_and_lists_its_options(tmp_path):
    out = tmp_path / "cgan"
    tinygdl("train", "cgan", "--dataset", "digits", "--image-size", "8", "--limit", "32", "--batch-size", "16",
            "--epochs", "1", "--quiet", "--out", str(out))
    checkpoint = str(out / "checkpoint.npz")
    before = {p.name: p.read_bytes() for p in out.glob("*.png")}
    assert "classes.png" in before
    for number in (1, 2):
        assert f"samples-00{number}.png" in tinygdl("sample", checkpoint, "-n", "4").stdout
    assert tinygdl("sample", checkpoint, "--set", "class=3", "-n", "4").returncode == 0
    assert {p.name: p.read_bytes() for p in out.glob("*.png") if not p.name.startswith("samples-")} == before
    assert sorted(p.name for p in out.glob("samples-*.png")) == ["samples-001.png", "samples-002.png",
                                                                 "samples-003.png"]
    one_line_error(tinygdl("sample", checkpoint, "--out", str(out / "classes.png"), check=False), "never overwrites")
    one_line_error(tinygdl("sample", checkpoint, "--set", "temperature=2", check=False),
                   "unknown sampling option(s) temperature; known: class")
    one_line_error(tinygdl("sample", checkpoint, "--set", "class=11", check=False), "no class 11")

    helped = tinygdl("sample", checkpoint, "--help").stdout
    assert "usage: tinygdl sample" in helped and "sampling options of cgan" in helped and "class" in helped
    assert "CKPT --help" in tinygdl("sample", "--help").stdout


def test_bench_without_a_name_lists_the_scripts():
    listed = tinygdl("bench").stdout.splitlines()
    scripts = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "benchmarks"))
                     if f.endswith(".py") and not f.startswith("_"))
    rows = [line.split()[0] for line in listed[1:]]
    assert rows == scripts and all(len(line.split()) > 2 for line in listed[1:])  # each with its line


def test_ctrl_c_saves_the_last_completed_step_and_resumes(tmp_path):
    out = tmp_path / "mlp"
    command = [sys.executable, "-m", "tinygdl", "train", "mlp", "--dataset", "digits", "--batch-size", "8",
               "--epochs", "50", "--quiet", "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONWARNINGS": "ignore"})
    deadline = time.monotonic() + 600
    while not (out / "checkpoint.npz").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert "stopping after the current step" in stderr and "checkpoint saved to" in stderr
    stopped = load_checkpoint(out / "interrupted.npz")
    tinygdl("train", "mlp", "--resume", str(out / "interrupted.npz"), "--epochs", str(stopped.epoch + 1), "--quiet")
    assert load_checkpoint(out / "checkpoint.npz").epoch == stopped.epoch + 1
