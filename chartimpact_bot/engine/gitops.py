"""Charts as the repository deploys them (issue 13): the Argo CD Applications of each side, each
Helm source of which is a deployment of a chart of this repository with its own values.

Which files may hold a manifest is decided from the listing alone (`manifest_candidates`), so
the App can fetch them with the chart metadata before anything is parsed: YAML files outside
chart directories, each at most MAX_MANIFEST_BYTES, at most MAX_MANIFESTS of them (the rest are
left out, said in a warning). A chart used by an Application is analyzed once per Application
that deploys it, with its values, instead of with the chart's defaults.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..core.config import Environment
from ..core.errors import SourceError
from ..core.gitops.applicationset import ApplicationSet, application_sets, generate, match_pattern
from ..core.gitops.argocd import Application, HelmSource, applications, environment
from ..core.gitops.flux import HELM_GROUP as FLUX_GROUP
from ..core.gitops.flux import releases
from ..core.gitops.kustomize import Patch, patch_files, patches
from ..core.gitops.remote_chart import RemoteChart
from .sources import ChartSource, FileEntry

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_MANIFEST_BYTES = 256 * 1024
MAX_MANIFESTS = 300
CHART_FILE = "Chart.yaml"
CONFIG_FILE = ".chartimpact.yml"


@dataclass(frozen=True, slots=True)
class Deployed:
    """How one side deploys a chart: the chart's directory in the repository, or the mount of a
    chart repository's chart (`remote`), and the environment it is rendered with."""

    chart_path: str
    environment: Environment
    remote: RemoteChart | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    """One Helm source of one Application on each side (None where it does not exist)."""

    key: tuple[str, str, int]  # (Application name, its file when the name is not unique, source index)
    chart_path: str
    base: Deployed | None
    head: Deployed | None
    # Missing on a side whose manifests were not all read (more than MAX_MANIFESTS): it may be
    # there, so it is not reported as added or removed.
    uncertain: bool = False


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A deployment whose chart cannot be found (an Application's Helm source that names no chart
    of this repository or of an HTTP/OCI chart repository, a HelmRelease whose source is not in
    the repository, an ApplicationSet that generates nothing): reported, never silently dropped.
    `signature` tells whether the manifest changed between the sides."""

    key: tuple[str, str, int]
    kind: str  # "Application", "HelmRelease", "ApplicationSet"
    name: str
    file: str
    reason: str
    signature: str


def manifest_candidates(listing: Mapping[str, FileEntry], patterns: tuple[str, ...] | None = None) -> list[str]:
    """The files of a listing that may hold Argo CD or Flux manifests, sorted, bounded;
    `patterns` (`gitops.manifests`): only files one of these globs matches."""
    return _candidates(listing, patterns)[:MAX_MANIFESTS]


def _candidates(listing: Mapping[str, FileEntry], patterns: tuple[str, ...] | None) -> list[str]:
    if patterns is not None and not patterns:
        return []
    chart_dirs = {posixpath.dirname(p) for p in listing if posixpath.basename(p) == CHART_FILE}
    found = []
    for path, entry in sorted(listing.items()):
        if not path.endswith(MANIFEST_SUFFIXES) or posixpath.basename(path) == CONFIG_FILE:
            continue
        if patterns is not None and not any(fnmatchcase(path, pattern) for pattern in patterns):
            continue
        if entry.size > MAX_MANIFEST_BYTES or _inside(path, chart_dirs):
            continue
        found.append(path)
    return found


def survey_deployments(
    base: ChartSource, head: ChartSource, patterns: tuple[str, ...] | None = None
) -> tuple[list[Deployment], list[Unresolved]]:
    """Every deployment of a chart, on either side (an Application's Helm source, a HelmRelease),
    matched between the sides by name, manifest file and position; and the deployments of the
    head whose chart cannot be resolved and whose manifest is new or changed (one unresolved on
    both sides alike says nothing new)."""
    surveyed = [_local_sources(base, patterns), _local_sources(head, patterns)]
    sides = [surveyed[0][0], surveyed[1][0]]
    base_unresolved = {u.key: u for u in surveyed[0][1]}
    changed = [u for u in surveyed[1][1] if base_unresolved.get(u.key) != u]
    cut = [len(_candidates(s.list_files(""), patterns)) > MAX_MANIFESTS for s in (base, head)]
    return _matched(sides, cut), changed


def _matched(sides: list[dict[tuple[str, str, int], Deployed]], cut: list[bool]) -> list[Deployment]:
    keys = sorted(sides[0].keys() | sides[1].keys())
    found = []
    for key in keys:
        base_side, head_side = sides[0].get(key), sides[1].get(key)
        present = head_side or base_side
        assert present is not None
        found.append(
            Deployment(
                key=key,
                chart_path=present.chart_path,
                base=base_side,
                head=head_side,
                uncertain=(base_side is None and cut[0]) or (head_side is None and cut[1]),
            )
        )
    return found


def _local_sources(
    source: ChartSource, patterns: tuple[str, ...] | None
) -> tuple[dict[tuple[str, str, int], Deployed], list[Unresolved]]:
    """Keyed as Argo CD knows an Application, by its name (and the source's position): moving
    its manifest to another file is not a new deployment. Two Applications of one name (which
    Argo CD would refuse) are told apart by their files."""
    listing = source.list_files("")
    charts = {posixpath.dirname(p) for p in listing if posixpath.basename(p) == CHART_FILE}
    found: list[tuple[str, str, int, Deployed]] = []
    unresolved: list[Unresolved] = []
    texts = _read(source, manifest_candidates(listing, patterns))
    patched = patch_files(texts)
    unresolved += [_patch(patch) for patch in patches(texts, patched)]
    texts = {path: text for path, text in texts.items() if path not in patched}
    for path, text in texts.items():
        if "argoproj.io" not in text:
            continue
        generated: list[Application] = []
        for appset in application_sets(path, text):
            made, notes = _generated(source, appset, listing)
            generated += made
            if not made:
                unresolved.append(_empty_set(appset, notes))
        for app in [*applications(path, text), *generated]:
            for index, helm in enumerate(app.sources):
                if helm.remote is not None:
                    deployed = Deployed(helm.remote.mount, environment(app, helm), helm.remote)
                elif helm.path is not None and helm.chart is None and helm.path in charts:
                    deployed = Deployed(helm.path, environment(app, helm))
                else:
                    unresolved.append(_unresolved_source(app, index, helm))
                    continue
                found.append((app.name, path, index, deployed))
    flux, flux_unresolved = _flux_releases(texts, charts)
    found += flux
    unresolved += flux_unresolved
    counts = Counter((name, index) for name, _, index, _ in found)
    seen: Counter[tuple[str, str, int]] = Counter()
    out: dict[tuple[str, str, int], Deployed] = {}
    for name, path, index, deployed in found:
        if counts[(name, index)] == 1:
            out[(name, "", index)] = deployed
            continue
        # One name twice (Argo CD refuses it in one namespace): told apart by file and order,
        # and shown so, so that neither hides the other.
        seen[(name, path, index)] += 1
        where = f"{path}#{seen[(name, path, index)]}"
        env = deployed.environment
        out[(name, where, index)] = dataclasses.replace(
            deployed, environment=dataclasses.replace(env, name=f"{env.name} ({where})")
        )
    return out, unresolved


def _unresolved_source(app: Application, index: int, helm: HelmSource) -> Unresolved:
    """Why an Application's Helm source is not analyzed, in the words of its manifest."""
    if helm.chart is not None:
        reason = next(
            (p for p in app.problems if "chart repository" in p),
            f"its chart '{helm.chart[:100]}' is not in an HTTP or OCI chart repository",
        )
    elif helm.path is not None:
        reason = (
            f"its source path '{helm.path[:200]}' holds no Chart.yaml in this repository"
            " (a chart of another repository is not fetched)"
        )
    else:
        reason = "its Helm source names neither a chart nor a path"
    return Unresolved((app.name, app.file, index), "Application", app.name, app.file, reason, repr((app, index)))


def _patch(patch: Patch) -> Unresolved:
    reason = f"it is a Kustomize patch ({patch.kustomization}), and overlays are not built"
    key = (f"{patch.kind} {patch.name}", patch.file, 0)
    return Unresolved(key, patch.kind, patch.name, patch.file, reason, patch.text)


def _empty_set(appset: ApplicationSet, notes: list[str]) -> Unresolved:
    reason = "it generates no Application from this repository" + (f" ({'; '.join(notes)[:500]})" if notes else "")
    return Unresolved(
        (f"ApplicationSet {appset.name}", appset.file, 0),
        "ApplicationSet",
        appset.name,
        appset.file,
        reason,
        repr(appset.body),
    )


def _generated(
    source: ChartSource, appset: ApplicationSet, listing: Mapping[str, FileEntry]
) -> tuple[list[Application], list[str]]:
    """The Applications of an ApplicationSet, from this repository's directories and the files
    its git files generators name (each at most MAX_MANIFEST_BYTES, MAX_MANIFESTS of them)."""
    directories = sorted({d for p in listing for d in _parents(p)})
    wanted = _generator_files(appset, listing)
    generated, notes = generate(appset, directories, _read(source, wanted) if wanted else {})
    # What the set could not generate is told with what it did generate (or on its own when it
    # generates nothing).
    return [dataclasses.replace(app, problems=(*app.problems, *notes)) for app in generated], notes


def _generator_files(appset: ApplicationSet, listing: Mapping[str, FileEntry]) -> list[str]:
    """The files an ApplicationSet's git files generators match (YAML or JSON, each at most
    MAX_MANIFEST_BYTES, MAX_MANIFESTS of them)."""
    patterns = appset.file_patterns()
    if not patterns:
        return []
    return [
        p
        for p, entry in sorted(listing.items())
        if entry.size <= MAX_MANIFEST_BYTES and any(match_pattern(p, pattern) for pattern in patterns)
    ][:MAX_MANIFESTS]


def generator_files(source: ChartSource, patterns: tuple[str, ...] | None = None) -> set[str]:
    """Every file the ApplicationSets of a side's manifests read through git files generators:
    what the App must fetch besides the manifests (a `config.json` is no manifest candidate)."""
    listing = source.list_files("")
    wanted: set[str] = set()
    for path, text in _read(source, manifest_candidates(listing, patterns)).items():
        if "ApplicationSet" in text:
            for appset in application_sets(path, text):
                wanted.update(_generator_files(appset, listing))
    return wanted


def _parents(path: str) -> Iterator[str]:
    parent = posixpath.dirname(path)
    while parent:
        yield parent
        parent = posixpath.dirname(parent)


def _flux_releases(
    texts: Mapping[str, str], charts: set[str]
) -> tuple[list[tuple[str, str, int, Deployed]], list[Unresolved]]:
    """Flux HelmReleases, keyed apart from Applications (`HelmRelease ns/name`)."""
    if not any(FLUX_GROUP in text for text in texts.values()):
        return [], []
    found = []
    unresolved = []
    for release in releases(texts):
        key = f"HelmRelease {release.environment.name}"
        if release.remote is not None:
            deployed = Deployed(release.remote.mount, release.environment, release.remote)
        elif release.chart_path is not None and release.chart_path in charts:
            deployed = Deployed(release.chart_path, release.environment)
        else:
            notes = release.environment.notes
            reason = (
                notes[0]
                if notes
                else f"its chart path '{(release.chart_path or '')[:200]}' holds no Chart.yaml in this repository"
            )
            name = release.environment.name
            unresolved.append(
                Unresolved((key, release.file, 0), "HelmRelease", name, release.file, reason, repr(release))
            )
            continue
        found.append((key, release.file, 0, deployed))
    return found, unresolved


def _read(source: ChartSource, paths: list[str]) -> dict[str, str]:
    """The text of each path the source can give (a snapshot holds only what was fetched)."""
    try:
        contents = source.read_many(paths)
    except SourceError:
        contents = {}
        for path in paths:
            try:
                contents.update(source.read_many([path]))
            except SourceError:
                continue
    return {path: data.decode("utf-8", "replace") for path, data in contents.items()}


def _inside(path: str, directories: set[str]) -> bool:
    parent = posixpath.dirname(path)
    while True:
        if parent in directories:
            return True
        if not parent:
            return False
        parent = posixpath.dirname(parent)
