"""Argo CD `Application`s as Helm would be run for them (issue 13): which chart, which values in
which order, which release name and namespace.

Argo CD's order of precedence (its Helm guide, "Helm value precedence"): `parameters` >
`valuesObject` > `values` > `valueFiles` > the chart's `values.yaml`. Concretely, Argo CD runs
`helm template` with every `valueFiles` entry as a `--values` in order, then the inline values
as one more `--values` — `valuesObject` when it is set, else `values` (it does not merge the two:
`valuesObject` replaces `values` whole) — then each parameter as `--set`, or `--set-string` when
`forceString` is true, and each `fileParameters` entry as `--set-file`.

`valueFiles` are relative to the chart's directory (`source.path`); in a multi-source
Application one starting with `$<ref>/` is relative to the root of the source whose `ref` is
that name. Paths that leave the repository, URLs and unknown refs are reported, never read.

Pure: manifest text in, plain values out; what the manifest author wrote is bounded and checked
(an Application is written by whoever opens the pull request).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..config import Environment, InlineValues
from ..documents import split_documents
from ..yamlio import compose_untrusted, load_untrusted
from .manifest_values import (
    MAX_LIST,
    Placement,
    as_dict,
    clean,
    dicts,
    line_of,
    object_values,
    scalar,
    strings,
    text_values,
    within,
)
from .remote_chart import MOUNT_ROOT, RemoteChart, chart_repository

API_GROUP = "argoproj.io"


@dataclass(frozen=True, slots=True)
class HelmSource:
    """One Helm source of an Application: a chart in this repository (`path`) or in a chart
    repository (`repo_url`, `chart`, `version`), with what Argo CD passes to Helm for it."""

    path: str | None = None
    repo_url: str | None = None
    chart: str | None = None
    version: str | None = None
    value_files: tuple[str, ...] = ()  # repository paths, in order
    inline: InlineValues | None = None
    set_values: tuple[str, ...] = ()  # `--set`, in order
    set_string_values: tuple[str, ...] = ()  # `--set-string` (forceString), in order
    file_parameters: tuple[tuple[str, str], ...] = ()  # (name, repository path): `--set-file`
    release_name: str | None = None
    ignore_missing_value_files: bool = False
    # A chart of an HTTP or OCI chart repository: its relative `valueFiles` are files of the
    # chart (below the chart's mount), `$ref/…` ones files of this repository.
    remote: RemoteChart | None = None


@dataclass(frozen=True, slots=True)
class Application:
    name: str
    file: str
    line: int
    namespace: str
    sources: tuple[HelmSource, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def release_name(self) -> str:
        """Argo CD's default release name is the Application's name."""
        named = [s.release_name for s in self.sources if s.release_name]
        return named[0] if named else self.name


def applications(file: str, text: str) -> Iterator[Application]:
    """The Argo CD Applications of one repository file (every YAML document of it)."""
    for first_line, document in split_documents(text):
        if "argoproj.io" not in document or "Application" not in document:
            continue  # most files of a repository are not Applications: not parsed twice
        try:
            body = load_untrusted(document)
            node = compose_untrusted(document)
        except (yaml.YAMLError, ValueError):
            continue  # a broken manifest is the Application's own problem, found by Argo CD
        if not isinstance(body, dict) or body.get("kind") != "Application":
            continue
        if not str(body.get("apiVersion", "")).startswith(API_GROUP + "/"):
            continue
        yield application_from(file, first_line, document, body, node)


def application_from(
    file: str, first_line: int, document: str, body: dict[str, Any], node: yaml.Node | None
) -> Application:
    """An Application from its loaded `body` and its `node` in `document` (whose first line is
    `first_line` of `file`): a manifest's, or an ApplicationSet template filled in."""
    metadata = as_dict(body.get("metadata"))
    spec = as_dict(body.get("spec"))
    problems: list[str] = []
    raw_sources = spec.get("sources")
    entries: list[tuple[dict[str, Any], tuple[str | int, ...]]]
    if isinstance(raw_sources, list) and raw_sources:
        entries = [(s, ("spec", "sources", i)) for i, s in enumerate(raw_sources[:MAX_LIST]) if isinstance(s, dict)]
    else:
        entries = [(as_dict(spec.get("source")), ("spec", "source"))]
    # A `$ref` reads this repository only when its source is the same git repository as a chart
    # read from this repository (`path`); an Application whose charts all come from chart
    # repositories reads its values from a git repository taken to be this one, as a `path`
    # chart's repository is.
    git_charts = {_repo_id(s.get("repoURL")) for s, _ in entries if s.get("path") is not None and not s.get("chart")}
    refs = {
        str(s["ref"]): _root(s)
        for s, _ in entries
        if isinstance(s.get("ref"), str)
        and not s.get("chart")
        and (_repo_id(s.get("repoURL")) in git_charts or not git_charts)
    }
    sources = []
    for source, where in entries:
        if source.get("ref") is not None and source.get("path") is None and source.get("chart") is None:
            continue  # a values-only source: read through `$ref/…`
        helm = as_dict(source.get("helm"))
        if not helm and source.get("chart") is None and not _looks_like_chart_dir(source):
            continue  # plain manifests or Kustomize: not a Helm source
        sources.append(_helm_source(file, first_line, document, source, helm, refs, node, where, problems))
    destination = as_dict(spec.get("destination"))
    return Application(
        name=str(metadata.get("name") or posixpath.basename(file)),
        file=file,
        line=first_line,
        namespace=str(destination.get("namespace") or "default"),
        sources=tuple(sources),
        problems=tuple(problems),
    )


def _helm_source(  # noqa: PLR0917 - one call site, every argument a different part of the manifest
    file: str,
    first_line: int,
    document: str,
    source: dict[str, Any],
    helm: dict[str, Any],
    refs: dict[str, str],
    node: yaml.Node | None,
    where: tuple[str | int, ...],
    problems: list[str],
) -> HelmSource:
    path = clean(str(source["path"])) if isinstance(source.get("path"), str) else None
    if path is not None and path.startswith(".."):
        problems.append(f"source path '{source['path']}' leaves the repository")
        path = None
    remote = _remote(source, problems, at=(file, first_line + line_of(node, (*where, "targetRevision"))))
    chart_dir = remote.mount if remote is not None else path or ""
    value_files = []
    for entry in strings(helm.get("valueFiles")):
        resolved = _value_file(entry, chart_dir, refs)
        if resolved is None:
            problems.append(f"values file '{entry[:200]}' is outside the repository or names an unknown source")
        else:
            value_files.append(resolved)
    inline = _inline(file, first_line, helm, node=node, where=(*where, "helm"), document=document)
    set_values: list[str] = []
    set_strings: list[str] = []
    for parameter in dicts(helm.get("parameters")):
        name, value = parameter.get("name"), parameter.get("value")
        if not isinstance(name, str) or not name:
            continue
        expression = f"{name}={_set_value('' if value is None else scalar(value))}"
        (set_strings if parameter.get("forceString") is True else set_values).append(expression)
    file_parameters = []
    for parameter in dicts(helm.get("fileParameters")):
        name, target = parameter.get("name"), parameter.get("path")
        if isinstance(name, str) and isinstance(target, str) and (resolved := _value_file(target, chart_dir, refs)):
            file_parameters.append((name, resolved))
    return HelmSource(
        path=path,
        repo_url=str(source["repoURL"]) if isinstance(source.get("repoURL"), str) else None,
        chart=str(source["chart"]) if isinstance(source.get("chart"), str) else None,
        version=str(source["targetRevision"]) if source.get("targetRevision") is not None else None,
        value_files=tuple(value_files),
        inline=inline,
        set_values=tuple(set_values),
        set_string_values=tuple(set_strings),
        file_parameters=tuple(file_parameters),
        release_name=str(helm["releaseName"]) if isinstance(helm.get("releaseName"), str) else None,
        ignore_missing_value_files=helm.get("ignoreMissingValueFiles") is True,
        remote=remote,
    )


def _remote(source: dict[str, Any], problems: list[str], *, at: tuple[str, int]) -> RemoteChart | None:
    """The chart repository chart of a source (`chart` set), at its `targetRevision`: a version
    or a constraint, as Argo CD takes it (`*` or none: the highest)."""
    name, url = source.get("chart"), source.get("repoURL")
    if not isinstance(name, str) or not name.strip():
        return None
    repository = chart_repository(url) if isinstance(url, str) else None
    if repository is None or ("/" in name.strip("/") and not repository.startswith("oci://")):
        problems.append(f"chart '{name[:100]}' is not in an HTTP or OCI chart repository: not analyzed")
        return None
    revision = source.get("targetRevision")
    version = scalar(revision).strip() if revision is not None and scalar(revision).strip() else None
    return RemoteChart(
        repository,
        name.strip().strip("/"),
        None if version in (None, "*", "HEAD") else version,
        manifest=at[0],
        line=at[1],
    )


def _inline(
    file: str,
    first_line: int,
    helm: dict[str, Any],
    *,
    node: yaml.Node | None,
    where: tuple[str | int, ...],
    document: str,
) -> InlineValues | None:
    """`valuesObject` when it is set, else `values`, as YAML text whose lines are the
    manifest's own (so a values line found by the analysis is a line of the manifest)."""
    name = f"{file} (Application values)"
    at = Placement(file, first_line, document, node)
    if isinstance(helm.get("valuesObject"), dict):
        return object_values(name, at, (*where, "valuesObject"), helm["valuesObject"])
    if isinstance(helm.get("values"), str) and helm["values"].strip():
        return text_values(name, at, (*where, "values"), helm["values"])
    return None


def _value_file(entry: str, chart_dir: str, refs: dict[str, str]) -> str | None:
    """The repository path of a `valueFiles` entry; None when it is not a file of this repository."""
    if "://" in entry:
        return None
    if entry.startswith("$"):
        ref, _, rest = entry[1:].partition("/")
        if ref not in refs:
            return None
        resolved = clean(posixpath.join(refs[ref], rest))
    elif entry.startswith("/"):
        if chart_dir.startswith(MOUNT_ROOT + "/"):
            return None  # a chart repository's chart has only its own files
        resolved = clean(entry)
    else:
        resolved = clean(posixpath.join(chart_dir, entry))
        if chart_dir.startswith(MOUNT_ROOT + "/") and not within(resolved, chart_dir):
            return None  # a chart repository's chart has only its own files
    return None if resolved.startswith("..") or not resolved or resolved == "." else resolved


def _repo_id(url: Any) -> str:
    """A git URL as one spelling: `https://github.com/a/b.git`, `git@github.com:a/b` → github.com/a/b."""
    if not isinstance(url, str):
        return ""
    text = url.strip().lower().removesuffix("/").removesuffix(".git")
    text = re.sub(r"^[a-z+]+://", "", text)
    text = re.sub(r"^[^@/]+@", "", text)
    return text.replace(":", "/", 1) if "/" not in text.split(":", 1)[0] else text


def _root(source: dict[str, Any]) -> str:
    """A values source's root in this repository (a `ref` source may also name a path)."""
    path = source.get("path")
    return clean(path) if isinstance(path, str) else ""


def _looks_like_chart_dir(source: dict[str, Any]) -> bool:
    """A git source without a `helm` block is still Helm when its path holds a chart; the planner
    decides that from the listing (this only says the source has a path to look at)."""
    return isinstance(source.get("path"), str)


def _set_value(value: str) -> str:
    """A parameter's value as Argo CD hands it to `--set`: its commas escaped (one value, not
    several assignments), unless it is a `{a,b}` list."""
    if value.startswith("{") and value.endswith("}"):
        return value
    return re.sub(r"(?<!\\),", r"\\,", value)


def environment(application: Application, source: HelmSource) -> Environment:
    """How the analysis renders one Helm source of an Application, as Argo CD would run Helm:
    its value files in order, then its inline values, then its parameters."""
    inline = (source.inline,) if source.inline is not None else ()
    return Environment(
        name=application.name,
        values=source.value_files,
        set_values=source.set_values,
        set_string_values=source.set_string_values,
        set_file_values=source.file_parameters,
        inline_values=inline,
        # Argo CD names each source's release: its own releaseName, else the Application's name.
        release_name=source.release_name or application.name,
        namespace=application.namespace,
        notes=application.problems,
        # Argo CD fails to render an Application whose values file is missing, unless told not to.
        missing_values="ignore" if source.ignore_missing_value_files else "fail",
    )
