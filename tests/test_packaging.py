"""Packaging: every package is listed in pyproject.toml, and a built wheel imports on its own."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _listed_packages():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["packages"])


def _package_dirs():
    found = {"tinygdl.kernels"} if (ROOT / "kernels" / "__init__.py").exists() else set()
    for init in (ROOT / "tinygdl").rglob("__init__.py"):
        found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_is_listed_in_pyproject():
    assert _package_dirs() == _listed_packages()


def test_no_top_level_kernels_module_is_installed():
    import tinygdl.kernels

    assert "kernels" not in _listed_packages()
    assert tinygdl.kernels.__name__ == "tinygdl.kernels"


def test_wheel_contains_every_module_and_imports(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path)], check=True)
    (wheel,) = tmp_path.glob("tinygdl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "tinygdl").rglob("*.py")}
    sources |= {"tinygdl/kernels/" + p.name for p in (ROOT / "kernels").glob("*.py")}
    assert sources <= names, f"missing from the wheel: {sorted(sources - names)}"
    assert not any(n.startswith("kernels/") for n in names)
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    code = "import tinygdl, tinygdl.kernels, tinygdl.nn; print(tinygdl.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(unpacked)}).stdout
    assert out.strip().startswith(str(unpacked))


def test_an_uninstalled_checkout_says_to_install(tmp_path):
    """A source checkout imported without installation (no tinygdl.kernels mapping) says what to do."""
    import shutil

    shutil.copytree(ROOT / "tinygdl", tmp_path / "tinygdl", ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
            "import tinygdl")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0
    assert "pip install -e ." in result.stderr.splitlines()[-1]
