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
    base_hpas = {rid: r for rid, r in ctx.base.resources.items() if rid.kind == "HorizontalPodAutoscaler"}
    head_hpas = {rid: r for rid, r in ctx.head.resources.items() if rid.kind == "HorizontalPodAutoscaler"}
    for rid in sorted(base_hpas.keys() - head_hpas.keys(), key=lambda r: r.sort_key()):
        old = base_hpas[rid]
        yield Finding(
            f"{what(old)} removed",
            "",
            None,
            None,
            "removed",
            resource=rid,
            api_version=old.api_version,
            side="base",
        )
    for rid in sorted(head_hpas, key=lambda r: r.sort_key()):
        new = head_hpas[rid]
        old_hpa = base_hpas.get(rid)
        if old_hpa is not None:
            for field in ("minReplicas", "maxReplicas"):
                before = get(old_hpa.body, "spec", field) or (1 if field == "minReplicas" else None)
                after = get(new.body, "spec", field) or (1 if field == "minReplicas" else None)
                if isinstance(before, int) and isinstance(after, int) and after < before:
                    yield Finding(
                        f"{field} of {what(new)} lowered from {before} to {after}",
                        f"spec.{field}",
                        before,
                        after,
                        "modified",
                        ("spec", field),
                        resource=rid,
                        api_version=new.api_version,
                    )
        target = as_dict(get(new.body, "spec", "scaleTargetRef"))
        kind, name = target.get("kind"), target.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            continue
        existed = ctx.resource("base", kind, rid.namespace, name) is not None
        exists = ctx.resource("head", kind, rid.namespace, name) is not None
        if existed and not exists:
            yield Finding(
                f"{what(new)} targets {kind} '{name}', which the chart no longer renders",
                "spec.scaleTargetRef",
                target,
                target,
                "modified",
                ("spec", "scaleTargetRef"),
                resource=rid,
                api_version=new.api_version,
            )
