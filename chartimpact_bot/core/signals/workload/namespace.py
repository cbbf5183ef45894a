"""`workload.namespace`: workloads that move into a shared namespace."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.workloads import WORKLOAD_KINDS
from ..common import what
from ..context import SignalContext
from ..registry import Finding, chart_detector


@chart_detector("workload.namespace", "low")
def namespace(ctx: SignalContext) -> Iterator[Finding]:
    """A workload moves into the `default` or `kube-system` namespace.

    The default namespace is shared by everything that names no namespace, and kube-system holds the
    cluster's own components: workloads rarely belong in either.
    """
    removed = {(d.id.kind, d.id.name): d for d in ctx.diffs if d.change_type == "removed"}
    for diff in ctx.diffs:
        if diff.change_type != "added" or diff.id.kind not in WORKLOAD_KINDS:
            continue
        old = removed.get((diff.id.kind, diff.id.name))
        if (
            old is not None
            and diff.id.namespace in ("default", "kube-system")
            and old.id.namespace != diff.id.namespace
        ):
            yield Finding(
                description=f"{what(diff.resource)} moves into the {diff.id.namespace} namespace",
                path=("metadata", "namespace"),
                before=old.id.namespace,
                after=diff.id.namespace,
                subject=(old.resource, diff.resource),
                about=diff.resource,
            )
