"""`availability.networkPolicy`: NetworkPolicies that take traffic away from pods that had it."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.network_policies import ANY, DIRECTIONS, Access, Atom, Direction, describe
from ..context import SignalContext
from ..registry import Finding, chart_detector
from ..traffic import LISTED, Effect, effects, flow


def listed(atoms: list[Atom], direction: Direction) -> str:
    words = [describe(atom, direction) for atom in atoms]
    shown = words[:LISTED]
    return ", ".join(shown) + (f" and {len(words) - len(shown)} more" if len(words) > len(shown) else "")


def sentence(group: list[Effect]) -> str:
    first = group[0]
    who = flow(first.direction, [e.workload for e in group])
    if first.before is None:
        allowed = sorted(first.after or (), key=lambda atom: (atom[0], str(atom[1])))
        if not allowed:
            return f"{who} is now denied entirely"
        return f"{who} is now denied except {listed(allowed, first.direction)}"
    text = f"{who} is no longer allowed {listed(list(first.lost), first.direction)}"
    if first.isolated_by:
        text += f" (still isolated by NetworkPolicy {', '.join(repr(n) for n in first.isolated_by)})"
    return text


def shown_access(value: Access, direction: Direction) -> list[str]:
    atoms = sorted(value, key=lambda atom: (atom[0], str(atom[1]))) if value is not None else [(ANY, ANY)]
    return [describe(atom, direction) for atom in atoms]


@chart_detector("availability.networkPolicy", "medium")
def network_policy_restricts(ctx: SignalContext) -> Iterator[Finding]:
    """A NetworkPolicy added, changed or removed leaves the pods of workloads the chart renders on
    both sides receiving or sending less: pods no policy isolated are now isolated (denied, for
    the policy's types, everything it does not allow; high when that is everything), or isolated
    pods lose allowed peers or ports (a rule, peer or port removed, or a policy removed while
    another still isolates them). The description names the workloads.

    Once a NetworkPolicy selects a pod for ingress or egress, the traffic no policy allows in that
    direction is dropped: a chart that turns network policies on changes who can reach its pods
    and what they can reach (DNS included), and a narrowed rule cuts the clients or backends it
    no longer names.
    """
    for diff in ctx.diffs:
        if diff.id.kind != "NetworkPolicy":
            continue
        found = effects(ctx, diff)
        if not found:
            continue
        # Workloads alike in what they lose share a sentence; sentences in an order of words, not
        # of hashes, so that reports stay byte-identical.
        groups: dict[tuple[object, ...], list[Effect]] = {}
        for effect in found:
            key = (
                DIRECTIONS.index(effect.direction),
                effect.before is not None,
                tuple(shown_access(effect.after, effect.direction)),
                tuple(describe(atom, effect.direction) for atom in effect.lost),
                effect.isolated_by,
            )
            groups.setdefault(key, []).append(effect)
        verb = {"added": "added", "removed": "removed", "modified": "changed"}[diff.change_type]
        sentences = [sentence(group) for _, group in sorted(groups.items(), key=lambda item: item[0])]
        key_of = {e: f"{e.workload.id.kind} {e.workload.id.name} {e.direction.lower()}" for e in found}
        yield Finding(
            description=f"NetworkPolicy '{diff.id.name}' {verb}: " + "; ".join(sentences),
            path=("spec",) if diff.change_type == "modified" else (),
            before={key_of[e]: shown_access(e.before, e.direction) for e in found},
            after={key_of[e]: shown_access(e.after, e.direction) for e in found},
            importance="high" if any(e.after == frozenset() for e in found) else None,
            about=diff.resource,
            side="base" if diff.head is None else "head",
        )
