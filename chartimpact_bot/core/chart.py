"""What a chart is, once read: its metadata (`Chart.yaml`, dependencies, locked versions) and the
files it was rendered from, with where each came from in the repository.

The engine builds these (`engine/charts.py` reads and materializes charts); the core only reads
them, to locate a finding's source line and to compare two versions' metadata.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

CHART_FILE = "Chart.yaml"


@dataclass(frozen=True, slots=True)
class Dependency:
    name: str
    version: str | None
    repository: str | None
    alias: str | None

    @property
    def local_path(self) -> str | None:
        """The path after `file://`, or None for a remote or vendored dependency."""
        if self.repository and self.repository.startswith("file://"):
            return self.repository[len("file://") :]
        return None


@dataclass(frozen=True, slots=True)
class ChartInfo:
    path: str
    name: str
    version: str
    dependencies: tuple[Dependency, ...]
    locked: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the files under a Helm template path prefix come from in the source."""

    helm_prefix: str
    source_path: str
    archive: bool = False


@dataclass(slots=True)
class MaterializedChart:
    directory: Path
    info: ChartInfo
    files: dict[str, bytes] = field(default_factory=dict)
    origins: list[Origin] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def source_file(self, helm_path: str) -> str:
        """The source file behind a Helm template path such as `web/templates/svc.yaml`."""
        best: Origin | None = None
        for origin in self.origins:
            if helm_path.startswith(origin.helm_prefix) and (
                best is None or len(origin.helm_prefix) > len(best.helm_prefix)
            ):
                best = origin
        if best is None:
            return helm_path
        if best.archive:
            return best.source_path
        rest = helm_path[len(best.helm_prefix) :]
        return posixpath.join(best.source_path, rest) if best.source_path else rest
