"""What the chart's NetworkPolicies let its pods receive and send, on each side, for the
detectors that compare the two (availability.networkPolicy, security.networkPolicy)."""

from __future__ import annotations

from dataclasses import dataclass

from ..kubernetes.network_policies import DIRECTIONS, Access, Atom, Direction, access, lost, policy_types, selects
from ..kubernetes.workloads import pod_template
from ..model import Resource, ResourceDiff
from ..side import Side
from .common import what
from .context import SignalContext

# Names a description lists before it counts the rest.
LISTED = 5


@dataclass(frozen=True, slots=True)
class Effect:
    """What one policy change does to one workload's pods in one direction."""

    workload: Resource
    direction: Direction
    before: Access
    after: Access
    lost: tuple[Atom, ...]
    # The other policies of the head that still isolate the pods in that direction.
    isolated_by: tuple[str, ...]


def policies(ctx: SignalContext, which: Side) -> list[Resource]:
    return [r for r in ctx.side(which).resources.values() if r.id.kind == "NetworkPolicy"]


def existing_workloads(ctx: SignalContext) -> list[tuple[Resource, Resource]]:
    """Workloads the chart renders on both sides (base, head): pods that had traffic before."""
    pairs = []
    for head in ctx.workloads("head"):
        base = ctx.base.resources.get(head.id)
        if base is not None and pod_template(base) is not None:
            pairs.append((base, head))
    return sorted(pairs, key=lambda pair: pair[1].id.sort_key())


def labels(workload: Resource) -> object:
    pod = pod_template(workload)
    return pod.metadata.get("labels") if pod is not None else None


def involved(policy: Resource | None, workload: Resource, direction: Direction) -> bool:
    """Whether `policy` (one side of it) isolates the workload's pods in `direction`."""
    return (
        policy is not None
        and direction in policy_types(policy)
        and selects(policy, workload.id.namespace, labels(workload))
    )


def effects(ctx: SignalContext, diff: ResourceDiff) -> list[Effect]:
    """The workloads (on both sides) the policy selects on either side, in each direction it
    isolates on either side, that may receive or send less than before."""
    sides = policies(ctx, "base"), policies(ctx, "head")
    found = []
    for old, new in existing_workloads(ctx):
        for direction in DIRECTIONS:
            if not (involved(diff.base, old, direction) or involved(diff.head, new, direction)):
                continue
            before = access(sides[0], old.id.namespace, labels(old), direction)
            after = access(sides[1], new.id.namespace, labels(new), direction)
            gone = lost(before, after)
            if gone:
                still = tuple(sorted(p.id.name for p in sides[1] if p.id != diff.id and involved(p, new, direction)))
                found.append(Effect(new, direction, before, after, tuple(gone), still))
    return found


def names(workloads: list[Resource]) -> str:
    shown = [what(w) for w in workloads[:LISTED]]
    rest = len(workloads) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def flow(direction: Direction, workloads: list[Resource]) -> str:
    """`ingress to Deployment 'web'`, `egress from Deployment 'web'`."""
    return f"{direction.lower()} {'to' if direction == 'Ingress' else 'from'} {names(workloads)}"
