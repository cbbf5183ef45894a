"""`upgrade.api.*`: apiVersions a target Kubernetes release does not serve, or has deprecated.

What each release serves comes from kubernetes/lifecycle.py (generated from upstream data). A
resource fires when the change brings it to that apiVersion (new, or moved from another one), or
when the change adds the target release to the configuration: either way, it is news to the
reviewer. One signal per resource names every target concerned, and those that still serve it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.lifecycle import ApiLifecycle, lifecycle_of, shown
from ...model import Resource, ResourceId
from ...validation.targets import Target, releases
from ..common import what
from ..context import SignalContext
from ..registry import Finding, chart_detector

Use = tuple[ResourceId, str]  # a resource and the apiVersion it is rendered with


def _uses(ctx: SignalContext) -> dict[Use, tuple[Resource, list[Target]]]:
    """Each resource and apiVersion the head renders, with the targets whose render has it (a chart
    reading `.Capabilities` picks its apiVersions per target)."""
    found: dict[Use, tuple[Resource, list[Target]]] = {}
    for target in ctx.targets:
        for resource in ctx.head.resources_for(target.version).values():
            _, targets = found.setdefault((resource.id, resource.api_version), (resource, []))
            targets.append(target)
    return dict(sorted(found.items(), key=lambda item: (item[0][0].kind, item[0][0].namespace, item[0][0].name)))


def _news(ctx: SignalContext, resource: Resource, concerned: list[Target]) -> bool:
    """Whether this is new to the reviewer: on one of the concerned targets the base did not render
    the resource with this apiVersion, or the change adds that target."""
    for target in concerned:
        base = ctx.base.resources_for(target.version).get(resource.id)
        if target.added or base is None or base.api_version != resource.api_version:
            return True
    return False


def _finding(ctx: SignalContext, resource: Resource, concerned: list[Target], said: str) -> Finding:
    """The signal on the resource's apiVersion: "<Kind> '<name>' uses <apiVersion>, <said>"."""
    base = ctx.base.resources_for(concerned[0].version).get(resource.id)
    return Finding(
        description=f"{what(resource)} uses {resource.api_version}, {said}",
        path=("apiVersion",),
        before=base.api_version if base is not None else None,
        after=resource.api_version,
        about=resource,
    )


def _use(entry: ApiLifecycle) -> str:
    return f"; use {entry.replacement}" if entry.replacement else ""


def _added(targets: list[Target]) -> str:
    added = [t for t in targets if t.added]
    return f" (a target this change adds: {releases(added)})" if added else ""


@chart_detector("upgrade.api.removed", "high")
def api_removed(ctx: SignalContext) -> Iterator[Finding]:
    """A resource uses an apiVersion that a target Kubernetes release does not serve (removed, or
    not yet introduced).

    The API server does not serve it: installing or upgrading the release fails on that cluster.
    Targets come from `kubernetes.versions` in `.chartimpact.yml` or `--kube-version`; by
    default, the newest release the bundled data knows.
    """
    for resource, rendered_for in ctx.once(_uses).values():
        entry = lifecycle_of(resource.api_version, resource.id.kind)
        if entry is None:
            continue
        refused = [t for t in rendered_for if not entry.served_by(t.version)]
        if not refused or not _news(ctx, resource, refused):
            continue
        serving = [t for t in ctx.targets if entry.served_by(t.version)]
        if entry.removed is not None and refused[0].version >= entry.removed:
            why = f"removed in {shown(entry.removed)}{_use(entry)}"
        else:
            why = f"introduced in {shown(entry.introduced) if entry.introduced else '?'}"
        verb = "does" if len(refused) == 1 else "do"
        still = f"; {releases(serving)} still serve{'s' if len(serving) == 1 else ''} it" if serving else ""
        yield _finding(
            ctx,
            resource,
            refused,
            f"which Kubernetes {releases(refused)} {verb} not serve ({why}){_added(refused)}{still}",
        )


@chart_detector("upgrade.api.deprecated", "low")
def api_deprecated(ctx: SignalContext) -> Iterator[Finding]:
    """A resource uses an apiVersion that a target Kubernetes release still serves but has
    deprecated.

    The API server warns on every request, and a later release removes it: the chart will need
    a new version before the cluster is upgraded.
    """
    for resource, rendered_for in ctx.once(_uses).values():
        entry = lifecycle_of(resource.api_version, resource.id.kind)
        if entry is None or entry.deprecated is None:
            continue
        if any(not entry.served_by(t.version) for t in rendered_for):
            continue  # upgrade.api.removed says it, and more
        warned = [t for t in rendered_for if entry.deprecated_in(t.version)]
        if not warned or not _news(ctx, resource, warned):
            continue
        removal = f", removed in {shown(entry.removed)}" if entry.removed else ""
        yield _finding(
            ctx,
            resource,
            warned,
            f"deprecated since Kubernetes {shown(entry.deprecated)}{removal}{_use(entry)}"
            f" (targets {releases(warned)}{_added(warned)})",
        )
