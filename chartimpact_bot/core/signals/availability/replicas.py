"""`availability.replicas`: fewer replicas, or a count that fights an autoscaler."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import get
from ...kubernetes.workloads import (
    SCALABLE_KINDS,
    replicas_of,
)
from ...model import ResourceDiff
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
    after_set = get(head.body, "spec", "replicas")
    if base is not None:
        before_set = get(base.body, "spec", "replicas")
        old, new = replicas_of(base), replicas_of(head)
        if old is not None and new is not None and new < old:
            if after_set is None:
                yield Finding(
                    f"spec.replicas removed from {what(head)}: it will run 1 replica instead of {old}",
                    "spec.replicas",
                    before_set,
                    None,
                    "removed",
                    ("spec", "replicas"),
                    importance="high",
                )
            else:
                yield Finding(
                    f"Replicas of {what(head)} lowered from {old} to {new}",
                    "spec.replicas",
                    before_set,
                    after_set,
                    "modified",
                    ("spec", "replicas"),
                    importance="high" if new <= 1 else "medium",
                )
            return
        if before_set is not None or after_set is None:
            return
    if after_set is not None and ctx.hpas_targeting(head, "head"):
        yield Finding(
            f"{what(head)} sets spec.replicas ({after_set}) although a HorizontalPodAutoscaler targets it",
            "spec.replicas",
            None,
            after_set,
            "added",
            ("spec", "replicas"),
            importance="medium",
        )
