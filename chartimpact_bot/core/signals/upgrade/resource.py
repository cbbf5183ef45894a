"""`upgrade.resource.*`: resources Helm deletes and recreates (renamed, moved to another namespace)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...model import Resource
from ..common import what
from ..context import SignalContext
from ..registry import Finding, chart_detector

RENAME_KINDS = frozenset(
    {
        "PersistentVolumeClaim",
        "PersistentVolume",
        "Service",
        "StatefulSet",
        "Deployment",
        "DaemonSet",
        "Namespace",
        "StorageClass",
    }
)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> set[tuple[tuple[str, ...], str]]:
    if isinstance(value, dict):
        return {leaf for k, v in value.items() for leaf in _leaves(v, (*path, str(k)))}
    if isinstance(value, list):
        return {leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, str(i)))}
    return {(path, repr(value))}


def _similarity(old: Resource, new: Resource) -> float:
    def content(resource: Resource) -> set[tuple[tuple[str, ...], str]]:
        body = {k: v for k, v in resource.body.items() if k not in ("metadata", "apiVersion", "kind")}
        name = resource.id.name
        return {(p, v.replace(name, "<name>")) for p, v in _leaves(body)}

    a, b = content(old), content(new)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _pairs(ctx: SignalContext) -> list[tuple[Resource, Resource]]:
    removed = [d.base for d in ctx.diffs if d.change_type == "removed" and d.base is not None]
    added = [d.head for d in ctx.diffs if d.change_type == "added" and d.head is not None]
    return [
        (old, new) for old in removed for new in added if old.id.kind == new.id.kind and old.id.group == new.id.group
    ]


@chart_detector("upgrade.resource.renamed", "high")
def renamed(ctx: SignalContext) -> Iterator[Finding]:
    """A resource removed and one of the same kind and namespace, with a near-identical spec,
    added (delete + create).

    Helm sees a renamed resource as a deletion and a creation: a renamed claim is a new, empty
    volume; a renamed LoadBalancer Service gets a new address; a renamed workload restarts from
    scratch.
    """
    for old, new in _pairs(ctx):
        if old.id.kind not in RENAME_KINDS or old.id.namespace != new.id.namespace or old.id.name == new.id.name:
            continue
        if _similarity(old, new) >= 0.8:
            yield Finding(
                description=f"{old.id.kind} '{old.id.name}' is renamed to '{new.id.name}': "
                "Helm deletes it and creates a new one",
                path=("metadata", "name"),
                before=old.id.name,
                after=new.id.name,
                subject=(old, new),
                about=new,
            )


@chart_detector("upgrade.resource.namespaceMoved", "high")
def namespace_moved(ctx: SignalContext) -> Iterator[Finding]:
    """The same resource (kind and name) is now rendered into another namespace.

    A resource rendered into another namespace is a different object: Helm deletes the old one (with
    its data, addresses and running pods) and creates a new one.
    """
    for old, new in _pairs(ctx):
        if old.id.name == new.id.name and old.id.namespace != new.id.namespace:
            yield Finding(
                description=f"{what(new)} moves from namespace '{old.id.namespace}' to '{new.id.namespace}'",
                path=("metadata", "namespace"),
                before=old.id.namespace,
                after=new.id.namespace,
                subject=(old, new),
                about=new,
            )
