"""`upgrade.dataLoss`: storage Helm will delete, or that will be deleted with its pods."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import get
from ...model import Resource, ResourceDiff
from ..common import what
from ..context import SignalContext
from ..registry import Finding, resource_detector


def _kept(resource: Resource) -> bool:
    return bool(get(resource.body, "metadata", "annotations", "helm.sh/resource-policy") == "keep")


@resource_detector(
    "upgrade.dataLoss", "high", kinds={"PersistentVolumeClaim", "PersistentVolume", "StatefulSet", "Namespace"}
)
def data_loss(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A PVC, PV or Namespace removed without `helm.sh/resource-policy: keep`; a StatefulSet's
    persistentVolumeClaimRetentionPolicy or a PV's reclaim policy becomes Delete.

    Helm deletes resources that leave the chart: a removed claim or volume takes its data with it
    unless annotated `helm.sh/resource-policy: keep`; a Delete retention or reclaim policy deletes
    data when pods or claims go away.
    """
    if diff.change_type == "removed":
        assert diff.base is not None
        if not _kept(diff.base) and not diff.base.hook:
            yield Finding(
                description=f"{what(diff.base)} is removed and Helm will delete it with its data", side="base"
            )
        return
    if diff.base is None or diff.head is None:
        return
    if diff.id.kind == "StatefulSet":
        for when, event in (("whenDeleted", "when it is deleted"), ("whenScaled", "when it is scaled down")):
            before = get(diff.base.body, "spec", "persistentVolumeClaimRetentionPolicy", when) or "Retain"
            after = get(diff.head.body, "spec", "persistentVolumeClaimRetentionPolicy", when) or "Retain"
            if after == "Delete" and before != "Delete":
                yield Finding(
                    description=f"{what(diff.head)} now deletes its claims {event} "
                    f"(persistentVolumeClaimRetentionPolicy.{when}: Delete)",
                    path=("spec", "persistentVolumeClaimRetentionPolicy", when),
                    before=before,
                    after=after,
                )
    elif diff.id.kind == "PersistentVolume":
        before = get(diff.base.body, "spec", "persistentVolumeReclaimPolicy")
        after = get(diff.head.body, "spec", "persistentVolumeReclaimPolicy")
        if after == "Delete" and before != "Delete":
            yield Finding(
                description=f"{what(diff.head)} reclaim policy becomes Delete",
                path=("spec", "persistentVolumeReclaimPolicy"),
                before=before,
                after=after,
            )
