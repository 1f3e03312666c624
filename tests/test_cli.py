"""The ``tinygdl`` command, run as a user runs it: in a subprocess."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")  # the offline digits


def tinygdl(*args, cwd=None, check=True):
    result = subprocess.run([sys.executable, "-m", "tinygdl", *args], capture_output=True, text=True, cwd=cwd,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if check and result.returncode != 0:
        raise AssertionError(f"tinygdl {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def test_help_everywhere():
    assert "train" in tinygdl("--help").stdout
    for command in ("models", "summary", "train", "sample", "gradcheck", "bench"):
        assert "usage: tinygdl " + command in tinygdl(command, "--help").stdout


def test_models_lists_the_zoo_with_chapters_and_counts():
    out = tinygdl("models").stdout
    assert "cnn" in out and "592,554" in out and "646,260" in out


def test_summary_reproduces_the_book_table():
    out = tinygdl("summary", "cnn").stdout
    assert "Total params: 592,554" in out
    assert "Trainable params: 591,914" in out
    assert "Non-trainable params: 640" in out
    assert "(None, 32, 16, 16)" in out


@pytest.mark.parametrize("args, message", [
    (("train", "nosuchmodel"), "invalid choice"),
    (("train", "cnn", "--epochs", "0"), "at least 1"),
    (("train", "cnn", "--set", "nosuchsetting=1"), "unknown setting"),
    (("train", "cnn", "--dataset", "nosuchdata"), "trains on"),
    (("sample", "missing.npz"), "does not exist"),
    (("bench", "nosuchbenchmark"), "unknown benchmark"),
])
def test_bad_arguments_give_one_clear_line(args, message, tmp_path):
    result = tinygdl(*args, cwd=tmp_path, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("tinygdl: error:") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_train_then_resume_then_sample(tmp_path):
    out = tmp_path / "run"
    common = ("--dataset", "digits", "--limit", "200", "--batch-size", "50", "--quiet", "--out", str(out))
    first = tinygdl("train", "cnn", "--epochs", "1", *common).stdout
    assert "test_accuracy" in first and "run folder" in first
    for name in ("checkpoint.npz", "loss.png", "predictions.png", "history.csv", "report.json"):
        assert (out / name).stat().st_size > 0, name
    assert list((out / "samples").glob("epoch-*.png"))
    tinygdl("train", "cnn", "--epochs", "2", "--resume", str(out / "checkpoint.npz"), *common)
    assert (out / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    sampled = tinygdl("sample", str(out / "checkpoint.npz"), "-n", "4", "--out", str(tmp_path / "s.png")).stdout
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "s.png" in sampled


def test_resume_refuses_another_models_checkpoint(tmp_path):
    out = tmp_path / "run"
    tinygdl("train", "mlp", "--dataset", "digits", "--limit", "100", "--epochs", "1", "--quiet", "--out", str(out))
    result = tinygdl("train", "cnn", "--dataset", "digits", "--resume", str(out / "checkpoint.npz"), check=False)
    assert result.returncode == 2 and "checkpoint of 'mlp'" in result.stderr
