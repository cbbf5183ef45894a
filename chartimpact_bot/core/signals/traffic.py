"""What the chart's NetworkPolicies let its pods receive and send, on each side, for the
detectors that compare the two (availability.networkPolicy, security.networkPolicy)."""

from __future__ import annotations

from dataclasses import dataclass

from ..kubernetes.network_policies import DIRECTIONS, Access, Atom, Direction, access, lost, policy_types, selects
from ..kubernetes.workloads import pod_template
from ..model import Resource, ResourceDiff, ResourceId
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
    return ctx.of_kind(which, "NetworkPolicy")


def _existing_workloads(ctx: SignalContext) -> tuple[tuple[Resource, Resource], ...]:
    """Workloads the chart renders on both sides (base, head): pods that had traffic before."""
    pairs = []
    for head in ctx.workloads("head"):
        base = ctx.base.resources.get(head.id)
        if base is not None and pod_template(base) is not None:
            pairs.append((base, head))
    return tuple(sorted(pairs, key=lambda pair: pair[1].id.sort_key()))


def _existing_positions(ctx: SignalContext) -> dict[ResourceId, int]:
    return {head.id: position for position, (_, head) in enumerate(ctx.once(_existing_workloads))}


def selected_pairs(ctx: SignalContext, base: Resource | None, head: Resource | None) -> list[tuple[Resource, Resource]]:
    """The workloads on both sides (as `_existing_workloads`, in its order) whose pods a policy
    selects: its base version among the base's pods, or its head version among the head's.
    What a policy can change is limited to them."""
    sides: tuple[tuple[Side, Resource | None], ...] = (("base", base), ("head", head))
    chosen: set[ResourceId] = set()
    for which, policy in sides:
        if policy is not None:
            chosen.update(w.id for w in ctx.index(which).selected_by_policy(policy))
    positions = ctx.once(_existing_positions)
    pairs = ctx.once(_existing_workloads)
    return [pairs[p] for p in sorted(positions[rid] for rid in chosen if rid in positions)]


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


def isolating(ctx: SignalContext, which: Side, workload: Resource, direction: Direction) -> list[Resource]:
    """The side's NetworkPolicies that isolate the workload's pods in `direction`."""
    found = ctx.index(which).policies_selecting(workload.id.namespace, labels(workload))
    return [policy for policy in found if direction in policy_types(policy)]


def side_access(ctx: SignalContext, which: Side, workload: Resource, direction: Direction) -> Access:
    """What the workload's pods may receive or send under all the side's NetworkPolicies
    (`access`), computed once per workload and direction."""
    known = ctx.once(_accesses)
    key = (which, workload.id, direction)
    if key not in known:
        policies = isolating(ctx, which, workload, direction)
        known[key] = access(policies, workload.id.namespace, labels(workload), direction)
    return known[key]


def _accesses(ctx: SignalContext) -> dict[tuple[Side, ResourceId, Direction], Access]:
    return {}


def effects(ctx: SignalContext, diff: ResourceDiff) -> list[Effect]:
    """The workloads (on both sides) the policy selects on either side, in each direction it
    isolates on either side, that may receive or send less than before."""
    found = []
    for old, new in selected_pairs(ctx, diff.base, diff.head):
        for direction in DIRECTIONS:
            if not (involved(diff.base, old, direction) or involved(diff.head, new, direction)):
                continue
            before = side_access(ctx, "base", old, direction)
            after = side_access(ctx, "head", new, direction)
            gone = lost(before, after)
            if gone:
                still = tuple(sorted(p.id.name for p in isolating(ctx, "head", new, direction) if p.id != diff.id))
                found.append(Effect(new, direction, before, after, tuple(gone), still))
    return found


def names(workloads: list[Resource]) -> str:
    shown = [what(w) for w in workloads[:LISTED]]
    rest = len(workloads) - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest else "")


def flow(direction: Direction, workloads: list[Resource]) -> str:
    """`ingress to Deployment 'web'`, `egress from Deployment 'web'`."""
    return f"{direction.lower()} {'to' if direction == 'Ingress' else 'from'} {names(workloads)}"
