"""The layer table of ``tinygdl gradcheck``: complete, and every entry passes (1st and 2nd order)."""

import inspect
import subprocess
import sys

import pytest

from tinygdl import nn
from tinygdl.checks import check_layer
from tinygdl.checks.layers import SPECS


def test_every_layer_class_has_an_entry():
    layer_classes = {name for name, obj in vars(nn.layers).items()
                     if inspect.isclass(obj) and issubclass(obj, nn.Module)}
    covered = {spec.id.split("-")[0] for spec in SPECS} | {c for spec in SPECS for c in spec.covers}
    assert layer_classes - covered == set(), "layers without a gradient check"


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_layer_gradient(spec):
    check_layer(spec, order=1)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.second_order], ids=repr)
def test_layer_second_order_gradient(spec):
    check_layer(spec, order=2)


def test_gradcheck_command_prints_a_table():
    out = subprocess.run([sys.executable, "-m", "tinygdl", "gradcheck", "--only", "Conv2d"],
                         capture_output=True, text=True, check=True).stdout
    assert "Conv2d" in out and "0 failures" in out
