"""`upgrade.strategy.*`: strategy changes the API server rejects.

What Kubernetes accepts, and what a `helm upgrade` (Helm 3: a three-way strategic merge patch of
the last release's manifest, the new one and the live object) sends it:

- Deployment: validation rejects `type: Recreate` together with a `rollingUpdate`. The live
  object always carries a defaulted `rollingUpdate` while its type is RollingUpdate, but
  `spec.strategy` has the patch strategy `retainKeys`: the patch lists the keys the new manifest
  keeps (`$retainKeys: [type]`) and the server drops the others, the defaults included
  (kubernetes/kubernetes#24198 is the report that led to it). So an upgrade to Recreate fails
  only when the rendered Deployment itself still sets `rollingUpdate`.
- StatefulSet: validation rejects `type: OnDelete` together with a `rollingUpdate`, and
  `spec.updateStrategy` has no retainKeys. The server defaults `rollingUpdate: {partition: 0}`
  when the type is left unset, and a three-way patch removes only what the last manifest set
  itself: a StatefulSet whose chart left the type unset keeps that default when the chart moves
  to OnDelete, and the upgrade is rejected unless the chart writes `rollingUpdate: null`.
- DaemonSet: validation accepts OnDelete with a `rollingUpdate`; nothing to reject.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import as_dict, get
from ...model import Resource, ResourceDiff
from ..common import what
from ..context import SignalContext
from ..registry import Finding, resource_detector

# The strategy field of each kind whose validation rejects a rollingUpdate beside the type that
# takes none, and that type.
_EXCLUSIVE = {"Deployment": ("strategy", "Recreate"), "StatefulSet": ("updateStrategy", "OnDelete")}


def _strategy(resource: Resource | None) -> dict[str, Any]:
    if resource is None:
        return {}
    field, _ = _EXCLUSIVE[resource.id.kind]
    return as_dict(get(resource.body, "spec", field))


@resource_detector("upgrade.strategy.conflict", "high", kinds=frozenset(_EXCLUSIVE))
def strategy_conflict(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A Deployment's strategy is Recreate, or a StatefulSet's updateStrategy OnDelete, while the
    rendered object still sets rollingUpdate; or a StatefulSet whose updateStrategy type was
    left unset (so the server defaulted a rollingUpdate onto it) becomes OnDelete without
    `rollingUpdate: null`. A Deployment that switches to Recreate and drops rollingUpdate fires
    nothing: the upgrade's patch removes the live defaults (retainKeys).

    The API server rejects a Recreate Deployment or an OnDelete StatefulSet that has rollingUpdate
    settings, so `helm upgrade` (or the install) fails on that object.
    """
    head = diff.head
    if head is None:
        return
    field, exclusive = _EXCLUSIVE[head.id.kind]
    old, new = _strategy(diff.base), _strategy(head)
    if new.get("type") != exclusive:
        return
    path = ("spec", field)
    if new.get("rollingUpdate") is not None:
        if old.get("type") == exclusive and old.get("rollingUpdate") is not None:
            return  # the base was already rejected the same way: nothing new
        yield Finding(
            description=f"{what(head)} sets {field}.type {exclusive} together with rollingUpdate: "
            "the API server rejects the object",
            path=(*path, "rollingUpdate"),
            before=old or None,
            after=new,
        )
    elif (
        head.id.kind == "StatefulSet"
        and diff.base is not None
        and "type" not in old
        and "rollingUpdate" not in old
        and "rollingUpdate" not in new
    ):
        yield Finding(
            description=f"{what(head)} switches to OnDelete but the live object keeps the rollingUpdate the "
            "server defaulted (updateStrategy has no retainKeys; set rollingUpdate: null): the upgrade will be "
            "rejected",
            path=path,
            before=old or None,
            after=new,
        )
