"""`upgrade.api.*`: apiVersions the target Kubernetes no longer serves."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.apis import removed_in
from ...model import ResourceDiff
from ...semver import Version
from ..common import what
from ..context import SignalContext
from ..registry import Finding, resource_detector

DEFAULT_KUBE_VERSION = Version(1, 33, 0)


@resource_detector("upgrade.api.removed", "high")
def api_removed(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A resource now uses an apiVersion removed in the configured Kubernetes version (1.33 when
    none is configured).

    The API server no longer serves a removed apiVersion: installing or upgrading a resource that
    uses it fails.
    """
    if diff.head is None:
        return
    removed = removed_in(diff.head)
    target = ctx.kube_version or DEFAULT_KUBE_VERSION
    if removed is None or target < removed:
        return
    if diff.base is not None and diff.base.api_version == diff.head.api_version:
        return
    configured = "" if ctx.kube_version else " (the default; configure kubeVersion)"
    yield Finding(
        description=f"{what(diff.head)} uses {diff.head.api_version}, "
        f"removed in Kubernetes {removed.major}.{removed.minor}; "
        f"checked against {target.major}.{target.minor}{configured}",
        path=("apiVersion",),
        before=diff.base.api_version if diff.base else None,
        after=diff.head.api_version,
    )
