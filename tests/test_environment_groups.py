"""The environments of one chart as one group (issue 13 point 5): in the comment, the check run,
the terminal and the report page each signal is shown once with the environments it affects,
and each environment has its verdict; the report JSON keeps one entry per environment.

The repository deploys one chart through two Argo CD Applications (web-prod, web-staging), so
their resources are named after different releases (`web-prod-web`, `web-staging-web`): the
same template change must still read as one signal."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from chartimpact_bot.core.config import AnalysisConfig
from chartimpact_bot.core.model import Report
from chartimpact_bot.core.report.environments import chart_groups
from chartimpact_bot.core.report.json import dumps as render_json
from chartimpact_bot.core.report.markdown import render_markdown
from chartimpact_bot.core.report.page_model import page_model
from chartimpact_bot.core.report.text import render_text
from chartimpact_bot.engine.pipeline import PipelineOptions, compare
from chartimpact_bot.engine.sources import GitRefSource
from chartimpact_bot.github.checks import build_output
from chartimpact_bot.web.pages.report import filtered_rows
from tests.conftest import chart_yaml, commit_all, init_repo, write_files

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-web}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""
PROBE = """\
          readinessProbe:
            httpGet: {path: /ready, port: 80}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}-web}
spec:
  type: {{ .Values.type }}
  selector: {app: web}
  ports: [{port: 80}]
"""


def _application(name: str, replicas: int, service_type: str = "ClusterIP") -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  destination: {{server: https://kubernetes.default.svc, namespace: {name}}}
  source:
    repoURL: https://github.com/acme/deploy.git
    targetRevision: HEAD
    path: charts/web
    helm:
      values: |
        replicas: {replicas}
        type: {service_type}
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    repo = init_repo(tmp_path_factory.mktemp("groups") / "repo")
    files = {
        "charts/web/Chart.yaml": chart_yaml("web"),
        "charts/web/values.yaml": "replicas: 2\ntype: ClusterIP\n",
        "charts/web/templates/deployment.yaml": DEPLOYMENT + PROBE,
        "charts/web/templates/service.yaml": SERVICE,
        "apps/web-prod.yaml": _application("web-prod", 3),
        "apps/web-staging.yaml": _application("web-staging", 2),
    }
    write_files(repo, files)
    base = commit_all(repo, "web in two environments")
    # The head: the probe goes in both (the chart's template), prod becomes a LoadBalancer
    # (its Application alone), and both go down to one replica from different counts.
    write_files(
        repo,
        {
            "charts/web/templates/deployment.yaml": DEPLOYMENT,
            "apps/web-prod.yaml": _application("web-prod", 1, "LoadBalancer"),
            "apps/web-staging.yaml": _application("web-staging", 1),
        },
    )
    head = commit_all(repo, "the change")
    return compare(GitRefSource(repo, base), GitRefSource(repo, head), PipelineOptions(), config=AnalysisConfig())


def test_the_report_json_keeps_one_entry_per_environment(report: Report) -> None:
    charts = json.loads(render_json(report))["charts"]
    assert [(c["path"], c["environment"]) for c in charts] == [
        ("charts/web", "web-prod"),
        ("charts/web", "web-staging"),
    ]


def test_a_template_change_is_one_signal_of_both_environments_and_a_value_of_one_is_its_own(
    report: Report,
) -> None:
    (group,) = chart_groups(report.charts)
    assert group.several and group.environments == ("web-prod", "web-staging")
    by_type: dict[str, list[tuple[str, ...]]] = {}
    for shared in group.signals:
        by_type.setdefault(shared.signal.type, []).append(shared.environments)
    # The probe was removed from the chart's template: one signal, both environments, though
    # the Deployments are web-prod-web and web-staging-web.
    assert by_type["availability.probe.readiness"] == [("web-prod", "web-staging")]
    # Only prod's Application made its Service a LoadBalancer.
    assert by_type["security.exposure.type"] == [("web-prod",)]
    # 3 → 1 and 2 → 1 are different changes: one row each.
    assert sorted(by_type["availability.replicas"]) == [("web-prod",), ("web-staging",)]
    shared_probe = next(s for s in group.signals if s.signal.type == "availability.probe.readiness")
    ((source, environments),) = shared_probe.sources()
    assert source.file == "charts/web/templates/deployment.yaml" and environments == ("web-prod", "web-staging")


def test_the_comment_has_one_section_for_the_chart_with_each_environments_verdict(report: Report) -> None:
    text = render_markdown(report)
    assert text.count("#### <code>charts/web</code>") == 1
    assert "· 2 environments" in text
    verdicts = {c.environment: c.verdict for c in report.charts}
    icons = {"fail": "❌", "warn": "⚠️", "pass": "✅"}
    assert " · ".join(f"{icons[v]} {e}: {v}" for e, v in verdicts.items()) in text
    assert "| | Importance | Category | Signal | Environments | Where |" in text
    probe = next(line for line in text.splitlines() if "availability.probe.readiness" in line)
    assert "| web-prod, web-staging |" in probe
    assert "charts/web/templates/deployment.yaml" in probe
    exposure = next(line for line in text.splitlines() if "security.exposure.type" in line)
    assert "| web-prod |" in exposure
    assert text.count("availability.probe.readiness") == 1
    # Each environment's diff is its own, and says which.
    assert "Diff in web-prod:" in text and "Diff in web-staging:" in text


def test_the_check_run_annotates_a_shared_line_once_naming_both_environments(report: Report) -> None:
    head_paths = {
        "charts/web/templates/deployment.yaml",
        "charts/web/templates/service.yaml",
        "apps/web-prod.yaml",
        "apps/web-staging.yaml",
    }
    output = build_output(report, head_paths=head_paths, problems=[])
    probes = [a for a in output.annotations if a["title"].startswith("availability.probe.readiness")]
    assert len(probes) == 1
    assert probes[0]["path"] == "charts/web/templates/deployment.yaml"
    assert probes[0]["message"].endswith("Environments: web-prod, web-staging")
    (exposure,) = [a for a in output.annotations if a["title"].startswith("security.exposure.type")]
    assert exposure["path"] == "apps/web-prod.yaml"
    assert exposure["message"].endswith("Environments: web-prod")
    replicas = sorted(a["path"] for a in output.annotations if a["title"].startswith("availability.replicas"))
    assert replicas == ["apps/web-prod.yaml", "apps/web-staging.yaml"]
    # The summary is the same grouped Markdown.
    assert output.summary.count("availability.probe.readiness") == 1


def test_the_terminal_groups_the_chart_and_names_each_signals_environments(report: Report) -> None:
    text = render_text(report)
    assert re.search(r"■ charts/web  chart web, 2 environments: web-prod \w+, web-staging \w+", text)
    probe = [line for line in text.splitlines() if "[availability.probe.readiness]" in line]
    assert len(probe) == 1 and probe[0].endswith("(web-prod, web-staging)")


def test_the_report_page_shows_each_signal_once_and_filters_by_either_environment(report: Report) -> None:
    model = page_model(report)
    (group,) = model.groups
    assert [h.environment for h in group.environments] == ["web-prod", "web-staging"]
    probes = [row for row in model.signals if row.type == "availability.probe.readiness"]
    assert len(probes) == 1
    (probe,) = probes
    assert probe.environments == ("web-prod", "web-staging")
    # Both environments' own signals: the page's acknowledgement accepts both, and the other's
    # anchor still lands on this row.
    ids = {s.id for c in report.charts for s in c.signals if s.type == "availability.probe.readiness"}
    assert set(probe.member_ids) == ids and len(ids) == 2
    assert len(probe.other_anchors) == 1
    for environment in ("web-prod", "web-staging"):
        assert probe in filtered_rows(model, {"environment": environment})
    exposure = next(row for row in model.signals if row.type == "security.exposure.type")
    assert exposure not in filtered_rows(model, {"environment": "web-staging"})
    # The blast radius: one line for the workload both environments restart for the same
    # fields, naming them (the first environment's name of it).
    assert [i.subject for i in model.restarts] == [
        "Deployment web-prod/web-prod-web (charts/web: web-prod, web-staging)"
    ]
    (exposed,) = model.exposure
    assert exposed.subject == "Service web-prod/web-prod-web (charts/web: web-prod)"


def test_two_resources_of_one_environment_alike_but_for_namespace_stay_two_rows(report: Report) -> None:
    prod, staging = report.charts
    probe = next(s for s in prod.signals if s.type == "availability.probe.readiness")
    elsewhere = dataclasses.replace(
        probe, id="f" * 16, resource=dataclasses.replace(probe.resource, namespace="elsewhere")
    )
    doubled = dataclasses.replace(prod, signals=(*prod.signals, elsewhere))
    (group,) = chart_groups((doubled, staging))
    probes = [s for s in group.signals if s.signal.type == "availability.probe.readiness"]
    assert sorted(s.environments for s in probes) == [("web-prod",), ("web-prod", "web-staging")]
