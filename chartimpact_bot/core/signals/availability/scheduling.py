"""`availability.scheduling`: where pods may run and how they spread."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import get
from ...kubernetes.workloads import WORKLOAD_KINDS, pod_template
from ..common import what
from ..context import SignalContext, Update
from ..registry import Finding, change_type, update_detector

SCHEDULING_FIELDS = (
    "nodeSelector",
    "affinity",
    "tolerations",
    "topologySpreadConstraints",
    "priorityClassName",
)


@update_detector("availability.scheduling", "medium", kinds=WORKLOAD_KINDS)
def scheduling(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """nodeSelector, affinity, tolerations, topologySpreadConstraints or priorityClassName of an
    existing workload changed; pod anti-affinity removed.

    Scheduling constraints decide which nodes can run the pods and how they spread: a change can
    leave pods Pending or put every replica on the same node or zone.
    """
    old, new = pod_template(update.base), pod_template(update.head)
    if old is None or new is None:
        return
    for field in SCHEDULING_FIELDS:
        before, after = old.spec.get(field), new.spec.get(field)
        if before == after:
            continue
        if field == "affinity" and get(before, "podAntiAffinity") and not get(after, "podAntiAffinity"):
            yield Finding(
                description=f"Pod anti-affinity removed from {what(update.head)}: its replicas may now share a node",
                path=(*new.spec_path, "affinity", "podAntiAffinity"),
                before=get(before, "podAntiAffinity"),
                subject=(get(before, "podAntiAffinity"), None),
            )
            continue
        change = change_type(before, after)
        yield Finding(
            description=f"{field} of {what(update.head)} {'changed' if change == 'modified' else change}",
            path=(*new.spec_path, field),
            before=before,
            after=after,
            subject=(before, after),
        )
