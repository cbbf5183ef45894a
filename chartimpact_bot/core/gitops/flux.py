"""Flux `HelmRelease`s as helm-controller would run Helm for them (issue 13): which chart, which
values in which order, which release name and namespace.

The chart: `spec.chart.spec` (`chart`, `version`, a `sourceRef` to a `HelmRepository`, HTTP or
`type: oci`, or to a `GitRepository`, whose `chart` is a path of this repository), or
`spec.chartRef` to an `OCIRepository` (its URL ends with the chart's name; `ref.tag` or
`ref.semver`) or to a `HelmChart` (its spec as `chart.spec`). Sources are found among the
repository's manifests by kind, namespace and name (or by kind and name alone when the manifest
leaves its namespace to Kustomize, and only one has that name).

The values, in helm-controller's order (later wins, maps merged key by key):
1. `chart.spec.valuesFiles` *replace* the chart's values.yaml (it counts only when listed), in
   order; relative to the chart of a chart repository, to the repository root for git;
2. each `valuesFrom` entry in order: a ConfigMap of the repository, its `valuesKey` (default
   `values.yaml`) merged whole, or with `targetPath` set as one value at that path, typed as
   `--set` types it (a quoted value is a string);
3. `spec.values`, last.
Each is handed to Helm as a values file in that order, which Helm merges the same way.

The release is `spec.releaseName`, else `[targetNamespace-]name`, shortened as helm-controller
shortens names longer than 53 characters; it is installed in `targetNamespace`, else the
HelmRelease's namespace.

What cannot be known from the repository is said, never guessed: values from Secrets (in Git
they are encrypted, with SOPS say, and would otherwise be shown), ConfigMaps that are not in the
repository (made in the cluster, or by a Kustomize generator), Bucket sources.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..config import Environment, InlineValues
from ..documents import split_documents
from ..yamlio import compose_untrusted, load_untrusted
from .manifest_values import Placement, as_dict, clean, dicts, line_of, object_values, strings, text_values, within
from .remote_chart import RemoteChart, chart_repository

HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
MAX_DOCUMENTS = 5_000  # Flux objects and ConfigMaps read from one commit
MAX_RELEASE_NAME = 53  # Helm's limit, which helm-controller shortens names to
DEFAULT_VALUES_KEY = "values.yaml"
_KINDS = frozenset({"HelmRelease", "HelmRepository", "GitRepository", "OCIRepository", "HelmChart", "Bucket"})


@dataclass(frozen=True, slots=True)
class Release:
    """One HelmRelease: a chart of this repository (`chart_path`) or of a chart repository
    (`remote`), or neither when it cannot be resolved (`environment.notes` says why)."""

    name: str
    namespace: str | None  # as the manifest writes it (None: left to Kustomize)
    file: str
    line: int
    chart_path: str | None
    remote: RemoteChart | None
    environment: Environment


@dataclass(frozen=True, slots=True)
class _Object:
    kind: str
    namespace: str | None
    name: str
    body: dict[str, Any]
    at: Placement


def releases(files: Mapping[str, str]) -> list[Release]:
    """Every HelmRelease of these repository files (path → text), resolved against the sources
    and ConfigMaps among them."""
    objects = list(_objects(files))
    index = _Index(objects)
    return [_release(obj, index) for obj in objects if obj.kind == "HelmRelease"]


def _objects(files: Mapping[str, str]) -> Iterator[_Object]:
    count = 0
    for file, text in sorted(files.items()):
        if "fluxcd.io" not in text and "ConfigMap" not in text:
            continue
        for first_line, document in split_documents(text):
            if "fluxcd.io" not in document and "ConfigMap" not in document:
                continue
            count += 1
            if count > MAX_DOCUMENTS:
                return
            obj = _object(file, first_line, document)
            if obj is not None:
                yield obj


def _object(file: str, first_line: int, document: str) -> _Object | None:
    try:
        body = load_untrusted(document)
        node = compose_untrusted(document)
    except (yaml.YAMLError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    kind, api = body.get("kind"), str(body.get("apiVersion", ""))
    is_flux = kind in _KINDS and api.startswith((HELM_GROUP + "/", SOURCE_GROUP + "/"))
    if not is_flux and not (kind == "ConfigMap" and api == "v1"):
        return None  # Secrets are never read (see _values_from)
    metadata = as_dict(body.get("metadata"))
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return None
    namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else None
    return _Object(str(kind), namespace or None, name, body, Placement(file, first_line, document, node))


class _Index:
    def __init__(self, objects: list[_Object]) -> None:
        self._exact: dict[tuple[str, str | None, str], list[_Object]] = {}
        self._by_name: dict[tuple[str, str], list[_Object]] = {}
        for obj in objects:
            self._exact.setdefault((obj.kind, obj.namespace, obj.name), []).append(obj)
            self._by_name.setdefault((obj.kind, obj.name), []).append(obj)

    def find(self, kind: str, namespace: str | None, name: str) -> _Object | None:
        """The object of that kind and name in that namespace; when the manifests leave their
        namespaces to Kustomize, the only one of that kind and name."""
        exact = self._exact.get((kind, namespace, name), [])
        if len(exact) == 1:
            return exact[0]
        named = self._by_name.get((kind, name), [])
        return named[0] if len(named) == 1 else None


def _release(obj: _Object, index: _Index) -> Release:
    spec = as_dict(obj.body.get("spec"))
    notes: list[str] = []
    target_namespace = spec.get("targetNamespace") if isinstance(spec.get("targetNamespace"), str) else None
    chart_path, remote, value_files = _chart(obj, spec, index, notes)
    pieces = [*_values_from(obj, spec, index, notes)]
    if isinstance(spec.get("values"), dict) and spec["values"]:
        pieces.append(object_values(f"{obj.at.file} (HelmRelease values)", obj.at, ("spec", "values"), spec["values"]))
    shown = f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name
    environment = Environment(
        name=shown,
        values=value_files,
        inline_values=tuple(pieces),
        release_name=release_name(obj.name, spec.get("releaseName"), target_namespace),
        namespace=target_namespace or obj.namespace or "default",
        notes=tuple(notes),
        missing_values="fail",  # the source-controller fails a chart whose values file is missing
        chart_values_replaced=bool(value_files),
    )
    return Release(obj.name, obj.namespace, obj.at.file, obj.at.first_line, chart_path, remote, environment)


def release_name(name: str, explicit: Any, target_namespace: str | None) -> str:
    """`releaseName`, else `[targetNamespace-]name`; longer than Helm's 53 characters, its
    first 40 and 12 hex digits of its SHA-256 (helm-controller's shortening)."""
    if isinstance(explicit, str) and explicit:
        chosen = explicit
    else:
        chosen = f"{target_namespace}-{name}" if target_namespace else name
    if len(chosen) <= MAX_RELEASE_NAME:
        return chosen
    return f"{chosen[:40]}-{hashlib.sha256(chosen.encode()).hexdigest()[:12]}"


def _chart(
    obj: _Object, spec: dict[str, Any], index: _Index, notes: list[str]
) -> tuple[str | None, RemoteChart | None, tuple[str, ...]]:
    """(chart directory of this repository, chart of a chart repository, values files)."""
    chart_ref = as_dict(spec.get("chartRef"))
    if chart_ref:
        return _chart_ref(obj, chart_ref, index, notes)
    template = as_dict(as_dict(spec.get("chart")).get("spec"))
    if not template:
        notes.append("it names no chart (spec.chart.spec or spec.chartRef)")
        return None, None, ()
    return _chart_spec(obj, template, index, notes, where=("spec", "chart", "spec"))


def _chart_ref(
    obj: _Object, chart_ref: dict[str, Any], index: _Index, notes: list[str]
) -> tuple[str | None, RemoteChart | None, tuple[str, ...]]:
    kind, name = chart_ref.get("kind"), chart_ref.get("name")
    namespace = chart_ref.get("namespace") if isinstance(chart_ref.get("namespace"), str) else obj.namespace
    found = index.find(str(kind), namespace, str(name)) if isinstance(name, str) else None
    if found is None:
        notes.append(f"its chartRef {kind} '{str(name)[:100]}' is not in the repository")
        return None, None, ()
    source_spec = as_dict(found.body.get("spec"))
    if kind == "HelmChart":
        return _chart_spec(found, source_spec, index, notes, where=("spec",))
    url = source_spec.get("url")
    repository = chart_repository(url) if isinstance(url, str) else None
    if kind != "OCIRepository" or repository is None or not repository.startswith("oci://"):
        notes.append(f"its chartRef {kind} '{name}' is no OCI chart: not analyzed")
        return None, None, ()
    ref = as_dict(source_spec.get("ref"))
    version = ref.get("tag") or ref.get("semver")
    if ref.get("digest") and not version:
        notes.append(f"OCIRepository '{name}' pins its chart by digest, which is not fetched: not analyzed")
        return None, None, ()
    base, _, chart = repository.rstrip("/").rpartition("/")
    line = found.at.first_line + line_of(found.at.node, ("spec", "ref", "tag" if ref.get("tag") else "semver"))
    remote = RemoteChart(base, chart, str(version) if version else None, manifest=found.at.file, line=line)
    return None, remote, ()


def _chart_spec(
    owner: _Object, template: dict[str, Any], index: _Index, notes: list[str], *, where: tuple[str, ...]
) -> tuple[str | None, RemoteChart | None, tuple[str, ...]]:
    chart = template.get("chart")
    source_ref = as_dict(template.get("sourceRef"))
    kind, name = source_ref.get("kind"), source_ref.get("name")
    if not isinstance(chart, str) or not chart.strip():
        notes.append("its chart names no chart")
        return None, None, ()
    namespace = source_ref.get("namespace") if isinstance(source_ref.get("namespace"), str) else owner.namespace
    source = index.find(str(kind), namespace, str(name)) if isinstance(name, str) else None
    files = strings(template.get("valuesFiles"))
    if kind == "GitRepository":
        # The chart is a path of the repository the GitRepository points at: taken to be this one.
        path = clean(chart)
        if path.startswith(".."):
            notes.append(f"chart path '{chart[:100]}' leaves the repository")
            return None, None, ()
        return path, None, _values_files(files, "", notes)
    if kind != "HelmRepository":
        notes.append(f"charts from a {str(kind)[:40]} source are not analyzed")
        return None, None, ()
    if source is None:
        notes.append(f"its HelmRepository '{str(name)[:100]}' is not in the repository")
        return None, None, ()
    source_spec = as_dict(source.body.get("spec"))
    url = source_spec.get("url")
    repository = chart_repository(url) if isinstance(url, str) else None
    is_oci = source_spec.get("type") == "oci"
    if repository is None or repository.startswith("oci://") != is_oci or "/" in chart.strip("/"):
        notes.append(f"HelmRepository '{name}' is no HTTP or OCI chart repository: not analyzed")
        return None, None, ()
    version = template.get("version")
    line = owner.at.first_line + line_of(owner.at.node, (*where, "version"))
    remote = RemoteChart(
        repository,
        chart.strip(),
        None if version in (None, "", "*") else str(version),
        manifest=owner.at.file,
        line=line,
    )
    return None, remote, _values_files(files, remote.mount, notes)


def _values_files(files: list[str], chart_dir: str, notes: list[str]) -> tuple[str, ...]:
    out = []
    for entry in files:
        resolved = clean(posixpath.join(chart_dir, entry.lstrip("/")))
        if "://" in entry or resolved.startswith("..") or not resolved or not within(resolved, chart_dir):
            notes.append(f"values file '{entry[:200]}' is outside the chart's source")
            continue
        out.append(resolved)
    return tuple(out)


def _values_from(obj: _Object, spec: dict[str, Any], index: _Index, notes: list[str]) -> Iterator[InlineValues]:
    for reference in dicts(spec.get("valuesFrom")):
        kind, name = reference.get("kind"), reference.get("name")
        key = str(reference["valuesKey"]) if isinstance(reference.get("valuesKey"), str) else DEFAULT_VALUES_KEY
        optional = reference.get("optional") is True
        if not isinstance(name, str):
            continue
        if kind == "Secret":
            notes.append(
                f"values from Secret '{name[:100]}' are not read (a Secret in Git is encrypted, and its values"
                " would be shown): rendered without them"
            )
            continue
        if kind != "ConfigMap":
            continue
        found = index.find("ConfigMap", obj.namespace, name)
        data = as_dict(found.body.get("data")) if found is not None else {}
        text = data.get(key)
        if found is None or not isinstance(text, str):
            if not optional:
                what = f"ConfigMap '{name[:100]}'" + (f" key '{key[:100]}'" if found is not None else "")
                notes.append(
                    f"values from {what} are not in the repository (made in the cluster?): rendered without them"
                )
            continue
        label = f"{found.at.file} (ConfigMap {name} {key})"
        target = reference.get("targetPath")
        if isinstance(target, str) and target:
            placed = _target_values(label, target, text, at=found.at, key=key, notes=notes)
            if placed is not None:
                yield placed
            continue
        yield text_values(label, found.at, ("data", key), text)


def _target_values(
    label: str, path: str, text: str, *, at: Placement, key: str, notes: list[str]
) -> InlineValues | None:
    """A `targetPath` value as a values document: the value set at the dotted path, typed as
    `--set` types it (true, false, null, integers), a quoted one as a string."""
    if "[" in path:
        notes.append(f"targetPath '{path[:100]}' with a list index is not followed: rendered without it")
        return None
    keys = [k.replace("\\.", ".") for k in re.split(r"(?<!\\)\.", path)]
    if not all(keys):
        notes.append(f"targetPath '{path[:100]}' is not a path")
        return None
    value: Any = _typed(text)
    for name in reversed(keys):
        value = {name: value}
    document = yaml.safe_dump(value, sort_keys=False, allow_unicode=True)
    return InlineValues(label, document, at.file, at.first_line + line_of(at.node, ("data", key)), pinned=True)


def _typed(text: str) -> Any:
    """A single value as Helm's `--set` reads it (strvals): quoted, a string; `true`, `false`
    and `null` in any case; an integer without a leading zero; else the text."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text.strip("'\"")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if text == "0":
        return 0
    if re.fullmatch(r"[+-]?[1-9]\d*", text) and -(2**63) <= int(text) < 2**63:
        return int(text)
    return text
