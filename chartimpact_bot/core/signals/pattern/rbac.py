"""`pattern.rbac.*`: a role widens while a binding to it changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from ...kubernetes.bodies import get
from ...kubernetes.label_index import hashable
from ...kubernetes.rbac import BINDING_KINDS, ROLE_KINDS
from ...model import ResourceDiff, ResourceId, Signal
from ..context import SignalContext
from ..registry import Finding, pattern_detector


@pattern_detector("pattern.rbac.coordinated", "security", "high")
def rbac_coordinated(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """An existing Role or ClusterRole widens and a binding to it changes in the same change
    (including a new service account bound to it).

    A role that gains permissions while a binding to it changes is how access is widened for a
    specific account in one step; review both together.
    """
    widened = defaultdict(list)
    for signal in signals:
        # A role that is new in this change is new RBAC, which the role's own signals report.
        if (
            signal.type.startswith("security.rbac.")
            and signal.resource.kind in ROLE_KINDS
            and signal.resource in ctx.base.resources
        ):
            widened[signal.resource].append(signal)
    if not widened:
        return
    # Changed bindings by the role they name, and the signals of each resource, in order.
    binding: dict[tuple[Any, Any], list[ResourceDiff]] = {}
    for diff in ctx.diffs:
        ref = get(diff.head.body, "roleRef") if diff.head is not None and diff.id.kind in BINDING_KINDS else None
        key = (get(ref, "kind"), get(ref, "name"))
        if ref is not None and hashable(key) and _binding_changed(diff):
            binding.setdefault(key, []).append(diff)
    about: dict[ResourceId, list[int]] = {}
    for position, signal in enumerate(signals):
        about.setdefault(signal.resource, []).append(position)
    for role, role_signals in sorted(widened.items(), key=lambda item: item[0].sort_key()):
        bindings = binding.get((role.kind, role.name), [])
        if not bindings:
            continue
        binding_ids = {d.id for d in bindings}
        positions = sorted(p for rid in binding_ids for p in about.get(rid, ()))
        members = [s.id for s in role_signals] + [signals[p].id for p in positions]
        names = ", ".join(f"{d.id.kind} '{d.id.name}'" for d in bindings)
        yield Finding(
            description=f"{role.kind} '{role.name}' widens while its binding changes ({names})",
            path=("rules",),
            after=[str(d.id) for d in bindings],
            about=ctx.either(role),
            related=tuple(members),
        )


def _binding_changed(diff: ResourceDiff) -> bool:
    """A new binding, or one whose roleRef or subjects changed (labels do not count)."""
    return diff.change_type == "added" or any(c.display_path.startswith(("roleRef", "subjects")) for c in diff.changes)
