"""The glibc allocator setting is opt-in: importing tinygdl leaves malloc alone; ``tinygdl train``
and ``keep_freed_host_memory()`` turn it on; ``TINYGDL_MALLOC=default`` refuses it."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

PROBE = ("from tinygdl import backend; before = backend.host_memory_setting(); "
         "applied = backend.keep_freed_host_memory(); print(before, applied, backend.host_memory_setting())")


def _probe(**env) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                            env={**os.environ, **env})
    return result.stdout.split()


def test_import_leaves_malloc_alone_and_the_call_opts_in():
    assert _probe() == ["default", "True", "kept"]


def test_environment_refuses_the_setting():
    assert _probe(TINYGDL_MALLOC="default") == ["default", "False", "default"]


def test_the_train_command_opts_in(monkeypatch):
    import tinygdl.cli as cli
    from tinygdl import backend

    calls = []
    monkeypatch.setattr(backend, "keep_freed_host_memory", lambda: calls.append(True))
    monkeypatch.setattr("tinygdl.zoo.run.train", lambda *a, **k: (_ for _ in ()).throw(SystemExit(0)))
    with pytest.raises(SystemExit):
        cli.main(["train", "mlp", "--epochs", "1"])
    assert calls == [True]
