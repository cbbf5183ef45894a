"""Ports: what a Service targets, what containers declare, and host ports."""

from __future__ import annotations

from typing import Any

from ..model import Resource
from .bodies import as_dict, as_list, get
from .workloads import PodTemplate


def service_target_ports(service: Resource) -> list[Any]:
    """The port each port of a Service sends to: `targetPort`, which defaults to `port`."""
    ports = as_list(get(service.body, "spec", "ports"))
    return [p.get("targetPort", p.get("port")) for p in ports if isinstance(p, dict)]


def named_ports(pod: PodTemplate) -> dict[str, Any]:
    """The container ports a Service can target by name (its app containers'), by name."""
    found: dict[str, Any] = {}
    for container in as_list(pod.spec.get("containers")):
        for port in as_list(as_dict(container).get("ports")):
            if isinstance(port, dict) and isinstance(port.get("name"), str):
                found.setdefault(port["name"], port.get("containerPort"))
    return found


def host_ports(container: dict[str, Any]) -> list[Any]:
    """The hostPort of each declared port (None where it has none)."""
    return [as_dict(port).get("hostPort") for port in as_list(container.get("ports"))]
