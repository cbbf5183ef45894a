"""One side's resources indexed for the lookups detectors make across resources: by kind, by
kind and name, the workloads by their pod labels, HorizontalPodAutoscalers by their target,
PodDisruptionBudgets and NetworkPolicies by the labels they select.

Each index is built once per side of a chart, the first time a detector needs it, so that a
detector that looks something up for every resource costs one lookup each rather than a scan
of the whole side each. Every lookup answers exactly what the scan answered, in the same order
(the order of the side's resources).
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property
from typing import Any

from ..kubernetes.bodies import as_dict, get
from ..kubernetes.label_index import LabelIndex, SelectorIndex, hashable, required_labels
from ..kubernetes.network_policies import selects
from ..kubernetes.selectors import labels_match
from ..kubernetes.workloads import PodTemplate, pod_template
from ..model import Resource, ResourceId


class SideIndex:
    def __init__(self, resources: dict[ResourceId, Resource]) -> None:
        self._resources = resources

    @cached_property
    def _by_kind(self) -> dict[str, list[Resource]]:
        found: dict[str, list[Resource]] = {}
        for resource in self._resources.values():
            found.setdefault(resource.id.kind, []).append(resource)
        return found

    def of_kind(self, kind: str) -> list[Resource]:
        """The side's resources of `kind` (any API group), in the side's order."""
        return self._by_kind.get(kind, [])

    @cached_property
    def workloads(self) -> list[tuple[Resource, PodTemplate]]:
        """Every resource with a pod template, and its template, in the side's order."""
        found = []
        for resource in self._resources.values():
            pod = pod_template(resource)
            if pod is not None:
                found.append((resource, pod))
        return found

    @cached_property
    def _workload_labels(self) -> LabelIndex[Resource]:
        return LabelIndex((w, w.id.namespace, pod.metadata.get("labels")) for w, pod in self.workloads)

    def selected_workloads(self, selector: Any, namespace: str) -> list[Resource]:
        """Workloads in `namespace` whose pod template labels `selector` selects
        (`labels_match`: an empty selector selects nothing)."""
        if not isinstance(selector, dict) or not selector:
            return []
        return self._workload_labels.select(
            namespace, required_labels(selector), lambda labels: labels_match(selector, labels)
        )

    def selected_by_policy(self, policy: Resource) -> list[Resource]:
        """Workloads whose pods a NetworkPolicy's podSelector selects (`selects`: an empty one
        selects every pod of its namespace)."""
        namespace = policy.id.namespace
        return self._workload_labels.select(
            namespace,
            required_labels(get(policy.body, "spec", "podSelector")),
            lambda labels: selects(policy, namespace, labels),
        )

    @cached_property
    def _named(self) -> dict[tuple[str, str], list[Resource]]:
        found: dict[tuple[str, str], list[Resource]] = {}
        for resource in self._resources.values():
            found.setdefault((resource.id.kind, resource.id.name), []).append(resource)
        return found

    def named(self, kind: str, name: str) -> list[Resource]:
        """The side's resources of `kind` named `name` (in any namespace), in the side's order."""
        return self._named.get((kind, name), [])

    def resource(self, kind: str, namespace: str, name: str) -> Resource | None:
        """The first resource of `kind` named `name` in `namespace`, or cluster-scoped."""
        for resource in self.named(kind, name):
            if resource.id.namespace in (namespace, ""):
                return resource
        return None

    @cached_property
    def _hpas(self) -> dict[tuple[str, Hashable, Hashable], list[Resource]]:
        found: dict[tuple[str, Hashable, Hashable], list[Resource]] = {}
        for hpa in self.of_kind("HorizontalPodAutoscaler"):
            target = as_dict(get(hpa.body, "spec", "scaleTargetRef"))
            key = (hpa.id.namespace, target.get("kind"), target.get("name"))
            if hashable(key):
                found.setdefault(key, []).append(hpa)
        return found

    def hpas_targeting(self, workload: Resource) -> list[Resource]:
        """HorizontalPodAutoscalers of the workload's namespace whose scaleTargetRef names it."""
        return self._hpas.get((workload.id.namespace, workload.id.kind, workload.id.name), [])

    @cached_property
    def _pdbs(self) -> SelectorIndex[Resource]:
        return SelectorIndex(
            ((pdb, pdb.id.namespace, get(pdb.body, "spec", "selector")) for pdb in self.of_kind("PodDisruptionBudget")),
            self._workload_labels.holding,
        )

    def pdbs_covering(self, workload: Resource, pod: PodTemplate | None) -> list[Resource]:
        """PodDisruptionBudgets of the workload's namespace whose selector selects its pods."""
        labels = as_dict(pod.metadata.get("labels")) if pod is not None else {}
        return self._pdbs.select(
            workload.id.namespace, labels, lambda pdb: labels_match(get(pdb.body, "spec", "selector"), labels)
        )

    @cached_property
    def _policies(self) -> SelectorIndex[Resource]:
        return SelectorIndex(
            ((p, p.id.namespace, get(p.body, "spec", "podSelector")) for p in self.of_kind("NetworkPolicy")),
            self._workload_labels.holding,
        )

    def policies_selecting(self, namespace: str, labels: Any) -> list[Resource]:
        """The side's NetworkPolicies that select pods of `namespace` with `labels`."""
        return self._policies.select(namespace, labels, lambda policy: selects(policy, namespace, labels))
