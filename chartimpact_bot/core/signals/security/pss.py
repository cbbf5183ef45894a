"""`security.pss`: the Pod Security Standard level a workload meets drops (or a namespace
enforces a lower one); the standards themselves are in kubernetes/pod_security.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import as_dict
from ...kubernetes.pod_security import LEVELS, failing_controls, level
from ...kubernetes.workloads import WORKLOAD_KINDS, pod_template
from ...model import Resource, ResourceDiff
from ..common import what
from ..context import SignalContext
from ..registry import Finding, resource_detector


@resource_detector("security.pss", "high", kinds={*WORKLOAD_KINDS, "Namespace"})
def pod_security(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """The highest Pod Security Standard level a workload meets drops (restricted → baseline →
    privileged), naming the failing controls; a new workload that meets only privileged; a
    namespace's `pod-security.kubernetes.io/enforce` label lowered.

    Pod Security Standards are the levels Kubernetes admission enforces per namespace: a workload
    that drops to a lower level is rejected where that level is enforced, and has lost the isolation
    the level stands for.
    """
    if diff.id.kind == "Namespace":
        yield from _namespace_label(diff)
        return
    if diff.head is None:
        return
    head_fail = failing_controls(diff.head)
    if not head_fail:
        return
    after = level(head_fail)
    before = level(failing_controls(diff.base)) if diff.base is not None else None
    if before is None and after != "privileged":
        return
    if before is not None and LEVELS.index(after) <= LEVELS.index(before):
        return
    lost = head_fail["baseline"] if after == "privileged" else head_fail["restricted"]
    old_fail = failing_controls(diff.base) if diff.base is not None else {"baseline": [], "restricted": []}
    new_controls = [c for c in lost if c not in old_fail.get("baseline", []) + old_fail.get("restricted", [])] or lost
    pod = pod_template(diff.head)
    assert pod is not None
    verb = f"drops from {before} to {after}" if before else f"meets only the {after} level"
    yield Finding(
        description=f"Pod Security level of {what(diff.head)} {verb}: {'; '.join(new_controls)}",
        path=pod.spec_path,
        before=before,
        after=after,
    )


def _namespace_label(diff: ResourceDiff) -> Iterator[Finding]:
    key = "pod-security.kubernetes.io/enforce"

    def enforce(resource: Resource | None) -> Any:
        return as_dict(as_dict(resource.body.get("metadata")).get("labels")).get(key) if resource else None

    before, after = enforce(diff.base), enforce(diff.head)
    if before in LEVELS and (after not in LEVELS or LEVELS.index(after) > LEVELS.index(before)):
        yield Finding(
            description=f"Namespace '{diff.id.name}' enforces Pod Security level {after or 'none'} instead of {before}",
            path=("metadata", "labels", key),
            before=before,
            after=after,
        )
