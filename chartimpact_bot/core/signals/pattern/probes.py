"""`pattern.probes.*`: every workload loses its readiness probe at once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ...kubernetes.bodies import as_dict
from ...kubernetes.workloads import pod_template
from ...model import Resource, ResourceId, Signal
from ..context import SignalContext
from ..registry import Finding, pattern_detector


def _has_readiness(resource: Resource) -> bool:
    pod = pod_template(resource)
    if pod is None:
        return False
    return any("readinessProbe" in as_dict(c) for c in pod.spec.get("containers") or [])


@pattern_detector("pattern.probes.allRemoved", "availability", "high")
def probes_all_removed(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """Every workload of the chart (two or more) that had a readiness probe lost it.

    When every workload loses its readiness probe at once, nothing in the chart waits for pods to be
    ready any more: traffic and rollouts race ahead of the applications.
    """
    had = sorted((w.id for w in ctx.workloads("base") if _has_readiness(w)), key=ResourceId.sort_key)
    if len(had) < 2:
        return
    still = {w.id for w in ctx.workloads("head") if _has_readiness(w)}
    if any(rid in still for rid in had):
        return
    members = [s.id for s in signals if s.type == "availability.probe.readiness" and s.change_type == "removed"]
    names = ", ".join(f"{r.kind} '{r.name}'" for r in had)
    yield Finding(
        description=f"Every workload that had a readiness probe lost it: {names}",
        before=len(had),
        after=0,
        subject=(had, None),
        about=ctx.chart_resource(),
        related=tuple(members),
    )
