"""`upgrade.resource.*`: resources Helm deletes and recreates (renamed, moved to another
namespace, replaced by another kind)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.apis import BUILTIN_GROUPS
from ...kubernetes.scopes import declared_scopes
from ...model import Importance, Resource
from ..common import what
from ..context import SignalContext
from ..registry import Finding, chart_detector
from ..similarity import Leaf, candidate_pairs

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


def _leaves(value: Any, path: tuple[str, ...] = ()) -> set[Leaf]:
    if isinstance(value, dict):
        return {leaf for k, v in value.items() for leaf in _leaves(v, (*path, str(k)))}
    if isinstance(value, list):
        return {leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, str(i)))}
    return {(path, repr(value))}


def _content(resource: Resource) -> frozenset[Leaf]:
    """The resource's leaves but its identity, its own name in values written `<name>`."""
    body = {k: v for k, v in resource.body.items() if k not in ("metadata", "apiVersion", "kind")}
    name = resource.id.name
    return frozenset((p, v.replace(name, "<name>")) for p, v in _leaves(body))


def _similarity(a: frozenset[Leaf], b: frozenset[Leaf]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _removed(ctx: SignalContext) -> list[Resource]:
    return [d.base for d in ctx.diffs if d.change_type == "removed" and d.base is not None]


def _added(ctx: SignalContext) -> list[Resource]:
    return [d.head for d in ctx.diffs if d.change_type == "added" and d.head is not None]


def _renames(ctx: SignalContext) -> list[tuple[Resource, Resource]]:
    """(removed, added) resources of one kind of RENAME_KINDS and one namespace, under other
    names, whose contents are at least 80% alike; removed then added in the diff's order."""
    groups: dict[tuple[str, str, str], tuple[list[int], list[int]]] = {}
    removed, added = _removed(ctx), _added(ctx)
    for side, resources in enumerate((removed, added)):
        for position, resource in enumerate(resources):
            rid = resource.id
            if rid.kind in RENAME_KINDS:
                groups.setdefault((rid.group, rid.kind, rid.namespace), ([], []))[side].append(position)
    found: list[tuple[int, int]] = []
    for olds, news in groups.values():
        contents = [_content(removed[p]) for p in olds], [_content(added[p]) for p in news]
        for i, j in candidate_pairs(*contents):
            old, new = removed[olds[i]], added[news[j]]
            if old.id.name != new.id.name and _similarity(contents[0][i], contents[1][j]) >= 0.8:
                found.append((olds[i], news[j]))
    return [(removed[i], added[j]) for i, j in sorted(found)]


@chart_detector("upgrade.resource.renamed", "high")
def renamed(ctx: SignalContext) -> Iterator[Finding]:
    """A resource removed and one of the same kind and namespace, with a near-identical spec,
    added (delete + create).

    Helm sees a renamed resource as a deletion and a creation: a renamed claim is a new, empty
    volume; a renamed LoadBalancer Service gets a new address; a renamed workload restarts from
    scratch.
    """
    for old, new in _renames(ctx):
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
    added: dict[tuple[str, str, str], list[Resource]] = {}
    for new in _added(ctx):
        added.setdefault((new.id.group, new.id.kind, new.id.name), []).append(new)
    for old in _removed(ctx):
        for new in added.get((old.id.group, old.id.kind, old.id.name), ()):
            if old.id.namespace == new.id.namespace:
                continue
            yield Finding(
                description=f"{what(new)} moves from namespace '{old.id.namespace}' to '{new.id.namespace}'",
                path=("metadata", "namespace"),
                before=old.id.namespace,
                after=new.id.namespace,
                subject=(old, new),
                about=new,
            )


def _kind(resource: Resource) -> tuple[str, str]:
    return resource.id.group, resource.id.kind


def _named(resource: Resource) -> str:
    """`ValidatingPolicy (policies.kyverno.io)`."""
    return f"{resource.id.kind} ({resource.id.group})" if resource.id.group else resource.id.kind


def _replacements(ctx: SignalContext) -> dict[tuple[tuple[str, str], tuple[str, str]], list[tuple[Resource, Resource]]]:
    """Resources removed and added under the same name as another kind, the new kind a custom
    one, grouped by (old kind, new kind). A cluster-scoped kind and a namespaced one pair too."""
    removed: dict[str, list[Resource]] = {}
    for old in sorted(_removed(ctx), key=lambda r: r.id.sort_key()):
        removed.setdefault(old.id.name, []).append(old)
    groups: dict[tuple[tuple[str, str], tuple[str, str]], list[tuple[Resource, Resource]]] = {}
    for diff in ctx.diffs:
        new = diff.head
        if diff.change_type != "added" or new is None or new.id.group in BUILTIN_GROUPS:
            continue
        for old in removed.get(new.id.name, ()):
            if _kind(old) != _kind(new) and (
                old.id.namespace == new.id.namespace or "" in (old.id.namespace, new.id.namespace)
            ):
                groups.setdefault((_kind(old), _kind(new)), []).append((old, new))
                break
    return groups


@chart_detector("upgrade.resource.kindChanged", "high")
def kind_changed(ctx: SignalContext) -> Iterator[Finding]:
    """Resources removed and, under the same names, resources of a custom kind added (every
    ClusterPolicy becoming a ValidatingPolicy): high when the cluster may not know the new kind,
    since the chart ships no CRD for it or ships it new in this change and the base rendered no
    object of it; low when its CRD is in both versions of the chart or the base already used it.
    One signal per pair of kinds, naming the resources.

    Helm maps every resource of the new release to an API before it applies any: a kind the
    cluster does not serve yet (its CRD or its controller installed by something else, or a CRD
    the chart adds now, which `helm upgrade` never applies from crds/ and cannot map from
    templates/ in the same release) fails the upgrade. When it succeeds, the old objects are
    deleted and new ones created, possibly handled by another controller.
    """
    base_crds, head_crds = declared_scopes(ctx.base.resources.values()), declared_scopes(ctx.head.resources.values())
    used_before = {_kind(r) for r in ctx.base.resources.values()}
    for (_, new_kind), pairs in sorted(_replacements(ctx).items()):
        first_old, first_new = pairs[0]
        importance: Importance
        if new_kind in base_crds and new_kind in head_crds:
            reason, importance = "the chart ships its CRD in both versions", "low"
        elif new_kind in used_before:
            reason, importance = f"the chart already rendered {first_new.id.kind} objects", "low"
        elif new_kind in head_crds:
            reason = (
                "its CRD is new in this change: the upgrade fails unless the CRD is installed first "
                "(helm upgrade does not apply crds/, and cannot map a kind whose CRD it creates in the same release)"
            )
            importance = "high"
        else:
            reason = (
                f"the chart ships no CRD for {first_new.id.kind}: the upgrade fails unless the cluster already "
                "serves it (its CRD and controller installed by something else)"
            )
            importance = "high"
        names = [old.id.name for old, _ in pairs]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        count = f"{len(pairs)} {first_old.id.kind} resources are" if len(pairs) > 1 else f"{first_old.id.kind} is"
        yield Finding(
            description=f"{count} replaced by {_named(first_new)} of the same name ({shown}); {reason}",
            path=("kind",),
            before=f"{first_old.api_version} {first_old.id.kind}",
            after=f"{first_new.api_version} {first_new.id.kind}",
            subject=(first_old, first_new),
            importance=importance,
            about=first_new,
        )
