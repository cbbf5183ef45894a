"""`availability.replicas`: fewer replicas, or a count that fights an autoscaler."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import get
from ...kubernetes.workloads import SCALABLE_KINDS, replicas_of
from ...model import Importance, ResourceDiff
from ..common import what
from ..context import SignalContext
from ..registry import Finding, resource_detector


@resource_detector("availability.replicas", "high", kinds=SCALABLE_KINDS)
def replicas(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """spec.replicas lowered (high when it ends at 1 or less), removed (Kubernetes then runs
    1), or newly set on a workload that a HorizontalPodAutoscaler targets.

    Fewer replicas means less capacity and less tolerance of node failures; one replica is a single
    point of failure. A replica count on a workload an autoscaler manages resets the autoscaler's
    choice on every upgrade.
    """
    base, head = diff.base, diff.head
    if head is None:
        return
    # The subject is the field as the chart sets it (Kubernetes runs 1 replica without it).
    before_set = get(base.body, "spec", "replicas") if base is not None else None
    after_set = get(head.body, "spec", "replicas")
    old, new = replicas_of(base), replicas_of(head)
    if old is not None and new is not None and new < old:
        if after_set is None:
            description = f"spec.replicas removed from {what(head)}: it will run 1 replica instead of {old}"
        else:
            description = f"Replicas of {what(head)} lowered from {old} to {new}"
        importance: Importance = "high" if new <= 1 else "medium"
    elif before_set is None and after_set is not None and ctx.hpas_targeting(head, "head"):
        description = f"{what(head)} sets spec.replicas ({after_set}) although a HorizontalPodAutoscaler targets it"
        importance = "medium"
    else:
        return
    yield Finding(
        description=description,
        path=("spec", "replicas"),
        before=before_set,
        after=after_set,
        subject=(before_set, after_set),
        importance=importance,
    )
