"""Limits on every process that handles pull request data (SECURITY.md): render processes see
no secrets of their parent, analysis workers run under an address-space bound, and one analysis
has a total time budget after which the charts left are reported, not silently dropped."""

from __future__ import annotations

import json
import resource
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.engine.pipeline import ChartTarget, PipelineOptions, analyze_targets, chart_at
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderLimits, RenderRequest
from chartimpact_bot.engine.sources import DirectorySource
from chartimpact_bot.jobs.analysis_process import AnalysisPool
from tests.conftest import make_chart

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {v: '{{ .Values.v }}'}\n"
SLOW = "{{- range $i := until 4000 }}{{- range $j := until 4000 }}{{- end }}{{- end }}\n" + CM


def test_a_render_process_sees_none_of_the_parents_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "GITHUB_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----canary",
        "GITHUB_WEBHOOK_SECRET": "canary-webhook",
        "CHARTIMPACT_API_TOKEN": "canary-api",
        "CHARTIMPACT_FINGERPRINT_KEY": "canary-fingerprint",
        "AWS_SECRET_ACCESS_KEY": "canary-aws",
        "GOOGLE_APPLICATION_CREDENTIALS": "/canary/key.json",
        "HELM_REGISTRY_CONFIG": "/canary/registry.json",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    record = tmp_path / "environment.json"
    helm = tmp_path / "helm"  # stands in for a helm binary: it records the environment it got
    helm.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, os
            json.dump(dict(os.environ), open({str(record)!r}, "w"))
            print("---\\n# Source: app/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\nmetadata: {{name: x}}")
            """
        )
    )
    helm.chmod(0o755)
    chart = make_chart(tmp_path, "app", {"cm.yaml": CM}, values="v: 1\n")
    IsolatedHelmRenderer(helm_binary=str(helm)).render(RenderRequest(chart_dir=chart))
    seen = json.loads(record.read_text())
    assert not set(secrets) & set(seen)
    assert not any("canary" in value for value in seen.values())
    assert "PATH" in seen  # what a render needs is still there


async def test_analysis_workers_run_under_an_address_space_limit() -> None:
    pool = AnalysisPool(1, memory_mb=3000)
    try:
        soft, hard = await pool._call(resource.getrlimit, resource.RLIMIT_AS)
    finally:
        pool.close()
    assert soft == hard == 3000 * 1024 * 1024


def _targets(tmp_path: Path, names: list[str], template: str) -> list[ChartTarget]:
    targets = []
    for name in names:
        make_chart(tmp_path / "base", name, {"cm.yaml": template}, values="v: 1\n")
        make_chart(tmp_path / "head", name, {"cm.yaml": template}, values="v: 2\n")
        targets.append(
            ChartTarget(
                display_path=name,
                base=chart_at(DirectorySource(tmp_path / "base"), name),
                head=chart_at(DirectorySource(tmp_path / "head"), name),
                environment=Environment(),
            )
        )
    return targets


def test_a_job_time_budget_cuts_slow_charts_and_reports_those_it_skipped(tmp_path: Path) -> None:
    slow = _targets(tmp_path, ["a-slow", "b-slow", "c-slow"], SLOW)
    options = PipelineOptions(
        renderer=IsolatedHelmRenderer(RenderLimits(timeout_seconds=60)), max_workers=2, time_budget_seconds=1.5
    )
    started = time.monotonic()
    charts = analyze_targets(slow, options, AnalysisConfig())
    took = time.monotonic() - started
    assert took < 6, "the budget did not stop the renders"
    reports = {chart.path: chart for chart in charts}
    assert {r.status for r in reports.values()} == {"skipped"}
    for report in reports.values():
        assert report.warnings == ("not analyzed: the analysis used up its time budget (1.5 s) before this chart",)


def test_charts_within_the_budget_are_analyzed_as_usual(tmp_path: Path) -> None:
    fast = _targets(tmp_path, ["fast"], CM)
    options = PipelineOptions(time_budget_seconds=120)
    (chart,) = analyze_targets(fast, options, AnalysisConfig())
    assert chart.status == "analyzed"
