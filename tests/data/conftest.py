"""Fixtures for the tinygdl.data tests: hermetic search paths, and the real datasets when they are
present (tests that need them are skipped otherwise)."""

import os
from pathlib import Path

import pytest

from tinygdl.data import paths

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_search_dirs(tmp_path, monkeypatch):
    """No test sees the user's cache, $TINYGDL_DATA or system folders: all point inside tmp_path."""
    monkeypatch.delenv("TINYGDL_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(paths, "SYSTEM_DIRS", (tmp_path / "system",))


# Read once, at import, before any test's monkeypatching of the environment.
SHARED_DATA = Path(os.environ.get("TINYGDL_DATA") or REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data():
    """The directory holding the real datasets (``mnist/`` ...): $TINYGDL_DATA if set, else
    ``../shared/data`` beside the repository; skips the test when it is absent."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"real datasets not found in {SHARED_DATA} (set TINYGDL_DATA to run these tests)")
    return SHARED_DATA
