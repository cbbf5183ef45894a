"""`upgrade.immutable.*`: fields the API server refuses to change, so `helm upgrade` fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import as_dict, get
from ...kubernetes.paths import FieldPath
from ...kubernetes.quantities import quantity
from ...kubernetes.rbac import BINDING_KINDS
from ...kubernetes.references import CONFIG_KINDS
from ...kubernetes.selectors import labels_match
from ...kubernetes.workloads import IMMUTABLE_SELECTOR_KINDS, pod_template
from ..common import show, what
from ..context import SignalContext, Update
from ..registry import Finding, update_detector


def _immutable(update: Update, description: str, path: FieldPath, before: Any, after: Any) -> Finding:
    return Finding(description=description, path=path, before=before, after=after)


@update_detector("upgrade.immutable.selector", "high", kinds=IMMUTABLE_SELECTOR_KINDS)
def immutable_selector(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """spec.selector of a Deployment, ReplicaSet, DaemonSet, StatefulSet or Job changes, or the
    pod template labels stop matching it.

    spec.selector cannot be changed after creation, and the pod template's labels must match it: the
    API server rejects the upgrade until the object is deleted and recreated.
    """
    before, after = get(update.base.body, "spec", "selector"), get(update.head.body, "spec", "selector")
    if before != after and not (update.id.kind == "Job" and before is None):
        yield _immutable(
            update,
            f"Selector of {what(update.head)} changed: the upgrade will be rejected",
            ("spec", "selector"),
            before,
            after,
        )
        return
    old_pod, new_pod = pod_template(update.base), pod_template(update.head)
    if after and old_pod and new_pod:
        matched = labels_match(before, old_pod.metadata.get("labels"))
        if matched and not labels_match(after, new_pod.metadata.get("labels")):
            yield Finding(
                description=f"Pod template labels of {what(update.head)} no longer match its selector",
                path=("spec", "template", "metadata", "labels"),
                before=old_pod.metadata.get("labels"),
                after=new_pod.metadata.get("labels"),
            )


@update_detector("upgrade.immutable.statefulSet", "high", kinds={"StatefulSet"})
def immutable_stateful_set(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """volumeClaimTemplates, serviceName or podManagementPolicy of a StatefulSet changes.

    A StatefulSet's volumeClaimTemplates, serviceName and podManagementPolicy cannot be changed: the
    upgrade is rejected until the StatefulSet is deleted (its volumes stay).
    """
    for field in ("volumeClaimTemplates", "serviceName", "podManagementPolicy"):
        before, after = get(update.base.body, "spec", field), get(update.head.body, "spec", field)
        if field == "podManagementPolicy":
            before, after = before or "OrderedReady", after or "OrderedReady"
        if before != after:
            yield _immutable(
                update,
                f"{field} of {what(update.head)} changed: the upgrade will be rejected",
                ("spec", field),
                before,
                after,
            )


@update_detector("upgrade.immutable.job", "high", kinds={"Job"})
def immutable_job(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A Job's pod template changes (Helm hooks excepted).

    A Job's pod template cannot be changed after creation: `helm upgrade` fails unless the Job is a
    hook (recreated each time) or deleted first.
    """
    if update.head.hook:
        return
    if any(c.display_path.startswith("spec.template") for c in update.diff.changes):
        yield Finding(
            description=f"Pod template of {what(update.head)} changed: Jobs cannot be updated in place",
            path=("spec", "template"),
        )


@update_detector("upgrade.immutable.service", "high", kinds={"Service"})
def immutable_service(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """clusterIP or clusterIPs changed or unset (None ↔ an address), or loadBalancerClass changed.

    A Service's clusterIP (headless or not) and loadBalancerClass cannot change: the API server
    rejects the update.
    """
    for field in ("clusterIP", "clusterIPs", "loadBalancerClass"):
        before, after = get(update.base.body, "spec", field), get(update.head.body, "spec", field)
        if before != after and (before is not None or field != "clusterIPs"):
            if field == "clusterIP" and {before, after} <= {None, ""}:
                continue
            yield _immutable(
                update,
                f"{field} of Service '{update.id.name}' changed from {show(before)} to {show(after)}: "
                "the upgrade will be rejected",
                ("spec", field),
                before,
                after,
            )


@update_detector(
    "upgrade.immutable.storage", "high", kinds={"PersistentVolumeClaim", "PersistentVolume", "StorageClass"}
)
def immutable_storage(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A PVC's spec changes beyond its storage request, or the request shrinks; a PV's volume
    source changes; a StorageClass's provisioner, parameters or reclaimPolicy change.

    Most of a bound claim's spec, a volume's source and a StorageClass's provisioner and parameters
    are immutable; claims can grow but never shrink.
    """
    kind = update.id.kind
    if kind == "PersistentVolumeClaim":
        old_spec, new_spec = (
            as_dict(get(update.base.body, "spec")),
            as_dict(get(update.head.body, "spec")),
        )
        before_size = get(old_spec, "resources", "requests", "storage")
        after_size = get(new_spec, "resources", "requests", "storage")
        old_q, new_q = quantity(before_size), quantity(after_size)
        if old_q is not None and new_q is not None and new_q < old_q:
            yield _immutable(
                update,
                f"{what(update.head)} shrinks from {before_size} to {after_size}: claims cannot shrink",
                ("spec", "resources", "requests", "storage"),
                before_size,
                after_size,
            )
        if _without_resources(old_spec) != _without_resources(new_spec):
            changed = sorted(
                k for k in set(old_spec) | set(new_spec) if k != "resources" and old_spec.get(k) != new_spec.get(k)
            )
            description = f"{what(update.head)} changes immutable fields {', '.join(changed)}"
            yield _immutable_spec(update, description, old_spec, new_spec, changed)
    elif kind == "PersistentVolume":
        mutable = {
            "capacity",
            "persistentVolumeReclaimPolicy",
            "mountOptions",
            "claimRef",
            "accessModes",
            "storageClassName",
            "nodeAffinity",
        }
        old_spec, new_spec = (
            as_dict(get(update.base.body, "spec")),
            as_dict(get(update.head.body, "spec")),
        )
        changed = sorted(
            k for k in set(old_spec) | set(new_spec) if k not in mutable and old_spec.get(k) != new_spec.get(k)
        )
        if changed:
            description = f"Volume source of {what(update.head)} changed ({', '.join(changed)})"
            yield _immutable_spec(update, description, old_spec, new_spec, changed)
    else:
        for field in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
            before, after = update.base.body.get(field), update.head.body.get(field)
            if before != after:
                yield _immutable(
                    update,
                    f"{field} of {what(update.head)} changed: StorageClasses cannot be updated",
                    (field,),
                    before,
                    after,
                )


@update_detector(
    "upgrade.immutable.other",
    "high",
    kinds={*BINDING_KINDS, *CONFIG_KINDS, "PriorityClass", "CustomResourceDefinition"},
)
def immutable_other(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A RoleBinding's roleRef; data of an `immutable: true` ConfigMap or Secret; a Secret's
    type; a PriorityClass's value; a CRD's scope.

    These fields are immutable: a binding's roleRef, the data of an immutable ConfigMap or Secret, a
    Secret's type, a PriorityClass's value, a CRD's scope. The API server rejects the upgrade.
    """
    old, new = update.base.body, update.head.body
    kind = update.id.kind
    checks: list[tuple[tuple[str, ...], str]] = []
    if kind in BINDING_KINDS:
        checks.append((("roleRef",), "roleRef"))
    elif kind in CONFIG_KINDS:
        if old.get("immutable") is True:
            checks.extend(((field,), f"data of immutable {kind}") for field in ("data", "binaryData", "stringData"))
        if kind == "Secret":
            checks.append((("type",), "type"))
    elif kind == "PriorityClass":
        checks.append((("value",), "value"))
    else:
        checks.append((("spec", "scope"), "scope"))
    for path, label in checks:
        before, after = get(old, *path), get(new, *path)
        if path == ("type",):
            before, after = before or "Opaque", after or "Opaque"
        if before != after:
            yield _immutable(
                update,
                f"{label} of {what(update.head)} changed: the upgrade will be rejected",
                path,
                before,
                after,
            )


def _immutable_spec(
    update: Update, description: str, old_spec: dict[str, Any], new_spec: dict[str, Any], changed: list[str]
) -> Finding:
    """The fields of a spec that may not change but did, with their values on each side."""
    before, after = {k: old_spec.get(k) for k in changed}, {k: new_spec.get(k) for k in changed}
    return _immutable(update, description, ("spec",), before, after)


def _without_resources(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "resources"}
