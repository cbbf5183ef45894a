"""`availability.resources.*`: container limits and requests, namespace quotas and limit ranges."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import as_dict, as_list, get
from ...kubernetes.containers import Container, container_pairs
from ...kubernetes.paths import item
from ...kubernetes.quantities import quantity
from ...kubernetes.workloads import WORKLOAD_KINDS
from ...model import ResourceDiff
from ..common import what
from ..context import SignalContext
from ..registry import Finding, resource_detector


def _resource_findings(diff: ResourceDiff, section: str) -> Iterator[tuple[Container, str, Any, Any, str]]:
    """(container, resource name, before, after, kind of change) for cpu and memory."""
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None:
            continue
        before_all = as_dict(as_dict(old.body.get("resources")).get(section))
        after_all = as_dict(as_dict(new.body.get("resources")).get(section))
        for name in ("cpu", "memory"):
            before, after = before_all.get(name), after_all.get(name)
            if before == after:
                continue
            if after is None:
                yield new, name, before, after, "removed"
                continue
            old_q, new_q = quantity(before), quantity(after)
            if old_q is not None and new_q is not None:
                yield (
                    new,
                    name,
                    before,
                    after,
                    "lowered" if new_q < old_q else "raised" if new_q > old_q else "same",
                )


def _resource_signals(diff: ResourceDiff, section: str, noun: str, *, risky: str) -> Iterator[Finding]:
    """Findings for cpu/memory of `section` that moved in the `risky` direction or were removed."""
    for container, name, before, after, how in _resource_findings(diff, section):
        if how not in (risky, "removed"):
            continue
        label = "Memory" if name == "memory" else "CPU"
        text = f"{risky} from {before} to {after}" if how == risky else f"removed (was {before})"
        yield Finding(
            description=f"{label} {noun} of {container.kind_word} '{container.name}' {text}",
            path=(*container.path, "resources", section, name),
            before=before,
            after=after,
            subject=(before, after),
        )


@resource_detector("availability.resources.limits", "medium", kinds=WORKLOAD_KINDS)
def resource_limits(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's memory or CPU limit lowered or removed.

    A container that exceeds its memory limit is killed (OOMKilled) and one that reaches its CPU
    limit is throttled; a removed limit lets it starve its neighbours.
    """
    return _resource_signals(diff, "limits", "limit", risky="lowered")


@resource_detector("availability.resources.requests", "medium", kinds=WORKLOAD_KINDS)
def resource_requests(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's memory or CPU request raised or removed.

    The scheduler places a pod only on a node with its requests free: raised requests may leave pods
    Pending; removed requests let a pod land on a node without room.
    """
    return _resource_signals(diff, "requests", "request", risky="raised")


@resource_detector("availability.resources.quota", "medium", kinds={"ResourceQuota", "LimitRange"})
def quota(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A ResourceQuota or LimitRange added or removed, or one of its hard limits (max) lowered.

    Quotas and limit ranges apply to every pod in the namespace: new or tighter ones can reject pods
    of other workloads too.
    """
    resource = diff.resource
    if diff.change_type in ("added", "removed"):
        verb = "added" if diff.change_type == "added" else "removed"
        yield Finding(description=f"{what(resource)} {verb}")
        return
    base, head = diff.base, diff.head
    assert base is not None
    assert head is not None
    if resource.id.kind == "ResourceQuota":
        old, new = as_dict(get(base.body, "spec", "hard")), as_dict(get(head.body, "spec", "hard"))
        for name, after in new.items():
            before_q, after_q = quantity(old.get(name)), quantity(after)
            if before_q is not None and after_q is not None and after_q < before_q:
                yield Finding(
                    description=f"Hard limit {name} of {what(head)} lowered from {old[name]} to {after}",
                    path=("spec", "hard", str(name)),
                    before=old[name],
                    after=after,
                    subject=(old[name], after),
                )
        return
    old_limits = {
        (i.get("type"), k): v
        for i in as_list(get(base.body, "spec", "limits"))
        if isinstance(i, dict)
        for k, v in as_dict(i.get("max")).items()
    }
    for entry in as_list(get(head.body, "spec", "limits")):
        if not isinstance(entry, dict):
            continue
        for name, after in as_dict(entry.get("max")).items():
            before = old_limits.get((entry.get("type"), name))
            before_q, after_q = quantity(before), quantity(after)
            if before_q is not None and after_q is not None and after_q < before_q:
                yield Finding(
                    description=f"Maximum {name} per {entry.get('type', 'item')} in {what(head)} "
                    f"lowered from {before} to {after}",
                    path=("spec", "limits", item(type=entry.get("type")), "max", str(name)),
                    before=before,
                    after=after,
                    subject=(before, after),
                )
