"""`availability.config.*`: configuration pods read, changed without a rollout or gone."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.references import CONFIG_KINDS, config_references, object_references
from ...kubernetes.workloads import ROLLING_KINDS, pod_template
from ...model import ResourceDiff
from ..common import what
from ..context import SignalContext
from ..registry import Finding, chart_detector


def _template_changed(diff: ResourceDiff | None) -> bool:
    if diff is None:
        return False
    pod = pod_template(diff.head)
    if pod is None:
        return False
    prefix = ".".join(pod.template_path)
    return any(c.display_path.startswith(prefix) for c in diff.changes)


@chart_detector("availability.config.noRollout", "medium")
def config_no_rollout(ctx: SignalContext) -> Iterator[Finding]:
    """A ConfigMap or Secret consumed by a workload changed while that workload's pod template
    did not (no rollout).

    Pods read ConfigMaps and Secrets at start (environment variables, subPath mounts): when the data
    changes but the pod template does not, running pods keep the old configuration until they happen
    to restart. A checksum annotation on the pod template fixes it.
    """
    changed = {
        (d.id.kind, d.id.name, d.id.namespace)
        for d in ctx.diffs
        if d.change_type == "modified"
        and d.id.kind in CONFIG_KINDS
        and any(c.display_path.startswith(("data", "stringData", "binaryData")) for c in d.changes)
    }
    if not changed:
        return
    for workload in sorted(ctx.workloads("head"), key=lambda r: r.id.sort_key()):
        pod = pod_template(workload)
        if pod is None or workload.id not in ctx.base.resources or workload.id.kind not in ROLLING_KINDS:
            continue
        consumed = sorted(
            (kind, name) for kind, name in config_references(pod) if (kind, name, workload.id.namespace) in changed
        )
        if not consumed or _template_changed(ctx.diff_by_id.get(workload.id)):
            continue
        names = ", ".join(f"{kind} '{name}'" for kind, name in consumed)
        yield Finding(
            description=f"{names} changed but the pods of {what(workload)} that read it will not restart",
            path=pod.spec_path,
            after=[f"{k}/{n}" for k, n in consumed],
            about=workload,
        )


@chart_detector("availability.config.missingRef", "high")
def config_missing_ref(ctx: SignalContext) -> Iterator[Finding]:
    """A workload references a ConfigMap, Secret, PersistentVolumeClaim or ServiceAccount that
    the chart used to create and no longer does.

    A pod that references a ConfigMap, Secret, PersistentVolumeClaim or ServiceAccount that does not
    exist cannot start (CreateContainerConfigError or Pending).
    """
    for workload in sorted(ctx.workloads("head"), key=lambda r: r.id.sort_key()):
        pod = pod_template(workload)
        assert pod is not None
        for kind, name in sorted(object_references(pod)):
            was = ctx.resource("base", kind, workload.id.namespace, name)
            now = ctx.resource("head", kind, workload.id.namespace, name)
            if was is not None and now is None:
                yield Finding(
                    description=f"{what(workload)} references {kind} '{name}', which the chart no longer creates",
                    path=pod.spec_path,
                    before=f"{kind}/{name}",
                    subject=(was, now),
                    about=workload,
                )
