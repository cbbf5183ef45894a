"""Ports: what a Service targets, what containers declare, named ports resolved to numbers, and
host ports.

A port given by name means the number of the container port of that name: the kubelet resolves a
probe's named port against the probed container's own ports, and a Service's named targetPort is
resolved, pod by pod, against the ports of the containers of the pods it selects. Two renders
that differ only in naming the same number mean the same thing.
"""

from __future__ import annotations

from typing import Any

from .bodies import as_dict, as_list
from .workloads import PodTemplate


def named_ports(pod: PodTemplate) -> dict[str, Any]:
    """The container ports a Service can target by name (its app containers'), by name."""
    found: dict[str, Any] = {}
    for container in as_list(pod.spec.get("containers")):
        for port in as_list(as_dict(container).get("ports")):
            if isinstance(port, dict) and isinstance(port.get("name"), str):
                found.setdefault(port["name"], port.get("containerPort"))
    return found


def resolve_container_port(container: dict[str, Any], port: Any) -> int | None:
    """The number `port` (a probe's) means in `container`: a number as is, a name through the
    container's own declared ports; None for a name it does not declare."""
    if isinstance(port, int) and not isinstance(port, bool):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for declared in as_list(container.get("ports")):
            if isinstance(declared, dict) and declared.get("name") == port:
                number = declared.get("containerPort")
                return number if isinstance(number, int) and not isinstance(number, bool) else None
    return None


def resolve_target_port(target: Any, pods: list[PodTemplate]) -> frozenset[int]:
    """The container port numbers a Service's targetPort reaches in `pods` (the pod templates
    it selects): the number itself, or what the name is declared as by their app containers
    (several when pods declare one name differently); empty for a name none declares."""
    if isinstance(target, int) and not isinstance(target, bool):
        return frozenset({target})
    if isinstance(target, str) and target.isdigit():
        return frozenset({int(target)})
    found = set()
    for pod in pods:
        number = named_ports(pod).get(target) if isinstance(target, str) else None
        if isinstance(number, int) and not isinstance(number, bool):
            found.add(number)
    return frozenset(found)


def host_ports(container: dict[str, Any]) -> list[Any]:
    """The hostPort of each declared port (None where it has none)."""
    return [as_dict(port).get("hostPort") for port in as_list(container.get("ports"))]
