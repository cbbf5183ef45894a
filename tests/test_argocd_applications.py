"""Argo CD Applications as Helm is run for them (core/gitops/argocd.py, issue 13): each rule of
Argo CD's value precedence (`parameters` > `valuesObject` > `values` > `valueFiles` > the chart's
values.yaml) checked on a real render."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartimpact_bot.core.config import AnalysisConfig
from chartimpact_bot.core.gitops.argocd import Application, applications, environment
from chartimpact_bot.core.model import Revision
from chartimpact_bot.engine.pipeline import PipelineOptions
from chartimpact_bot.engine.plan import chart_at
from chartimpact_bot.engine.sides import render_side
from chartimpact_bot.engine.sources import DirectorySource
from tests.conftest import make_chart

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  a: {{ .Values.a | quote }}
  b: {{ .Values.b | quote }}
  c: {{ .Values.c | quote }}
  d: {{ .Values.d | quote }}
  e: {{ .Values.e | quote }}
"""
CHART_VALUES = "a: chart\nb: chart\nc: chart\nd: chart\ne: chart\n"


def _application(helm: str, *, sources: str | None = None) -> str:
    source = (
        sources or f"  source:\n    repoURL: https://github.com/acme/deploy\n    path: charts/web\n    helm:\n{helm}"
    )
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: web-prod, namespace: argocd}}
spec:
  destination: {{namespace: shop, server: https://kubernetes.default.svc}}
{source}"""


def _data(root: Path, manifest: str, options: PipelineOptions) -> dict[str, str]:
    (app,) = applications("apps/web.yaml", manifest)
    (source,) = app.sources
    where = chart_at(DirectorySource(root, Revision("head")), source.path or "")
    side = render_side(where, environment(app, source), options, AnalysisConfig(), lint=False)
    assert side is not None and side.error is None, side and side.error
    (configmap,) = [r for r in side.resources.values() if r.id.kind == "ConfigMap"]
    return dict(configmap.body["data"])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    make_chart(tmp_path / "charts", "web", {"configmap.yaml": CONFIGMAP}, CHART_VALUES)
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs/common.yaml").write_text("a: common\nb: common\nc: common\nd: common\n")
    (tmp_path / "envs/prod.yaml").write_text("a: prod\nb: prod\nc: prod\n")
    return tmp_path


def test_value_files_apply_in_order_over_the_charts_values(repo: Path, options: PipelineOptions) -> None:
    helm = "      valueFiles: [../../envs/common.yaml, ../../envs/prod.yaml]\n"
    data = _data(repo, _application(helm), options)
    assert data == {"a": "prod", "b": "prod", "c": "prod", "d": "common", "e": "chart"}


def test_values_win_over_value_files(repo: Path, options: PipelineOptions) -> None:
    helm = "      valueFiles: [../../envs/common.yaml, ../../envs/prod.yaml]\n      values: |\n        a: inline\n        b: inline\n"
    data = _data(repo, _application(helm), options)
    assert data == {"a": "inline", "b": "inline", "c": "prod", "d": "common", "e": "chart"}


def test_values_object_wins_over_values_and_replaces_it_whole(repo: Path, options: PipelineOptions) -> None:
    helm = (
        "      valueFiles: [../../envs/prod.yaml]\n"
        "      values: |\n        a: inline\n        d: inline\n"
        "      valuesObject: {a: object}\n"
    )
    data = _data(repo, _application(helm), options)
    # `values` is not read at all when `valuesObject` is set: d keeps the chart's value.
    assert data == {"a": "object", "b": "prod", "c": "prod", "d": "chart", "e": "chart"}


def test_parameters_win_over_everything(repo: Path, options: PipelineOptions) -> None:
    helm = (
        "      valueFiles: [../../envs/prod.yaml]\n"
        "      valuesObject: {a: object, b: object}\n"
        "      parameters:\n"
        "        - {name: a, value: parameter}\n"
        "        - {name: e, value: '0123', forceString: true}\n"
    )
    data = _data(repo, _application(helm), options)
    assert data == {"a": "parameter", "b": "object", "c": "prod", "d": "chart", "e": "0123"}


def test_a_multi_source_application_reads_values_through_its_ref(repo: Path, options: PipelineOptions) -> None:
    sources = """\
  sources:
    - repoURL: https://github.com/acme/deploy
      path: charts/web
      helm:
        valueFiles: [$config/envs/prod.yaml]
    - repoURL: https://github.com/acme/deploy
      ref: config
"""
    data = _data(repo, _application("", sources=sources), options)
    assert data == {"a": "prod", "b": "prod", "c": "prod", "d": "chart", "e": "chart"}


def test_the_release_is_named_and_placed_as_argo_cd_does() -> None:
    (app,) = applications("apps/web.yaml", _application("      valueFiles: [values-prod.yaml]\n"))
    assert (app.name, app.release_name, app.namespace) == ("web-prod", "web-prod", "shop")
    (named,) = applications("apps/web.yaml", _application("      releaseName: shop-web\n"))
    assert named.release_name == "shop-web"
    env = environment(app, app.sources[0])
    assert env.values == ("charts/web/values-prod.yaml",)


def test_inline_values_know_the_line_they_start_at() -> None:
    manifest = "# deployed by Argo CD\n---\n" + _application("      values: |\n        a: inline\n")
    (app,) = applications("apps/web.yaml", manifest)
    inline = app.sources[0].inline
    assert inline is not None
    assert manifest.splitlines()[inline.line - 1].strip() == "a: inline"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("../../../outside.yaml", "outside the repository"),
        ("https://example.com/values.yaml", "outside the repository"),
        ("$unknown/values.yaml", "unknown source"),
    ],
)
def test_value_files_that_are_not_files_of_the_repository_are_reported(entry: str, problem: str) -> None:
    (app,) = applications("apps/web.yaml", _application(f"      valueFiles: ['{entry}']\n"))
    assert app.sources[0].value_files == ()
    assert problem in app.problems[0]


def test_other_documents_and_broken_ones_are_passed_by() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\n---\nkind: Application\napiVersion: argoproj.io/v1alpha1\nspec: [\n---\n"
    assert list(applications("apps/mixed.yaml", text + _application("      values: 'a: 1'\n"))) != []
    assert list(applications("apps/none.yaml", "kind: Deployment\n")) == []


def test_application_type_is_plain_values() -> None:
    (app,) = applications("apps/web.yaml", _application("      valueFiles: [a.yaml]\n"))
    assert isinstance(app, Application)


def test_a_missing_values_file_fails_as_in_argo_cd_unless_ignored(repo: Path, options: PipelineOptions) -> None:
    manifest = _application("      valueFiles: [../../envs/prod.yaml, ../../envs/absent.yaml]\n")
    (app,) = applications("apps/web.yaml", manifest)
    where = chart_at(DirectorySource(repo, Revision("head")), "charts/web")
    side = render_side(where, environment(app, app.sources[0]), options, AnalysisConfig(), lint=False)
    assert side is not None and side.error is not None
    assert "envs/absent.yaml" in side.error and "does not exist" in side.error
    ignored = _application(
        "      valueFiles: [../../envs/prod.yaml, ../../envs/absent.yaml]\n      ignoreMissingValueFiles: true\n"
    )
    data = _data(repo, ignored, options)
    assert data["a"] == "prod"


def test_file_parameters_set_a_value_to_a_files_text(repo: Path, options: PipelineOptions) -> None:
    (repo / "envs/motd.txt").write_text("hello, world\nsecond line\n")
    helm = "      fileParameters:\n        - {name: e, path: ../../envs/motd.txt}\n"
    data = _data(repo, _application(helm), options)
    assert data["e"] == "hello, world\nsecond line\n"  # verbatim: the comma splits nothing
