"""The whole pipeline on real charts rendered by the real Helm engine."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from chartimpact_bot.core.config import AnalysisConfig
from chartimpact_bot.core.normalize import NormalizeOptions
from chartimpact_bot.core.report.json import dumps
from chartimpact_bot.core.report.markdown import render_markdown
from chartimpact_bot.core.report.text import render_text
from chartimpact_bot.engine.pipeline import PipelineOptions
from tests.conftest import DEPLOYMENT, EXAMPLES, REPO_ROOT, diff_dirs, make_chart, only_chart, resource

API = """\
- name: api
  image: api:1.0
  env:
    - {name: A, value: "1"}
    - {name: B, value: "2"}
    - {name: C, value: "3"}
"""
SIDECAR = """\
- name: proxy
  image: envoy:1.30
"""


def _values(containers: str, replicas: int = 2) -> str:
    return f"replicas: {replicas}\ncontainers:\n" + "\n".join("  " + line for line in containers.splitlines())


def _pair(tmp_path: Path, base_values: str, head_values: str, templates: dict[str, str] | None = None):
    templates = templates or {"deployment.yaml": DEPLOYMENT}
    base = make_chart(tmp_path / "base", "app", templates, base_values)
    head = make_chart(tmp_path / "head", "app", templates, head_values)
    return base, head


def test_reordered_containers_change_nothing(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(tmp_path, _values(API + SIDECAR), _values(SIDECAR + API))
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "analyzed", chart.error
    assert chart.diff is not None and chart.diff.resources == ()


def test_env_var_inserted_in_the_middle_is_exactly_one_add(tmp_path: Path, options: PipelineOptions) -> None:
    inserted = API.replace('    - {name: B, value: "2"}', '    - {name: NEW, value: "x"}\n    - {name: B, value: "2"}')
    base, head = _pair(tmp_path, _values(API), _values(inserted))
    chart = only_chart(diff_dirs(base, head, options))
    deployment = resource(chart, "Deployment", "release-api")
    assert [(c.op, c.path, c.display_path, c.after) for c in deployment.changes] == [
        (
            "add",
            "/spec/template/spec/containers/0/env/1",
            "spec.template.spec.containers[name=api].env[name=NEW]",
            {"name": "NEW", "value": "x"},
        )
    ]
    change = deployment.changes[0]
    assert change.semantic_type == "container.env"
    assert "rollout-trigger" in change.flags


def test_renamed_container_is_removed_and_added_and_nothing_else(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(tmp_path, _values(API + SIDECAR), _values(API + SIDECAR.replace("proxy", "gateway")))
    chart = only_chart(diff_dirs(base, head, options))
    deployment = resource(chart, "Deployment", "release-api")
    assert [(c.op, c.display_path) for c in deployment.changes] == [
        ("add", "spec.template.spec.containers[name=gateway]"),
        ("remove", "spec.template.spec.containers[name=proxy]"),
    ]
    assert len(chart.diff.resources) == 1  # type: ignore[union-attr]


def test_chart_version_label_bump_changes_nothing(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(tmp_path, _values(API), _values(API))
    chart_file = head / "Chart.yaml"
    chart_file.write_text(chart_file.read_text().replace("version: 0.1.0", "version: 0.2.0"))
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.diff is not None and chart.diff.resources == ()
    rules = {r.rule for r in chart.diff.normalization_rules}
    assert "ignore-chart-labels" in rules
    kept = diff_dirs(base, head, options, AnalysisConfig(normalize=NormalizeOptions(drop_chart_labels=False)))
    changes = resource(only_chart(kept), "Deployment", "release-api").changes
    assert [(c.display_path, c.before, c.after) for c in changes] == [
        ('metadata.labels["helm.sh/chart"]', "app-0.1.0", "app-0.2.0")
    ]


RANDOM_TEMPLATES = {
    "secret.yaml": """\
        apiVersion: v1
        kind: Secret
        metadata:
          name: {{ .Release.Name }}-generated
          annotations:
            created: {{ now | quote }}
            id: {{ uuidv4 | quote }}
        data:
          password: {{ randAlphaNum 24 | b64enc | quote }}
          static: {{ "unchanged" | b64enc | quote }}
        """,
    "tls.yaml": """\
        {{- $ca := genCA "test-ca" 365 }}
        apiVersion: v1
        kind: Secret
        metadata:
          name: {{ .Release.Name }}-tls
        type: kubernetes.io/tls
        data:
          tls.crt: {{ $ca.Cert | b64enc | quote }}
          tls.key: {{ $ca.Key | b64enc | quote }}
        """,
    "test-pod.yaml": """\
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{ .Release.Name }}-probe-{{ randAlphaNum 5 | lower }}
        spec:
          containers: [{name: probe, image: "busybox:1.36"}]
        """,
}


def test_nondeterministic_templates_yield_zero_changes(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(tmp_path, "", "", RANDOM_TEMPLATES)
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "analyzed", chart.error
    assert chart.diff is not None and chart.diff.resources == ()
    masked = {
        (r.rule, r.scope, r.detail) for r in chart.diff.normalization_rules if r.rule.startswith("nondeterministic")
    }
    assert ("nondeterministic", "Secret default/release-generated", "/data/password") in masked
    assert (
        "nondeterministic",
        "Secret default/release-generated",
        "/metadata/annotations/id",
    ) in masked
    assert ("nondeterministic", "Secret default/release-tls", "/data/tls.key") in masked
    assert any(
        rule == "nondeterministic-name" and scope.startswith("Pod default/release-probe-*") for rule, scope, _ in masked
    )


def test_a_real_change_next_to_random_values_still_shows(tmp_path: Path, options: PipelineOptions) -> None:
    templates = dict(RANDOM_TEMPLATES)
    base = make_chart(tmp_path / "base", "app", templates)
    templates["secret.yaml"] = templates["secret.yaml"].replace('"unchanged"', '"changed"')
    head = make_chart(tmp_path / "head", "app", templates)
    chart = only_chart(diff_dirs(base, head, options))
    secret = resource(chart, "Secret", "release-generated")
    assert [c.display_path for c in secret.changes] == ["data.static"]
    assert len(chart.diff.resources) == 1  # type: ignore[union-attr]


COMMON_CM = """\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-{{ .Chart.Name }}
    data:
      level: {{ .Values.level | quote }}
    """


def _umbrella(root: Path, common_level: str) -> Path:
    make_chart(root, "common", {"cm.yaml": COMMON_CM}, values=f"level: {common_level}\n")
    return make_chart(
        root,
        "web",
        {"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"},
        chart_extra="""\
            dependencies:
              - name: common
                version: 0.1.0
                repository: file://../common
            """,
    )


def test_file_dependency_is_rendered_and_its_changes_show(tmp_path: Path, options: PipelineOptions) -> None:
    base = _umbrella(tmp_path / "base", "info")
    head = _umbrella(tmp_path / "head", "debug")
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "analyzed", chart.error
    cm = resource(chart, "ConfigMap", "release-common")
    assert cm.resource.source == "web/charts/common/templates/cm.yaml"
    assert [(c.display_path, c.before, c.after) for c in cm.changes] == [("data.level", "info", "debug")]
    assert chart.warnings == ()


def test_remote_dependency_is_a_warning_not_a_failure(tmp_path: Path, options: PipelineOptions) -> None:
    extra = """\
        dependencies:
          - name: redis
            version: 17.0.0
            repository: https://charts.example.com
        """
    templates = {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '{{ .Values.a }}'}\n"}
    base = make_chart(tmp_path / "base", "app", templates, "a: 1\n", chart_extra=extra)
    head = make_chart(tmp_path / "head", "app", templates, "a: 2\n", chart_extra=extra)
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "analyzed", chart.error
    assert chart.warnings == (
        "dependency 'redis' of chart 'app' (https://charts.example.com) could not be fetched: "
        "fetching is turned off; rendered without it",
    )
    assert [c.display_path for c in resource(chart, "ConfigMap", "x").changes] == ["data.a"]


def test_vendored_subchart_directory_and_archive_are_honoured(
    tmp_path: Path, options: PipelineOptions, renderer
) -> None:
    from tests.test_charts import chart_archive  # noqa: PLC0415

    sub_cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-dir}\ndata: {v: '1'}\n"
    archive = chart_archive(
        "packaged",
        {"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-archive}\n"},
    )
    extra_files: dict[str, str | bytes] = {
        "charts/vendored/Chart.yaml": "apiVersion: v2\nname: vendored\nversion: 0.1.0\n",
        "charts/vendored/templates/cm.yaml": sub_cm,
        "charts/packaged-0.1.0.tgz": archive,
    }
    empty = {"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"}
    base = make_chart(tmp_path / "base", "app", empty)
    head = make_chart(tmp_path / "head", "app", empty, extra_files=extra_files)
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "analyzed", chart.error
    added = {(r.id.name, r.resource.source) for r in chart.diff.resources}  # type: ignore[union-attr]
    assert added == {
        ("from-dir", "app/charts/vendored/templates/cm.yaml"),
        ("from-archive", "app/charts/packaged/templates/cm.yaml"),
    }


def test_malicious_archive_dependency_fails_that_chart_only(tmp_path: Path, options: PipelineOptions) -> None:
    from tests.test_charts import raw_archive  # noqa: PLC0415

    evil = raw_archive(
        {
            "evil/Chart.yaml": b"apiVersion: v2\nname: evil\nversion: 1.0.0\n",
            "evil/../../../../escaped.txt": b"pwned",
        }
    )
    empty = {"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"}
    base = make_chart(tmp_path / "base", "app", empty)
    head = make_chart(tmp_path / "head", "app", empty, extra_files={"charts/evil-1.0.0.tgz": evil})
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "render_error"
    assert (
        chart.error
        == "head: archive 'app/charts/evil-1.0.0.tgz' entry 'evil/../../../../escaped.txt' escapes the archive"
    )
    assert not list(tmp_path.parent.rglob("escaped.txt"))
    assert not Path("/tmp/escaped.txt").exists()


def test_invalid_yaml_output_is_a_render_error_naming_the_template(tmp_path: Path, options: PipelineOptions) -> None:
    good = {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
    bad = {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {{ toYaml .Values.labels }}\n"}
    base = make_chart(tmp_path / "base", "app", good)
    head = make_chart(tmp_path / "head", "app", bad, values="labels: {a: b}\n")
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "render_error"
    assert chart.error is not None
    assert chart.error.startswith("head: app/templates/cm.yaml renders invalid YAML (document 1, line 5)")


def test_directory_without_chart_yaml_is_a_clear_error(tmp_path: Path, options: PipelineOptions) -> None:
    base = make_chart(
        tmp_path / "base",
        "app",
        {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
    )
    head = tmp_path / "head" / "app"
    shutil.copytree(base, head)
    (head / "Chart.yaml").unlink()
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "render_error"
    assert chart.error == "head: 'app' is not a Helm chart: it has no Chart.yaml"


def test_added_and_removed_charts(tmp_path: Path, options: PipelineOptions) -> None:
    from chartimpact_bot.core.config import Environment  # noqa: PLC0415
    from chartimpact_bot.engine.pipeline import ChartTarget, analyze_targets, chart_at  # noqa: PLC0415
    from chartimpact_bot.engine.sources import DirectorySource  # noqa: PLC0415

    chart = make_chart(tmp_path, "app", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    source = DirectorySource(tmp_path)
    added, removed = analyze_targets(
        [
            ChartTarget("added", None, chart_at(source, "app"), Environment()),
            ChartTarget("removed", chart_at(source, "app"), None, Environment()),
        ],
        options,
        AnalysisConfig(),
    )
    assert added.status == "added" and added.diff is not None
    assert [r.change_type for r in added.diff.resources] == ["added"]
    assert removed.status == "removed" and removed.diff is not None
    assert [r.change_type for r in removed.diff.resources] == ["removed"]
    assert chart.exists()


def test_directories_without_digests_are_analyzed_not_called_unchanged(options: PipelineOptions) -> None:
    from chartimpact_bot.engine.pipeline import compare  # noqa: PLC0415
    from chartimpact_bot.engine.sources import DirectorySource  # noqa: PLC0415

    report = compare(DirectorySource(EXAMPLES / "base"), DirectorySource(EXAMPLES / "head"), options)

    assert [(c.path, c.status) for c in report.charts] == [("storefront", "analyzed")]
    assert report.charts[0].signals


def _without_generated_at(text: str) -> str:
    return re.sub(r'"generatedAt": "[^"]+"', '"generatedAt": ""', text)


def test_same_inputs_give_byte_identical_json(options: PipelineOptions) -> None:
    base = EXAMPLES / "base" / "storefront"
    head = EXAMPLES / "head" / "storefront"
    first = dumps(diff_dirs(base, head, options))
    second = dumps(diff_dirs(base, head, options))
    assert json.loads(first)["generatedAt"]
    assert _without_generated_at(first) == _without_generated_at(second)
    assert json.loads(first)["charts"][0]["diff"]["metadata"]["compareId"]


def test_random_names_and_values_give_byte_identical_json(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(tmp_path, "", "", RANDOM_TEMPLATES)
    runs = {_without_generated_at(dumps(diff_dirs(base, head, options))) for _ in range(3)}
    assert len(runs) == 1
    (text,) = runs
    assert "release-probe-*" in text


def test_the_readme_library_example_prints_what_it_says(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    code = re.search(r"one call from Python.*?```python\n(.*?)```", readme, re.DOTALL)
    assert code is not None, "the README lost its library example"
    promised = re.search(r"# (.+)$", code.group(1), re.MULTILINE)
    assert promised is not None
    monkeypatch.chdir(REPO_ROOT)
    exec(compile(code.group(1), "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == promised.group(1)


def test_each_chart_yaml_is_parsed_once_per_side(monkeypatch: pytest.MonkeyPatch, options: PipelineOptions) -> None:
    """The plan carries the parsed chart to the render: before, each side parsed it again there."""
    from chartimpact_bot.core.chart import ChartInfo  # noqa: PLC0415
    from chartimpact_bot.engine import charts  # noqa: PLC0415
    from chartimpact_bot.engine.pipeline import compare  # noqa: PLC0415
    from chartimpact_bot.engine.sources import MemorySource  # noqa: PLC0415

    parsed: list[str] = []
    real = charts.parse_chart_info

    def counting(path: str, *args: Any) -> ChartInfo:
        parsed.append(path)
        return real(path, *args)

    monkeypatch.setattr(charts, "parse_chart_info", counting)
    chart = b"apiVersion: v2\nname: app\nversion: 0.1.0\n"
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {v: '%d'}\n"
    base, head = (
        MemorySource({"charts/app/Chart.yaml": chart, "charts/app/templates/cm.yaml": (template % v).encode()})
        for v in (1, 2)
    )
    report = compare(base, head, options)
    assert [(c.path, c.status) for c in report.charts] == [("charts/app", "analyzed")]
    assert parsed == ["charts/app", "charts/app"]


def test_a_chart_that_cannot_be_analyzed_is_never_a_pass(tmp_path: Path, options: PipelineOptions) -> None:
    broken = {"cm.yaml": '{{ fail "broken on purpose" }}\n'}
    fine = {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
    both = diff_dirs(make_chart(tmp_path / "a", "app", broken), make_chart(tmp_path / "b", "app", broken), options)
    assert (only_chart(both).status, only_chart(both).verdict, both.verdict) == ("render_error", "warn", "warn")
    head = diff_dirs(make_chart(tmp_path / "c", "app", fine), make_chart(tmp_path / "d", "app", broken), options)
    assert (only_chart(head).status, only_chart(head).verdict) == ("render_error", "warn")
    assert [(s.type, s.action) for s in only_chart(head).signals] == [("chart.render", "warn")]
    assert only_chart(both).signals == ()


def test_a_chart_that_failed_to_render_is_never_shown_as_a_pass(tmp_path: Path, options: PipelineOptions) -> None:
    broken = {"cm.yaml": '{{ fail "broken on purpose" }}\n'}
    fine = {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}
    for name, base in (("both", broken), ("head", fine)):
        report = diff_dirs(
            make_chart(tmp_path / name / "a", "app", base), make_chart(tmp_path / name / "b", "app", broken), options
        )
        markdown, text = render_markdown(report), render_text(report)
        assert "pass" not in markdown, name
        assert "| render error | ⚠️ warn |" in markdown and "#### <code>app</code> · ⚠️ warn" in markdown
        assert "render error, warn" in text and "pass" not in text, name
