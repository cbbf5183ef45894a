"""The report page's content (core/report/page_model.py) on a real render: the blast radius,
the graph of what reaches what, the signal rows and their anchors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from chartimpact_bot.core.report.page_model import page_model
from chartimpact_bot.engine.pipeline import PipelineOptions
from tests.conftest import diff_dirs
from tests.pages.charts import blast_pair


def test_the_blast_radius_names_what_restarts_is_exposed_blocks_and_loses_data(
    tmp_path: Path, options: PipelineOptions
) -> None:
    report = diff_dirs(*blast_pair(tmp_path), options)
    model = page_model(report, repository_url="https://github.com/acme/charts")
    by_type = {row.type: row for row in model.signals}

    (restart,) = model.restarts
    assert restart.subject == "Deployment default/web (shop)"
    assert "spec.containers[name=web].readinessProbe" in restart.detail  # named within the pod template
    assert "metadata.annotations.checksum/config" in restart.detail
    assert by_type["availability.probe.readiness"].anchor in restart.anchors
    assert [(i.subject, i.anchors) for i in model.exposure] == [
        ("Service default/web (shop)", [by_type["security.exposure.type"].anchor])
    ]
    assert [i.anchors for i in model.blockers] == [[by_type["upgrade.immutable.statefulSet"].anchor]]
    assert [i.subject for i in model.data_loss] == ["PersistentVolumeClaim default/uploads (shop)"]
    assert model.verdict == "fail"
    assert model.counting == sum(1 for row in model.signals if row.action in ("fail", "warn"))


def test_the_graph_joins_the_service_the_workload_and_the_configuration_it_reads(
    tmp_path: Path, options: PipelineOptions
) -> None:
    report = diff_dirs(*blast_pair(tmp_path), options)
    (chart,) = report.charts
    assert sorted((r.source.kind, r.verb, r.target.kind, r.target.name) for r in chart.relations) == [
        ("Deployment", "reads", "ConfigMap", "web-config"),
        ("Service", "selects", "Deployment", "web"),
    ]
    graph = page_model(report).graph
    assert graph is not None
    columns = {node.label: node.x for node in graph.nodes}
    # Services left, workloads in the middle, configuration right.
    assert columns["Service default/web"] < columns["Deployment default/web"] < columns["ConfigMap default/web-config"]
    assert len(graph.edges) == 2
    assert all(node.changed for node in graph.nodes)


def test_each_signal_links_its_source_line_on_github_at_the_head_commit(
    tmp_path: Path, options: PipelineOptions
) -> None:
    report = diff_dirs(*blast_pair(tmp_path), options)
    report = dataclasses.replace(report, head=dataclasses.replace(report.head, sha="c" * 40))
    rows = page_model(report, repository_url="https://github.com/acme/charts").signals
    readiness = next(row for row in rows if row.type == "availability.probe.readiness")
    assert readiness.source_url == f"https://github.com/acme/charts/blob/{'c' * 40}/shop/values.yaml#L2"
    assert page_model(report).signals[0].source_url is None  # no repository: no link


def test_a_signal_of_two_environments_is_one_row_naming_both_and_keeping_both_anchors(
    tmp_path: Path, options: PipelineOptions
) -> None:
    report = diff_dirs(*blast_pair(tmp_path), options)
    (chart,) = report.charts
    twice = dataclasses.replace(report, charts=(chart, dataclasses.replace(chart, environment="prod")))
    model = page_model(twice)
    rows = model.signals
    assert len(rows) == len(chart.signals)  # each signal once
    first = rows[0]
    assert first.environments == ("default", "prod")
    assert first.environment == "default, prod"
    assert first.anchor == f"signal-{first.id}"
    # Both environments' signals share an id here (same release and namespace): the second
    # keeps a numbered anchor of its own, on the same row.
    assert first.other_anchors == (f"signal-{first.id}-2",)
    every = [a for row in rows for a in (row.anchor, *row.other_anchors)]
    assert len(set(every)) == len(every)
    assert [g.path for g in model.groups] == [chart.path]
    assert [h.environment for h in model.groups[0].environments] == ["default", "prod"]
    assert model.filters["environment"] == ["default", "prod"]


def test_a_source_path_is_quoted_in_its_link() -> None:
    from chartimpact_bot.core.report.page_model import _quoted_path  # noqa: PLC0415

    assert _quoted_path("charts/my chart/values #1.yaml") == "charts/my%20chart/values%20%231.yaml"
    assert _quoted_path('charts/é/"x".yaml') == "charts/%C3%A9/%22x%22.yaml"
