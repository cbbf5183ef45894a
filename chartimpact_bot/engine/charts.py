"""Chart discovery and materialization.

A chart is every directory holding a `Chart.yaml`, except subcharts vendored under another
chart's `charts/`. Materializing a chart writes it, with its dependencies, into a private
directory that Helm can load: vendored subcharts and `.tgz` archives (checked, then unpacked),
`file://` dependencies copied from the same source, remote ones fetched from HTTP(S)
repositories and OCI registries (`remote/`), and those that cannot be fetched left out with a
warning.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..core.chart import CHART_FILE, ChartInfo, Dependency, MaterializedChart, Origin
from ..core.errors import ChartError, brief
from ..core.yamlio import METADATA_LIMITS, load_untrusted
from .archive import read_chart_archive
from .remote import DependencyFetcher, FetchError
from .sources import ChartSource, FileEntry, clean_path, is_plain_path, under

MAX_CHART_BYTES = 128 * 1024 * 1024


def chart_dirs(listing: Iterable[str]) -> list[str]:
    """Directories holding a Chart.yaml, without subcharts vendored in another chart's charts/."""
    candidates = sorted(posixpath.dirname(path) for path in listing if posixpath.basename(path) == CHART_FILE)
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
    found = survey_charts(source)
    for info in found.values():
        if isinstance(info, ChartError):
            raise info
    return {path: info for path, info in found.items() if isinstance(info, ChartInfo)}


def survey_charts(source: ChartSource) -> dict[str, ChartInfo | ChartError]:
    """Every chart of the source by its directory, with the error of each that cannot be read:
    one broken chart in a repository must not keep the others from being analyzed."""
    listing = source.list_files("")
    dirs = chart_dirs(listing)
    contents = source.read_many(_chart_file(d) for d in dirs)
    found: dict[str, ChartInfo | ChartError] = {}
    for d in dirs:
        try:
            found[d] = parse_chart_info(d, contents[_chart_file(d)], source, listing)
        except ChartError as exc:
            found[d] = exc
    return found


def load_chart_info(source: ChartSource, path: str) -> ChartInfo:
    """The chart at `path`; ChartError when there is none."""
    listing = source.list_files(path)
    chart_file = _chart_file(path)
    if chart_file not in listing:
        shown = path or "."
        raise ChartError(f"'{shown}' is not a Helm chart: it has no {CHART_FILE}")
    content = source.read_many([chart_file])[chart_file]
    return parse_chart_info(path, content, source, listing)


def parse_chart_info(path: str, content: bytes, source: ChartSource, listing: Mapping[str, FileEntry]) -> ChartInfo:
    chart_file = _chart_file(path)
    meta = _yaml_mapping(content, chart_file)
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ChartError(f"{chart_file} has no chart name")
    raw_deps = meta.get("dependencies")
    requirements = _join(path, "requirements.yaml")
    if raw_deps is None and meta.get("apiVersion") == "v1" and requirements in listing:
        # Helm v2 charts declare dependencies in requirements.yaml.
        raw_deps = _yaml_mapping(source.read_many([requirements])[requirements], requirements).get("dependencies")
    return ChartInfo(
        path=path,
        name=name,
        version=str(meta.get("version", "")),
        dependencies=_parse_dependencies(raw_deps, chart_file),
        locked=_locked_versions(path, source, listing),
    )


def _locked_versions(path: str, source: ChartSource, listing: Mapping[str, FileEntry]) -> dict[str, str]:
    """Versions pinned by Chart.lock (requirements.lock for Helm v2 charts)."""
    for name in ("Chart.lock", "requirements.lock"):
        lock_file = _join(path, name)
        if lock_file in listing:
            try:
                data = load_untrusted(source.read_many([lock_file])[lock_file], METADATA_LIMITS)
            except yaml.YAMLError:
                return {}
            deps = data.get("dependencies") if isinstance(data, dict) else None
            return {
                str(d["name"]): str(d["version"])
                for d in deps or []
                if isinstance(d, dict) and d.get("name") and d.get("version")
            }
    return {}


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
    source: ChartSource,
    chart: ChartInfo,
    into: Path,
    *,
    fetcher: DependencyFetcher | None = None,
    max_bytes: int = MAX_CHART_BYTES,
) -> MaterializedChart:
    """Write the chart and its dependencies under `into` as a directory Helm can load."""
    out = MaterializedChart(directory=into / "chart", info=chart)
    writer = _Materializer(source, out, _Budget(max_bytes, chart.path or "."), fetcher, into)
    writer.write_chart(chart, out.directory, helm_prefix=f"{chart.name}/", visiting={chart.path})
    return out


@dataclass(slots=True)
class _Budget:
    remaining: int
    label: str

    def spend(self, size: int) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise ChartError(f"chart '{self.label}' with its dependencies is larger than the limit")


@dataclass(slots=True)
class _Materializer:
    source: ChartSource
    out: MaterializedChart
    budget: _Budget
    fetcher: DependencyFetcher | None
    # Every file is written below this directory, whatever a path from the source says.
    root: Path

    def write_chart(self, chart: ChartInfo, directory: Path, *, helm_prefix: str, visiting: set[str]) -> None:
        vendored = self._copy_files(chart, directory, helm_prefix)
        missing: list[str] = []
        for dep in chart.dependencies:
            if dep.name in vendored:
                continue
            if dep.local_path is not None:
                problem = self._local(chart, dep, directory, helm_prefix, visiting)
            else:
                problem = self._remote(chart, dep, directory, helm_prefix)
            if problem is not None:
                self.out.warnings.append(
                    f"dependency '{dep.name}' of chart '{chart.name}' {problem}; rendered without it"
                )
                missing.append(dep.name)
        if missing:
            _drop_dependencies(directory / CHART_FILE, set(missing))

    def _copy_files(self, chart: ChartInfo, directory: Path, helm_prefix: str) -> set[str]:
        """Copy the chart's own files; unpack archives in charts/. Names of vendored subcharts."""
        listing = dict(self.source.list_files(chart.path))
        for path, entry in sorted(listing.items()):
            if entry.link is not None and not under(entry.link, chart.path):
                # A link to `../../.git/config` would hand the repository's secrets to `.Files`.
                self.out.warnings.append(
                    f"symbolic link '{path}' points outside chart '{chart.name}' (to '{entry.link}'); left out"
                )
                del listing[path]
        for path, why in sorted(self.source.left_out(chart.path).items()):
            self.out.warnings.append(f"symbolic link '{path}' of chart '{chart.name}' is left out: {why}")
        for entry in listing.values():
            self.budget.spend(entry.size)
        contents = self.source.read_many(sorted(listing))
        self.out.origins.append(Origin(helm_prefix=helm_prefix, source_path=chart.path))
        prefix_len = len(chart.path) + 1 if chart.path else 0
        vendored: set[str] = set()
        for path, content in sorted(contents.items()):
            relative = path[prefix_len:]
            self.out.files[posixpath.join(helm_prefix, relative)] = content
            parts = relative.split("/")
            if len(parts) == 2 and parts[0] == "charts" and parts[1].endswith((".tgz", ".tar.gz")):
                top, files = read_chart_archive(content, label=f"archive '{path}'")
                vendored.add(self._unpack(top, files, directory, helm_prefix, origin=path))
                continue
            if len(parts) == 3 and parts[0] == "charts" and parts[2] == CHART_FILE:
                sub_name = _chart_name(content, path)
                vendored.add(sub_name)
                self.out.origins.append(
                    Origin(
                        helm_prefix=f"{helm_prefix}charts/{sub_name}/",
                        source_path=posixpath.dirname(path),
                    )
                )
            self._write(directory, relative, content)
        return vendored

    def _local(
        self,
        chart: ChartInfo,
        dep: Dependency,
        directory: Path,
        helm_prefix: str,
        visiting: set[str],
    ) -> str | None:
        target = _local_dependency_path(chart.path, dep)
        if target is None:
            return f"points outside the repository ({dep.repository})"
        if target in visiting:
            return "forms a cycle"
        try:
            dep_info = load_chart_info(self.source, target)
        except ChartError:
            return f"is not a chart at '{target}'"
        try:
            dep_directory = directory / "charts" / _safe_component(dep.name)
        except ChartError:
            return "has a name that is not a plain directory name"
        self.write_chart(
            dep_info,
            dep_directory,
            helm_prefix=f"{helm_prefix}charts/{dep_info.name}/",
            visiting=visiting | {target},
        )
        return None

    def _remote(self, chart: ChartInfo, dep: Dependency, directory: Path, helm_prefix: str) -> str | None:
        repository = dep.repository or ""
        shown = _without_user_info(repository)
        if not repository.startswith(("https://", "http://", "oci://")):
            kind = "a repository alias cannot be resolved here" if repository else "no repository"
            return f"({shown or 'none'}) could not be fetched: {kind}"
        if self.fetcher is None:
            return f"({shown}) could not be fetched: fetching is turned off"
        version = chart.locked.get(dep.name) or dep.version
        try:
            fetched = self.fetcher.fetch(repository, dep.name, version)
            top, files = read_chart_archive(fetched.archive, label=f"'{dep.name}' {fetched.version}")
        except (FetchError, ChartError) as exc:
            return f"({shown}) could not be fetched: {exc}"
        chart_file = _chart_file(chart.path)
        self._unpack(top, files, directory, helm_prefix, origin=chart_file)
        return None

    def _unpack(self, top: str, files: dict[str, bytes], chart_dir: Path, helm_prefix: str, *, origin: str) -> str:
        for data in files.values():
            self.budget.spend(len(data))
        if CHART_FILE not in files:
            raise ChartError(f"archive for '{origin}' holds no {CHART_FILE}")
        name = _chart_name(files[CHART_FILE], origin)
        target = chart_dir / "charts" / _safe_component(top)
        for relative, data in files.items():
            self._write(target, relative, data)
        self.out.origins.append(Origin(helm_prefix=f"{helm_prefix}charts/{name}/", source_path=origin, archive=True))
        return name

    def _write(self, directory: Path, relative: str, content: bytes) -> None:
        """Write `relative` below `directory`, refusing any path that would leave the root.

        A lexical check is enough, and a `resolve()` per file would cost a path walk each:
        `directory` is built here from checked names, and nothing writes links into the root."""
        if not is_plain_path(relative) or not directory.is_relative_to(self.root):
            raise ChartError(f"file '{relative}' of chart '{self.out.info.name}' would be written outside the chart")
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _without_user_info(url: str) -> str:
    """A repository URL as a warning shows it: a password written into it is masked."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if sep and "@" in authority:
        return f"{scheme}://***@{authority.rpartition('@')[2]}{slash}{path}"
    return url


def _safe_component(name: str) -> str:
    cleaned = clean_path(name)
    if not cleaned or "/" in cleaned:
        raise ChartError(f"archive directory '{name}' is not a plain name")
    return cleaned


def _drop_dependencies(chart_file: Path, names: set[str]) -> None:
    """Remove unresolvable dependencies so every Helm backend renders without them alike."""
    meta = load_untrusted(chart_file.read_bytes(), METADATA_LIMITS)
    if isinstance(meta, dict) and isinstance(meta.get("dependencies"), list):
        meta["dependencies"] = [d for d in meta["dependencies"] if not (isinstance(d, dict) and d.get("name") in names)]
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
        data = load_untrusted(content, METADATA_LIMITS)
    except yaml.YAMLError as exc:
        raise ChartError(f"{label} is not valid YAML: {brief(exc)}") from exc
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
