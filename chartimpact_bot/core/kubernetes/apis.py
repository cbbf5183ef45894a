"""API versions Kubernetes has stopped serving, and since which release."""

from __future__ import annotations

from ..model import Resource
from ..semver import Version

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


def removed_in(resource: Resource) -> Version | None:
    """The Kubernetes release that stopped serving the resource's apiVersion for its kind, if any."""
    entry = REMOVED_APIS.get(resource.api_version)
    if entry is None:
        return None
    kinds, removed = entry
    return removed if kinds is None or resource.id.kind in kinds else None
