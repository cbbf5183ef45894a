"""Detached plans: what the App hands to its analysis processes must analyze exactly as the
sources it was taken from, carry only the files it needs, and survive a dying worker."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
from collections.abc import Iterable, Iterator

import pytest

from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.core.errors import SourceError
from chartimpact_bot.core.model import Report, Revision
from chartimpact_bot.core.report.json import dumps
from chartimpact_bot.engine.pipeline import AnalysisPlan, PipelineOptions, plan_repository, run_plan
from chartimpact_bot.engine.snapshot import detach, plan_inputs
from chartimpact_bot.engine.sources import FileEntry, MemorySource, SnapshotSource
from chartimpact_bot.jobs.analysis_process import AnalysisPool, WorkerOptions
from chartimpact_bot.jobs.model import TransientError
from tests.conftest import DEPLOYMENT, chart_yaml

LIB_HELPERS = '{{- define "lib.team" -}}team: {{ .Values.team | default "platform" }}{{- end -}}\n'
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  {{ include "lib.team" . | nindent 2 }}
"""
CONFIG = AnalysisConfig(environments=(Environment(name="prod", charts=("charts/app",), values=("envs/prod.yaml",)),))


def _repository(replicas: int, team: str) -> dict[str, bytes]:
    files = {
        "README.md": "# charts\n",
        "envs/prod.yaml": f"replicas: {replicas}\n",
        "charts/app/Chart.yaml": chart_yaml(
            "app", extra="dependencies:\n  - {name: lib, version: 0.1.0, repository: 'file://../lib'}\n"
        ),
        "charts/app/values.yaml": "replicas: 1\ncontainers:\n  - {name: api, image: 'api:1'}\n",
        "charts/app/templates/deployment.yaml": DEPLOYMENT,
        "charts/app/templates/configmap.yaml": CONFIGMAP,
        "charts/lib/Chart.yaml": chart_yaml("lib", extra="type: library\n"),
        "charts/lib/templates/_helpers.tpl": LIB_HELPERS.replace("platform", team),
        "charts/other/Chart.yaml": chart_yaml("other"),
        "charts/other/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n",
    }
    return {path: text.encode() for path, text in files.items()}


@pytest.fixture
def sources() -> tuple[MemorySource, MemorySource]:
    return (
        MemorySource(_repository(2, "platform"), Revision("main", "a" * 40)),
        MemorySource(_repository(3, "payments"), Revision("feature", "b" * 40)),
    )


def _detached(base: MemorySource, head: MemorySource) -> tuple[AnalysisPlan, AnalysisPlan]:
    plan = plan_repository(base, head, CONFIG)
    base_paths, head_paths = plan_inputs(plan)
    return plan, detach(plan, base.read_many(base_paths), head.read_many(head_paths))


def _comparable(report: Report) -> dict[str, object]:
    data: dict[str, object] = json.loads(dumps(report))
    data.pop("generatedAt")
    return data


def test_a_plan_reads_the_chart_its_local_dependencies_and_the_environment_values_only(
    sources: tuple[MemorySource, MemorySource],
) -> None:
    plan = plan_repository(*sources, CONFIG)
    base_paths, head_paths = plan_inputs(plan)

    assert [(t.display_path, t.environment.name) for t in plan.targets] == [
        ("charts/app", "prod"),
        ("charts/lib", "default"),
    ]
    assert [(c.path, c.status) for c in plan.skipped] == [("charts/other", "unchanged")]
    assert (
        base_paths
        == head_paths
        == {
            "charts/app/Chart.yaml",
            "charts/app/values.yaml",
            "charts/app/templates/deployment.yaml",
            "charts/app/templates/configmap.yaml",
            "charts/lib/Chart.yaml",
            "charts/lib/templates/_helpers.tpl",
            "envs/prod.yaml",
        }
    )


def test_a_detached_plan_analyzes_exactly_as_its_sources(
    sources: tuple[MemorySource, MemorySource], options: PipelineOptions
) -> None:
    plan, detached = _detached(*sources)

    direct = run_plan(plan, CONFIG, options)
    carried = run_plan(pickle.loads(pickle.dumps(detached)), CONFIG, options)

    assert _comparable(carried) == _comparable(direct)
    app = next(c for c in carried.charts if c.path == "charts/app")
    assert app.status == "analyzed" and app.environment == "prod"
    assert app.diff is not None
    paths = {change.path for resource in app.diff.resources for change in resource.changes}
    assert {"/spec/replicas", "/data/team"} <= paths


def test_a_snapshot_refuses_files_that_were_not_fetched() -> None:
    snapshot = SnapshotSource(
        Revision("main", "c" * 40), {"a.yaml": FileEntry(3, "x"), "b.yaml": FileEntry(3, "y")}, {"a.yaml": b"a: 1"}
    )

    assert snapshot.read_many(["a.yaml"]) == {"a.yaml": b"a: 1"}
    assert set(snapshot.list_files("")) == {"a.yaml", "b.yaml"}
    with pytest.raises(SourceError, match=r"'b\.yaml' is not in the files fetched"):
        snapshot.read_many(["b.yaml"])


@pytest.fixture(scope="module")
def pool() -> Iterator[AnalysisPool]:
    pool = AnalysisPool(1)
    yield pool
    pool.close()


async def test_the_pool_analyzes_in_another_process_like_the_library(
    sources: tuple[MemorySource, MemorySource], options: PipelineOptions, pool: AnalysisPool
) -> None:
    plan, detached = _detached(*sources)

    report = await pool.analyze(detached, CONFIG, WorkerOptions())

    assert _comparable(report) == _comparable(run_plan(plan, CONFIG, options))


class _FatalSource(SnapshotSource):
    """Kills the process that reads it: a worker dying mid-analysis (out of memory, a crash)."""

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        os._exit(3)


async def test_a_dying_worker_fails_the_job_as_transient_and_the_pool_recovers(
    sources: tuple[MemorySource, MemorySource], pool: AnalysisPool
) -> None:
    plan, detached = _detached(*sources)
    readable = detached.targets[0].base
    assert readable is not None
    fatal = _FatalSource(Revision("main", "d" * 40), {"charts/app/Chart.yaml": FileEntry(1)}, {})
    doomed = dataclasses.replace(
        detached,
        targets=(dataclasses.replace(detached.targets[0], base=dataclasses.replace(readable, source=fatal)),),
    )

    with pytest.raises(TransientError, match="stopped unexpectedly"):
        await pool.analyze(doomed, CONFIG, WorkerOptions())

    report = await pool.analyze(detached, CONFIG, WorkerOptions())
    assert [c.status for c in report.charts if c.path == "charts/app"] == ["analyzed"]
