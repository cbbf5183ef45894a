"""Rendered documents → Kubernetes objects with identities.

The render process has already split and parsed the output (`documents.py`); here each object
gets its identity (namespace defaulted for namespaced kinds: which kinds are is in
kubernetes/scopes.py), `List` kinds are flattened, test hooks left out and duplicates reported.
`share_scopes` gives both sides of a change the cluster scopes either side's CRDs declare.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .documents import RenderedChart
from .kubernetes.scopes import Kind, cluster_scoped, declared_scopes
from .model import Resource, ResourceId

_TEST_HOOKS = frozenset({"test", "test-success", "test-failure"})


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
    scopes = declared_scopes(parsed)
    for item in parsed:
        hook = item.hook
        if hook and not include_tests and _TEST_HOOKS.intersection(_hook_events(hook)):
            continue
        item = dataclasses.replace(item, id=_identity(item, namespace, scopes))
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


def _identity(item: Resource, namespace: str, scopes: dict[Kind, bool]) -> ResourceId:
    rid = item.id
    if cluster_scoped(rid.group, rid.kind, scopes):
        return ResourceId(rid.group, rid.kind, "", rid.name)
    return ResourceId(rid.group, rid.kind, rid.namespace or namespace, rid.name)


def share_scopes(
    base: dict[ResourceId, Resource], head: dict[ResourceId, Resource]
) -> tuple[dict[ResourceId, Resource], dict[ResourceId, Resource]]:
    """Both sides, with the custom kinds that one side's CRDs declare cluster-scoped, and the
    other side defines no CRD for, identified as cluster-scoped there too: a chart that starts
    (or stops) shipping a CRD does not turn its custom resources into another object.

    Only that way: a side read a kind it had no CRD for as namespaced (or by the lists of
    kubernetes/scopes.py), and the release namespace it would default to is not known here."""
    base_scopes, head_scopes = declared_scopes(base.values()), declared_scopes(head.values())
    return _rescoped(base, base_scopes, head_scopes), _rescoped(head, head_scopes, base_scopes)


def _rescoped(
    resources: dict[ResourceId, Resource], own: dict[Kind, bool], other: dict[Kind, bool]
) -> dict[ResourceId, Resource]:
    taken = {kind for kind, cluster in other.items() if cluster and kind not in own}
    if not any(rid.namespace and (rid.group, rid.kind) in taken for rid in resources):
        return resources
    out: dict[ResourceId, Resource] = {}
    for rid, item in resources.items():
        if rid.namespace and (rid.group, rid.kind) in taken:
            item = dataclasses.replace(item, id=ResourceId(rid.group, rid.kind, "", rid.name))
        out.setdefault(item.id, item)  # as parse_rendered: the first of two namesakes is compared
    return out
