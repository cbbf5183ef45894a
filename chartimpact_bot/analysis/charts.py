"""Chart discovery and materialization.

A chart is every directory holding a `Chart.yaml`, except subcharts vendored under another
chart's `charts/`. Materializing a chart writes it, with its dependencies, into a private
directory that Helm can load: vendored subcharts and `.tgz` archives (checked, then unpacked),
`file://` dependencies copied from the same source, and remote dependencies that cannot be
fetched left out with a warning.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .archive import read_chart_archive
from .errors import ChartError
from .sources import ChartSource, FileEntry, clean_path
from .yamlio import load_yaml

MAX_CHART_BYTES = 128 * 1024 * 1024
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


def chart_dirs(listing: Iterable[str]) -> list[str]:
    """Directories holding a Chart.yaml, without subcharts vendored in another chart's charts/."""
    candidates = sorted(
        posixpath.dirname(path) for path in listing if posixpath.basename(path) == CHART_FILE
    )
    found = set(candidates)
    return [path for path in candidates if not _vendored(path, found)]


def _vendored(path: str, charts: set[str]) -> bool:
    parts = path.split("/")
    for i, part in enumerate(parts):
        if part == "charts" and i > 0 and "/".join(parts[:i]) in charts:
            return True
        if part == "charts" and i == 0 and "" in charts:
            return True
    return False


def discover_charts(source: ChartSource) -> dict[str, ChartInfo]:
    """Every chart of the source by its directory; a broken Chart.yaml raises ChartError."""
    listing = source.list_files("")
    dirs = chart_dirs(listing)
    contents = source.read_many(_chart_file(d) for d in dirs)
    return {d: parse_chart_info(d, contents[_chart_file(d)], source, listing) for d in dirs}


def load_chart_info(source: ChartSource, path: str) -> ChartInfo:
    """The chart at `path`; ChartError when there is none."""
    listing = source.list_files(path)
    chart_file = _chart_file(path)
    if chart_file not in listing:
        shown = path or "."
        raise ChartError(f"'{shown}' is not a Helm chart: it has no {CHART_FILE}")
    content = source.read_many([chart_file])[chart_file]
    return parse_chart_info(path, content, source, listing)


def parse_chart_info(
    path: str, content: bytes, source: ChartSource, listing: Mapping[str, FileEntry]
) -> ChartInfo:
    chart_file = _chart_file(path)
    meta = _yaml_mapping(content, chart_file)
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ChartError(f"{chart_file} has no chart name")
    raw_deps = meta.get("dependencies")
    requirements = _join(path, "requirements.yaml")
    if raw_deps is None and meta.get("apiVersion") == "v1" and requirements in listing:
        # Helm v2 charts declare dependencies in requirements.yaml.
        raw_deps = _yaml_mapping(source.read_many([requirements])[requirements], requirements).get(
            "dependencies"
        )
    return ChartInfo(
        path=path,
        name=name,
        version=str(meta.get("version", "")),
        dependencies=_parse_dependencies(raw_deps, chart_file),
    )


def dependency_dirs(source: ChartSource, chart: ChartInfo) -> list[str]:
    """Source directories of the chart's `file://` dependencies, transitively."""
    seen: set[str] = {chart.path}
    order: list[str] = []
    pending = [chart]
    while pending:
        current = pending.pop()
        for dep in current.dependencies:
            target = _local_dependency_path(current.path, dep)
            if target is None or target in seen:
                continue
            seen.add(target)
            try:
                dep_info = load_chart_info(source, target)
            except ChartError:
                continue
            order.append(target)
            pending.append(dep_info)
    return sorted(order)


def materialize(
    source: ChartSource, chart: ChartInfo, into: Path, *, max_bytes: int = MAX_CHART_BYTES
) -> MaterializedChart:
    """Write the chart and its dependencies under `into` as a directory Helm can load."""
    out = MaterializedChart(directory=into / "chart", info=chart)
    budget = _Budget(max_bytes, chart.path or ".")
    _write_chart(
        source,
        chart,
        out.directory,
        helm_prefix=f"{chart.name}/",
        out=out,
        budget=budget,
        visiting={chart.path},
    )
    return out


@dataclass(slots=True)
class _Budget:
    remaining: int
    label: str

    def spend(self, size: int) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise ChartError(f"chart '{self.label}' with its dependencies is larger than the limit")


def _write_chart(
    source: ChartSource,
    chart: ChartInfo,
    directory: Path,
    *,
    helm_prefix: str,
    out: MaterializedChart,
    budget: _Budget,
    visiting: set[str],
) -> None:
    listing = source.list_files(chart.path)
    for entry in listing.values():
        budget.spend(entry.size)
    contents = source.read_many(sorted(listing))
    out.origins.append(Origin(helm_prefix=helm_prefix, source_path=chart.path))
    prefix_len = len(chart.path) + 1 if chart.path else 0
    vendored: set[str] = set()
    for path, content in sorted(contents.items()):
        relative = path[prefix_len:]
        out.files[posixpath.join(helm_prefix, relative)] = content
        parts = relative.split("/")
        if len(parts) == 2 and parts[0] == "charts" and parts[1].endswith((".tgz", ".tar.gz")):
            vendored.add(
                _unpack_archive(
                    path,
                    content,
                    chart_dir=directory,
                    helm_prefix=helm_prefix,
                    out=out,
                    budget=budget,
                )
            )
            continue
        if len(parts) == 3 and parts[0] == "charts" and parts[2] == CHART_FILE:
            sub_name = _chart_name(content, path)
            vendored.add(sub_name)
            out.origins.append(
                Origin(
                    helm_prefix=f"{helm_prefix}charts/{sub_name}/",
                    source_path=posixpath.dirname(path),
                )
            )
        _write(directory / relative, content)

    missing: list[Dependency] = []
    for dep in chart.dependencies:
        if dep.name in vendored:
            continue
        target = _local_dependency_path(chart.path, dep)
        if dep.local_path is None:
            where = dep.repository or "no repository"
            out.warnings.append(
                f"dependency '{dep.name}' ({where}) of chart '{chart.name}' could not be "
                "fetched; rendered without it"
            )
            missing.append(dep)
        elif target is None:
            out.warnings.append(
                f"dependency '{dep.name}' of chart '{chart.name}' points outside the "
                f"repository ({dep.repository}); rendered without it"
            )
            missing.append(dep)
        elif target in visiting:
            out.warnings.append(
                f"dependency '{dep.name}' of chart '{chart.name}' forms a cycle; "
                "rendered without it"
            )
            missing.append(dep)
        else:
            try:
                dep_info = load_chart_info(source, target)
            except ChartError:
                out.warnings.append(
                    f"dependency '{dep.name}' of chart '{chart.name}' is not a chart at "
                    f"'{target}'; rendered without it"
                )
                missing.append(dep)
                continue
            _write_chart(
                source,
                dep_info,
                directory / "charts" / dep.name,
                helm_prefix=f"{helm_prefix}charts/{dep_info.name}/",
                out=out,
                budget=budget,
                visiting=visiting | {target},
            )
    if missing:
        _drop_dependencies(directory / CHART_FILE, {d.name for d in missing})


def _unpack_archive(
    path: str,
    content: bytes,
    *,
    chart_dir: Path,
    helm_prefix: str,
    out: MaterializedChart,
    budget: _Budget,
) -> str:
    top, files = read_chart_archive(content, label=f"archive '{path}'")
    for data in files.values():
        budget.spend(len(data))
    if CHART_FILE not in files:
        raise ChartError(f"archive '{path}' holds no {CHART_FILE}")
    name = _chart_name(files[CHART_FILE], path)
    target = chart_dir / "charts" / _safe_component(top)
    for relative, data in files.items():
        _write(target / relative, data)
    out.origins.append(
        Origin(helm_prefix=f"{helm_prefix}charts/{name}/", source_path=path, archive=True)
    )
    return name


def _safe_component(name: str) -> str:
    cleaned = clean_path(name)
    if not cleaned or "/" in cleaned:
        raise ChartError(f"archive directory '{name}' is not a plain name")
    return cleaned


def _write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def _drop_dependencies(chart_file: Path, names: set[str]) -> None:
    """Remove unresolvable dependencies so every Helm backend renders without them alike."""
    meta = yaml.safe_load(chart_file.read_text(encoding="utf-8"))
    if isinstance(meta, dict) and isinstance(meta.get("dependencies"), list):
        meta["dependencies"] = [
            d for d in meta["dependencies"] if not (isinstance(d, dict) and d.get("name") in names)
        ]
        chart_file.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    requirements = chart_file.with_name("requirements.yaml")
    if requirements.exists():
        requirements.unlink()


def _local_dependency_path(chart_path: str, dep: Dependency) -> str | None:
    local = dep.local_path
    if local is None:
        return None
    return clean_path(posixpath.join(chart_path, local)) if not local.startswith("/") else None


def _chart_file(path: str) -> str:
    return _join(path, CHART_FILE)


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _chart_name(content: bytes, label: str) -> str:
    name = _yaml_mapping(content, label).get("name")
    if not isinstance(name, str) or not name:
        raise ChartError(f"{label} has no chart name")
    return name


def _yaml_mapping(content: bytes, label: str) -> dict[str, Any]:
    try:
        data = load_yaml(content)
    except yaml.YAMLError as exc:
        raise ChartError(f"{label} is not valid YAML: {_first_line(exc)}") from exc
    if not isinstance(data, dict):
        raise ChartError(f"{label} is not a YAML mapping")
    return data


def _parse_dependencies(raw: Any, label: str) -> tuple[Dependency, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ChartError(f"{label}: 'dependencies' is not a list")
    deps = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ChartError(f"{label}: a dependency has no name")
        deps.append(
            Dependency(
                name=item["name"],
                version=_opt_str(item.get("version")),
                repository=_opt_str(item.get("repository")),
                alias=_opt_str(item.get("alias")),
            )
        )
    return tuple(deps)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
