"""Red-team tests of Argo CD Applications taking a chart from a chart repository (commit b55ec4d):
hostile manifests and archives, `chart.upgrade` and `chart.values.stale`. Each asserts what must
hold; a local HTTP chart repository (tests/chart_repository.py) serves the charts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chartimpact_bot.core.gitops.argocd import applications
from chartimpact_bot.core.signals.chart.upgrade import semver_distance
from tests.chart_repository import http_repository, packaged
from tests.conftest import commit_all, init_repo, write_files
from tests.test_cli import run

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  a: {{ .Values.a | quote }}
"""


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTIMPACT_CACHE_DIR", str(tmp_path / "cache"))


def application(url: str, version: str, helm: str, *, name: str = "web") -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  project: default
  destination: {{server: https://kubernetes.default.svc, namespace: shop}}
  source:
    repoURL: {url}
    chart: web
    targetRevision: {version}
    helm:
{helm}"""


def analyze(
    tmp_path: Path, base_files: dict[str, str], head_files: dict[str, str], fmt: str = "json"
) -> tuple[int, str, str]:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, {"README.md": "deploys\n", **base_files})
    base = commit_all(repo, "base")
    write_files(repo, head_files)
    commit_all(repo, "head")
    return run(
        "analyze",
        "--repo",
        str(repo),
        "--base",
        base,
        "--head",
        "main",
        "--format",
        fmt,
        "--allow-private-repositories",
    )


def only_chart(out: str) -> dict[str, Any]:
    (chart,) = json.loads(out)["charts"]
    assert isinstance(chart, dict)
    return chart


def of_type(chart: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in chart["signals"] if s["type"] == kind]


@pytest.fixture
def two_versions(tmp_path: Path) -> Iterator[str]:
    served = {
        ("web", v): packaged("web", v, {"templates/cm.yaml": CONFIGMAP, "values.yaml": "a: x\n"})
        for v in ("1.0.0", "2.0.0")
    }
    with http_repository(tmp_path / "served", served) as url:
        yield url


# --- credentials -------------------------------------------------------------------------------


def test_a_password_holding_an_at_sign_never_reaches_the_report(tmp_path: Path, two_versions: str) -> None:
    """No part of a repoURL's password (here one holding '@') appears in the JSON or markdown report."""
    url = two_versions.replace("http://", "http://alice:p@ssw0rdZ@")
    helm = "      valuesObject: {a: q}\n"
    for fmt in ("json", "markdown"):
        code, out, err = analyze(
            tmp_path / fmt,
            {"apps/web.yaml": application(url, "1.0.0", helm)},
            {"apps/web.yaml": application(url, "2.0.0", helm)},
            fmt,
        )
        assert code in (0, 1), err
        assert "ssw0rdZ" not in out + err, (fmt, [line for line in out.splitlines() if "ssw0rdZ" in line])


def test_a_token_in_the_repo_url_query_never_reaches_the_report(tmp_path: Path, two_versions: str) -> None:
    """A `?token=...` of a repoURL (redacted in the chart's error) is not shown in the chart's path either."""
    url = two_versions + "/?token=SECRETQTOKEN123"
    helm = "      valuesObject: {a: q}\n"
    for fmt in ("json", "markdown"):
        _code, out, err = analyze(
            tmp_path / fmt,
            {"apps/web.yaml": application(url, "1.0.0", helm)},
            {"apps/web.yaml": application(url, "2.0.0", helm)},
            fmt,
        )
        assert "SECRETQTOKEN123" not in out + err, (fmt, [line for line in out.splitlines() if "SECRETQ" in line])


# --- valueFiles of a chart repository's chart --------------------------------------------------


@pytest.mark.parametrize("entry", ["../../secret.yaml", "../other/values.yaml", "/etc/passwd"])
def test_a_relative_values_file_of_a_remote_chart_stays_in_the_chart(entry: str) -> None:
    """A non-`$ref` valueFiles entry of a chart-repository chart is a file of the chart (below its mount) or a problem, never a repository file."""
    text = application("https://charts.example", "1.0.0", f"      valueFiles: ['{entry}']\n")
    (app,) = applications("apps/web.yaml", text)
    (source,) = app.sources
    assert source.remote is not None
    outside = [f for f in source.value_files if not f.startswith(source.remote.mount + "/")]
    assert not outside, (entry, source.value_files)


def test_a_values_ref_to_the_git_repository_of_a_remote_chart_application_is_read() -> None:
    """In the usual multi-source form (chart from a Helm repository, `ref: values` on the git repository), `$values/...` is read from the repository."""
    text = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web}
spec:
  destination: {namespace: shop}
  sources:
  - repoURL: https://charts.example
    chart: web
    targetRevision: 1.0.0
    helm:
      valueFiles: [$values/apps/web/values.yaml]
  - repoURL: https://github.com/acme/deploy.git
    targetRevision: main
    ref: values
"""
    (app,) = applications("apps/web.yaml", text)
    (source,) = app.sources
    assert source.value_files == ("apps/web/values.yaml",), (source.value_files, app.problems)


# --- hostile targetRevision --------------------------------------------------------------------


def test_a_huge_target_revision_is_the_charts_error_not_a_crash(tmp_path: Path, two_versions: str) -> None:
    """A 5000-digit targetRevision is that chart's render error; the analysis still reports every chart."""
    helm = "      valuesObject: {a: q}\n"
    base = {
        "apps/web.yaml": application(two_versions, "1.0.0", helm),
        "apps/api.yaml": application(two_versions, "1.0.0", helm, name="api"),
    }
    head = {
        "apps/web.yaml": application(two_versions, "'" + "9" * 5000 + "'", helm),
        "apps/api.yaml": application(two_versions, "2.0.0", helm, name="api"),
    }
    code, out, err = analyze(tmp_path, base, head)
    assert "unexpectedly" not in err, err[-400:]
    by_env = {c["environment"]: c for c in json.loads(out)["charts"]}
    assert by_env["web"]["status"] == "render_error", by_env["web"]
    assert by_env["api"]["status"] == "analyzed", by_env["api"]


def test_a_remote_chart_that_cannot_be_had_is_pointed_at_its_application(tmp_path: Path, two_versions: str) -> None:
    """chart.render of a chart-repository chart points at a repository file (the Application), not at a URL or the mount."""
    helm = "      valuesObject: {a: q}\n"
    code, out, err = analyze(
        tmp_path,
        {"apps/web.yaml": application(two_versions, "1.0.0", helm)},
        {"apps/web.yaml": application(two_versions, "9.9.9", helm)},
    )
    assert code == 2, err
    (render,) = of_type(only_chart(out), "chart.render")
    assert render["source"]["file"] == "apps/web.yaml", render["source"]


# --- chart.values.stale ------------------------------------------------------------------------

V1_READS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  viaGet: {{ .Values.viaGet | quote }}
  viaFile: {{ .Values.viaFile | quote }}
  emptyMap: {{ .Values.emptyMap | toJson | quote }}
  emptyList: {{ .Values.emptyList | toJson | quote }}
  nulled: {{ .Values.nulled | quote }}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData:
  conn: {{ .Values.db.conn | quote }}
"""
V2_READS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  viaGet: {{ get .Values "viaGet" | quote }}
  cfg: {{ tpl (.Files.Get "files/cfg.tpl") . | quote }}
"""
APP_VALUES = """\
      valuesObject:
        viaGet: one
        viaFile: two
        emptyMap: {sub: 1}
        emptyList: [{name: n}]
        nulled: null
        db: {conn: Hunter2ConnString}
"""


@pytest.fixture
def stale_report(tmp_path: Path) -> dict[str, Any]:
    v1 = {
        "templates/cm.yaml": V1_READS,
        "values.yaml": "viaGet: a\nviaFile: b\nemptyMap: {}\nemptyList: []\nnulled: c\ndb: {conn: ''}\n",
    }
    v2 = {
        "templates/cm.yaml": V2_READS,
        "files/cfg.tpl": "x={{ .Values.viaFile }}\n",
        "values.yaml": "emptyMap: {}\nemptyList: []\n",
    }
    served = {("web", "1.0.0"): packaged("web", "1.0.0", v1), ("web", "2.0.0"): packaged("web", "2.0.0", v2)}
    with http_repository(tmp_path / "served", served) as url:
        code, out, err = analyze(
            tmp_path,
            {"apps/web.yaml": application(url, "1.0.0", APP_VALUES)},
            {"apps/web.yaml": application(url, "2.0.0", APP_VALUES)},
        )
    assert code in (0, 1), err
    return {"out": out, "chart": only_chart(out)}


def stale_keys(report: dict[str, Any]) -> set[str]:
    return {s["affectedPath"].removeprefix("values.") for s in of_type(report["chart"], "chart.values.stale")}


def test_a_stale_value_the_base_put_in_a_secret_is_not_shown(stale_report: dict[str, Any]) -> None:
    """A stale value that the base chart rendered into a Secret is masked in the JSON report (before/after of chart.values.stale)."""
    assert "db.conn" in stale_keys(stale_report)  # rightly stale
    assert "Hunter2ConnString" not in stale_report["out"]


def test_a_value_read_with_get_is_not_stale(stale_report: dict[str, Any]) -> None:
    """A key the head chart reads with `get .Values "key"` is still read: not chart.values.stale."""
    assert "viaGet" not in stale_keys(stale_report)


def test_a_value_read_by_a_file_rendered_with_tpl_is_not_stale(stale_report: dict[str, Any]) -> None:
    """A key read by a chart file rendered through `tpl (.Files.Get ...)` is still read: not chart.values.stale."""
    assert "viaFile" not in stale_keys(stale_report)


@pytest.mark.parametrize("key", ["emptyMap.sub", "emptyList.name"])
def test_a_key_below_an_empty_map_or_list_of_the_head_values_is_not_stale(
    stale_report: dict[str, Any], key: str
) -> None:
    """Keys below a map or list the head's values.yaml defines (`{}`, `[]`) are known to the head chart: not chart.values.stale."""
    assert key not in stale_keys(stale_report)


def test_a_value_set_to_null_is_not_stale(stale_report: dict[str, Any]) -> None:
    """A key the repository sets to null (Helm's way to unset it) sets nothing that can stop applying: not chart.values.stale."""
    assert "nulled" not in stale_keys(stale_report)


def test_stale_values_are_only_the_repositorys(tmp_path: Path) -> None:
    """chart.values.stale points at repository files only, never at a values file inside the fetched chart (`@remote/...`)."""
    v1 = {
        "templates/cm.yaml": CONFIGMAP + "  l: {{ .Values.legacy | quote }}\n",
        "values.yaml": "a: x\nlegacy: 0\n",
        "values-prod.yaml": "legacy: 1\n",
    }
    v2 = {"templates/cm.yaml": CONFIGMAP, "values.yaml": "a: x\n", "values-prod.yaml": "legacy: 1\n"}
    served = {("web", "1.0.0"): packaged("web", "1.0.0", v1), ("web", "2.0.0"): packaged("web", "2.0.0", v2)}
    helm = "      valueFiles: [values-prod.yaml]\n"
    with http_repository(tmp_path / "served", served) as url:
        code, out, err = analyze(
            tmp_path,
            {"apps/web.yaml": application(url, "1.0.0", helm)},
            {"apps/web.yaml": application(url, "2.0.0", helm)},
        )
    assert code in (0, 1), err
    sources = [s["source"]["file"] for s in of_type(only_chart(out), "chart.values.stale")]
    assert not [f for f in sources if f.startswith("@remote/")], sources


# --- chart.upgrade -----------------------------------------------------------------------------


def test_a_build_metadata_change_is_not_a_pre_release() -> None:
    """Versions that differ only in build metadata (`1.0.0+a` → `1.0.0+b`) are not called a pre-release change."""
    assert semver_distance("1.0.0+a", "1.0.0+b") != "pre-release"
