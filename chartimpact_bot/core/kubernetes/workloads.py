"""Pod-bearing kinds: where each keeps its pod template, which ones scale, roll out or have an
immutable selector, and how many replicas they declare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import Resource
from .bodies import as_dict, get

# Where the pod spec lives in each pod-bearing kind, Argo Rollouts included (the same shape as a
# Deployment's); its template (`metadata` and `spec`) is the path without the last step.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOAD_KINDS = frozenset(POD_SPEC_PATHS)
# Kinds with a `spec.replicas`.
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Rollout"})
# Kinds whose pods are replaced when the pod template changes.
ROLLING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Rollout"})
# Kinds whose `spec.selector` cannot change after creation.
IMMUTABLE_SELECTOR_KINDS = frozenset({"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job"})
# The field that holds each kind's rollout strategy.
STRATEGY_FIELDS: dict[str, str] = {
    "Deployment": "strategy",
    "StatefulSet": "updateStrategy",
    "DaemonSet": "updateStrategy",
}


@dataclass(frozen=True, slots=True)
class PodTemplate:
    """A pod spec, its template's metadata, and where the spec sits in its resource."""

    spec: dict[str, Any]
    metadata: dict[str, Any]
    spec_path: tuple[str, ...]

    @property
    def template_path(self) -> tuple[str, ...]:
        """Where the template (metadata and spec) sits: `spec.template`, `()` for a Pod."""
        return self.spec_path[:-1]

    @property
    def service_account(self) -> Any:
        """The service account the pod names (the deprecated `serviceAccount` too), if any."""
        return self.spec.get("serviceAccountName") or self.spec.get("serviceAccount")


def pod_template(resource: Resource | None) -> PodTemplate | None:
    if resource is None:
        return None
    path = POD_SPEC_PATHS.get(resource.id.kind)
    if path is None:
        return None
    template = get(resource.body, *path[:-1])
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        return None
    return PodTemplate(template["spec"], as_dict(template.get("metadata")), path)


def replicas_of(resource: Resource | None) -> int | None:
    """Declared replicas; Kubernetes defaults an absent field to 1."""
    if resource is None or resource.id.kind not in SCALABLE_KINDS:
        return None
    value = get(resource.body, "spec", "replicas")
    if value is None:
        return 1
    return value if isinstance(value, int) and not isinstance(value, bool) else None
