"""deploy/monitoring: the alert rules pass promtool's check and their unit tests (and those tests
fail when a rule changes), every alert is labelled and annotated and links a runbook section
that exists, the dashboard's expressions parse as PromQL, and the name tokenizer that
tests/github/test_monitoring_metrics.py relies on finds what it should. That every metric named
is in a real scrape is tests/github/test_monitoring_metrics.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.monitoring_rules import (
    ALERT_TESTS,
    ALERTS,
    ROOT,
    RUNBOOK,
    RUNBOOK_URL,
    alert_rules,
    anchors,
    as_promql,
    dashboard,
    dashboard_exprs,
    github_anchor,
    grouping_labels,
    metric_names,
    selectors,
)

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (apt-get install prometheus; `make services` installs it)"
)


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    result = _promtool("check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


@needs_promtool
def test_the_rules_pass_their_unit_tests() -> None:
    result = _promtool("test", "rules", ALERT_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize(
    ("alert", "old", "new"),
    [
        ("ChartImpactJobFailureRate", "> 0.25", "> 0.6"),  # a threshold the test's 50 % no longer passes
        ("ChartImpactDeadLetters", "> 0", ">= 0"),  # fires when nothing happened, too
        ("ChartImpactDown", "for: 5m", "for: 10m"),
    ],
)
def test_the_unit_tests_fail_when_a_rule_changes(tmp_path: Path, alert: str, old: str, new: str) -> None:
    text = ALERTS.read_text()
    start = text.index(f"- alert: {alert}\n")
    end = text.find("- alert: ", start + 1)
    end = len(text) if end < 0 else end
    rule = text[start:end]
    assert rule.count(old) == 1, rule
    (tmp_path / "alerts.yml").write_text(text[:start] + rule.replace(old, new) + text[end:])
    shutil.copy(ALERT_TESTS, tmp_path / "alerts.test.yml")
    assert _promtool("check", "rules", tmp_path / "alerts.yml").returncode == 0
    result = _promtool("test", "rules", tmp_path / "alerts.test.yml")
    assert result.returncode != 0
    assert f"alertname: {alert}," in result.stdout + result.stderr


@needs_promtool
def test_the_dashboards_expressions_parse_as_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard_expression_{n}", "expr": as_promql(expr)}
        for n, (_, expr) in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_severity_a_summary_a_description_and_its_runbook_section() -> None:
    rules = alert_rules()
    assert len(rules) >= 10
    assert len({rule["alert"] for rule in rules}) == len(rules)
    sections = anchors(RUNBOOK.read_text())
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        annotations = rule["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), name
        assert annotations["runbook_url"] == f"{RUNBOOK_URL}#{name.lower()}", name
        assert name.lower() in sections, f"docs/runbook.md has no heading for {name}"


def test_every_alert_is_unit_tested_firing() -> None:
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    assert {rule["alert"] for rule in alert_rules()} <= firing
    assert sum(1 for case in cases if not case["exp_alerts"]) >= 10  # and many a case where nothing fires


def test_the_runbook_anchor_is_githubs() -> None:
    assert github_anchor("ChartImpactDown") == "chartimpactdown"
    assert github_anchor("Back up `./data`") == "back-up-data"
    assert github_anchor("Rotate the App's private key") == "rotate-the-apps-private-key"
    assert github_anchor("Scale out onto Redis") == "scale-out-onto-redis"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n### B b\n") == {"a", "a-1", "b-b"}
    # A misspelt anchor is not found.
    assert "chartimpactdwn" not in anchors(RUNBOOK.read_text())


@pytest.mark.parametrize("doc", ["docs/runbook.md", "docs/monitoring.md"])
def test_the_monitoring_documents_links_to_sections_resolve(doc: str) -> None:
    text = (ROOT / doc).read_text()
    links = re.findall(r"\]\(([\w./-]*)#([\w-]+)\)", text)
    assert links
    for target, anchor in links:
        path = (ROOT / doc).parent / target if target else ROOT / doc
        assert anchor in anchors(path.read_text()), f"{doc}: {target}#{anchor}"


def test_the_dashboard_takes_its_data_source_from_a_variable() -> None:
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    uids = {
        json_ds["uid"]
        for panel in board["panels"]
        if panel["type"] != "row"
        for json_ds in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
    }
    assert uids == {"${DS_PROMETHEUS}"}
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert len(dashboard_exprs()) >= 20


def test_the_tokenizer_finds_metric_and_label_names() -> None:
    assert metric_names('up{job="chartimpact"} == 0') == {"up"}
    assert metric_names('absent(up{job="chartimpact"})') == {"up"}
    expr = 'histogram_quantile(0.95, sum by (job, le) (rate(a_seconds_bucket{stage="analyze"}[30m]))) > 300'
    assert metric_names(expr) == {"a_seconds_bucket"}
    expr = "sum by (job) (rate(b_total[10m])) / on (job) group_left (instance) max(c) > 1e3 and d offset 5m"
    assert metric_names(expr) == {"b_total", "c", "d"}
    assert grouping_labels(expr) == {"job", "instance"}
    grafana = 'sum by (outcome) (rate(e_total{job=~"$job", instance=~"${instance}"}[$__rate_interval]))'
    assert metric_names(grafana) == {"e_total"}
    assert selectors(grafana) == [("e_total", [("job", "=~", "$job"), ("instance", "=~", "$instance")])]
    assert metric_names('f{a="sum(g)"} unless bool h') == {"f", "h"}
    # A misspelt name is a name like any other: the scrape check is what rejects it.
    assert metric_names("increase(chartimpact_dead_leters_total[15m]) > 0") == {"chartimpact_dead_leters_total"}
