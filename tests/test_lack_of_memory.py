"""A render that fails for lack of memory is never reported as a change the pull request made
unless the base rendered under the same limit and the head ran out of memory twice
(engine/sides.py; docs/adr/0003-render-memory-bound.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.core.documents import RenderedChart
from chartimpact_bot.core.errors import RenderError, RenderOutOfMemory
from chartimpact_bot.core.model import ChartReport
from chartimpact_bot.engine.pipeline import ChartTarget, PipelineOptions, analyze_targets, chart_at
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderRequest
from chartimpact_bot.engine.sources import DirectorySource
from tests.conftest import make_chart

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {side: '{{ .Values.side }}'}\n"
OUT_OF_MEMORY = "rendering ran out of memory (limit 1024 MB, RENDER_MEMORY_MB)"


class FailingRenderer:
    """The real renderer, except that each side's first `failures[side]` renders fail with
    `error` (the side is read from the chart's values); `helm lint` (repeat=0) never fails."""

    lints = True

    def __init__(self, failures: dict[str, int], error: RenderError | None = None) -> None:
        self.failures = failures
        self.error = error or RenderOutOfMemory(OUT_OF_MEMORY)
        self.calls: Counter[str] = Counter()
        self.real = IsolatedHelmRenderer()

    def render(self, request: RenderRequest, *, repeat: int = 1) -> list[RenderedChart]:
        if repeat == 0:
            return self.real.render(request, repeat=repeat)
        side = (request.chart_dir / "values.yaml").read_text().split(":")[1].strip()
        self.calls[side] += 1
        if self.calls[side] <= self.failures.get(side, 0):
            raise self.error
        return self.real.render(request, repeat=repeat)


def _analyze(tmp_path: Path, renderer: FailingRenderer) -> ChartReport:
    make_chart(tmp_path / "base", "app", {"cm.yaml": CM}, values="side: base\n")
    make_chart(tmp_path / "head", "app", {"cm.yaml": CM}, values="side: head\n")
    target = ChartTarget(
        display_path="app",
        base=chart_at(DirectorySource(tmp_path / "base"), "app"),
        head=chart_at(DirectorySource(tmp_path / "head"), "app"),
        environment=Environment(),
    )
    (report,) = analyze_targets([target], PipelineOptions(renderer=renderer), AnalysisConfig())
    return report


def test_a_head_that_runs_out_of_memory_once_is_rendered_again_and_analyzed(tmp_path: Path) -> None:
    renderer = FailingRenderer({"head": 1})
    report = _analyze(tmp_path, renderer)
    assert renderer.calls == {"base": 1, "head": 2}
    assert report.status == "analyzed" and report.error is None
    assert "chart.render" not in {s.type for s in report.signals}
    assert report.diff is not None
    assert [(d.resource.id.name, d.change_type) for d in report.diff.resources] == [("cm", "modified")]


def test_a_head_that_runs_out_of_memory_twice_where_the_base_rendered_no_longer_renders(tmp_path: Path) -> None:
    renderer = FailingRenderer({"head": 2})
    report = _analyze(tmp_path, renderer)
    assert renderer.calls == {"base": 1, "head": 2}  # twice, and no more
    assert report.status == "render_error"
    assert report.error == f"head: {OUT_OF_MEMORY}"
    (signal,) = report.signals
    assert signal.type == "chart.render"
    assert signal.description == f"Chart 'app' no longer renders: {OUT_OF_MEMORY}"


def test_a_base_that_runs_out_of_memory_is_no_change_of_the_pull_request(tmp_path: Path) -> None:
    renderer = FailingRenderer({"base": 2, "head": 2})
    report = _analyze(tmp_path, renderer)
    assert renderer.calls == {"base": 2, "head": 2}
    assert report.status == "render_error"
    assert report.signals == ()


def test_other_render_errors_are_not_tried_again(tmp_path: Path) -> None:
    renderer = FailingRenderer({"head": 1}, RenderError("template: app/templates/cm.yaml:1: boom"))
    report = _analyze(tmp_path, renderer)
    assert renderer.calls == {"base": 1, "head": 1}
    assert [s.type for s in report.signals] == ["chart.render"]


def test_an_added_chart_that_does_not_render_is_not_said_to_render_no_longer(tmp_path: Path) -> None:
    make_chart(tmp_path / "head", "app", {"cm.yaml": '{{ fail "database.host is required" }}\n'})
    target = ChartTarget(
        display_path="app",
        base=None,
        head=chart_at(DirectorySource(tmp_path / "head"), "app"),
        environment=Environment(),
    )
    (report,) = analyze_targets([target], PipelineOptions(renderer=IsolatedHelmRenderer()), AnalysisConfig())
    (signal,) = report.signals
    assert signal.type == "chart.render"
    assert signal.description.startswith("Chart 'app' does not render: execution error at (app/templates/cm.yaml:1:3)")
