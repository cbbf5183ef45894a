"""`availability.service.*`: Services that no longer reach any pod or port, and Service ports
their clients can no longer connect to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import as_dict, as_list, get
from ...kubernetes.paths import item
from ...kubernetes.ports import named_ports, resolve_target_port
from ...kubernetes.workloads import PodTemplate, pod_template
from ...model import Resource
from ..context import SignalContext, Update
from ..registry import Finding, chart_detector, update_detector


def _pods(workloads: list[Resource]) -> list[PodTemplate]:
    return [pod for pod in map(pod_template, workloads) if pod is not None]


def _named_ports(workloads: list[Resource]) -> set[str]:
    return {name for pod in _pods(workloads) for name in named_ports(pod)}


@chart_detector("availability.service.selector", "high")
def service_selector(ctx: SignalContext) -> Iterator[Finding]:
    """A Service whose selector matched a pod template of the chart no longer matches any, or
    whose named targetPort no longer exists on the containers it selects.

    A Service sends traffic only to pods its selector matches and only to ports that exist: when
    nothing matches any more, the Service has no endpoints and requests fail.
    """
    for service in sorted(ctx.of_kind("head", "Service"), key=lambda s: s.id.sort_key()):
        rid = service.id
        old = ctx.base.resources.get(rid)
        if old is None:
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
        for entry in _ports(service).values():
            port = entry.get("targetPort", entry.get("port"))
            if isinstance(port, str) and port in old_names and port not in new_names:
                yield Finding(
                    description=f"targetPort '{port}' of Service '{rid.name}' no longer exists "
                    "on the containers it selects",
                    path=("spec", "ports", item(port=entry.get("port")), "targetPort"),
                    before=port,
                    subject=(port, None),
                    about=service,
                )


PortKey = tuple[Any, str]


def _ports(service: Resource) -> dict[PortKey, dict[str, Any]]:
    """A Service's ports by (port, protocol): the key Kubernetes merges them by."""
    found: dict[PortKey, dict[str, Any]] = {}
    for entry in as_list(get(service.body, "spec", "ports")):
        entry = as_dict(entry)
        if entry.get("port") is not None:
            found.setdefault((entry["port"], str(entry.get("protocol") or "TCP")), entry)
    return found


def _shown(key: PortKey) -> str:
    """`80`, or `53/UDP` for a protocol other than TCP."""
    port, protocol = key
    return f"{port}" if protocol == "TCP" else f"{port}/{protocol}"


def _step(key: PortKey) -> Any:
    """The item of `spec.ports` that key names, as the diff names it."""
    port, protocol = key
    return item(port=port) if protocol == "TCP" else item(port=port, protocol=protocol)


@update_detector("availability.service.port", "medium", kinds={"Service"})
def service_port(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A port of a Service is removed, or its number (or protocol) changes; a port whose
    targetPort now reaches another container port number fires the finer
    `availability.service.port.target` (low). A port only renamed, or a targetPort that now names
    the container port it used to number, fires nothing.

    Clients reach a Service by its port number: those that still connect to a port the Service no
    longer has fail. The targetPort decides which container port receives the traffic; the pods
    must listen there.
    """
    rid = update.id
    old, new = _ports(update.base), _ports(update.head)
    renamed = {str(entry.get("name")): key for key, entry in new.items() if key not in old and entry.get("name")}
    for key, entry in old.items():
        if key in new:
            continue
        name = entry.get("name")
        moved = renamed.get(str(name)) if name else None
        if moved is not None:
            yield Finding(
                description=f"Port '{name}' of Service '{rid.name}' changed from {_shown(key)} to {_shown(moved)}: "
                f"clients that connect to {_shown(key)} fail",
                path=("spec", "ports", _step(moved)),
                before=_shown(key),
                after=_shown(moved),
                subject=(entry, new[moved]),
            )
        else:
            label = f"{_shown(key)} ({name})" if name else _shown(key)
            yield Finding(
                description=f"Port {label} removed from Service '{rid.name}': clients that connect to it fail",
                path=("spec", "ports", _step(key)),
                before=_shown(key),
                subject=(entry, None),
                side="base",
            )
    yield from _target_changes(ctx, update, old, new)


def _target_changes(
    ctx: SignalContext, update: Update, old: dict[PortKey, dict[str, Any]], new: dict[PortKey, dict[str, Any]]
) -> Iterator[Finding]:
    """Ports on both sides whose targetPort, resolved against the pods the Service selects in
    the chart, reaches another number (a name that resolves to nothing is service.selector's)."""
    rid = update.id
    selectors = get(update.base.body, "spec", "selector"), get(update.head.body, "spec", "selector")
    if not all(isinstance(s, dict) and s for s in selectors):
        return
    pods = (
        _pods(ctx.selected_workloads(selectors[0], rid.namespace, "base")),
        _pods(ctx.selected_workloads(selectors[1], rid.namespace, "head")),
    )
    for key, entry in new.items():
        if key not in old:
            continue
        targets = old[key].get("targetPort", key[0]), entry.get("targetPort", key[0])
        if targets[0] == targets[1]:
            continue
        before, after = (resolve_target_port(t, p) for t, p in zip(targets, pods, strict=True))
        if not before or not after or before == after:
            continue
        yield Finding(
            type="availability.service.port.target",
            importance="low",
            description=f"Port {_shown(key)} of Service '{rid.name}' now sends traffic to container port "
            f"{_numbers(targets[1], after)} (was {_numbers(targets[0], before)})",
            path=("spec", "ports", _step(key), "targetPort"),
            before=targets[0],
            after=targets[1],
            subject=(targets[0], targets[1]),
        )


def _numbers(target: Any, numbers: frozenset[int]) -> str:
    shown = ", ".join(map(str, sorted(numbers)))
    return shown if not isinstance(target, str) or target.isdigit() else f"{target} ({shown})"
