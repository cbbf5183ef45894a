"""`upgrade.crd.*`: CustomResourceDefinitions (and their versions) removed, or moved to crds/."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import as_list, get
from ...kubernetes.paths import item
from ...model import Resource, ResourceDiff
from ..context import SignalContext
from ..registry import Finding, resource_detector


@resource_detector(
    "upgrade.crd.removed", "high", kinds={"CustomResourceDefinition"}, absorbs=("upgrade.crd.versionRemoved",)
)
def crd_removed(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A CRD rendered from templates/ is removed, or a CRD moves between templates/ and crds/.

    Deleting a CRD deletes every custom resource of that kind in the cluster. Helm installs CRDs in
    crds/ once and never upgrades or deletes them, so moving a CRD between templates/ and crds/
    changes who manages it.
    """
    if diff.change_type == "removed":
        assert diff.base is not None
        if not diff.base.install_only:
            yield Finding(
                description=f"CRD '{diff.id.name}' removed: its custom resources will be deleted with it", side="base"
            )
    elif diff.base is not None and diff.head is not None and diff.base.install_only != diff.head.install_only:
        where = ("templates/", "crds/") if diff.head.install_only else ("crds/", "templates/")
        yield Finding(
            description=f"CRD '{diff.id.name}' moved from {where[0]} to {where[1]}", before=where[0], after=where[1]
        )


def _versions(resource: Resource | None) -> dict[str, bool]:
    if resource is None:
        return {}
    return {
        str(v.get("name")): v.get("served", True) is not False
        for v in as_list(get(resource.body, "spec", "versions"))
        if isinstance(v, dict)
    }


@resource_detector("upgrade.crd.versionRemoved", "high", kinds={"CustomResourceDefinition"})
def crd_version_removed(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A CRD version is removed or set `served: false`.

    Clients and stored objects that use a removed or unserved CRD version stop working; Kubernetes
    refuses to remove a version still listed in status.storedVersions.
    """
    old, new = _versions(diff.base), _versions(diff.head)
    if diff.head is None:
        return
    note = " (in crds/: Helm will not apply this change)" if diff.head.install_only else ""
    for name, served in sorted(old.items()):
        if not served:
            continue
        if name not in new:
            yield Finding(
                description=f"Version {name} removed from CRD '{diff.id.name}'{note}",
                path=("spec", "versions", item(name=name)),
                before=name,
                subject=(name, None),
            )
        elif not new[name]:
            yield Finding(
                description=f"Version {name} of CRD '{diff.id.name}' is no longer served{note}",
                path=("spec", "versions", item(name=name), "served"),
                before=True,
                after=False,
                subject=(name, name),
            )
