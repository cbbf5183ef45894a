"""`security.serviceAccount*`: which account a pod runs as, and whether it mounts the token."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.paths import FieldPath
from ...kubernetes.workloads import WORKLOAD_KINDS, pod_template
from ..common import show, what
from ..context import SignalContext, Update
from ..registry import Finding, update_detector


@update_detector("security.serviceAccount", "medium", kinds=WORKLOAD_KINDS)
def service_account(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """An existing workload's serviceAccountName changes (or falls back to `default`).

    The service account decides what the pod's API token may do; the namespace's default account is
    shared by every pod that does not name one.
    """
    old_pod, new_pod = pod_template(update.base), pod_template(update.head)
    if old_pod is None or new_pod is None:
        return
    before = old_pod.service_account or "default"
    after = new_pod.service_account or "default"
    if before != after:
        yield Finding(
            description=f"Service account of {what(update.head)} changed from '{before}' to '{after}'",
            path=(*new_pod.spec_path, "serviceAccountName"),
            before=before,
            after=after,
            subject=(old_pod, new_pod),
        )


@update_detector("security.serviceAccount.automount", "medium", kinds={*WORKLOAD_KINDS, "ServiceAccount"})
def automount(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """automountServiceAccountToken goes from false to true or unset, on a pod template or a
    ServiceAccount.

    An automounted service account token lets any process in the pod call the Kubernetes API with
    that account's permissions.
    """
    if update.id.kind == "ServiceAccount":
        before, after = (
            update.base.body.get("automountServiceAccountToken"),
            update.head.body.get("automountServiceAccountToken"),
        )
        path: FieldPath = ("automountServiceAccountToken",)
    else:
        old_pod, new_pod = pod_template(update.base), pod_template(update.head)
        if old_pod is None or new_pod is None:
            return
        before, after = (
            old_pod.spec.get("automountServiceAccountToken"),
            new_pod.spec.get("automountServiceAccountToken"),
        )
        path = (*new_pod.spec_path, "automountServiceAccountToken")
    if before is False and after is not False:
        yield Finding(
            description=f"{what(update.head)} now mounts its service account token "
            f"(automountServiceAccountToken false → {show(after)})",
            path=path,
            before=before,
            after=after,
        )
