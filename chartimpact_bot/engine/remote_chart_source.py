"""A remote chart of a deployment manifest, fetched and mounted beside the repository's files.

The archive comes through the same fetchers and archive checks as remote dependencies (the URL
and the version come from a pull request): the SSRF guard, size and time bounds, digests. Its
files appear below the chart's `mount` path; every other path reads the repository, so the
values files a manifest names, in the repository or in the chart, are read alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..core.chart import ChartInfo
from ..core.errors import AnalysisError, ChartError, SourceError
from ..core.gitops.remote_chart import RemoteChart
from ..core.model import Revision
from .archive import read_chart_archive
from .charts import load_chart_info
from .remote import DependencyFetcher, FetchError
from .sources import ChartSource, FileEntry, MemorySource, under


class MountedSource:
    """`inner` with `files` placed below `mount` (which hides whatever `inner` has there)."""

    def __init__(self, inner: ChartSource, mount: str, files: Mapping[str, bytes]) -> None:
        self._inner = inner
        self._mount = mount
        self._files = MemorySource({f"{mount}/{path}": data for path, data in files.items()})

    @property
    def revision(self) -> Revision:
        return self._inner.revision

    def list_files(self, prefix: str = "") -> Mapping[str, FileEntry]:
        mounted = dict(self._files.list_files(prefix)) if _overlaps(prefix, self._mount) else {}
        if under(prefix, self._mount):
            return mounted
        outside = {p: e for p, e in self._inner.list_files(prefix).items() if not under(p, self._mount)}
        return {**outside, **mounted}

    def read_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        wanted = list(paths)
        mounted = [p for p in wanted if under(p, self._mount)]
        out = self._files.read_many(mounted) if mounted else {}
        rest = [p for p in wanted if not under(p, self._mount)]
        if rest:
            out.update(self._inner.read_many(rest))
        return out

    def left_out(self, prefix: str = "") -> Mapping[str, str]:
        return {} if under(prefix, self._mount) else self._inner.left_out(prefix)


def _overlaps(prefix: str, mount: str) -> bool:
    return under(prefix, mount) or under(mount, prefix)


def fetch_remote_chart(
    source: ChartSource, chart: RemoteChart, fetcher: DependencyFetcher | None
) -> tuple[MountedSource, ChartInfo]:
    """The repository with the chart mounted (at `chart.mount`), and the chart as read there.
    ChartError says, in a sentence, why the chart cannot be had."""
    where = f"chart '{chart.name}' from {chart.display.rsplit('/', 1)[0]}"
    if fetcher is None:
        raise ChartError(f"{where} could not be fetched: fetching remote charts is turned off")
    try:
        fetched = fetcher.fetch(chart.repository, chart.name, chart.version)
        _top, files = read_chart_archive(fetched.archive, label=f"'{chart.name}' {fetched.version}")
    except (FetchError, AnalysisError) as exc:
        wanted = f" {chart.version}" if chart.version else ""
        raise ChartError(f"{where}{wanted} could not be fetched: {exc}") from exc
    if "Chart.yaml" not in files:
        raise ChartError(f"{where} {fetched.version}: the archive holds no Chart.yaml")
    mounted = MountedSource(source, chart.mount, files)
    try:
        return mounted, load_chart_info(mounted, chart.mount)
    except SourceError as exc:
        raise ChartError(f"{where} {fetched.version} cannot be read: {exc}") from exc
