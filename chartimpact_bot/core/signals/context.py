"""What detectors see: both renders of a chart, the structured diff, and cross-resource lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..kubernetes.workloads import pod_template
from ..model import Resource as Res
from ..model import ResourceDiff, ResourceId
from ..sensitive import fingerprint, mask_leaf
from ..side import ChartSide, Side
from ..validation.targets import Target
from .side_index import SideIndex

T = TypeVar("T")


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
    # The Kubernetes releases the chart must work on, oldest first (validation/targets.py).
    targets: tuple[Target, ...] = ()
    # The key of secret fingerprints (PipelineOptions.fingerprint_key), for detectors that show
    # values of their own (values files) rather than of the masked resources.
    fingerprint_key: bytes = field(default=b"", repr=False)
    diff_by_id: dict[ResourceId, ResourceDiff] = field(init=False)
    _indexes: dict[Side, SideIndex] = field(init=False, repr=False)
    _computed: dict[Callable[[SignalContext], Any], Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.diff_by_id = {d.id: d for d in self.diffs}
        self._indexes = {}
        self._computed = {}

    def shown_value(self, path: tuple[str, ...], value: str | None) -> str | None:
        """A values-file scalar as a report may show it: secrets fingerprinted (CONTRACT §2)."""
        if value is None:
            return None
        return mask_leaf(path, value, lambda secret: fingerprint(secret.encode(), self.fingerprint_key))

    def side(self, which: Side) -> ChartSide:
        return self.base if which == "base" else self.head

    def index(self, which: Side) -> SideIndex:
        """The side's resources indexed for lookups across them (built once per side)."""
        index = self._indexes.get(which)
        if index is None:
            index = self._indexes[which] = SideIndex(self.side(which).resources)
        return index

    def once(self, compute: Callable[[SignalContext], T]) -> T:
        """`compute(self)`, computed once per chart: what a detector run on every resource
        derives from the whole chart (the ConfigMaps that changed, by namespace)."""
        if compute not in self._computed:
            self._computed[compute] = compute(self)
        return cast(T, self._computed[compute])

    def computed(self, compute: Callable[[SignalContext], T]) -> T | None:
        """What `once(compute)` computed, or None when no detector asked for it."""
        return cast(T, self._computed[compute]) if compute in self._computed else None

    def of_kind(self, which: Side, kind: str) -> list[Res]:
        """The side's resources of `kind`, in the side's order."""
        return self.index(which).of_kind(kind)

    def named(self, which: Side, kind: str, name: str) -> list[Res]:
        """The side's resources of `kind` named `name`, in any namespace, in the side's order."""
        return self.index(which).named(kind, name)

    def workloads(self, which: Side) -> Iterator[Res]:
        for resource, _ in self.index(which).workloads:
            yield resource

    def selected_workloads(self, selector: Any, namespace: str, which: Side) -> list[Res]:
        """Workloads in `namespace` whose pod template labels the selector selects."""
        return self.index(which).selected_workloads(selector, namespace)

    def hpas_targeting(self, workload: Res, which: Side) -> list[Res]:
        return self.index(which).hpas_targeting(workload)

    def pdbs_covering(self, workload: Res, which: Side) -> list[Res]:
        return self.index(which).pdbs_covering(workload, pod_template(workload))

    def resource(self, which: Side, kind: str, namespace: str, name: str) -> Res | None:
        return self.index(which).resource(kind, namespace, name)

    def chart_resource(self) -> Res:
        """The pseudo-resource chart-level signals are about (kind Chart, named after the chart)."""
        return Res(ResourceId("", "Chart", "", self.chart_name), "v2", {}, self.chart_path, 0)

    def either(self, rid: ResourceId) -> Res:
        """The resource as the head renders it, or as the base did when the head no longer does."""
        return self.head.resources.get(rid) or self.base.resources[rid]
