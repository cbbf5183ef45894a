"""Test templates (`helm.sh/hook: test`) are rendered as Helm renders them, but one that fails
does not make the chart fail when tests are not compared: the chart is rendered without its test
templates, with a warning (engine/helm_tests.py). Real charts, the real Helm engine."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from chartimpact_bot.engine.helm_tests import declares_test_hook, named_template
from chartimpact_bot.engine.pipeline import PipelineOptions
from tests.conftest import chart_yaml, diff_dirs, only_chart, resource, write_files

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {level: {{ .Values.level | quote }}}\n"

FAILING_TEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: app-test
  annotations:
    "helm.sh/hook": test
spec:
  restartPolicy: Never
  containers:
    - name: test
      image: {{ required "tests.image is set by CI" .Values.tests.image }}
"""


def _pair(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    sides = []
    for side, level in (("base", "info"), ("head", "debug")):
        chart = {"Chart.yaml": chart_yaml("app"), "values.yaml": f"level: {level}\ntests: {{}}\n", **files}
        sides.append(write_files(tmp_path / side / "app", chart))
    return sides[0], sides[1]


def test_a_failing_test_template_is_left_out_with_a_warning(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(tmp_path, {"templates/cm.yaml": CONFIGMAP, "templates/tests/test-connection.yaml": FAILING_TEST})
    chart = only_chart(diff_dirs(base, head, options))
    assert (chart.status, chart.error) == ("analyzed", None)
    assert [c.display_path for c in resource(chart, "ConfigMap", "app").changes] == ["data.level"]
    assert "chart.render" not in {s.type for s in chart.signals}
    assert chart.warnings == (
        "test template 'app/templates/tests/test-connection.yaml' does not render (execution error at "
        "(app/templates/tests/test-connection.yaml:11:16): tests.image is set by CI); the chart was rendered "
        "without its test templates, which are not compared",
    )
    assert (head / "templates/tests/test-connection.yaml").exists()  # only the sandbox copy lost it


def test_with_tests_included_a_failing_test_template_fails_the_chart(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(tmp_path, {"templates/cm.yaml": CONFIGMAP, "templates/tests/test-connection.yaml": FAILING_TEST})
    chart = only_chart(diff_dirs(base, head, replace(options, include_tests=True)))
    assert chart.status == "render_error"
    assert "tests.image is set by CI" in (chart.error or "")


def test_a_failing_test_template_of_a_subchart_is_left_out(tmp_path: Path, options: PipelineOptions) -> None:
    sub = {
        "charts/db/Chart.yaml": chart_yaml("db"),
        "charts/db/values.yaml": "tests: {}\n",
        "charts/db/templates/tests/ping.yaml": FAILING_TEST.replace("test\n", "test-success\n"),
        "charts/db/templates/cm.yaml": CONFIGMAP.replace("name: app", "name: db").replace(".Values.level", '"x"'),
    }
    base, head = _pair(tmp_path, {"templates/cm.yaml": CONFIGMAP, **sub})
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "analyzed", chart.error
    assert [w.split(" does not render")[0] for w in chart.warnings] == [
        "test template 'app/charts/db/templates/tests/ping.yaml'"
    ]


def test_a_template_that_is_not_only_a_test_still_fails_the_chart(tmp_path: Path, options: PipelineOptions) -> None:
    # The second document is an ordinary resource: leaving the file out would hide it.
    mixed = FAILING_TEST + "---\n" + CONFIGMAP.replace("name: app", "name: other")
    base, head = _pair(tmp_path, {"templates/cm.yaml": CONFIGMAP, "templates/tests/mixed.yaml": mixed})
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "render_error"
    assert "tests.image is set by CI" in (chart.error or "")


def test_an_ordinary_template_that_fails_still_fails_the_chart(tmp_path: Path, options: PipelineOptions) -> None:
    broken = CONFIGMAP + 'extra: {{ required "extra is required" .Values.extra }}\n'
    base, head = _pair(tmp_path, {"templates/cm.yaml": broken, "templates/tests/test-connection.yaml": FAILING_TEST})
    chart = only_chart(diff_dirs(base, head, options))
    # Whichever of the two Helm meets first, the error is the ordinary template's.
    assert chart.status == "render_error"
    assert "extra is required" in (chart.error or "") and "tests.image" not in (chart.error or "")


def test_test_hooks_and_error_paths_are_read_as_helm_writes_them() -> None:
    assert declares_test_hook(FAILING_TEST)
    assert declares_test_hook(FAILING_TEST.replace('"helm.sh/hook": test', "helm.sh/hook: test-failure"))
    assert declares_test_hook(FAILING_TEST.replace('"helm.sh/hook": test', "helm.sh/hook: 'pre-install,test'"))
    assert not declares_test_hook(FAILING_TEST.replace('"helm.sh/hook": test', "helm.sh/hook: post-install"))
    assert not declares_test_hook(FAILING_TEST.replace('"helm.sh/hook": test', "helm.sh/hook: pre-upgrade # test"))
    assert not declares_test_hook(CONFIGMAP)
    assert named_template("template: app/templates/tests/t.yaml:3:4: executing …") == "app/templates/tests/t.yaml"
    assert named_template("parse error at (app/charts/db/templates/x.tpl:5): bad") == "app/charts/db/templates/x.tpl"
    assert named_template("app/templates/t.yaml renders invalid YAML (document 1, line 2)") == "app/templates/t.yaml"
    assert named_template("values don't meet the specifications of the schema") is None
