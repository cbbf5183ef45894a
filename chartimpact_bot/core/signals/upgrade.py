"""Upgrade safety: changes the API server will reject on `helm upgrade`, or that lose data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..kubernetes.bodies import as_dict, as_list, get
from ..kubernetes.quantities import quantity
from ..kubernetes.selectors import labels_match
from ..kubernetes.workloads import IMMUTABLE_SELECTOR_KINDS, pod_template
from ..model import Resource, ResourceDiff
from ..semver import Version
from .common import show, what
from .context import SignalContext, Update
from .registry import Finding, chart_detector, resource_detector, update_detector

DEFAULT_KUBE_VERSION = Version(1, 33, 0)

# apiVersion → (kinds it served, Kubernetes release that removed it for them)
REMOVED_APIS: dict[str, tuple[frozenset[str] | None, Version]] = {
    "extensions/v1beta1": (None, Version(1, 22, 0)),
    "apps/v1beta1": (None, Version(1, 16, 0)),
    "apps/v1beta2": (None, Version(1, 16, 0)),
    "policy/v1beta1": (None, Version(1, 25, 0)),
    "batch/v1beta1": (frozenset({"CronJob"}), Version(1, 25, 0)),
    "batch/v2alpha1": (None, Version(1, 21, 0)),
    "autoscaling/v2beta1": (None, Version(1, 25, 0)),
    "autoscaling/v2beta2": (None, Version(1, 26, 0)),
    "networking.k8s.io/v1beta1": (None, Version(1, 22, 0)),
    "rbac.authorization.k8s.io/v1beta1": (None, Version(1, 22, 0)),
    "rbac.authorization.k8s.io/v1alpha1": (None, Version(1, 22, 0)),
    "apiextensions.k8s.io/v1beta1": (None, Version(1, 22, 0)),
    "admissionregistration.k8s.io/v1beta1": (None, Version(1, 22, 0)),
    "apiregistration.k8s.io/v1beta1": (None, Version(1, 22, 0)),
    "storage.k8s.io/v1beta1": (
        frozenset({"CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"}),
        Version(1, 22, 0),
    ),
    "scheduling.k8s.io/v1beta1": (None, Version(1, 22, 0)),
    "scheduling.k8s.io/v1alpha1": (None, Version(1, 17, 0)),
    "coordination.k8s.io/v1beta1": (None, Version(1, 22, 0)),
    "certificates.k8s.io/v1beta1": (None, Version(1, 22, 0)),
    "discovery.k8s.io/v1beta1": (None, Version(1, 25, 0)),
    "events.k8s.io/v1beta1": (None, Version(1, 25, 0)),
    "node.k8s.io/v1beta1": (None, Version(1, 25, 0)),
    "flowcontrol.apiserver.k8s.io/v1beta1": (None, Version(1, 26, 0)),
    "flowcontrol.apiserver.k8s.io/v1beta2": (None, Version(1, 29, 0)),
    "flowcontrol.apiserver.k8s.io/v1beta3": (None, Version(1, 32, 0)),
}


def _immutable(description: str, path: tuple[Any, ...], before: Any, after: Any) -> Finding:
    return Finding(description, ".".join(str(p) for p in path), before, after, "modified", path)


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
                f"Pod template labels of {what(update.head)} no longer match its selector",
                "spec.template.metadata.labels",
                old_pod.metadata.get("labels"),
                new_pod.metadata.get("labels"),
                "modified",
                ("spec", "template", "metadata", "labels"),
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
            f"Pod template of {what(update.head)} changed: Jobs cannot be updated in place",
            "spec.template",
            None,
            None,
            "modified",
            ("spec", "template"),
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
                f"{what(update.head)} shrinks from {before_size} to {after_size}: claims cannot shrink",
                ("spec", "resources", "requests", "storage"),
                before_size,
                after_size,
            )
        if _without_resources(old_spec) != _without_resources(new_spec):
            changed = sorted(
                k for k in set(old_spec) | set(new_spec) if k != "resources" and old_spec.get(k) != new_spec.get(k)
            )
            yield _immutable(
                f"{what(update.head)} changes immutable fields {', '.join(changed)}",
                ("spec",),
                {k: old_spec.get(k) for k in changed},
                {k: new_spec.get(k) for k in changed},
            )
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
            yield _immutable(
                f"Volume source of {what(update.head)} changed ({', '.join(changed)})",
                ("spec",),
                {k: old_spec.get(k) for k in changed},
                {k: new_spec.get(k) for k in changed},
            )
    else:
        for field in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
            before, after = update.base.body.get(field), update.head.body.get(field)
            if before != after:
                yield _immutable(
                    f"{field} of {what(update.head)} changed: StorageClasses cannot be updated",
                    (field,),
                    before,
                    after,
                )


@update_detector(
    "upgrade.immutable.other",
    "high",
    kinds={
        "RoleBinding",
        "ClusterRoleBinding",
        "ConfigMap",
        "Secret",
        "PriorityClass",
        "CustomResourceDefinition",
    },
)
def immutable_other(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A RoleBinding's roleRef; data of an `immutable: true` ConfigMap or Secret; a Secret's
    type; a PriorityClass's value; a CRD's scope.

    These fields are immutable: a binding's roleRef, the data of an immutable ConfigMap or Secret, a
    Secret's type, a PriorityClass's value, a CRD's scope. The API server rejects the upgrade.
    """
    old, new = update.base.body, update.head.body
    kind = update.id.kind
    checks: list[tuple[tuple[Any, ...], str]] = []
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        checks.append((("roleRef",), "roleRef"))
    elif kind in ("ConfigMap", "Secret"):
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
                f"{label} of {what(update.head)} changed: the upgrade will be rejected",
                path,
                before,
                after,
            )


@update_detector("upgrade.strategy.conflict", "high", kinds={"Deployment"})
def strategy_conflict(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A Deployment's strategy becomes Recreate while rollingUpdate is still set (in the chart,
    or on the live object through its defaults).

    The API server rejects a Recreate strategy that still has rollingUpdate settings, and the live
    Deployment keeps its defaulted rollingUpdate unless the chart sets `rollingUpdate: null`.
    """
    old, new = (
        as_dict(get(update.base.body, "spec", "strategy")),
        as_dict(get(update.head.body, "spec", "strategy")),
    )
    if new.get("type") != "Recreate" or old.get("type") == "Recreate":
        return
    if "rollingUpdate" in new and new["rollingUpdate"] is None:
        return
    reason = (
        "rollingUpdate is still set"
        if new.get("rollingUpdate")
        else "the live object keeps its rollingUpdate defaults (set rollingUpdate: null)"
    )
    yield Finding(
        f"{what(update.head)} switches to Recreate but {reason}: the upgrade will be rejected",
        "spec.strategy",
        old or None,
        new,
        "modified",
        ("spec", "strategy"),
    )


def _without_resources(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "resources"}


def _kept(resource: Resource) -> bool:
    return bool(get(resource.body, "metadata", "annotations", "helm.sh/resource-policy") == "keep")


@resource_detector(
    "upgrade.dataLoss", "high", kinds={"PersistentVolumeClaim", "PersistentVolume", "StatefulSet", "Namespace"}
)
def data_loss(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A PVC, PV or Namespace removed without `helm.sh/resource-policy: keep`; a StatefulSet's
    persistentVolumeClaimRetentionPolicy or a PV's reclaim policy becomes Delete.

    Helm deletes resources that leave the chart: a removed claim or volume takes its data with it
    unless annotated `helm.sh/resource-policy: keep`; a Delete retention or reclaim policy deletes
    data when pods or claims go away.
    """
    if diff.change_type == "removed":
        assert diff.base is not None
        if not _kept(diff.base) and not diff.base.hook:
            yield Finding(
                f"{what(diff.base)} is removed and Helm will delete it with its data",
                "",
                None,
                None,
                "removed",
                side="base",
            )
        return
    if diff.base is None or diff.head is None:
        return
    if diff.id.kind == "StatefulSet":
        for when in ("whenDeleted", "whenScaled"):
            before = get(diff.base.body, "spec", "persistentVolumeClaimRetentionPolicy", when) or "Retain"
            after = get(diff.head.body, "spec", "persistentVolumeClaimRetentionPolicy", when) or "Retain"
            if after == "Delete" and before != "Delete":
                yield Finding(
                    f"{what(diff.head)} now deletes its claims {when.removeprefix('when').lower()}",
                    f"spec.persistentVolumeClaimRetentionPolicy.{when}",
                    before,
                    after,
                    "modified",
                    ("spec", "persistentVolumeClaimRetentionPolicy", when),
                )
    elif diff.id.kind == "PersistentVolume":
        before = get(diff.base.body, "spec", "persistentVolumeReclaimPolicy")
        after = get(diff.head.body, "spec", "persistentVolumeReclaimPolicy")
        if after == "Delete" and before != "Delete":
            yield Finding(
                f"{what(diff.head)} reclaim policy becomes Delete",
                "spec.persistentVolumeReclaimPolicy",
                before,
                after,
                "modified",
                ("spec", "persistentVolumeReclaimPolicy"),
            )


@resource_detector(
    "upgrade.crd.removed", "high", kinds={"CustomResourceDefinition"}, absorbs=("upgrade.crd.versionRemoved",)
)
def crd_removed(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A CRD rendered from templates/ is removed, or a CRD moves between templates/ and crds/.

    Deleting a CRD deletes every custom resource of that kind in the cluster. Helm installs CRDs in
    crds/ once and never upgrades or deletes them, so moving a CRD between templates/ and crds/
    changes who manages it.
    """
    if diff.change_type == "removed":
        assert diff.base is not None
        if not diff.base.install_only:
            yield Finding(
                f"CRD '{diff.id.name}' removed: its custom resources will be deleted with it",
                "",
                None,
                None,
                "removed",
                side="base",
            )
    elif diff.base is not None and diff.head is not None and diff.base.install_only != diff.head.install_only:
        where = ("templates/", "crds/") if diff.head.install_only else ("crds/", "templates/")
        yield Finding(
            f"CRD '{diff.id.name}' moved from {where[0]} to {where[1]}",
            "",
            where[0],
            where[1],
            "modified",
        )


def _versions(resource: Resource | None) -> dict[str, bool]:
    if resource is None:
        return {}
    return {
        str(v.get("name")): v.get("served", True) is not False
        for v in as_list(get(resource.body, "spec", "versions"))
        if isinstance(v, dict)
    }


@resource_detector("upgrade.crd.versionRemoved", "high", kinds={"CustomResourceDefinition"})
def crd_version_removed(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A CRD version is removed or set `served: false`.

    Clients and stored objects that use a removed or unserved CRD version stop working; Kubernetes
    refuses to remove a version still listed in status.storedVersions.
    """
    old, new = _versions(diff.base), _versions(diff.head)
    if diff.head is None:
        return
    note = " (in crds/: Helm will not apply this change)" if diff.head.install_only else ""
    for name, served in sorted(old.items()):
        if not served:
            continue
        if name not in new:
            yield Finding(
                f"Version {name} removed from CRD '{diff.id.name}'{note}",
                f"spec.versions[name={name}]",
                name,
                None,
                "removed",
                ("spec", "versions"),
            )
        elif not new[name]:
            yield Finding(
                f"Version {name} of CRD '{diff.id.name}' is no longer served{note}",
                f"spec.versions[name={name}].served",
                True,
                False,
                "modified",
                ("spec", "versions"),
            )


RENAME_KINDS = frozenset(
    {
        "PersistentVolumeClaim",
        "PersistentVolume",
        "Service",
        "StatefulSet",
        "Deployment",
        "DaemonSet",
        "Namespace",
        "StorageClass",
    }
)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> set[tuple[tuple[str, ...], str]]:
    if isinstance(value, dict):
        return {leaf for k, v in value.items() for leaf in _leaves(v, (*path, str(k)))}
    if isinstance(value, list):
        return {leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, str(i)))}
    return {(path, repr(value))}


def _similarity(old: Resource, new: Resource) -> float:
    def content(resource: Resource) -> set[tuple[tuple[str, ...], str]]:
        body = {k: v for k, v in resource.body.items() if k not in ("metadata", "apiVersion", "kind")}
        name = resource.id.name
        return {(p, v.replace(name, "<name>")) for p, v in _leaves(body)}

    a, b = content(old), content(new)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _pairs(ctx: SignalContext) -> list[tuple[Resource, Resource]]:
    removed = [d.base for d in ctx.diffs if d.change_type == "removed" and d.base is not None]
    added = [d.head for d in ctx.diffs if d.change_type == "added" and d.head is not None]
    return [
        (old, new) for old in removed for new in added if old.id.kind == new.id.kind and old.id.group == new.id.group
    ]


@chart_detector("upgrade.resource.renamed", "high")
def renamed(ctx: SignalContext) -> Iterator[Finding]:
    """A resource removed and one of the same kind and namespace, with a near-identical spec,
    added (delete + create).

    Helm sees a renamed resource as a deletion and a creation: a renamed claim is a new, empty
    volume; a renamed LoadBalancer Service gets a new address; a renamed workload restarts from
    scratch.
    """
    for old, new in _pairs(ctx):
        if old.id.kind not in RENAME_KINDS or old.id.namespace != new.id.namespace or old.id.name == new.id.name:
            continue
        if _similarity(old, new) >= 0.8:
            yield Finding(
                f"{old.id.kind} '{old.id.name}' is renamed to '{new.id.name}': Helm deletes it and creates a new one",
                "metadata.name",
                old.id.name,
                new.id.name,
                "modified",
                ("metadata", "name"),
                resource=new.id,
                api_version=new.api_version,
            )


@chart_detector("upgrade.resource.namespaceMoved", "high")
def namespace_moved(ctx: SignalContext) -> Iterator[Finding]:
    """The same resource (kind and name) is now rendered into another namespace.

    A resource rendered into another namespace is a different object: Helm deletes the old one (with
    its data, addresses and running pods) and creates a new one.
    """
    for old, new in _pairs(ctx):
        if old.id.name == new.id.name and old.id.namespace != new.id.namespace:
            yield Finding(
                f"{what(new)} moves from namespace '{old.id.namespace}' to '{new.id.namespace}'",
                "metadata.namespace",
                old.id.namespace,
                new.id.namespace,
                "modified",
                ("metadata", "namespace"),
                resource=new.id,
                api_version=new.api_version,
            )


def _removed_in(resource: Resource) -> Version | None:
    entry = REMOVED_APIS.get(resource.api_version)
    if entry is None:
        return None
    kinds, removed = entry
    return removed if kinds is None or resource.id.kind in kinds else None


@resource_detector("upgrade.api.removed", "high")
def api_removed(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A resource now uses an apiVersion removed in the configured Kubernetes version (1.33 when
    none is configured).

    The API server no longer serves a removed apiVersion: installing or upgrading a resource that
    uses it fails.
    """
    if diff.head is None:
        return
    removed = _removed_in(diff.head)
    target = ctx.kube_version or DEFAULT_KUBE_VERSION
    if removed is None or target < removed:
        return
    if diff.base is not None and diff.base.api_version == diff.head.api_version:
        return
    configured = "" if ctx.kube_version else " (the default; configure kubeVersion)"
    yield Finding(
        f"{what(diff.head)} uses {diff.head.api_version}, removed in Kubernetes {removed.major}.{removed.minor}; "
        f"checked against {target.major}.{target.minor}{configured}",
        "apiVersion",
        diff.base.api_version if diff.base else None,
        diff.head.api_version,
        "added" if diff.base is None else "modified",
        ("apiVersion",),
    )
