"""The API groups Kubernetes itself serves. When each of their versions came and went is in
lifecycle.py, generated from upstream data."""

from __future__ import annotations

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
