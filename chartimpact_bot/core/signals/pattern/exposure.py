"""`pattern.exposure.*`: several resources become reachable from outside in one change."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ...model import ResourceId, Signal
from ..context import SignalContext
from ..registry import Finding, pattern_detector

EXPOSURE_TYPES = (
    "security.exposure.type",
    "security.exposure.ingress",
    "security.exposure.externalIPs",
    "security.exposure.loadBalancerSourceRanges",
)


@pattern_detector("pattern.exposure.multiple", "security", "high")
def exposure_multiple(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """Two or more Services or Ingresses become externally exposed in one change.

    Several resources becoming reachable from outside in one change deserves one look at the whole:
    it is how an internal service ends up public by accident.
    """
    members = [s for s in signals if s.type.startswith(EXPOSURE_TYPES) and s.importance == "high"]
    resources = sorted({s.resource for s in members}, key=ResourceId.sort_key)
    if len(resources) >= 2:
        names = ", ".join(f"{r.kind} '{r.name}'" for r in resources)
        yield Finding(
            description=f"{len(resources)} resources become exposed outside the cluster: {names}",
            after=[str(r) for r in resources],
            subject=(None, resources),
            about=ctx.chart_resource(),
            related=tuple(s.id for s in members),
        )
