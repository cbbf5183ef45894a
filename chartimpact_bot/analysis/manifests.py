"""Rendered templates → Kubernetes objects with identities.

Documents are split the way Helm splits them (a line starting with `---` separates documents
even when text follows it), then each is parsed with libyaml. What `helm template` would not
emit is dropped: NOTES.txt, `_` partials, empty output, and test hooks.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import RenderError
from .model import ResourceId
from .render import RenderedChart
from .yamlio import load_yaml

# Helm's splitter for chart API v1/v2 (pkg/releaseutil): Go's \s is [\t\n\f\r ].
_SEPARATOR = re.compile(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*")
_TEST_HOOKS = frozenset({"test", "test-success", "test-failure"})

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeSnapshotClass",
    }
)


@dataclass(slots=True)
class ParsedResource:
    id: ResourceId
    api_version: str
    body: dict[str, Any]
    source: str
    document: int
    hook: str | None = None
    install_only: bool = False


@dataclass(slots=True)
class ManifestSet:
    resources: dict[ResourceId, ParsedResource] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def split_documents(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each document, as Helm's splitter cuts them."""
    position = 0
    line = 1
    for match in _SEPARATOR.finditer(text):
        yield line, text[position : match.start()]
        line += text.count("\n", position, match.end())
        position = match.end()
    yield line, text[position:]


def is_emitted(template_path: str, text: str) -> bool:
    """Whether `helm template` emits this template's output."""
    name = posixpath.basename(template_path)
    return not (name.endswith("NOTES.txt") or name.startswith("_") or not text.strip())


def parse_rendered(
    rendered: RenderedChart, *, namespace: str, include_tests: bool = False
) -> ManifestSet:
    """Every object of one render, keyed by identity; RenderError for output that is not YAML."""
    parsed: list[ParsedResource] = []
    out = ManifestSet()
    for install_only, outputs in ((True, rendered.crds), (False, rendered.templates)):
        for source in sorted(outputs):
            text = outputs[source]
            if not is_emitted(source, text):
                continue
            for document, obj in _documents(source, text, out.warnings):
                parsed.extend(_objects(source, document, obj, install_only, out.warnings))
    cluster_scoped = _cluster_scoped_kinds(parsed)
    for item in parsed:
        hook = item.hook
        if hook and not include_tests and _TEST_HOOKS.intersection(_hook_events(hook)):
            continue
        item.id = _identity(item, namespace, cluster_scoped)
        first = out.resources.get(item.id)
        if first is not None:
            out.warnings.append(
                f"{item.id} is rendered twice ({first.source} and {item.source}); "
                "only the first is compared"
            )
            continue
        out.resources[item.id] = item
    return out


def _documents(source: str, text: str, warnings: list[str]) -> Iterator[tuple[int, Any]]:
    for index, (first_line, chunk) in enumerate(split_documents(text)):
        if not chunk.strip():
            continue
        try:
            obj = load_yaml(chunk)
        except yaml.YAMLError as exc:
            raise RenderError(_yaml_problem(source, index, first_line, exc)) from exc
        if obj is None:
            continue
        if not isinstance(obj, dict):
            raise RenderError(
                f"{source} renders a document that is not a Kubernetes object "
                f"(document {index + 1}, line {first_line})"
            )
        yield index, obj


def _yaml_problem(source: str, index: int, first_line: int, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    where = f"line {first_line + mark.line}" if mark is not None else f"line {first_line}"
    return f"{source} renders invalid YAML (document {index + 1}, {where}): {problem}"


def _objects(
    source: str, document: int, obj: dict[str, Any], install_only: bool, warnings: list[str]
) -> Iterator[ParsedResource]:
    kind = obj.get("kind")
    items = obj.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                yield from _objects(source, document, item, install_only, warnings)
        return
    api_version = obj.get("apiVersion")
    metadata = obj.get("metadata")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str):
        warnings.append(f"{source} document {document + 1} has no kind or apiVersion; skipped")
        return
    if not isinstance(metadata, dict):
        warnings.append(f"{source} renders a {kind} without metadata; skipped")
        return
    name = metadata.get("name")
    if not name and metadata.get("generateName"):
        name = f"{metadata['generateName']}(generated)"
    if not name:
        warnings.append(f"{source} renders a {kind} without a name; skipped")
        return
    annotations = metadata.get("annotations")
    hook = annotations.get("helm.sh/hook") if isinstance(annotations, dict) else None
    yield ParsedResource(
        id=ResourceId(
            api_group(api_version), kind, str(metadata.get("namespace") or ""), str(name)
        ),
        api_version=api_version,
        body=obj,
        source=source,
        document=document,
        hook=str(hook) if hook else None,
        install_only=install_only,
    )


def _hook_events(hook: str) -> list[str]:
    return [event.strip() for event in hook.split(",")]


def _cluster_scoped_kinds(parsed: list[ParsedResource]) -> set[tuple[str, str]]:
    """Custom kinds the chart itself declares cluster-scoped, as (group, kind)."""
    scoped: set[tuple[str, str]] = set()
    for item in parsed:
        if item.id.kind != "CustomResourceDefinition":
            continue
        spec = item.body.get("spec")
        if isinstance(spec, dict) and spec.get("scope") == "Cluster":
            names = spec.get("names")
            if isinstance(names, dict) and isinstance(names.get("kind"), str):
                scoped.add((str(spec.get("group", "")), names["kind"]))
    return scoped


def _identity(
    item: ParsedResource, namespace: str, cluster_scoped: set[tuple[str, str]]
) -> ResourceId:
    rid = item.id
    if rid.kind in CLUSTER_SCOPED_KINDS or (rid.group, rid.kind) in cluster_scoped:
        return ResourceId(rid.group, rid.kind, "", rid.name)
    return ResourceId(rid.group, rid.kind, rid.namespace or namespace, rid.name)
