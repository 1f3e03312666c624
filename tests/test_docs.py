"""The documentation keeps up with the code, and the repository stands on its own.

* every zoo model has a page in ``docs/models/`` and a row in the README's zoo table;
* no tracked file outside ``tests/`` points at the development machines' shared folders;
* every relative link in the README and in ``docs/`` leads to a file that exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tinygdl import zoo

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FORBIDDEN = ("shared/reference", "../shared")  # only tests may read ../shared/data (and skip without it)
LINK = re.compile(r"\[[^\]]*\]\(<?([^)<>\s]+)>?(?:\s+\"[^\"]*\")?\)")
CODE_NAME = re.compile(r"`([A-Za-z0-9_]+)`")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted(DOCS.rglob("*.md"))


def section(text: str, heading: str) -> str:
    """The lines under ``heading`` (a ``## `` title) up to the next heading of that level."""
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def zoo_table_names() -> set[str]:
    """The backquoted names in the table rows of the README's zoo section."""
    rows = [line for line in section((ROOT / "README.md").read_text(), "## The model zoo").splitlines()
            if line.startswith("|")]
    return {name for row in rows for name in CODE_NAME.findall(row)}


def test_every_zoo_model_has_a_docs_page():
    pages = {page.name: set(CODE_NAME.findall(page.read_text())) for page in sorted((DOCS / "models").glob("*.md"))}
    assert pages, "docs/models/ holds no page"
    missing = [name for name in zoo.names() if not any(name in names for names in pages.values())]
    assert not missing, f"zoo models named (in backquotes) on no docs/models/*.md page: {missing}"


def test_every_zoo_model_is_in_the_readme_zoo_table():
    missing = sorted(set(zoo.names()) - zoo_table_names())
    assert not missing, f"zoo models missing from the README's zoo table: {missing}"


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name]


def test_nothing_outside_tests_points_at_the_shared_folders():
    offenders = []
    for name in tracked_files():
        path = ROOT / name
        if name.startswith("tests/") or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        offenders += [f"{name}: {word}" for word in FORBIDDEN if word in text]
    assert not offenders, "files outside tests/ point at shared folders (say TINYGDL_DATA=/path/to/data, " \
                          "and point to docs/):\n" + "\n".join(offenders)


def relative_links(path: Path) -> list[str]:
    links = LINK.findall(path.read_text())
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link) and not link.startswith("#")]


def test_relative_links_in_the_readme_and_docs_lead_to_files():
    broken = []
    for page in markdown_files():
        for link in relative_links(page):
            target = (page.parent / link.split("#")[0]).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(ROOT)}: {link}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_the_link_finder_sees_links_and_skips_urls_and_anchors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('[a](docs/x.md) [b](https://example.org) [c](#top) [e](w.md "title")\n')
    assert relative_links(page) == ["docs/x.md", "w.md"]
