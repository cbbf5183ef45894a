"""`availability.hpa`: HorizontalPodAutoscalers that scale less, or have nothing to scale."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import as_dict, get
from ..common import what
from ..context import SignalContext
from ..registry import Finding, chart_detector


@chart_detector("availability.hpa", "medium")
def hpa(ctx: SignalContext) -> Iterator[Finding]:
    """A HorizontalPodAutoscaler removed, its minReplicas or maxReplicas lowered, or its target
    workload no longer rendered.

    The HorizontalPodAutoscaler is what adds pods under load: a lower ceiling or floor, a missing
    target or a removed autoscaler leaves the workload at a fixed size.
    """
    base_hpas = {r.id: r for r in ctx.of_kind("base", "HorizontalPodAutoscaler")}
    head_hpas = {r.id: r for r in ctx.of_kind("head", "HorizontalPodAutoscaler")}
    for rid in sorted(base_hpas.keys() - head_hpas.keys(), key=lambda r: r.sort_key()):
        old = base_hpas[rid]
        yield Finding(description=f"{what(old)} removed", about=old, side="base")
    for rid in sorted(head_hpas, key=lambda r: r.sort_key()):
        new = head_hpas[rid]
        old_hpa = base_hpas.get(rid)
        if old_hpa is not None:
            for field in ("minReplicas", "maxReplicas"):
                before = get(old_hpa.body, "spec", field) or (1 if field == "minReplicas" else None)
                after = get(new.body, "spec", field) or (1 if field == "minReplicas" else None)
                if isinstance(before, int) and isinstance(after, int) and after < before:
                    yield Finding(
                        description=f"{field} of {what(new)} lowered from {before} to {after}",
                        path=("spec", field),
                        before=before,
                        after=after,
                        about=new,
                    )
        target = as_dict(get(new.body, "spec", "scaleTargetRef"))
        kind, name = target.get("kind"), target.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            continue
        was, now = ctx.resource("base", kind, rid.namespace, name), ctx.resource("head", kind, rid.namespace, name)
        if was is not None and now is None:
            yield Finding(
                description=f"{what(new)} targets {kind} '{name}', which the chart no longer renders",
                path=("spec", "scaleTargetRef"),
                before=target,
                after=target,
                subject=(was, now),
                about=new,
            )
