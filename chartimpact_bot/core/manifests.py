"""Rendered documents → Kubernetes objects with identities.

The render process has already split and parsed the output (`documents.py`); here each object
gets its identity (namespace defaulted for namespaced kinds), `List` kinds are flattened, test
hooks left out and duplicates reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .documents import RenderedChart
from .model import Resource, ResourceId

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
class ManifestSet:
    resources: dict[ResourceId, Resource] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def parse_rendered(rendered: RenderedChart, *, namespace: str, include_tests: bool = False) -> ManifestSet:
    """Every object of one render, keyed by identity."""
    parsed: list[Resource] = []
    out = ManifestSet()
    for install_only, outputs in ((True, rendered.crds), (False, rendered.templates)):
        for source in sorted(outputs):
            for document, _, obj in outputs[source]:
                parsed.extend(_objects(source, document, obj, install_only, out.warnings))
    cluster_scoped = _cluster_scoped_kinds(parsed)
    for item in parsed:
        hook = item.hook
        if hook and not include_tests and _TEST_HOOKS.intersection(_hook_events(hook)):
            continue
        item = dataclasses.replace(item, id=_identity(item, namespace, cluster_scoped))
        first = out.resources.get(item.id)
        if first is not None:
            out.warnings.append(
                f"{item.id} is rendered twice ({first.source} and {item.source}); only the first is compared"
            )
            continue
        out.resources[item.id] = item
    return out


def _objects(
    source: str, document: int, obj: dict[str, Any], install_only: bool, warnings: list[str]
) -> Iterator[Resource]:
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
    yield Resource(
        id=ResourceId(api_group(api_version), kind, str(metadata.get("namespace") or ""), str(name)),
        api_version=api_version,
        body=obj,
        source=source,
        document=document,
        hook=str(hook) if hook else None,
        install_only=install_only,
    )


def _hook_events(hook: str) -> list[str]:
    return [event.strip() for event in hook.split(",")]


def _cluster_scoped_kinds(parsed: list[Resource]) -> set[tuple[str, str]]:
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


def _identity(item: Resource, namespace: str, cluster_scoped: set[tuple[str, str]]) -> ResourceId:
    rid = item.id
    if rid.kind in CLUSTER_SCOPED_KINDS or (rid.group, rid.kind) in cluster_scoped:
        return ResourceId(rid.group, rid.kind, "", rid.name)
    return ResourceId(rid.group, rid.kind, rid.namespace or namespace, rid.name)
