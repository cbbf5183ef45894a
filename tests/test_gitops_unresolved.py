"""Deployments whose chart cannot be found are reported, not dropped (issue 13): an Application
whose Helm source names no chart here or in an HTTP/OCI chart repository, a HelmRelease whose
source is not in the repository, an ApplicationSet that generates nothing. Each gets a
`skipped` entry under its manifest with a warning saying why, when its manifest is new or
changed; one left alike on both sides is not repeated on every pull request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import chart_yaml, commit_all, init_repo, write_files
from tests.test_argocd_discovery import SERVICE, application
from tests.test_cli import run
from tests.test_flux_helmreleases import chart_spec, release

GIT_CHART = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: cache, namespace: argocd}
spec:
  destination: {server: https://kubernetes.default.svc, namespace: cache}
  source:
    repoURL: git@github.com:acme/charts.git
    chart: acme/redis
    targetRevision: 1.0.0
"""
OTHER_PATH = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: api, namespace: argocd}
spec:
  destination: {server: https://kubernetes.default.svc, namespace: api}
  source:
    repoURL: https://github.com/acme/elsewhere.git
    path: charts/api
    helm:
      valueFiles: [values-prod.yaml]
"""
EMPTY_SET = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: teams, namespace: argocd}
spec:
  generators:
    - git:
        repoURL: https://github.com/acme/deploy.git
        revision: HEAD
        directories: [{path: "teams/*"}]
  template:
    metadata: {name: "{{path.basename}}"}
    spec:
      project: default
      destination: {server: https://kubernetes.default.svc, namespace: "{{path.basename}}"}
      source: {repoURL: https://github.com/acme/deploy.git, targetRevision: HEAD, path: "{{path}}"}
"""
MISSING_SOURCE = release(chart_spec("podinfo", "nowhere"))


def _repo(root: Path) -> tuple[Path, str]:
    repo = init_repo(root / "repo")
    write_files(
        repo,
        {
            "charts/web/Chart.yaml": chart_yaml("web"),
            "charts/web/values.yaml": "service: {type: ClusterIP}\n",
            "charts/web/templates/service.yaml": SERVICE,
            "apps/web-prod.yaml": application("web-prod", "ClusterIP"),
        },
    )
    return repo, commit_all(repo, "web")


def _charts(repo: Path, base: str) -> list[dict[str, Any]]:
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", "HEAD", "--format", "json")
    assert code in (0, 1), err
    return list(json.loads(out)["charts"])


def test_each_new_deployment_without_a_chart_is_a_skipped_entry_saying_why(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    write_files(
        repo,
        {
            "apps/cache.yaml": GIT_CHART,
            "apps/api.yaml": OTHER_PATH,
            "apps/teams.yaml": EMPTY_SET,
            "flux/podinfo.yaml": MISSING_SOURCE,
        },
    )
    commit_all(repo, "four deployments this analysis cannot resolve")
    skipped = {c["path"]: c for c in _charts(repo, base) if c["status"] == "skipped"}
    assert set(skipped) == {"apps/cache.yaml", "apps/api.yaml", "apps/teams.yaml", "flux/podinfo.yaml"}
    (cache,) = skipped["apps/cache.yaml"]["warnings"]
    assert cache == "Application 'cache' is not analyzed: chart 'acme/redis' is not in an HTTP or OCI chart repository"
    (api,) = skipped["apps/api.yaml"]["warnings"]
    assert "source path 'charts/api' holds no Chart.yaml in this repository" in api
    (teams,) = skipped["apps/teams.yaml"]["warnings"]
    assert teams.startswith("ApplicationSet 'teams' is not analyzed: it generates no Application")
    (podinfo,) = skipped["flux/podinfo.yaml"]["warnings"]
    assert podinfo.startswith("HelmRelease 'apps/podinfo' is not analyzed:") and "nowhere" in podinfo
    for entry in skipped.values():
        assert entry["verdict"] == "pass" and entry["signals"] == []


def test_the_skipped_entries_reach_the_comment_with_their_reasons(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    write_files(repo, {"apps/cache.yaml": GIT_CHART})
    commit_all(repo, "cache")
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", "HEAD", "--format", "markdown")
    assert code == 0, err
    assert "<code>apps/cache.yaml</code>" in out
    assert "Application 'cache' is not analyzed" in out


def test_one_left_alike_on_both_sides_is_not_reported_again(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    write_files(repo, {"apps/cache.yaml": GIT_CHART, "apps/teams.yaml": EMPTY_SET})
    base = commit_all(repo, "unresolvable, already there")
    write_files(repo, {"apps/web-prod.yaml": application("web-prod", "NodePort")})
    commit_all(repo, "an unrelated change")
    charts = _charts(repo, base)
    assert [c["path"] for c in charts if c["status"] == "skipped"] == []
    assert any(c["path"] == "charts/web" and c["status"] == "analyzed" for c in charts)


def test_a_change_to_an_unresolvable_manifest_is_reported(tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path)
    write_files(repo, {"apps/cache.yaml": GIT_CHART})
    base = commit_all(repo, "unresolvable")
    write_files(repo, {"apps/cache.yaml": GIT_CHART.replace("1.0.0", "2.0.0")})
    commit_all(repo, "a bump of the unresolvable chart")
    (skipped,) = [c for c in _charts(repo, base) if c["status"] == "skipped"]
    assert skipped["path"] == "apps/cache.yaml" and skipped["environment"] == "cache"


def test_hundreds_of_unresolvable_applications_are_listed_a_hundred_and_counted(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    many = "---\n".join(GIT_CHART.replace("name: cache,", f"name: cache-{n},") for n in range(600))
    write_files(repo, {"apps/many.yaml": many})
    commit_all(repo, "six hundred Applications of charts this cannot fetch")
    skipped = [c for c in _charts(repo, base) if c["status"] == "skipped"]
    assert len(skipped) == 101
    (rest,) = [c for c in skipped if c["environment"] == "500 more"]
    assert rest["warnings"] == ["500 more deployments whose chart cannot be found are not listed one by one"]


PATCH = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: podinfo}
spec:
  chart:
    spec: {version: ">=1.0.0"}
  values: {replicas: 3}
"""


def test_a_kustomize_patch_of_a_release_is_said_to_be_a_patch_not_a_release_without_a_chart(tmp_path: Path) -> None:
    """flux2-kustomize-helm-example's overlays: `podinfo-values.yaml` patches the base's HelmRelease."""
    repo, base = _repo(tmp_path)
    write_files(
        repo,
        {
            "apps/base/podinfo/release.yaml": release(chart_spec("web", "flux-system")),
            "apps/staging/kustomization.yaml": (
                "resources: [../base/podinfo]\npatches:\n  - path: podinfo-values.yaml\n    target: {kind: HelmRelease}\n"
            ),
            "apps/staging/podinfo-values.yaml": PATCH,
            "apps/old/kustomization.yaml": "patchesStrategicMerge: [values.yaml]\n",
            "apps/old/values.yaml": PATCH.replace("namespace: podinfo", "namespace: old"),
        },
    )
    commit_all(repo, "an overlay that patches a release")
    skipped = {c["path"]: c["warnings"] for c in _charts(repo, base) if c["status"] == "skipped"}
    assert skipped["apps/staging/podinfo-values.yaml"] == [
        "HelmRelease 'podinfo/podinfo' is not analyzed: it is a Kustomize patch (apps/staging/kustomization.yaml),"
        " and overlays are not built"
    ]
    (old,) = skipped["apps/old/values.yaml"]
    assert old.startswith("HelmRelease 'old/podinfo' is not analyzed: it is a Kustomize patch (apps/old/")
    (release_itself,) = skipped["apps/base/podinfo/release.yaml"]  # its repository is not in this one
    assert "Kustomize patch" not in release_itself
