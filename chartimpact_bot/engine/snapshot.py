"""Make an analysis plan self-contained: every file its targets read, carried with it.

The App plans on its event loop (listings and chart metadata are there already), fetches the
files the plan needs concurrently, then hands the detached plan to a separate process, so the
CPU-heavy part of an analysis never holds the web server's interpreter lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..core.config import Environment
from .charts import dependency_dirs
from .plan import AnalysisPlan, ChartAt
from .sources import SnapshotSource


def plan_inputs(plan: AnalysisPlan) -> tuple[set[str], set[str]]:
    """The paths the base and the head targets read: each chart's directory, its local
    (`file://`) dependencies, and its environment's values files."""
    base: set[str] = set()
    head: set[str] = set()
    for target in plan.targets:
        for where, environment, paths in (
            (target.base, target.base_env, base),
            (target.head, target.environment, head),
        ):
            if where is not None:
                paths.update(_side_inputs(where, environment))
    return base, head


def detach(plan: AnalysisPlan, base_contents: Mapping[str, bytes], head_contents: Mapping[str, bytes]) -> AnalysisPlan:
    """The same plan over snapshots holding only these contents."""
    base_snapshot = _snapshot([t.base for t in plan.targets], base_contents)
    head_snapshot = _snapshot([t.head for t in plan.targets], head_contents)
    targets = tuple(
        dataclasses.replace(
            target,
            base=dataclasses.replace(target.base, source=base_snapshot) if target.base and base_snapshot else None,
            head=dataclasses.replace(target.head, source=head_snapshot) if target.head and head_snapshot else None,
        )
        for target in plan.targets
    )
    return dataclasses.replace(plan, targets=targets)


def _side_inputs(where: ChartAt, environment: Environment) -> set[str]:
    source, prefixes = where.source, [where.path]
    # A broken chart is reported by the analysis; its own files are enough for that.
    if where.info is not None:
        prefixes += dependency_dirs(source, where.info)
    files = {file for prefix in prefixes for file in source.list_files(prefix)}
    for values_path in (*environment.values, *(path for _, path in environment.set_file_values)):
        files.update(source.list_files(values_path))
    return files


def _snapshot(sides: list[ChartAt | None], contents: Mapping[str, bytes]) -> SnapshotSource | None:
    source = next((side.source for side in sides if side is not None), None)
    if source is None:
        return None
    listing = source.list_files("")
    kept = {path: listing[path] for path in contents if path in listing}
    return SnapshotSource(source.revision, kept, {path: contents[path] for path in kept}, source.left_out())
