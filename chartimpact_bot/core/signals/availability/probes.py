"""`availability.probe.*`: readiness, liveness and startup probes removed, added or made stricter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import as_dict
from ...kubernetes.containers import Container, container_pairs
from ...kubernetes.ports import resolve_container_port
from ...kubernetes.workloads import WORKLOAD_KINDS
from ...model import Importance, ResourceDiff
from ..common import container_of, show, what
from ..context import SignalContext
from ..registry import Finding, resource_detector

PROBE_DEFAULTS = {
    "initialDelaySeconds": 0,
    "periodSeconds": 10,
    "timeoutSeconds": 1,
    "successThreshold": 1,
    "failureThreshold": 3,
}

# For each threshold, the direction that makes a probe fail sooner.
_TIGHTER = {
    "initialDelaySeconds": -1,
    "periodSeconds": 0,
    "timeoutSeconds": -1,
    "successThreshold": 1,
    "failureThreshold": -1,
}

_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


def _probe_changes(old: dict[str, Any], new: dict[str, Any], containers: tuple[Container, Container]) -> list[str]:
    """Why a probe that exists on both sides now behaves differently, in words; a port named on
    one side and numbered on the other is no change when the name is the container's port of
    that number."""
    reasons = []
    old_handler = next((h for h in _HANDLERS if h in old), None)
    new_handler = next((h for h in _HANDLERS if h in new), None)
    if old_handler != new_handler:
        reasons.append(f"handler {old_handler} → {new_handler}")
    elif old_handler is not None and new_handler is not None and old[old_handler] != new[new_handler]:
        for field in ("path", "port", "scheme", "command", "host", "service"):
            before, after = (
                as_dict(old[old_handler]).get(field),
                as_dict(new[new_handler]).get(field),
            )
            if before == after:
                continue
            if field == "port":
                numbers = [resolve_container_port(c.body, p) for c, p in zip(containers, (before, after), strict=True)]
                if numbers[0] is not None and numbers[0] == numbers[1]:
                    continue
                before, after = (_port_words(p, n) for p, n in zip((before, after), numbers, strict=True))
                reasons.append(f"port {before} → {after}")
                continue
            reasons.append(f"{field} {show(before)} → {show(after)}")
    for field, direction in _TIGHTER.items():
        before = old.get(field, PROBE_DEFAULTS[field])
        after = new.get(field, PROBE_DEFAULTS[field])
        if not (isinstance(before, int) and isinstance(after, int)) or before == after:
            continue
        if (direction < 0 and after < before) or (direction > 0 and after > before):
            reasons.append(f"{field} {before} → {after}")
    return reasons


def _port_words(port: Any, number: int | None) -> str:
    """`8080`, or `http (8080)` for a name, or `http (not declared)` for a name the container
    does not declare."""
    if not isinstance(port, str) or port.isdigit():
        return show(port)
    return f"{port} ({number if number is not None else 'not declared'})"


def _probe_findings(diff: ResourceDiff, probe: str, removed_importance: Importance) -> Iterator[Finding]:
    label = probe.removesuffix("Probe").capitalize()
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None or new.list_name == "ephemeralContainers":
            continue
        before, after = old.body.get(probe), new.body.get(probe)
        if isinstance(before, dict) and after is None:
            description, importance = (
                f"{label} probe removed from {container_of(new, diff.resource)}",
                removed_importance,
            )
        elif before is None and isinstance(after, dict):
            if probe == "livenessProbe" and not _risky_liveness(new):
                continue
            description, importance = f"{label} probe added to {container_of(new, diff.resource)}", "medium"
        elif (
            isinstance(before, dict)
            and isinstance(after, dict)
            and (reasons := _probe_changes(before, after, (old, new)))
        ):
            description = (
                f"{label} probe of {new.kind_word} '{new.name}' in {what(diff.resource)} changed: {', '.join(reasons)}"
            )
            importance = "medium"
        else:
            continue
        yield Finding(
            description=description,
            path=(*new.path, probe),
            before=before,
            after=after,
            subject=(before, after),
            importance=importance,
        )


def _risky_liveness(container: Container) -> bool:
    """A new liveness probe kills slow starters when nothing else gives them time."""
    probe = as_dict(container.body.get("livenessProbe"))
    delay = probe.get("initialDelaySeconds", 0)
    return "startupProbe" not in container.body and isinstance(delay, int) and delay < 10


@resource_detector("availability.probe.readiness", "medium", kinds=WORKLOAD_KINDS)
def readiness_probe(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A readiness probe removed (high), added, or changed: handler, port (a named port compared
    as the container port number it names), path, or thresholds that make it fail sooner.

    Without a readiness probe, a pod receives traffic as soon as its process starts, and a rollout
    no longer waits for new pods to be ready. Probe changes decide when traffic reaches a pod.
    """
    return _probe_findings(diff, "readinessProbe", "high")


@resource_detector("availability.probe.liveness", "medium", kinds=WORKLOAD_KINDS)
def liveness_probe(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A liveness probe removed or changed, or added with an initialDelaySeconds under 10 and no
    startupProbe.

    The kubelet restarts a container whose liveness probe fails. A stricter or new probe (without a
    startup probe or a delay) can restart-loop slow starters; a removed one leaves hung processes
    running.
    """
    return _probe_findings(diff, "livenessProbe", "medium")


@resource_detector("availability.probe.startup", "medium", kinds=WORKLOAD_KINDS)
def startup_probe(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A startup probe removed, added or changed.

    A startup probe holds liveness and readiness checks until the application has started; changing
    or removing it changes how long slow starters get.
    """
    return _probe_findings(diff, "startupProbe", "medium")
