"""The pre-commit hook: the charts a commit touches, HEAD against what is staged, judged by the
verdict; nothing of the repository changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from chartimpact_bot.integrations import pre_commit
from tests.conftest import EXAMPLES, git

ROOT = Path(__file__).resolve().parent.parent


def _state(repo: Path) -> tuple[str, str, str]:
    return git(repo, "for-each-ref"), git(repo, "status", "--porcelain"), git(repo, "ls-files", "-s")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "base" / "storefront", repo / "charts" / "storefront")
    (repo / "README.md").write_text("charts\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    monkeypatch.chdir(repo)
    return repo


def _stage_head_chart(repo: Path) -> list[str]:
    shutil.rmtree(repo / "charts" / "storefront")
    shutil.copytree(EXAMPLES / "head" / "storefront", repo / "charts" / "storefront")
    git(repo, "add", "-A")
    return git(repo, "diff", "--cached", "--name-only").split()


def test_a_staged_change_that_fails_the_verdict_stops_the_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _stage_head_chart(repo)
    before = _state(repo)
    assert pre_commit.main(files) == 1
    out = capsys.readouterr().out
    assert "Readiness probe removed" in out and "charts/storefront" in out
    assert _state(repo) == before  # no ref, index entry or working file changed


def test_only_what_is_staged_counts(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _stage_head_chart(repo)
    git(repo, "commit", "-qm", "head")
    # Back to the base in the working tree only: not staged, so not part of the commit.
    shutil.rmtree(repo / "charts" / "storefront")
    shutil.copytree(EXAMPLES / "base" / "storefront", repo / "charts" / "storefront")
    assert pre_commit.main(files) == 0
    assert "Readiness probe" not in capsys.readouterr().out


def test_a_subchart_file_is_analyzed_with_its_parent(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub = repo / "charts" / "storefront" / "charts" / "extra"
    (sub / "templates").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: extra\nversion: 0.1.0\n")
    (sub / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n")
    git(repo, "add", "-A")
    assert pre_commit.main(["charts/storefront/charts/extra/templates/cm.yaml", "--format", "json"]) == 0
    report = yaml.safe_load(capsys.readouterr().out)
    assert [chart["path"] for chart in report["charts"]] == ["charts/storefront"]
    resources = report["charts"][0]["diff"]["resources"]
    assert [(r["identity"]["kind"], r["changeType"]) for r in resources] == [("ConfigMap", "added")]


def test_files_outside_charts_and_a_first_commit_are_quiet(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "README.md").write_text("changed\n")
    git(repo, "add", "README.md")
    assert pre_commit.main(["README.md"]) == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    monkeypatch.chdir(empty)
    assert pre_commit.main(["Chart.yaml"]) == 0
    assert capsys.readouterr().out == ""


def test_the_hook_definition_runs_this_module() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "chartimpact" and hook["language"] == "python" and hook["pass_filenames"] is True
    assert hook["entry"] == "python -m chartimpact_bot.integrations.pre_commit"
    assert (ROOT / "pyproject.toml").is_file()  # language: python installs the hook repository as a package
