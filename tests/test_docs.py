"""The documentation holds together: the README links every page of docs/, and every relative
link of the README and of docs/ leads to a file that exists and, with an anchor, to a heading
of it (GitHub's anchors)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.monitoring_rules import anchors

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCUMENTS = [ROOT / "README.md", *PAGES, *sorted((ROOT / "docs" / "adr").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _links(markdown: str) -> list[str]:
    """Inline links outside code fences and code spans."""
    out: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out += LINK.findall(re.sub(r"`[^`]*`", "", line))
    return out


def broken_links(document: Path) -> list[str]:
    problems = []
    for target in _links(document.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            problems.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text(encoding="utf-8")):
            problems.append(f"{target}: no such heading")
    return problems


def test_the_readme_links_every_documentation_page() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in _links((ROOT / "README.md").read_text())}
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document) == []


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n[ok](#title) [gone](b.md) [bad](a.md#nowhere)\n`[code](x.md)`\n")
    assert broken_links(tmp_path / "a.md") == ["b.md: no such file", "a.md#nowhere: no such heading"]
