"""What detectors see: both renders of a chart, the structured diff, and cross-resource lookups."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..kubernetes.bodies import as_dict, get
from ..kubernetes.selectors import labels_match
from ..kubernetes.workloads import pod_template
from ..model import Resource as Res
from ..model import ResourceDiff, ResourceId
from ..semver import Version
from ..sensitive import fingerprint, mask_leaf
from ..side import ChartSide, Side


@dataclass(frozen=True, slots=True)
class Update:
    """A resource on both sides of the change: what `helm upgrade` updates in place."""

    base: Res
    head: Res
    diff: ResourceDiff

    @property
    def id(self) -> ResourceId:
        return self.head.id


@dataclass(slots=True)
class SignalContext:
    chart_name: str
    chart_path: str
    base: ChartSide
    head: ChartSide
    diffs: tuple[ResourceDiff, ...]
    kube_version: Version | None = None
    # The key of secret fingerprints (PipelineOptions.fingerprint_key), for detectors that show
    # values of their own (values files) rather than of the masked resources.
    fingerprint_key: bytes = field(default=b"", repr=False)
    diff_by_id: dict[ResourceId, ResourceDiff] = field(init=False)

    def __post_init__(self) -> None:
        self.diff_by_id = {d.id: d for d in self.diffs}

    def shown_value(self, path: tuple[str, ...], value: str | None) -> str | None:
        """A values-file scalar as a report may show it: secrets fingerprinted (CONTRACT §2)."""
        if value is None:
            return None
        return mask_leaf(path, value, lambda secret: fingerprint(secret.encode(), self.fingerprint_key))

    def side(self, which: Side) -> ChartSide:
        return self.base if which == "base" else self.head

    def workloads(self, which: Side) -> Iterator[Res]:
        for resource in self.side(which).resources.values():
            if pod_template(resource) is not None:
                yield resource

    def selected_workloads(self, selector: Any, namespace: str, which: Side) -> list[Res]:
        """Workloads in `namespace` whose pod template labels the selector selects."""
        found = []
        for workload in self.workloads(which):
            pod = pod_template(workload)
            if (
                pod is not None
                and workload.id.namespace == namespace
                and labels_match(selector, pod.metadata.get("labels"))
            ):
                found.append(workload)
        return found

    def hpas_targeting(self, workload: Res, which: Side) -> list[Res]:
        return [
            hpa
            for hpa in self.side(which).resources.values()
            if hpa.id.kind == "HorizontalPodAutoscaler"
            and hpa.id.namespace == workload.id.namespace
            and get(hpa.body, "spec", "scaleTargetRef", "kind") == workload.id.kind
            and get(hpa.body, "spec", "scaleTargetRef", "name") == workload.id.name
        ]

    def pdbs_covering(self, workload: Res, which: Side) -> list[Res]:
        pod = pod_template(workload)
        labels = as_dict(pod.metadata.get("labels")) if pod is not None else {}
        return [
            pdb
            for pdb in self.side(which).resources.values()
            if pdb.id.kind == "PodDisruptionBudget"
            and pdb.id.namespace == workload.id.namespace
            and labels_match(get(pdb.body, "spec", "selector"), labels)
        ]

    def resource(self, which: Side, kind: str, namespace: str, name: str) -> Res | None:
        for rid, resource in self.side(which).resources.items():
            if rid.kind == kind and rid.name == name and rid.namespace in (namespace, ""):
                return resource
        return None

    def chart_resource(self) -> Res:
        """The pseudo-resource chart-level signals are about (kind Chart, named after the chart)."""
        return Res(ResourceId("", "Chart", "", self.chart_name), "v2", {}, self.chart_path, 0)

    def either(self, rid: ResourceId) -> Res:
        """The resource as the head renders it, or as the base did when the head no longer does."""
        return self.head.resources.get(rid) or self.base.resources[rid]
