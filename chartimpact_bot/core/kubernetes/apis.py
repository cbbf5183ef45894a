"""The API groups Kubernetes itself serves, and the API versions it has stopped serving (and
since which release)."""

from __future__ import annotations

from ..model import Resource
from ..semver import Version

# The groups of the built-in APIs (`""` is the core group): any other kind needs a CRD or an
# aggregated API server before the cluster knows it. SIG projects delivered as CRDs
# (gateway.networking.k8s.io, snapshot.storage.k8s.io…) are not among them.
BUILTIN_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "extensions",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)

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
