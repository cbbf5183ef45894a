"""One side of a comparison (the base or the head of a change) as the core sees it: the
resources its chart rendered, the chart's files and the values files it was rendered with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .chart import ChartInfo, MaterializedChart
from .model import Resource, ResourceId

Side = Literal["base", "head"]


@dataclass(frozen=True, slots=True)
class ValuesSource:
    """A values file a side was rendered with: `key` is the same on both sides (the chart's own
    values.yaml by its Helm path, others by name), `path` is where it is in the repository."""

    key: str
    path: str
    text: str


@dataclass(slots=True)
class ChartSide:
    """One side of a chart: its resources, its files, and the values it was rendered with; or
    the error that kept it from rendering."""

    resources: dict[ResourceId, Resource] = field(default_factory=dict)
    chart: MaterializedChart | None = None
    values: tuple[ValuesSource, ...] = ()
    error: str | None = None
    lint_errors: tuple[str, ...] = ()

    @property
    def info(self) -> ChartInfo | None:
        return self.chart.info if self.chart is not None else None
