"""Flux HelmReleases as helm-controller runs Helm for them (issue 13): the chart each names, the
values in helm-controller's order, the release name and namespace; then end to end through the
CLI, where the real Helm engine merges what was resolved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from chartimpact_bot.core.gitops.flux import release_name, releases
from chartimpact_bot.core.gitops.remote_chart import RemoteChart
from tests.conftest import chart_yaml, commit_all, init_repo, write_files
from tests.test_cli import run

HTTP_REPOSITORY = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system}
spec: {url: https://stefanprodan.github.io/podinfo, interval: 1h}
"""
OCI_REPOSITORY = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo-oci, namespace: flux-system}
spec: {type: oci, url: oci://ghcr.io/stefanprodan/charts}
"""


def release(spec: str, *, name: str = "podinfo", namespace: str | None = "apps") -> str:
    ns = f", namespace: {namespace}" if namespace else ""
    return f"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: {name}{ns}}}\nspec:\n{spec}"


def chart_spec(chart: str, source: str, *, kind: str = "HelmRepository", extra: str = "") -> str:
    return (
        "  chart:\n    spec:\n"
        f"      chart: {chart}\n      version: 6.5.0\n"
        f"      sourceRef: {{kind: {kind}, name: {source}, namespace: flux-system}}\n{extra}"
    )


def only(files: dict[str, str]) -> Any:
    (found,) = releases(files)
    return found


def test_a_helm_repository_chart_is_fetched_at_its_version_from_the_line_that_names_it() -> None:
    found = only(
        {"infra/sources.yaml": HTTP_REPOSITORY, "apps/podinfo.yaml": release(chart_spec("podinfo", "podinfo"))}
    )
    assert found.remote == RemoteChart("https://stefanprodan.github.io/podinfo", "podinfo", "6.5.0")
    assert (found.remote.manifest, found.remote.line) == ("apps/podinfo.yaml", 8)
    assert found.chart_path is None and found.environment.notes == ()


def test_an_oci_helm_repository_and_an_oci_repository_chart_ref() -> None:
    found = only({"s.yaml": OCI_REPOSITORY, "r.yaml": release(chart_spec("podinfo", "podinfo-oci"))})
    assert found.remote == RemoteChart("oci://ghcr.io/stefanprodan/charts", "podinfo", "6.5.0")
    oci = (
        "apiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\n"
        "metadata: {name: podinfo, namespace: apps}\n"
        "spec:\n  url: oci://ghcr.io/stefanprodan/charts/podinfo\n  ref:\n    semver: '>=6.0.0 <7'\n"
    )
    found = only({"s.yaml": oci, "r.yaml": release("  chartRef: {kind: OCIRepository, name: podinfo}\n")})
    assert found.remote == RemoteChart("oci://ghcr.io/stefanprodan/charts", "podinfo", ">=6.0.0 <7")
    assert found.remote.line == 7
    pinned = oci.replace("semver: '>=6.0.0 <7'", "digest: sha256:0123")
    found = only({"s.yaml": pinned, "r.yaml": release("  chartRef: {kind: OCIRepository, name: podinfo}\n")})
    assert found.remote is None and "pins its chart by digest" in found.environment.notes[0]


def test_a_git_repository_chart_is_a_path_of_this_repository_and_its_values_files_replace_the_defaults() -> None:
    spec = chart_spec(
        "./charts/web",
        "flux-system",
        kind="GitRepository",
        extra="      valuesFiles: [charts/web/values.yaml, envs/prod.yaml]\n",
    )
    found = only({"r.yaml": release(spec)})
    assert (found.chart_path, found.remote) == ("charts/web", None)
    assert found.environment.values == ("charts/web/values.yaml", "envs/prod.yaml")
    assert found.environment.chart_values_replaced is True
    # Relative to the chart, for a chart repository's chart; never outside it.
    spec = chart_spec("podinfo", "podinfo", extra="      valuesFiles: [values-prod.yaml, ../../x.yaml]\n")
    found = only({"s.yaml": HTTP_REPOSITORY, "r.yaml": release(spec)})
    assert found.remote is not None
    assert found.environment.values == (f"{found.remote.mount}/values-prod.yaml",)
    assert "'../../x.yaml' is outside the chart's source" in found.environment.notes[0]


def test_values_from_in_order_with_target_path_then_spec_values_last() -> None:
    config_maps = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: common, namespace: apps}
data:
  values.yaml: |
    replicas: 2
    image: {tag: common}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: tags, namespace: apps}
data:
  prod: '"0123"'
  count: "07"
  enabled: "TRUE"
"""
    spec = chart_spec("podinfo", "podinfo") + (
        "  valuesFrom:\n"
        "    - {kind: ConfigMap, name: common}\n"
        "    - {kind: ConfigMap, name: tags, valuesKey: prod, targetPath: image.tag}\n"
        "    - {kind: ConfigMap, name: tags, valuesKey: count, targetPath: a\\.b.count}\n"
        "    - {kind: ConfigMap, name: tags, valuesKey: enabled, targetPath: enabled}\n"
        "    - {kind: Secret, name: credentials}\n"
        "    - {kind: ConfigMap, name: absent}\n"
        "    - {kind: ConfigMap, name: optional-absent, optional: true}\n"
        "  values:\n    replicas: 3\n"
    )
    found = only({"s.yaml": HTTP_REPOSITORY, "cm.yaml": config_maps, "r.yaml": release(spec)})
    pieces = found.environment.inline_values
    assert [yaml.safe_load(p.text) for p in pieces] == [
        {"replicas": 2, "image": {"tag": "common"}},
        {"image": {"tag": "0123"}},  # quoted: a string, leading zero kept
        {"a.b": {"count": "07"}},  # a leading zero is no integer to --set
        {"enabled": True},
        {"replicas": 3},
    ]
    # Each piece is located where it is written: the ConfigMap's block, its key, the HelmRelease.
    assert [(p.file, p.line, p.pinned) for p in pieces] == [
        ("cm.yaml", 6, False),
        ("cm.yaml", 13, True),
        ("cm.yaml", 14, True),
        ("cm.yaml", 15, True),
        ("r.yaml", 19, False),
    ]
    notes = found.environment.notes
    assert len(notes) == 2, notes
    assert notes[0].startswith("values from Secret 'credentials' are not read")
    assert notes[1].startswith("values from ConfigMap 'absent' are not in the repository")


def test_release_name_and_namespace_as_helm_controller_chooses_them() -> None:
    spec = chart_spec("podinfo", "podinfo") + "  targetNamespace: prod\n"
    found = only({"s.yaml": HTTP_REPOSITORY, "r.yaml": release(spec)})
    assert (found.environment.release_name, found.environment.namespace) == ("prod-podinfo", "prod")
    found = only({"s.yaml": HTTP_REPOSITORY, "r.yaml": release(spec + "  releaseName: web\n")})
    assert found.environment.release_name == "web"
    found = only({"s.yaml": HTTP_REPOSITORY, "r.yaml": release(chart_spec("podinfo", "podinfo"), namespace=None)})
    assert (found.environment.release_name, found.environment.namespace, found.environment.name) == (
        "podinfo",
        "default",
        "podinfo",
    )
    long = release_name("a" * 60, None, "ns")
    assert len(long) == 53 and long.startswith("ns-" + "a" * 37 + "-")


def test_sources_without_a_namespace_are_found_by_name_when_only_one_has_it() -> None:
    unnamespaced = HTTP_REPOSITORY.replace(", namespace: flux-system", "")
    found = only({"s.yaml": unnamespaced, "r.yaml": release(chart_spec("podinfo", "podinfo"), namespace=None)})
    assert found.remote is not None
    twice = {"a.yaml": unnamespaced, "b.yaml": unnamespaced.replace("url: https://", "url: https://mirror.")}
    found = only({**twice, "r.yaml": release(chart_spec("podinfo", "podinfo"), namespace=None)})
    assert found.remote is None and "is not in the repository" in found.environment.notes[0]


def test_hostile_release_manifests_are_notes_not_crashes() -> None:
    for spec in (
        "  chart: 7\n",
        "  chart: {spec: {chart: [1], sourceRef: 3}}\n",
        "  chartRef: {kind: OCIRepository, name: [x]}\n",
        "  valuesFrom: {kind: ConfigMap}\n  values: [1, 2]\n",
        "  chart: {spec: {chart: ../../../etc, sourceRef: {kind: GitRepository, name: x}}}\n",
        "  chart: {spec: {chart: a/b, sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
    ):
        found = only({"s.yaml": HTTP_REPOSITORY, "r.yaml": release(spec)})
        assert found.remote is None and found.chart_path in (None,), (spec, found)


DUMP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: dump}
data:
  values: {{ toJson .Values | quote }}
  release: {{ .Release.Name | quote }}
  namespace: {{ .Release.Namespace | quote }}
"""


def _release_files(marker: str) -> dict[str, str]:
    spec = chart_spec(
        "./charts/web",
        "flux-system",
        kind="GitRepository",
        extra="      valuesFiles: [charts/web/values-base.yaml, envs/prod.yaml]\n",
    ) + (
        "  targetNamespace: prod\n"
        "  valuesFrom:\n"
        "    - {kind: ConfigMap, name: shared}\n"
        "    - {kind: ConfigMap, name: shared, valuesKey: tag, targetPath: image.tag}\n"
        f"  values:\n    marker: {marker}\n    fromRelease: true\n"
    )
    config_map = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: apps}\n"
        "data:\n  values.yaml: |\n    fromConfigMap: yes-cm\n    image: {tag: cm, pullPolicy: cm}\n  tag: '42'\n"
    )
    return {"clusters/prod/web.yaml": release(spec, name="web"), "clusters/prod/shared.yaml": config_map}


def test_end_to_end_helm_merges_what_flux_would_pass(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(
        repo,
        {
            "charts/web/Chart.yaml": chart_yaml("web"),
            "charts/web/values.yaml": "onlyInDefaults: dropped\nimage: {tag: default, repository: nginx}\n",
            "charts/web/values-base.yaml": "fromBase: yes\nimage: {tag: base, repository: nginx}\n",
            "charts/web/templates/dump.yaml": DUMP,
            "envs/prod.yaml": "fromProd: yes\nimage: {pullPolicy: prod}\n",
            **_release_files("one"),
        },
    )
    base = commit_all(repo, "base")
    write_files(repo, _release_files("two"))
    commit_all(repo, "head")
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", "main", "--format", "json")
    assert code in (0, 1), err
    (chart,) = [c for c in json.loads(out)["charts"] if c["environment"] == "apps/web"]
    (dump,) = [r for r in chart["diff"]["resources"] if r["identity"]["name"] == "dump"]
    assert dump["identity"]["namespace"] == "prod"
    (values_change,) = [c for c in dump["changes"] if c["path"] == "/data/values"]
    assert json.loads(values_change["after"]) == {
        # values.yaml is replaced by valuesFiles, which do not list it: onlyInDefaults is gone.
        "fromBase": True,
        "fromProd": True,
        "fromConfigMap": "yes-cm",
        "image": {"repository": "nginx", "tag": 42, "pullPolicy": "cm"},  # targetPath typed as --set types it
        "marker": "two",
        "fromRelease": True,
    }
    # The change is located in the HelmRelease, at the line that changed.
    sources = {s["type"]: s["source"] for s in chart["signals"]}
    assert all(
        s is None or s["file"] in ("clusters/prod/web.yaml", "charts/web/templates/dump.yaml") for s in sources.values()
    ), sources
