"""`gitops.manifests` in `.chartimpact.yml` (issue 13): where Argo CD and Flux manifests are looked
for. By default every YAML file outside charts is read (up to 300 per side); a repository of many
plain manifests narrows that to the folders its Applications live in, or turns it off with []."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chartimpact_bot.core.config_file import InvalidConfig, load_config
from tests.conftest import chart_yaml, commit_all, init_repo, write_files
from tests.test_argocd_discovery import SERVICE, application
from tests.test_cli import run


def _analyzed(tmp_path: Path, config: str | None) -> list[dict[str, Any]]:
    repo = init_repo(tmp_path / "repo")
    files = {
        "charts/web/Chart.yaml": chart_yaml("web"),
        "charts/web/values.yaml": "service: {type: ClusterIP}\n",
        "charts/web/templates/service.yaml": SERVICE,
        "deploy/apps/web-prod.yaml": application("web-prod", "ClusterIP"),
        "legacy/web-old.yaml": application("web-old", "ClusterIP"),
    }
    if config is not None:
        files[".chartimpact.yml"] = config
    write_files(repo, files)
    base = commit_all(repo, "base")
    write_files(repo, {"charts/web/templates/service.yaml": SERVICE.replace("port: 80", "port: 81")})
    commit_all(repo, "head")
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", "HEAD", "--format", "json")
    assert code in (0, 1), err
    return list(json.loads(out)["charts"])


def test_by_default_every_yaml_file_outside_charts_is_searched(tmp_path: Path) -> None:
    charts = _analyzed(tmp_path, None)
    assert sorted(c["environment"] for c in charts) == ["web-old", "web-prod"]


def test_globs_narrow_the_search_to_the_files_they_match(tmp_path: Path) -> None:
    charts = _analyzed(tmp_path, "version: 1\ngitops:\n  manifests: ['deploy/apps/*.yaml']\n")
    assert [c["environment"] for c in charts] == ["web-prod"]


def test_an_empty_list_searches_none_and_the_chart_is_analyzed_on_its_own(tmp_path: Path) -> None:
    charts = _analyzed(tmp_path, "version: 1\ngitops: {manifests: []}\n")
    assert [(c["path"], c["environment"]) for c in charts] == [("charts/web", "default")]


def test_a_misspelt_setting_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(InvalidConfig) as caught:
        load_config("version: 1\ngitops:\n  manifest: ['deploy/*']\n")
    (problem,) = caught.value.problems
    assert problem.line == 3 and "manifest" in problem.message and "manifests" in problem.message
    with pytest.raises(InvalidConfig):
        load_config('version: 1\ngitops: {manifests: [""]}\n')
    assert load_config("gitops: {manifests: ['a/*']}\n").manifests == ("a/*",)
    assert load_config("version: 1\n").manifests is None
