"""Which changed resources reach which others (issue 12's picture): the workloads that read a
changed ConfigMap or Secret, and the Services that select a changed workload's pods.

Computed where both rendered sides are at hand (chart_report.py) and kept with the chart's
report, since the report's diff holds only the changed resources while the Service that
selects a changed workload is often unchanged. Both sides count: a removed ConfigMap was read
by the base's workloads. Bounded: a chart with thousands of resources yields at most
MAX_RELATIONS, in a stable order.
"""

from __future__ import annotations

from collections.abc import Iterable

from .kubernetes.bodies import get
from .kubernetes.references import CONFIG_KINDS, config_references
from .model import Relation, Resource, ResourceDiff, ResourceId
from .signals.side_index import SideIndex

MAX_RELATIONS = 400


def relations(
    base: dict[ResourceId, Resource], head: dict[ResourceId, Resource], diffs: Iterable[ResourceDiff]
) -> tuple[Relation, ...]:
    """The relations of either side that touch a changed resource, sorted, at most MAX_RELATIONS."""
    changed = {diff.id for diff in diffs}
    if not changed:
        return ()
    found: set[Relation] = set()
    for side in (base, head):
        found.update(_side_relations(side, changed))
    ordered = sorted(found, key=lambda r: (r.verb, r.source.sort_key(), r.target.sort_key()))
    return tuple(ordered[:MAX_RELATIONS])


def _side_relations(side: dict[ResourceId, Resource], changed: set[ResourceId]) -> Iterable[Relation]:
    index = SideIndex(side)
    changed_config = {(rid.kind, rid.namespace, rid.name) for rid in changed if rid.kind in CONFIG_KINDS}
    reached: set[ResourceId] = set()
    for workload, pod in index.workloads:
        for kind, name in config_references(pod):
            if (kind, workload.id.namespace, name) in changed_config:
                config = index.resource(kind, workload.id.namespace, name)
                if config is not None:
                    reached.add(workload.id)
                    yield Relation(workload.id, "reads", config.id)
    for service in index.of_kind("Service"):
        for workload in index.selected_workloads(get(service.body, "spec", "selector"), service.id.namespace):
            if service.id in changed or workload.id in changed or workload.id in reached:
                yield Relation(service.id, "selects", workload.id)
