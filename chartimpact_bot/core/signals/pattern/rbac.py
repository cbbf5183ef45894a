"""`pattern.rbac.*`: a role widens while a binding to it changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from ...kubernetes.bodies import get
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
    for role, role_signals in sorted(widened.items(), key=lambda item: item[0].sort_key()):
        bindings = [d for d in ctx.diffs if _binds(d, role) and _binding_changed(d)]
        if not bindings:
            continue
        binding_ids = {d.id for d in bindings}
        members = [s.id for s in role_signals] + [s.id for s in signals if s.resource in binding_ids]
        names = ", ".join(f"{d.id.kind} '{d.id.name}'" for d in bindings)
        yield Finding(
            description=f"{role.kind} '{role.name}' widens while its binding changes ({names})",
            path=("rules",),
            after=[str(d.id) for d in bindings],
            about=ctx.either(role),
            related=tuple(members),
        )


def _binds(diff: ResourceDiff, role: ResourceId) -> bool:
    if diff.id.kind not in BINDING_KINDS or diff.head is None:
        return False
    ref = get(diff.head.body, "roleRef")
    return bool(get(ref, "kind") == role.kind and get(ref, "name") == role.name)


def _binding_changed(diff: ResourceDiff) -> bool:
    """A new binding, or one whose roleRef or subjects changed (labels do not count)."""
    return diff.change_type == "added" or any(c.display_path.startswith(("roleRef", "subjects")) for c in diff.changes)
