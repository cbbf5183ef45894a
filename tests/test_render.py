"""Rendering with the real Helm engine in an isolated child process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.core.manifests import parse_rendered
from chartimpact_bot.engine.render import (
    WORKER_MODULE,
    IsolatedHelmRenderer,
    RenderLimits,
    RenderRequest,
    ValuesFile,
)
from tests.conftest import make_chart


def _worker_processes(marker: str) -> list[int]:
    """Live render workers whose command line or input mentions `marker`'s chart."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if WORKER_MODULE.encode() in cmdline and "State:\tZ" not in status:
            cwd_marker = marker.encode()
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                environ = b""
            if cwd_marker in environ:
                found.append(int(entry.name))
    return found


def test_helpers_and_include_render(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    chart = make_chart(
        tmp_path,
        "web",
        {
            "_helpers.tpl": '{{- define "web.fullname" -}}{{ .Release.Name }}-web{{- end -}}\n',
            "cm.yaml": """\
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: {{ include "web.fullname" . }}
                data:
                  greeting: {{ .Values.greeting | quote }}
                """,
        },
        values="greeting: hello\n",
    )
    (render,) = renderer.render(RenderRequest(chart_dir=chart, release_name="shop"))
    ((index, line, obj),) = render.templates["web/templates/cm.yaml"]
    assert (index, line) == (0, 1)
    assert obj["metadata"]["name"] == "shop-web"
    assert obj["data"] == {"greeting": "hello"}
    # partials and NOTES never become documents
    assert list(render.templates) == ["web/templates/cm.yaml"]
    parsed = parse_rendered(render, namespace="default")
    assert [str(rid) for rid in parsed.resources] == ["ConfigMap default/shop-web"]


def test_values_set_namespace_and_capabilities(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    chart = make_chart(
        tmp_path,
        "caps",
        {
            "cm.yaml": """\
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: caps
                  namespace: {{ .Release.Namespace }}
                data:
                  kube: {{ .Capabilities.KubeVersion.Version | quote }}
                  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
                  a: {{ .Values.a | quote }}
                  b: {{ .Values.nested.b | quote }}
                  c: {{ .Values.nested.c | quote }}
                """
        },
        values="a: default\nnested: {b: default, c: default}\n",
    )
    request = RenderRequest(
        chart_dir=chart,
        namespace="shop",
        values_files=(
            ValuesFile("one.yaml", "a: from-file\nnested: {b: from-file}\n"),
            ValuesFile("two.yaml", "nested: {c: from-second-file}\n"),
        ),
        set_values=("a=from-set",),
        kube_version="1.29.3",
        api_versions=("monitoring.coreos.com/v1",),
    )
    (render,) = renderer.render(request)
    ((_, _, obj),) = render.templates["caps/templates/cm.yaml"]
    assert obj["metadata"]["namespace"] == "shop"
    assert obj["data"] == {
        "kube": "v1.29.3",
        "monitoring": "true",
        "a": "from-set",
        "b": "from-file",
        "c": "from-second-file",
    }


def test_repeat_renders_the_same_input_independently(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    chart = make_chart(
        tmp_path,
        "rand",
        {"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  k: {{ randAlphaNum 24 }}\n"},
    )
    first, second = renderer.render(RenderRequest(chart_dir=chart), repeat=2)
    assert first.templates != second.templates
    assert first.templates["rand/templates/s.yaml"][0][2]["metadata"] == {"name": "s"}


def test_unchanged_templates_of_the_second_render_reuse_the_first_parse(
    tmp_path: Path, renderer: IsolatedHelmRenderer
) -> None:
    chart = make_chart(tmp_path, "same", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    first, second = renderer.render(RenderRequest(chart_dir=chart), repeat=2)
    assert second.templates["same/templates/cm.yaml"] is first.templates["same/templates/cm.yaml"]


def test_yaml_alias_loop_in_the_output_is_a_render_error(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    chart = make_chart(
        tmp_path,
        "loop",
        {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &a {self: *a}\n"},
    )
    with pytest.raises(RenderError, match=r"refers to itself"):
        renderer.render(RenderRequest(chart_dir=chart))


def test_crds_directory_is_returned_apart(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    chart = make_chart(
        tmp_path,
        "withcrd",
        {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
        extra_files={
            "crds/foo.yaml": """\
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata: {name: foos.example.com}
                spec:
                  group: example.com
                  scope: Cluster
                  names: {kind: Foo, plural: foos}
                """
        },
    )
    (render,) = renderer.render(RenderRequest(chart_dir=chart))
    assert list(render.crds) == ["withcrd/crds/foo.yaml"]
    parsed = parse_rendered(render, namespace="default")
    crd = next(r for r in parsed.resources.values() if r.id.kind == "CustomResourceDefinition")
    assert crd.install_only
    assert crd.id.namespace == ""


def test_template_error_names_template_and_line(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    chart = make_chart(tmp_path, "broken", {"bad.yaml": '\n{{ fail "the database host is required" }}\n'})
    with pytest.raises(RenderError) as caught:
        renderer.render(RenderRequest(chart_dir=chart))
    message = str(caught.value)
    assert "broken/templates/bad.yaml:2" in message
    assert "the database host is required" in message
    assert "\n" not in message


def test_invalid_values_file_is_named(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    chart = make_chart(tmp_path, "v", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    request = RenderRequest(chart_dir=chart, values_files=(ValuesFile("prod.yaml", "a: [unclosed\n"),))
    with pytest.raises(RenderError, match=r"values file prod\.yaml is not valid"):
        renderer.render(request)


def test_invalid_set_expression_is_named(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    chart = make_chart(tmp_path, "v", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    with pytest.raises(RenderError, match=r"--set 'noequals' is not valid: key \"noequals\" has no value"):
        renderer.render(RenderRequest(chart_dir=chart, set_values=("noequals",)))


@pytest.mark.slow
def test_template_that_never_ends_is_killed(tmp_path: Path) -> None:
    chart = make_chart(
        tmp_path,
        "forever",
        {
            # 8e9 iterations over small lists: CPU-bound, never near the memory limit.
            "loop.yaml": (
                "{{ range until 2000 }}{{ range until 2000 }}{{ range until 2000 }}{{ end }}{{ end }}{{ end }}\n"
            )
        },
    )
    marker = f"CHARTIMPACT_TEST_MARKER={tmp_path.name}"
    os.environ["CHARTIMPACT_TEST_MARKER"] = tmp_path.name
    try:
        renderer = IsolatedHelmRenderer(RenderLimits(timeout_seconds=3, memory_mb=1024))
        with pytest.raises(RenderError, match="timed out after 3 s"):
            renderer.render(RenderRequest(chart_dir=chart))
        # The child and its process group are gone; this process carries on.
        assert _worker_processes(marker) == []
    finally:
        del os.environ["CHARTIMPACT_TEST_MARKER"]
    ok = make_chart(tmp_path, "fine", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    assert renderer.render(RenderRequest(chart_dir=ok))


def test_missing_chart_directory_is_a_render_error(tmp_path: Path, renderer: IsolatedHelmRenderer) -> None:
    with pytest.raises(RenderError, match="Helm cannot load the chart"):
        renderer.render(RenderRequest(chart_dir=tmp_path / "absent"))


def test_the_render_process_runs_this_package_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renderer: IsolatedHelmRenderer
) -> None:
    """`python -m` would import a `chartimpact_bot` in the working directory before PYTHONPATH's."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "chartimpact_bot").mkdir(parents=True)
    (elsewhere / "chartimpact_bot" / "__init__.py").write_text("raise SystemExit('another copy of the package')\n")
    chart = make_chart(tmp_path, "app", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    monkeypatch.chdir(elsewhere)
    (render,) = renderer.render(RenderRequest(chart_dir=chart))
    assert list(render.templates) == ["app/templates/cm.yaml"]
