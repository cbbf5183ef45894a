"""Argo CD Applications whose chart lives in a chart repository (issue 13, point 3): a local HTTP
Helm repository and a real OCI registry serve two versions of a chart; a Renovate-style bump of
`targetRevision` is rendered at both versions, with the Application's own values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chart_repository import http_repository, packaged
from tests.conftest import commit_all, init_repo, write_files
from tests.oci_registry import Pusher, registry, require_registry
from tests.test_cli import run

DEPLOY_V1 = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: "nginx:{{ .Chart.AppVersion }}"
          ports: [{containerPort: {{ .Values.legacyPort }}}]
          readinessProbe: {httpGet: {path: /, port: 80}}
"""
DEPLOY_V2 = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: "nginx:{{ .Chart.AppVersion }}"
          ports: [{containerPort: 8080}]
          securityContext: {privileged: true}
"""
VERSIONS = {
    "1.0.0": {"templates/deploy.yaml": DEPLOY_V1, "values.yaml": "replicas: 1\nlegacyPort: 80\n"},
    "2.0.0": {"templates/deploy.yaml": DEPLOY_V2, "values.yaml": "replicas: 1\n"},
}


NOTES = """\
annotations:
  artifacthub.io/changes: |
    - kind: changed
      description: The port is fixed at 8080; legacyPort is gone
    - Probes are left to the operator
"""


def archives() -> dict[tuple[str, str], bytes]:
    return {
        ("web", version): packaged("web", version, files, chart_extra=NOTES if version == "2.0.0" else "")
        for version, files in VERSIONS.items()
    }


def application(repo_url: str, version: str, *, replicas: int = 3, name: str = "web") -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  project: default
  destination: {{server: https://kubernetes.default.svc, namespace: shop}}
  source:
    repoURL: {repo_url}
    chart: web
    targetRevision: {version}
    helm:
      valuesObject:
        replicas: {replicas}
        legacyPort: 8080
"""


@pytest.fixture
def chart_repository(tmp_path: Path) -> Iterator[str]:
    with http_repository(tmp_path / "served", archives()) as url:
        yield url


@pytest.fixture
def oci_chart_repository(tmp_path: Path) -> Iterator[str]:
    require_registry()
    with registry(tmp_path / "registry") as reg:
        pusher = Pusher(reg)
        for (name, version), data in archives().items():
            pusher.push_chart(f"charts/{name}", version, data)
        yield f"oci://{reg.host}/charts"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTIMPACT_CACHE_DIR", str(tmp_path / "cache"))


def analyze(tmp_path: Path, base_files: dict[str, str], head_files: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    repo = init_repo(tmp_path / "repo")
    write_files(repo, {"README.md": "deploys\n", **base_files})
    base = commit_all(repo, "base")
    write_files(repo, head_files)
    commit_all(repo, "head")
    code, out, err = run(
        "analyze", "--repo", str(repo), "--base", base, "--head", "main", "--format", "json",
        "--allow-private-repositories",
    )  # fmt: skip
    return code, json.loads(out) if out else {}, err


def deployment(chart: dict[str, Any]) -> dict[str, Any]:
    (found,) = [r for r in chart["diff"]["resources"] if r["identity"]["kind"] == "Deployment"]
    assert isinstance(found, dict)
    return found


@pytest.mark.parametrize("served", ["chart_repository", "oci_chart_repository"])
def test_a_target_revision_bump_is_rendered_at_both_versions(
    tmp_path: Path, served: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(served)
    code, report, err = analyze(
        tmp_path, {"apps/web.yaml": application(url, "1.0.0")}, {"apps/web.yaml": application(url, "2.0.0")}
    )
    assert code == 1, err  # privileged is a high security signal: the change fails
    (chart,) = report["charts"]
    assert (chart["path"], chart["name"], chart["environment"], chart["status"]) == (
        f"{url}/web",
        "web",
        "web",
        "analyzed",
    ), chart
    types = {s["type"] for s in chart["signals"]}
    assert {"security.context.privileged", "availability.probe.readiness"} <= types, types
    by_type = {s["type"]: s for s in chart["signals"]}
    # The bump itself, at the line of the Application that names the version, with the chart's notes.
    bump = by_type["chart.upgrade"]
    assert (bump["importance"], bump["source"]["file"], bump["source"]["line"]) == ("medium", "apps/web.yaml", 10)
    assert bump["description"] == (
        "Chart 'web' upgraded from 1.0.0 to 2.0.0 (a major version: read its upgrade notes). Its notes:"
        " changed: The port is fixed at 8080; legacyPort is gone; Probes are left to the operator"
    )
    # The value the Application sets that 2.0.0 no longer reads, at the line that sets it.
    stale = by_type["chart.values.stale"]
    assert (stale["source"]["file"], stale["source"]["line"]) == ("apps/web.yaml", 14), stale
    assert (
        "Value 'legacyPort' set in apps/web.yaml is no longer read by chart 'web' 1.0.0 → 2.0.0" in stale["description"]
    )
    changes = {c["path"]: (c["before"], c["after"]) for c in deployment(chart)["changes"]}
    # Both versions got the Application's values: 3 replicas on each side (no change), and the
    # old template's port is the Application's 8080 (the chart's default is 80), as the new one.
    container = "/spec/template/spec/containers/0"
    assert changes == {
        f"{container}/image": ("nginx:1.0.0", "nginx:2.0.0"),
        f"{container}/readinessProbe": ({"httpGet": {"path": "/", "port": 80}}, None),
        f"{container}/securityContext": (None, {"privileged": True}),
    }, changes


def test_a_values_only_change_to_one_application_analyzes_that_target_alone(
    tmp_path: Path, chart_repository: str
) -> None:
    url = chart_repository
    base = {"apps/web.yaml": application(url, "1.0.0"), "apps/api.yaml": application(url, "1.0.0", name="api")}
    head = {"apps/web.yaml": application(url, "1.0.0", replicas=5)}
    code, report, err = analyze(tmp_path, base, head)
    assert code in (0, 1), err
    by_env = {c["environment"]: c for c in report["charts"]}
    assert by_env["web"]["status"] == "analyzed" and by_env["api"]["status"] == "unchanged", by_env
    changes = {c["path"]: (c["before"], c["after"]) for c in deployment(by_env["web"])["changes"]}
    assert changes == {"/spec/replicas": (3, 5)}, changes


def test_an_unchanged_version_is_not_fetched_at_all(tmp_path: Path) -> None:
    """Nothing of the Application changed: it is unchanged, and its (unreachable) repository
    is not asked."""
    url = "http://127.0.0.1:9"  # discard: nothing listens
    code, report, err = analyze(
        tmp_path, {"apps/web.yaml": application(url, "1.0.0")}, {"README.md": "still deploys\n"}
    )
    assert code == 0, err
    (chart,) = report["charts"]
    assert chart["status"] == "unchanged", chart


def test_a_repository_that_cannot_be_reached_is_the_charts_error_not_a_crash(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9"
    code, report, err = analyze(
        tmp_path, {"apps/web.yaml": application(url, "1.0.0")}, {"apps/web.yaml": application(url, "2.0.0")}
    )
    assert code == 2, err
    (chart,) = report["charts"]
    assert chart["status"] == "render_error" and "could not be fetched" in chart["error"], chart


def test_a_bump_that_changes_only_images_and_labels_is_a_routine_upgrade(tmp_path: Path) -> None:
    labelled = DEPLOY_V1.replace(
        "metadata: {name: web}", "metadata: {name: web, labels: {chart: 'web-{{ .Chart.Version }}'}}"
    )
    served = {
        ("web", v): packaged(
            "web", v, {"templates/deploy.yaml": labelled, "values.yaml": VERSIONS["1.0.0"]["values.yaml"]}
        )
        for v in ("1.4.0", "1.4.1")
    }
    with http_repository(tmp_path / "served", served) as url:
        code, report, err = analyze(
            tmp_path, {"apps/web.yaml": application(url, "1.4.0")}, {"apps/web.yaml": application(url, "1.4.1")}
        )
    assert code in (0, 1), err
    (chart,) = report["charts"]
    (bump,) = [s for s in chart["signals"] if s["type"] == "chart.upgrade"]
    assert bump["importance"] == "low"
    assert bump["description"] == (
        "Chart 'web' upgraded from 1.4.0 to 1.4.1 (patch); a routine upgrade: the rendered change is"
        " image tags and labels only"
    )
    assert not [s for s in chart["signals"] if s["type"] == "chart.values.stale"]


def test_a_local_chart_that_stops_reading_a_value_an_environment_sets(tmp_path: Path) -> None:
    """Stale values are not only for remote charts: a chart of the repository renamed a key
    that an Application's values file still sets."""
    chart_v1 = {"templates/deploy.yaml": DEPLOY_V1, "values.yaml": "replicas: 1\nlegacyPort: 80\n"}
    chart_v2 = {
        "templates/deploy.yaml": DEPLOY_V1.replace(".Values.legacyPort", ".Values.port"),
        "values.yaml": "replicas: 1\nport: 80\n",
    }
    app = (
        application("https://github.com/acme/deploy.git", "HEAD")
        .replace("    chart: web\n", "    path: charts/web\n")
        .replace(
            "      valuesObject:\n        replicas: 3\n        legacyPort: 8080\n",
            "      valueFiles: [values-prod.yaml]\n",
        )
    )
    files = {"apps/web.yaml": app, "charts/web/values-prod.yaml": "# prod\nreplicas: 3\nlegacyPort: 8080\n"}
    base = {**files, "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n"}
    base.update({f"charts/web/{k}": v for k, v in chart_v1.items()})
    head = {"charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.1.0\n"}
    head.update({f"charts/web/{k}": v for k, v in chart_v2.items()})
    code, report, err = analyze(tmp_path, base, head)
    assert code in (0, 1), err
    (chart,) = [c for c in report["charts"] if c["environment"] == "web"]
    (stale,) = [s for s in chart["signals"] if s["type"] == "chart.values.stale"]
    assert (stale["source"]["file"], stale["source"]["line"]) == ("charts/web/values-prod.yaml", 3), stale
    # The chart is the repository's own: its version is no upgrade to report.
    assert not [s for s in chart["signals"] if s["type"] == "chart.upgrade"]


def flux_release(url: str, version: str) -> str:
    return f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: flux-system}}
spec: {{url: {url}}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web, namespace: shop}}
spec:
  chart:
    spec:
      chart: web
      version: {version}
      sourceRef: {{kind: HelmRepository, name: charts, namespace: flux-system}}
  values:
    replicas: 3
    legacyPort: 8080
"""


def test_a_flux_helm_release_version_bump_is_rendered_at_both_versions(tmp_path: Path, chart_repository: str) -> None:
    url = chart_repository
    code, report, err = analyze(
        tmp_path, {"flux/web.yaml": flux_release(url, "1.0.0")}, {"flux/web.yaml": flux_release(url, "2.0.0")}
    )
    assert code == 1, err
    (chart,) = report["charts"]
    assert (chart["path"], chart["environment"]) == (f"{url}/web", "shop/web")
    by_type = {s["type"]: s for s in chart["signals"]}
    assert (by_type["chart.upgrade"]["source"]["file"], by_type["chart.upgrade"]["source"]["line"]) == (
        "flux/web.yaml",
        13,
    )
    assert (by_type["chart.values.stale"]["source"]["file"], by_type["chart.values.stale"]["source"]["line"]) == (
        "flux/web.yaml",
        17,
    )
    assert "security.context.privileged" in by_type


REQUIRES_AUTH = '{"type": "object", "required": ["auth"], "properties": {"auth": {"required": ["password"]}}}'


def test_a_bump_to_a_version_that_requires_a_new_value_names_it_at_the_version_line(tmp_path: Path) -> None:
    """The new version's schema requires `auth.password`: where the Application sets it the
    upgrade renders and the requirement is named (low); where nothing sets it the head cannot
    render, and the signal says which value is missing, at the line that bumps the version."""
    served = {
        ("web", "1.0.0"): packaged("web", "1.0.0", VERSIONS["1.0.0"]),
        ("web", "3.0.0"): packaged("web", "3.0.0", {**VERSIONS["1.0.0"], "values.schema.json": REQUIRES_AUTH}),
    }
    with_password = application("{url}", "3.0.0") + "        auth: {password: from-a-vault}\n"
    with http_repository(tmp_path / "served", served) as url:
        code, report, err = analyze(
            tmp_path,
            {"apps/web.yaml": application(url, "1.0.0"), "apps/set.yaml": application(url, "1.0.0", name="set")},
            {
                "apps/web.yaml": application(url, "3.0.0"),
                "apps/set.yaml": with_password.replace("{url}", url).replace("name: web,", "name: set,"),
            },
        )
    assert code in (0, 1, 2), err
    charts = {c["environment"]: c for c in report["charts"]}
    missing = charts["web"]
    assert missing["status"] == "render_error"
    (required,) = [s for s in missing["signals"] if s["type"] == "chart.values.required"]
    assert required["importance"] == "medium"
    assert required["description"] == (
        "Chart 'web' 1.0.0 → 3.0.0 now requires value 'auth', which nothing sets: Helm refuses the release without it"
    )
    assert required["source"] == {"file": "apps/web.yaml", "line": 10}
    rendered = charts["set"]
    assert rendered["status"] == "analyzed", rendered["error"]
    assert sorted(
        (s["affectedPath"], s["importance"]) for s in rendered["signals"] if s["type"] == "chart.values.required"
    ) == [("values.auth", "low"), ("values.auth.password", "low")]
