"""`security.image.*`: where the code a cluster runs comes from."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.containers import container_pairs
from ...kubernetes.images import parse_image
from ...kubernetes.workloads import WORKLOAD_KINDS
from ...model import ResourceDiff
from ..common import container_of
from ..context import SignalContext
from ..findings import container_field
from ..registry import Finding, resource_detector


@resource_detector("security.image.registry", "medium", kinds=WORKLOAD_KINDS)
def image_registry(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's image comes from another registry.

    The registry decides who can publish the code the cluster runs; a new registry is a new party in
    the supply chain.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None:
            continue
        before, after = parse_image(old.body.get("image")), parse_image(new.body.get("image"))
        if before is not None and after is not None and before.registry != after.registry:
            where = container_of(new, diff.resource)
            description = f"Image of {where} now comes from {after.registry} (was {before.registry})"
            yield container_field(old, new, "image", description)
