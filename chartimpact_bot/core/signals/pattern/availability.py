"""`pattern.availability.*`: workloads left with a single point of failure."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ...kubernetes.workloads import SCALABLE_KINDS, replicas_of
from ...model import Resource, ResourceId, Signal
from ...side import Side
from ..common import what
from ..context import SignalContext
from ..registry import Finding, pattern_detector


def _single_point(ctx: SignalContext, workload: Resource, which: Side) -> bool:
    if replicas_of(workload) != 1:
        return False
    return not ctx.pdbs_covering(workload, which) and not ctx.hpas_targeting(workload, which)


@pattern_detector("pattern.availability.singlePointOfFailure", "availability", "medium")
def single_point_of_failure(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """A workload now ends with 1 replica, no PodDisruptionBudget and no HorizontalPodAutoscaler.

    One replica with neither a disruption budget nor an autoscaler goes down on every node drain,
    eviction or crash.
    """
    replicas: dict[ResourceId, list[str]] = {}
    for signal in signals:
        if signal.type == "availability.replicas":
            replicas.setdefault(signal.resource, []).append(signal.id)
    disruption = [s.id for s in signals if s.type.startswith(("availability.pdb.", "availability.hpa"))]
    for workload in sorted(ctx.workloads("head"), key=lambda w: w.id.sort_key()):
        if workload.id.kind not in SCALABLE_KINDS:
            continue
        old = ctx.base.resources.get(workload.id)
        if old is None or not _single_point(ctx, workload, "head") or _single_point(ctx, old, "base"):
            continue
        members = [*replicas.get(workload.id, ()), *disruption]
        yield Finding(
            description=f"{what(workload)} now runs a single replica with no PodDisruptionBudget and no autoscaler",
            path=("spec", "replicas"),
            after=1,
            about=workload,
            related=tuple(members),
        )
