"""`availability.service.*`: Services that no longer reach any pod or port."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import get
from ...kubernetes.paths import item
from ...kubernetes.ports import named_ports, service_target_ports
from ...kubernetes.workloads import pod_template
from ...model import Resource
from ..context import SignalContext
from ..registry import Finding, chart_detector


def _named_ports(workloads: list[Resource]) -> set[str]:
    pods = [pod for pod in map(pod_template, workloads) if pod is not None]
    return {name for pod in pods for name in named_ports(pod)}


@chart_detector("availability.service.selector", "high")
def service_selector(ctx: SignalContext) -> Iterator[Finding]:
    """A Service whose selector matched a pod template of the chart no longer matches any, or
    whose named targetPort no longer exists on the containers it selects.

    A Service sends traffic only to pods its selector matches and only to ports that exist: when
    nothing matches any more, the Service has no endpoints and requests fail.
    """
    for rid, service in sorted(ctx.head.resources.items(), key=lambda item: item[0].sort_key()):
        old = ctx.base.resources.get(rid)
        if rid.kind != "Service" or old is None:
            continue
        selector = get(service.body, "spec", "selector")
        if not isinstance(selector, dict) or not selector:
            continue
        before = ctx.selected_workloads(get(old.body, "spec", "selector"), rid.namespace, "base")
        after = ctx.selected_workloads(selector, rid.namespace, "head")
        if before and not after:
            yield Finding(
                description=f"Selector of Service '{rid.name}' no longer matches any pod template in the chart",
                path=("spec", "selector"),
                before=get(old.body, "spec", "selector"),
                after=selector,
                about=service,
            )
            continue
        if not after:
            continue
        old_names, new_names = _named_ports(before), _named_ports(after)
        for port in service_target_ports(service):
            if isinstance(port, str) and port in old_names and port not in new_names:
                yield Finding(
                    description=f"targetPort '{port}' of Service '{rid.name}' no longer exists "
                    "on the containers it selects",
                    path=("spec", "ports", item(targetPort=port)),
                    before=port,
                    subject=(port, None),
                    about=service,
                )
