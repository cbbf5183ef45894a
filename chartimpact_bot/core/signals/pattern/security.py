"""`pattern.security.*`: a workload losing several hardening controls at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from ...model import Signal
from ..context import SignalContext
from ..registry import Finding, pattern_detector

HARDENING_PREFIXES = (
    "security.context.",
    "security.hostAccess.",
    "security.serviceAccount.automount",
)


@pattern_detector("pattern.security.hardeningRemoved", "security", "high")
def hardening_removed(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """One workload loses two or more hardening controls at once.

    Losing several hardening controls at once usually means a security context was dropped or
    overridden wholesale, rather than one deliberate exception.
    """
    by_workload = defaultdict(list)
    for signal in signals:
        if signal.type.startswith(HARDENING_PREFIXES) and signal.importance != "low" and signal.change_type != "added":
            by_workload[signal.resource].append(signal)
    for resource, members in sorted(by_workload.items(), key=lambda item: item[0].sort_key()):
        types = sorted({s.type.rsplit(".", 1)[-1] for s in members})
        if len(types) >= 2:
            yield Finding(
                description=f"{resource.kind} '{resource.name}' loses {len(types)} hardening controls: "
                f"{', '.join(types)}",
                after=types,
                about=ctx.either(resource),
                related=tuple(s.id for s in members),
                source=first_source(members),
            )


def first_source(members: Sequence[Signal]) -> tuple[str, int | None] | None:
    """Where the first of the controls is lost (the earliest line its members point at): the
    pattern is about fields, not about the resource's first line."""
    located = sorted((s.source.file, s.source.line) for s in members if s.source is not None and s.source.line)
    return located[0] if located else None
