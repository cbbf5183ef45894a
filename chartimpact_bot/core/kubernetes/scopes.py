"""Which kinds are cluster-scoped (have no namespace), decided the way the API server does: by the
kind's definition.

In order:
1. the chart's own CustomResourceDefinitions (rendered from templates/ or read from crds/) on
   the side being read, then on the other side of the change (a CRD the head adds, or the base
   had, says what its kind is on both);
2. the built-in kinds Kubernetes serves cluster-scoped;
3. custom kinds whose published CRDs declare them cluster-scoped, for charts that render them
   without shipping the CRD (a policy chart installed beside its engine's chart, an ingress
   controller's GatewayClass);
4. anything else is namespaced. A custom kind nobody in the chart defines could be either, and
   guessing cluster-scoped would merge two namespaced objects of one name in different
   namespaces into one; guessing namespaced at worst shows `default/` on a cluster object.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model import Resource
from .bodies import as_dict

# Built-in kinds the API server serves cluster-scoped (`kubectl api-resources --namespaced=false`
# on a current cluster, read-only and review kinds included).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IPAddress",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectReview",
        "SelfSubjectRulesReview",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersion",
        "StorageVersionMigration",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
        "VolumeSnapshotClass",
    }
)

# (group, kind) of custom kinds whose projects' published CRDs say `scope: Cluster`: the
# Kubernetes SIG APIs delivered as CRDs, and the projects whose charts render them without their
# CRDs. Each entry is checked against the project's own CRD file; a kind is listed only with its
# group, so a same-named kind of another API is not affected, and a CRD in the chart overrides it.
WELL_KNOWN_CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        # Kubernetes SIG APIs
        ("gateway.networking.k8s.io", "GatewayClass"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotContent"),
        ("policy.networking.k8s.io", "AdminNetworkPolicy"),
        ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"),
        # Kyverno (charts/kyverno-policies renders policies; the CRDs come with charts/kyverno)
        ("kyverno.io", "ClusterPolicy"),
        ("kyverno.io", "ClusterCleanupPolicy"),
        ("kyverno.io", "GlobalContextEntry"),
        ("policies.kyverno.io", "ValidatingPolicy"),
        ("policies.kyverno.io", "MutatingPolicy"),
        ("policies.kyverno.io", "GeneratingPolicy"),
        ("policies.kyverno.io", "ImageValidatingPolicy"),
        ("policies.kyverno.io", "DeletingPolicy"),
        ("reports.kyverno.io", "ClusterEphemeralReport"),
        ("wgpolicyk8s.io", "ClusterPolicyReport"),
        # cert-manager, Argo Workflows, Traefik Hub
        ("cert-manager.io", "ClusterIssuer"),
        ("argoproj.io", "ClusterWorkflowTemplate"),
        ("hub.traefik.io", "AccessControlPolicy"),
    }
)

Kind = tuple[str, str]  # (API group, kind)


def declared_scopes(resources: Iterable[Resource]) -> dict[Kind, bool]:
    """Whether each custom kind the CRDs among `resources` define is cluster-scoped."""
    scopes: dict[Kind, bool] = {}
    for resource in resources:
        if resource.id.kind != "CustomResourceDefinition" or resource.id.group != "apiextensions.k8s.io":
            continue
        spec = as_dict(resource.body.get("spec"))
        kind = as_dict(spec.get("names")).get("kind")
        if isinstance(kind, str) and kind:
            scopes.setdefault((str(spec.get("group", "")), kind), spec.get("scope") == "Cluster")
    return scopes


def cluster_scoped(group: str, kind: str, declared: dict[Kind, bool]) -> bool:
    """Whether objects of `kind` in `group` have no namespace, given the chart's CRDs."""
    known = declared.get((group, kind))
    if known is not None:
        return known
    return kind in CLUSTER_SCOPED_KINDS or (group, kind) in WELL_KNOWN_CLUSTER_SCOPED
