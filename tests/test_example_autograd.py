"""examples/00_autograd.py runs, its gradients agree with finite differences, and it learns."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "00_autograd.py"


def test_the_hand_written_loop(capsys):
    spec = importlib.util.spec_from_file_location("autograd_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
    out = capsys.readouterr().out
    pairs = re.findall(r"backward ([-+.\d]+)\s+finite difference ([-+.\d]+)", out)
    assert len(pairs) == 5 and all(abs(float(a) - float(b)) < 1e-8 for a, b in pairs)
    accuracies = [float(a) for a in re.findall(r"accuracy ([.\d]+)", out)]
    assert accuracies[-1] > 0.95 and "<- MatMul" in out
