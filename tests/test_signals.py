"""Signals beyond the golden cases: what must not fire, verdicts, policy, determinism, crashes,
source lines and the Markdown at 1 and at 200 signals."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from chartimpact_bot.cli import main
from chartimpact_bot.core.config_file import load_config
from chartimpact_bot.core.documents import RenderedChart
from chartimpact_bot.core.model import Report, ResourceDiff, Revision
from chartimpact_bot.core.report.markdown import render_markdown
from chartimpact_bot.core.signals import registry
from chartimpact_bot.core.signals.catalogue import render_catalogue
from chartimpact_bot.core.signals.context import SignalContext
from chartimpact_bot.core.signals.engine import detectors
from chartimpact_bot.engine.pipeline import PipelineOptions, compare
from chartimpact_bot.engine.render import Renderer, RenderRequest
from chartimpact_bot.engine.sources import DirectorySource
from chartimpact_bot.github.checks import github_destination
from tests.conftest import EXAMPLES, REPO_ROOT, chart_yaml, diff_dirs, only_chart, write_files

POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
    - name: app
      image: {image}
{extra}"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web, helm.sh/chart: '{{{{ .Chart.Name }}}}-{{{{ .Chart.Version }}}}'}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
{annotations}    spec:
      containers:
{containers}"""

WEB = "        - {name: web, image: 'nginx:1.25', readinessProbe: {httpGet: {path: /, port: 80}}}\n"
PROXY = "        - {name: proxy, image: 'envoy:1.30'}\n"


def _pair(tmp_path: Path, base: str, head: str, *, head_version: str = "0.1.0") -> tuple[Path, Path]:
    files = lambda text, version: {  # noqa: E731
        "Chart.yaml": chart_yaml("app", version=version),
        "templates/manifest.yaml": text,
    }
    return (
        write_files(tmp_path / "base" / "app", files(base, "0.1.0")),
        write_files(tmp_path / "head" / "app", files(head, head_version)),
    )


def _types(report: Report) -> list[str]:
    return [s.type for s in only_chart(report).signals]


def test_an_unchanged_risky_property_does_not_fire(tmp_path: Path, options: PipelineOptions) -> None:
    privileged = "      securityContext: {privileged: true}\n"
    base, head = _pair(
        tmp_path,
        POD.format(name="app", image="nginx:1.25", extra=privileged),
        POD.format(name="app", image="nginx:1.26", extra=privileged),
    )
    assert _types(diff_dirs(base, head, options)) == ["workload.image"]


def test_reordering_containers_fires_nothing(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(
        tmp_path,
        DEPLOYMENT.format(annotations="", containers=WEB + PROXY),
        DEPLOYMENT.format(annotations="", containers=PROXY + WEB),
    )
    assert _types(diff_dirs(base, head, options)) == []


def test_a_chart_version_label_bump_fires_nothing(tmp_path: Path, options: PipelineOptions) -> None:
    text = DEPLOYMENT.format(annotations="", containers=WEB)
    base, head = _pair(tmp_path, text, text, head_version="0.2.0")
    report = diff_dirs(base, head, options)
    assert only_chart(report).diff.resources == ()  # type: ignore[union-attr]
    assert _types(report) == []


def test_a_pod_template_annotation_fires_only_the_restart(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(
        tmp_path,
        DEPLOYMENT.format(annotations="", containers=WEB),
        DEPLOYMENT.format(annotations="      annotations: {restartedAt: monday}\n", containers=WEB),
    )
    assert _types(diff_dirs(base, head, options)) == ["availability.rollout.restart"]


@pytest.mark.parametrize(
    ("base", "head", "expected"),
    [
        (
            POD.format(name="app", image="nginx:1.25", extra=""),
            POD.format(name="app", image="nginx:1.25", extra="      securityContext: {privileged: true}\n"),
            "security.context.privileged",
        ),
        (
            DEPLOYMENT.format(annotations="", containers=WEB),
            DEPLOYMENT.format(annotations="", containers="        - {name: web, image: 'nginx:1.25'}\n"),
            "availability.probe.readiness",
        ),
        (
            DEPLOYMENT.format(annotations="", containers=WEB),
            DEPLOYMENT.format(annotations="", containers=WEB)
            .replace("matchLabels: {app: web}", "matchLabels: {app: web, tier: front}")
            .replace("labels: {app: web}\n", "labels: {app: web, tier: front}\n"),
            "upgrade.immutable.selector",
        ),
    ],
    ids=["privileged", "readiness removed", "selector changed"],
)
def test_default_thresholds_fail_and_the_cli_exits_1(tmp_path: Path, base: str, head: str, expected: str) -> None:
    base_dir, head_dir = _pair(tmp_path, base, head)
    out, err = io.StringIO(), io.StringIO()
    code = main(["diff", str(base_dir), str(head_dir), "--format", "json"], stdout=out, stderr=err)
    report = json.loads(out.getvalue())
    assert code == 1, err.getvalue()
    assert report["verdict"] == "fail"
    failing = [s["type"] for s in report["charts"][0]["signals"] if s["action"] == "fail"]
    assert expected in failing


def test_the_demo_shows_all_four_categories(options: PipelineOptions) -> None:
    report = diff_dirs(EXAMPLES / "base" / "storefront", EXAMPLES / "head" / "storefront", options)
    assert {s.category for s in only_chart(report).signals} == {"availability", "security", "upgrade", "other"}


def test_signal_ids_and_order_are_deterministic(options: PipelineOptions) -> None:
    runs = [diff_dirs(EXAMPLES / "base" / "storefront", EXAMPLES / "head" / "storefront", options) for _ in range(2)]
    first, second = ([(s.id, s.type, s.affected_path) for s in only_chart(r).signals] for r in runs)
    assert first == second
    signal = only_chart(runs[0]).signals[0]
    rid = signal.resource
    key = f"{signal.type}\0{rid.group}/{rid.kind}/{rid.namespace}/{rid.name}\0{signal.affected_path}"
    assert signal.id == hashlib.sha256(key.encode()).hexdigest()[:16]


def test_signals_point_at_the_values_line_or_the_template_line(options: PipelineOptions) -> None:
    report = diff_dirs(EXAMPLES / "base" / "storefront", EXAMPLES / "head" / "storefront", options)
    where = {s.type: (s.source.file, s.source.line) for s in only_chart(report).signals if s.source}
    values = "storefront/values.yaml"
    assert where["availability.probe.readiness"] == (values, 35)  # probes.readiness: false
    assert where["security.exposure.type"] == (values, 17)  # service.type: LoadBalancer
    assert where["workload.image"] == (values, 5)  # image.tag
    assert where["availability.resources.limits"] == (values, 32)  # limits.memory
    # caused by _helpers.tpl, not by a values line: the template line where the selector is written
    assert where["upgrade.immutable.selector"] == ("storefront/templates/deployment.yaml", 11)
    lines = (EXAMPLES / "head" / "storefront" / "values.yaml").read_text().splitlines()
    assert lines[34].strip() == "readiness: false"
    assert lines[16].strip() == "type: LoadBalancer"


def test_policy_overrides_ignores_and_thresholds(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(
        tmp_path,
        POD.format(name="app", image="nginx:1.25", extra=""),
        POD.format(name="app", image="nginx:latest", extra="      securityContext: {privileged: true}\n"),
    )
    plain = only_chart(diff_dirs(base, head, options))
    assert {s.type for s in plain.signals} == {
        "security.context.privileged",
        "security.pss",
        "workload.image",
        "workload.image.mutableTag",
    }
    assert plain.verdict == "fail"
    config = load_config(
        "importance: {workload.image: high}\n"
        "ignore: {signals: [security.pss], paths: ['*.privileged']}\n"
        "thresholds: {other: {high: warn}}\n"
    )
    tuned = only_chart(diff_dirs(base, head, options, config))
    assert [(s.type, s.importance, s.action) for s in tuned.signals] == [
        ("workload.image", "high", "warn"),
        ("workload.image.mutableTag", "high", "warn"),
    ]
    assert tuned.ignored_signals == 2
    assert tuned.verdict == "warn"
    ignored_resource = load_config("ignore: {resources: [{kind: Pod, name: 'a*'}]}\n")
    assert only_chart(diff_dirs(base, head, options, ignored_resource)).signals == ()


def test_signals_can_be_turned_off(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(
        tmp_path,
        POD.format(name="app", image="nginx:1.25", extra=""),
        POD.format(name="app", image="nginx:1.25", extra="      securityContext: {privileged: true}\n"),
    )
    chart = only_chart(diff_dirs(base, head, replace(options, signals_enabled=False)))
    assert chart.signals == ()
    assert chart.verdict == "pass"
    assert chart.diff is not None and chart.diff.resources


def test_a_crashing_detector_is_skipped_and_named(
    tmp_path: Path, options: PipelineOptions, request: pytest.FixtureRequest
) -> None:
    def broken(ctx: object, diff: object) -> list[registry.Finding]:
        raise ZeroDivisionError("bug in a detector")

    index = next(i for i, d in enumerate(registry.REGISTRY) if d.type == "workload.image")
    original = registry.REGISTRY[index]
    assert isinstance(original, registry.ResourceDetector)
    registry.REGISTRY[index] = replace(original, check=broken)
    request.addfinalizer(lambda: registry.REGISTRY.__setitem__(index, original))
    base, head = _pair(
        tmp_path,
        POD.format(name="app", image="nginx:1.25", extra=""),
        POD.format(name="app", image="nginx:1.26", extra="      securityContext: {privileged: true}\n"),
    )
    chart = only_chart(diff_dirs(base, head, options))
    assert "workload.image" not in {s.type for s in chart.signals}
    assert "security.context.privileged" in {s.type for s in chart.signals}
    assert chart.warnings == (
        "signal detector workload.image failed and was skipped (an error in ChartImpact; its log has the details)",
    )


def test_a_resource_level_signal_absorbs_its_twin(tmp_path: Path, options: PipelineOptions) -> None:
    crd = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
"""
    v1alpha1 = "    - {name: v1alpha1, served: true, storage: false, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}\n"
    v1 = "    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}\n"
    base = write_files(
        tmp_path / "base" / "app", {"Chart.yaml": chart_yaml("app"), "templates/crd.yaml": crd + v1alpha1 + v1}
    )
    head = write_files(tmp_path / "head" / "app", {"Chart.yaml": chart_yaml("app"), "crds/crd.yaml": crd + v1})
    chart = only_chart(diff_dirs(base, head, options))
    (moved,) = chart.signals
    assert (moved.type, moved.before, moved.after) == ("upgrade.crd.removed", "templates/", "crds/")
    assert len(moved.related) == 1  # the version removal it absorbed


def test_markdown_reads_well_with_one_signal(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _pair(
        tmp_path,
        POD.format(name="app", image="nginx:1.25", extra="      securityContext: {readOnlyRootFilesystem: true}\n"),
        POD.format(name="app", image="nginx:1.25", extra="      securityContext: {readOnlyRootFilesystem: false}\n"),
    )
    markdown = render_markdown(diff_dirs(base, head, options))
    assert markdown.count("| ⚠️ | medium | security |") == 1
    assert "more signals not shown" not in markdown


def test_markdown_stays_readable_and_bounded_at_200_signals(tmp_path: Path, options: PipelineOptions) -> None:
    pods = "---\n".join(POD.format(name=f"app{i}", image="nginx:1.25", extra="") for i in range(100))
    risky = "---\n".join(
        POD.format(name=f"app{i}", image="nginx:1.25", extra="      securityContext: {privileged: true}\n")
        for i in range(100)
    )
    base, head = _pair(tmp_path, pods, risky)
    report = diff_dirs(base, head, options)
    assert len(only_chart(report).signals) == 200
    full = render_markdown(report)
    assert full.count("| ❌ | high | security |") == 200
    bounded = render_markdown(
        report, max_chars=20_000, destination=github_destination("https://github.example/checks/1")
    )
    assert len(bounded) <= 20_000
    assert "<details>" not in bounded  # the diff went first
    # the rows did not fit, so every signal is named under its type instead (issue 12, point 4)
    assert "| ❌ | high | security |" not in bounded
    for kind in ("security.context.privileged", "security.pss"):
        assert f"- ❌ high <code>{kind}</code> ×100: Pod default: app0, app1, app10," in bounded
    assert "more signals not shown" not in bounded
    tight = render_markdown(report, max_chars=1_500, destination=github_destination("https://github.example/checks/1"))
    assert len(tight) <= 1_500
    assert "more signals not shown here: see [the Check Run](https://github.example/checks/1)" in tight
    capped = render_markdown(report, max_signals=30)
    assert capped.count("| ❌ | high | security |") == 30
    assert "_170 more signals not shown here: see the full report._" in capped


def test_docs_list_every_registered_signal() -> None:
    committed = (REPO_ROOT / "docs" / "signals.md").read_text()
    assert committed == render_catalogue(), (
        "regenerate: python -m chartimpact_bot.core.signals.catalogue > docs/signals.md"
    )


def test_every_signal_type_says_when_it_fires_and_why() -> None:
    rows = [line.split(" | ") for line in render_catalogue().splitlines() if line.startswith("| `")]
    assert len(rows) == len(detectors())
    assert [row[0] for row in rows if any(not cell.strip("| ") for cell in row)] == []


def test_a_detector_without_its_why_is_refused() -> None:
    def undocumented(ctx: SignalContext, diff: ResourceDiff) -> list[registry.Finding]:
        """Fires when something happens (and says nothing of why that matters)."""
        return []

    with pytest.raises(ValueError, match="needs a docstring"):
        registry.resource_detector("test.undocumented", "low")(undocumented)
    assert "test.undocumented" not in {d.type for d in detectors()}


@pytest.mark.parametrize(
    ("base", "head", "lifted", "expected"),
    [
        (None, "new", False, "added"),
        ("old", None, False, "removed"),
        ("old", "new", False, "modified"),
        ("old", "new", True, "removed"),
    ],
)
def test_the_change_type_rule(base: object, head: object, lifted: bool, expected: str) -> None:
    assert registry.change_type(base, head, lifted=lifted) == expected


def test_a_new_helm_lint_error_fires_chart_render(tmp_path: Path, options: PipelineOptions) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"
    base = write_files(tmp_path / "base" / "app", {"Chart.yaml": chart_yaml("app"), "templates/cm.yaml": manifest})
    head = write_files(
        tmp_path / "head" / "app",
        {
            "Chart.yaml": chart_yaml("app"),
            "templates/cm.yaml": manifest,
            "charts/sub/Chart.yaml": chart_yaml("sub"),
            "charts/sub/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub}\n",
        },
    )
    chart = only_chart(diff_dirs(base, head, options))
    assert chart.status == "analyzed"
    lint = [s for s in chart.signals if s.type == "chart.render"]
    assert [(s.importance, s.after, s.source.file if s.source else None) for s in lint] == [
        ("high", "Chart.yaml: chart metadata is missing these dependencies: sub", "app/Chart.yaml")
    ]
    assert str(tmp_path) not in lint[0].description


class RecordingRenderer:
    """The real renderer, remembering what each render process was asked for: (renders (0 is
    `helm lint`), the side, told apart by the head's ConfigMap having data)."""

    lints = True

    def __init__(self, inner: Renderer) -> None:
        self.inner = inner
        self.requests: list[tuple[int, str]] = []

    def render(self, request: RenderRequest, *, repeat: int = 1) -> list[RenderedChart]:
        side = "head" if "\ndata:" in (request.chart_dir / "templates" / "cm.yaml").read_text() else "base"
        self.requests.append((repeat, side))
        return self.inner.render(request, repeat=repeat)


class SlowLintRenderer:
    """The real renderer, whose `helm lint` takes half a second longer than it does, counting how
    many lints run at once."""

    lints = True

    def __init__(self, inner: Renderer) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.linted: list[str] = []

    def render(self, request: RenderRequest, *, repeat: int = 1) -> list[RenderedChart]:
        if repeat != 0:
            return self.inner.render(request, repeat=repeat)
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(0.5)
            return self.inner.render(request, repeat=0)
        finally:
            with self.lock:
                self.running -= 1
                self.linted.append((request.chart_dir / "templates" / "cm.yaml").read_text())


def test_lint_processes_are_bounded_however_many_charts_a_repository_has(
    tmp_path: Path, options: PipelineOptions
) -> None:
    """A head's lint goes on after its renders, beside the renders of the next charts: without a
    bound a repository of many charts would start a lint process (a Go runtime of up to
    RENDER_MEMORY_MB) per chart faster than the reports consume them."""
    names = [f"app{i}" for i in range(8)]
    for side, data in (("base", ""), ("head", "data: {a: b}\n")):
        for name in names:
            manifest = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n{data}"
            write_files(tmp_path / side / name, {"Chart.yaml": chart_yaml(name), "templates/cm.yaml": manifest})
    slow = SlowLintRenderer(options.renderer)
    report = compare(
        DirectorySource(tmp_path / "base", Revision(ref="base")),
        DirectorySource(tmp_path / "head", Revision(ref="head")),
        replace(options, renderer=slow),
    )
    assert [c.status for c in report.charts] == ["analyzed"] * len(names)
    # every head linted, no base (no head has lint errors)
    assert sorted(slow.linted) == sorted(
        (tmp_path / "head" / name / "templates" / "cm.yaml").read_text() for name in names
    )
    assert slow.most_at_once == 2


MISSING_DEPENDENCY = {
    "charts/sub/Chart.yaml": chart_yaml("sub"),
    "charts/sub/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub}\n",
}


def test_a_lint_error_the_base_has_too_is_not_new_and_only_then_is_the_base_linted(
    tmp_path: Path, options: PipelineOptions
) -> None:
    """The head is linted beside its renders (a process of its own); the base is linted (without
    rendering) only when the head has errors, since only the head's errors that the base lacks
    are reported."""
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"
    files = {"Chart.yaml": chart_yaml("app"), "templates/cm.yaml": manifest, **MISSING_DEPENDENCY}
    base = write_files(tmp_path / "base" / "app", files)
    head = write_files(tmp_path / "head" / "app", {**files, "templates/cm.yaml": manifest + "data: {a: b}\n"})
    recording = RecordingRenderer(options.renderer)
    chart = only_chart(diff_dirs(base, head, replace(options, renderer=recording)))
    assert chart.status == "analyzed"
    assert [s for s in chart.signals if s.type == "chart.render"] == []
    # both rendered, the head linted, then (the head having errors) the base linted
    assert sorted(recording.requests) == [(0, "base"), (0, "head"), (2, "base"), (2, "head")]

    clean = {"Chart.yaml": chart_yaml("app"), "templates/cm.yaml": manifest + "data: {a: b}\n"}
    recording.requests.clear()
    chart = only_chart(
        diff_dirs(base, write_files(tmp_path / "clean" / "app", clean), replace(options, renderer=recording))
    )
    assert [s for s in chart.signals if s.type == "chart.render"] == []
    assert sorted(recording.requests) == [(0, "head"), (2, "base"), (2, "head")]
