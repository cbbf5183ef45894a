"""`workload.image*`: the code a container runs, and how its image is pinned and pulled."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.containers import Container, container_pairs
from ...kubernetes.images import parse_image
from ...kubernetes.workloads import WORKLOAD_KINDS
from ...model import ResourceDiff
from ..common import container_of, sentence, what
from ..context import SignalContext
from ..findings import container_field
from ..registry import Finding, resource_detector


@resource_detector("workload.image", "medium", kinds=WORKLOAD_KINDS)
def image(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's image changes (tag or digest); high when the tag goes down a semantic
    version of the same repository (a rollback).

    A new image is new code in production; a lower version is a rollback.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None or old.body.get("image") == new.body.get("image"):
            continue
        before, after = parse_image(old.body.get("image")), parse_image(new.body.get("image"))
        rollback = (
            before is not None
            and after is not None
            and before.repository == after.repository
            and before.version is not None
            and after.version is not None
            and after.version < before.version
        )
        how = "rolled back" if rollback else "changed"
        description = f"Image of {_in(new, diff)} {how} from {old.body.get('image')} to {new.body.get('image')}"
        yield container_field(old, new, "image", description, "high" if rollback else "medium")


def _in(container: Container, diff: ResourceDiff) -> str:
    """`container 'web' in Deployment 'shop'`."""
    return f"{container.kind_word} '{container.name}' in {what(diff.resource)}"


def _mutable(reference: object) -> bool:
    parsed = parse_image(reference)
    return parsed is not None and parsed.mutable


@resource_detector("workload.image.mutableTag", "medium", kinds=WORKLOAD_KINDS)
def mutable_tag(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's image becomes `latest` or untagged, or goes from a digest to a tag.

    A mutable tag (latest, no tag, or a tag instead of a digest) can point at different code on
    every pull, so what runs is no longer what was reviewed.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if new is None:
            continue
        after = new.body.get("image")
        before = old.body.get("image") if old is not None else None
        parsed_before, parsed_after = parse_image(before), parse_image(after)
        if _mutable(after) and not _mutable(before):
            description = sentence(f"{container_of(new, diff.resource)} uses the mutable image {after}")
            yield container_field(old, new, "image", description)
        elif (
            parsed_before is not None and parsed_after is not None and parsed_before.digest and not parsed_after.digest
        ):
            yield container_field(old, new, "image", f"Image of {_in(new, diff)} is no longer pinned by digest")


@resource_detector("workload.image.pullPolicy", "low", kinds=WORKLOAD_KINDS)
def pull_policy(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's imagePullPolicy changes.

    The pull policy decides whether nodes fetch the image again or reuse a cached copy that may be
    stale.
    """
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None:
            continue
        before, after = old.body.get("imagePullPolicy"), new.body.get("imagePullPolicy")
        if before != after:
            description = f"imagePullPolicy of {_in(new, diff)} changed from {before} to {after}"
            yield container_field(old, new, "imagePullPolicy", description)
