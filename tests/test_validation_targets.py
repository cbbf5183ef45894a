"""Target Kubernetes releases (issue 14): where they come from (`--kube-version`, repeatable;
`kubernetes.versions` in `.chartimpact.yml`, per environment too), `.Capabilities` following each
target, and targets a change adds to the configuration checking what was already there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.core.config_file import InvalidConfig, load_config
from chartimpact_bot.core.kubernetes.lifecycle import minor
from chartimpact_bot.core.validation.schemas import newest_version
from chartimpact_bot.core.validation.targets import Target, render_version, targets
from tests.conftest import chart_yaml, commit_all, init_repo, make_chart, write_files
from tests.test_cli import run

# An HPA whose apiVersion follows the cluster, as many charts write it.
HPA_BY_CAPABILITIES = """\
{{- if semverCompare ">=1.26-0" .Capabilities.KubeVersion.Version }}
apiVersion: autoscaling/v2
{{- else }}
apiVersion: autoscaling/v2beta2
{{- end }}
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: {{ .Values.max }}
"""
HPA_V2BETA2 = """\
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: {{ .Values.max }}
"""


def _signals(out: str) -> list[dict[str, Any]]:
    (chart,) = json.loads(out)["charts"]
    return list(chart["signals"])


def test_targets_come_from_the_command_line_then_the_environment_then_the_file() -> None:
    config = AnalysisConfig(kube_versions=("1.31", "1.33"))
    assert targets(Environment(), config) == (Target((1, 31)), Target((1, 33)))
    assert targets(Environment(kube_versions=("1.29",)), config) == (Target((1, 29)),)
    assert targets(Environment(kube_versions=("1.29",)), config, ("1.30.2",)) == (Target((1, 30)),)
    assert targets(Environment(kube_version="1.28.4"), AnalysisConfig()) == (Target((1, 28)),)
    newest = newest_version()
    assert newest is not None and targets(Environment(), AnalysisConfig()) == (Target(minor(newest)),)
    # The diff is rendered for the newest target, with the patch release given where there was one.
    assert render_version(Environment(), config) == "1.33.0"
    assert render_version(Environment(), config, ("1.33.4", "1.31")) == "1.33.4"
    added = AnalysisConfig(kube_versions=("1.31",), added_kube_versions=("1.33",))
    assert targets(Environment(), added) == (Target((1, 31)), Target((1, 33), added=True))
    assert render_version(Environment(), added) == "1.31.0"  # the base's targets decide the render


def test_the_configuration_names_targets_and_refuses_what_is_not_a_release() -> None:
    config = load_config(
        'kubernetes: {versions: ["1.31", "v1.33"]}\n'
        "environments:\n  - name: legacy\n    kubernetes: {versions: ['1.27']}\n"
    )
    assert config.kube_versions == ("1.31", "1.33")
    assert config.environments[0].kube_versions == ("1.27",)
    with pytest.raises(InvalidConfig) as caught:
        load_config('kubernetes: {versions: ["latest"]}\n')
    assert "kubernetes.versions[0]" in str(caught.value.problems[0])


def test_kube_version_is_repeatable_and_refuses_nonsense(tmp_path: Path) -> None:
    base = make_chart(tmp_path / "base", "web", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    head = make_chart(tmp_path / "head", "web", {"hpa.yaml": HPA_V2BETA2}, values="max: 3\n")
    code, out, err = run(
        "diff", str(base), str(head), "--format", "json", "--kube-version", "1.25", "--kube-version", "1.26"
    )
    assert code == 1, err
    (removed,) = [s for s in _signals(out) if s["type"] == "upgrade.api.removed"]
    assert "which Kubernetes 1.26 does not serve" in removed["description"]
    assert "1.25 still serves it" in removed["description"]
    code, _, err = run("diff", str(base), str(head), "--kube-version", "latest")
    assert code == 2
    assert "--kube-version 'latest': write a Kubernetes release such as 1.31" in err


def test_capabilities_follow_each_target(tmp_path: Path) -> None:
    """Rendered for 1.25 the chart picks autoscaling/v2beta2 (deprecated there, still served),
    for 1.33 autoscaling/v2: no target is told its HPA is not served, and the diff is 1.33's."""
    base = make_chart(tmp_path / "base", "web", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    head = make_chart(tmp_path / "head", "web", {"hpa.yaml": HPA_BY_CAPABILITIES}, values="max: 3\n")
    code, out, err = run(
        "diff", str(base), str(head), "--format", "json", "--kube-version", "1.25", "--kube-version", "1.33"
    )
    assert code in (0, 1), err
    signals = _signals(out)
    assert not [s for s in signals if s["type"] == "upgrade.api.removed"]
    (deprecated,) = [s for s in signals if s["type"] == "upgrade.api.deprecated"]
    assert deprecated["description"].startswith(
        "HorizontalPodAutoscaler 'web' uses autoscaling/v2beta2, deprecated since"
    )
    assert "(targets 1.25)" in deprecated["description"]
    (chart,) = json.loads(out)["charts"]
    (hpa,) = [r for r in chart["diff"]["resources"] if r["identity"]["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["identity"]["apiVersion"] == "autoscaling/v2"


def test_a_target_the_change_adds_checks_what_was_already_there(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write_files(
        repo,
        {
            ".chartimpact.yml": 'kubernetes: {versions: ["1.25"]}\n',
            "charts/web/Chart.yaml": chart_yaml("web"),
            "charts/web/values.yaml": "max: 3\n",
            "charts/web/templates/hpa.yaml": HPA_V2BETA2,
        },
    )
    base = commit_all(repo, "an HPA on autoscaling/v2beta2, fine on 1.25")
    write_files(repo, {".chartimpact.yml": 'kubernetes: {versions: ["1.25", "1.26"]}\n'})
    commit_all(repo, "the clusters move to 1.26")
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", "HEAD", "--format", "json")
    assert code == 1, err
    (removed,) = [s for s in _signals(out) if s["type"] == "upgrade.api.removed"]
    assert "(a target this change adds: 1.26)" in removed["description"]
    assert removed["source"]["file"] == "charts/web/templates/hpa.yaml"
    # Without the new target, the unchanged HPA is nothing new.
    code, out, err = run("analyze", "--repo", str(repo), "--base", base, "--head", base, "--format", "json")
    assert code == 0, err


def test_what_the_base_already_has_and_what_cannot_be_checked_are_warnings(tmp_path: Path) -> None:
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {retries: 3, port: {{ .Values.port }}}\n"
    monitor = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m}\nspec: {}\n"
    base = make_chart(tmp_path / "base", "web", {"cm.yaml": broken}, values="port: 80\n")
    head = make_chart(tmp_path / "head", "web", {"cm.yaml": broken, "sm.yaml": monitor}, values="port: 81\n")
    code, out, err = run("diff", str(base), str(head), "--format", "json")
    assert code in (0, 1), err
    (chart,) = json.loads(out)["charts"]
    # data.port changed (80 → 81) and is still an integer: a problem of the base too, not a signal.
    assert [s for s in chart["signals"] if s["type"].startswith("upgrade.schema")] == []
    assert "2 schema problems the base already has are not repeated as signals" in chart["warnings"]
    assert "1 custom resource is not validated: the chart does not ship the CRD" in chart["warnings"]


def test_a_target_older_than_the_schemas_is_checked_for_its_api_lifecycle_only(tmp_path: Path) -> None:
    base = make_chart(tmp_path / "base", "web", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    head = make_chart(
        tmp_path / "head",
        "web",
        {
            "pdb.yaml": "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p}\nspec: {minAvailable: x}\n"
        },
    )
    code, out, err = run("diff", str(base), str(head), "--format", "json", "--kube-version", "1.20")
    assert code == 1, err
    (chart,) = json.loads(out)["charts"]
    (removed,) = [s for s in chart["signals"] if s["type"] == "upgrade.api.removed"]
    assert "which Kubernetes 1.20 does not serve (introduced in 1.21)" in removed["description"]
    assert not [s for s in chart["signals"] if s["type"].startswith("upgrade.schema")]
    assert any(w.startswith("Kubernetes 1.20: no schemas older than 1.25 are bundled") for w in chart["warnings"])
