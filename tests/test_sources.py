"""Chart sources: directory, git ref (never the work tree), memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chartimpact_bot.core.errors import SourceError
from chartimpact_bot.engine.sources import (
    DirectorySource,
    GitRefSource,
    MemorySource,
    clean_path,
    git_blob_id,
)
from tests.conftest import commit_all, git, init_repo, write_files


def test_clean_path_refuses_escapes() -> None:
    assert clean_path("a/./b/../c") == "a/c"
    assert clean_path("") == ""
    assert clean_path("../x") is None
    assert clean_path("a/../../x") is None
    assert clean_path("/etc/passwd") is None


def test_directory_source_lists_reads_and_skips_links_out(tmp_path: Path) -> None:
    root = write_files(tmp_path / "repo", {"web/Chart.yaml": "name: web\n", "web/t/a.yaml": "a\n"})
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", root / "web" / "leak.txt")
    os.symlink(root / "web" / "t" / "a.yaml", root / "web" / "alias.yaml")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("x")
    source = DirectorySource(root)
    assert sorted(source.list_files("")) == ["web/Chart.yaml", "web/alias.yaml", "web/t/a.yaml"]
    assert source.read_many(["web/alias.yaml"]) == {"web/alias.yaml": b"a\n"}
    with pytest.raises(SourceError):
        source.read_many(["web/leak.txt"])
    with pytest.raises(SourceError):
        source.read_many(["../secret.txt"])


def test_missing_directory_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is not a directory"):
        DirectorySource(tmp_path / "absent")


def test_git_ref_source_reads_commits_not_the_work_tree(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, {"charts/web/Chart.yaml": "name: web\n", "charts/web/values.yaml": "a: 1\n"})
    first = commit_all(repo, "first")
    write_files(repo, {"charts/web/values.yaml": "a: 2\n", "other/file.txt": "x\n"})
    commit_all(repo, "second")
    os.symlink("values.yaml", repo / "charts" / "web" / "link.yaml")
    os.symlink("/etc/passwd", repo / "charts" / "web" / "escape.yaml")
    commit_all(repo, "links")
    (repo / "charts" / "web" / "values.yaml").write_text("uncommitted\n")

    old = GitRefSource(repo, first)
    assert old.revision.sha == first
    assert sorted(old.list_files("")) == ["charts/web/Chart.yaml", "charts/web/values.yaml"]
    assert old.read_many(["charts/web/values.yaml"])["charts/web/values.yaml"] == b"a: 1\n"

    new = GitRefSource(repo, "main")
    assert new.revision.ref == "main"
    listing = new.list_files("charts/web")
    assert sorted(listing) == [
        "charts/web/Chart.yaml",
        "charts/web/link.yaml",
        "charts/web/values.yaml",
    ]
    assert new.read_many(["charts/web/link.yaml", "charts/web/values.yaml"]) == {
        "charts/web/link.yaml": b"a: 2\n",
        "charts/web/values.yaml": b"a: 2\n",
    }
    assert listing["charts/web/values.yaml"].digest == git_blob_id(b"a: 2\n")
    assert git(repo, "rev-parse", "HEAD:charts/web/values.yaml") == listing["charts/web/values.yaml"].digest


def test_a_blob_missing_from_the_clone_is_left_out_not_a_crash(tmp_path: Path) -> None:
    # a partial or damaged clone: `git ls-tree --long` prints the size of a missing blob as BAD
    repo = init_repo(tmp_path / "repo")
    write_files(repo, {"charts/web/Chart.yaml": "name: web\n", "config/huge.yaml": "big\n"})
    commit_all(repo, "first")
    blob = git(repo, "rev-parse", "HEAD:config/huge.yaml")
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    source = GitRefSource(repo, "main")
    assert sorted(source.list_files("")) == ["charts/web/Chart.yaml"]
    assert "config/huge.yaml" in source.left_out("config")
    assert source.read_many(["charts/web/Chart.yaml"]) == {"charts/web/Chart.yaml": b"name: web\n"}


def test_unknown_git_ref_is_a_clear_error(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, {"a.txt": "a"})
    commit_all(repo, "first")
    with pytest.raises(SourceError, match="git ref 'nope' does not name a commit"):
        GitRefSource(repo, "nope")


def test_memory_source_digests_match_git() -> None:
    source = MemorySource({"./a/b.yaml": b"x: 1\n"})
    assert source.list_files("a")["a/b.yaml"].digest == git_blob_id(b"x: 1\n")
    with pytest.raises(SourceError):
        MemorySource({"../x": b""})
