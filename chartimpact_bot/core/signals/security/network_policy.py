"""`security.networkPolicy`: NetworkPolicies that stop restricting traffic."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import as_dict, as_list, get
from ...kubernetes.network_policies import DIRECTIONS, Direction, policy_types
from ...kubernetes.networking import OPEN_CIDRS
from ...model import Resource
from ..context import SignalContext
from ..registry import Finding, chart_detector
from ..traffic import flow, involved, policies, selected_pairs, side_access


def _open_rules(policy: Resource | None) -> set[str]:
    """Directions of a NetworkPolicy that allow every peer (an empty or missing from/to), and
    those that allow 0.0.0.0/0."""
    if policy is None:
        return set()
    found = set()
    for direction, key in (("ingress", "from"), ("egress", "to")):
        for rule in as_list(get(policy.body, "spec", direction)):
            peers = as_dict(rule).get(key)
            if not peers or any(not as_dict(p) for p in as_list(peers)):
                found.add(f"{direction} from any peer" if direction == "ingress" else f"{direction} to any peer")
            for peer in as_list(peers):
                if str(get(peer, "ipBlock", "cidr")) in OPEN_CIDRS:
                    found.add(
                        f"{direction} {'from' if direction == 'ingress' else 'to'} {get(peer, 'ipBlock', 'cidr')}"
                    )
    return found


def _opened(ctx: SignalContext, old: Resource) -> str:
    """`: ingress to Deployment 'web' is no longer restricted`, for the workloads (on both sides)
    the policy isolated that no policy isolates any more; empty when there are none."""
    opened: dict[Direction, list[Resource]] = {}
    for base, head in selected_pairs(ctx, old, None):
        for direction in DIRECTIONS:
            if (
                involved(old, base, direction)
                and side_access(ctx, "base", base, direction) is not None
                and side_access(ctx, "head", head, direction) is None
            ):
                opened.setdefault(direction, []).append(head)
    parts = [f"{flow(direction, workloads)} is no longer restricted" for direction, workloads in opened.items()]
    return f": {'; '.join(parts)}" if parts else ""


@chart_detector("security.networkPolicy", "high")
def network_policy(ctx: SignalContext) -> Iterator[Finding]:
    """A NetworkPolicy is removed, its podSelector stops selecting the chart's pods, a policyType
    is dropped, or a rule gains an empty peer or 0.0.0.0/0; a removal or a dropped type names the
    workloads no policy restricts any more.

    A NetworkPolicy is what stops other pods (or the internet) from reaching the selected pods; a
    removed, emptied or widened policy opens them up.
    """
    for old in sorted(policies(ctx, "base"), key=lambda policy: policy.id.sort_key()):
        rid = old.id
        new = ctx.head.resources.get(rid)
        if new is None:
            yield Finding(description=f"NetworkPolicy '{rid.name}' removed{_opened(ctx, old)}", side="base", about=old)
            continue
        selector_before, selector_after = (
            get(old.body, "spec", "podSelector"),
            get(new.body, "spec", "podSelector"),
        )
        if (
            selector_before != selector_after
            and as_dict(selector_after)
            and ctx.selected_workloads(selector_before, rid.namespace, "base")
            and not ctx.selected_workloads(selector_after, rid.namespace, "head")
        ):
            yield Finding(
                description=f"podSelector of NetworkPolicy '{rid.name}' no longer selects any pod of the chart",
                path=("spec", "podSelector"),
                before=selector_before,
                after=selector_after,
                about=old,
            )
        dropped = sorted(policy_types(old) - policy_types(new))
        if dropped:
            yield Finding(
                description=f"NetworkPolicy '{rid.name}' no longer restricts {', '.join(dropped)} traffic"
                + _opened(ctx, old),
                path=("spec", "policyTypes"),
                before=sorted(policy_types(old)),
                after=sorted(policy_types(new)),
                subject=(dropped, None),
                about=old,
            )
        opened = sorted(_open_rules(new) - _open_rules(old))
        if opened:
            yield Finding(
                description=f"NetworkPolicy '{rid.name}' now allows {', '.join(opened)}",
                path=("spec",),
                before=sorted(_open_rules(old)) or None,
                after=opened,
                about=old,
            )
