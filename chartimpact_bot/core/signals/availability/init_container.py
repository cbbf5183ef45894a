"""`availability.initContainer`: what every pod must run before it starts."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.containers import container_pairs
from ...kubernetes.workloads import (
    WORKLOAD_KINDS,
)
from ..common import what
from ..context import SignalContext, Update
from ..registry import Finding, update_detector


@update_detector("availability.initContainer", "medium", kinds=WORKLOAD_KINDS)
def init_container(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """An init container added or removed on an existing workload, or its image or command
    changed.

    Init containers run to completion before the application starts: a new, removed or changed one
    changes what every pod must do before it can serve.
    """
    for old, new in container_pairs(update.base, update.head):
        current = new or old
        assert current is not None
        if current.list_name != "initContainers":
            continue
        if old is None:
            assert new is not None
            yield Finding(
                f"Init container '{new.name}' added to {what(update.head)}",
                new.display(),
                None,
                new.body.get("image"),
                "added",
                new.path,
            )
        elif new is None:
            yield Finding(
                f"Init container '{old.name}' removed from {what(update.head)}",
                old.display(),
                old.body.get("image"),
                None,
                "removed",
                old.path,
                side="base",
            )
        else:
            changed = [f for f in ("image", "command", "args") if old.body.get(f) != new.body.get(f)]
            if changed:
                yield Finding(
                    f"Init container '{new.name}' of {what(update.head)} changed: {', '.join(changed)}",
                    new.display(),
                    {f: old.body.get(f) for f in changed},
                    {f: new.body.get(f) for f in changed},
                    "modified",
                    new.path,
                )
