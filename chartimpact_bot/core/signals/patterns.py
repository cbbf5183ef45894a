"""Cross-resource patterns, computed over the signals already found; each names its members."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from ..kubernetes.bodies import as_dict, get
from ..kubernetes.rbac import BINDING_KINDS, ROLE_KINDS
from ..kubernetes.workloads import SCALABLE_KINDS, pod_template, replicas_of
from ..model import ResourceDiff, ResourceId, Signal
from .common import what
from .context import SignalContext
from .registry import Finding, pattern_detector

EXPOSURE_TYPES = (
    "security.exposure.type",
    "security.exposure.ingress",
    "security.exposure.externalIPs",
    "security.exposure.loadBalancerSourceRanges",
)
HARDENING_PREFIXES = (
    "security.context.",
    "security.hostAccess.",
    "security.serviceAccount.automount",
)


def _has_readiness(resource: object) -> bool:
    pod = pod_template(resource)  # type: ignore[arg-type]
    if pod is None:
        return False
    return any("readinessProbe" in as_dict(c) for c in pod.spec.get("containers") or [])


@pattern_detector("pattern.probes.allRemoved", "availability", "high")
def probes_all_removed(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """Every workload of the chart (two or more) that had a readiness probe lost it.

    When every workload loses its readiness probe at once, nothing in the chart waits for pods to be
    ready any more: traffic and rollouts race ahead of the applications.
    """
    had = sorted((w.id for w in ctx.workloads("base") if _has_readiness(w)), key=ResourceId.sort_key)
    if len(had) < 2:
        return
    still = {w.id for w in ctx.workloads("head") if _has_readiness(w)}
    if any(rid in still for rid in had):
        return
    members = [s.id for s in signals if s.type == "availability.probe.readiness" and s.change_type == "removed"]
    names = ", ".join(f"{r.kind} '{r.name}'" for r in had)
    yield Finding(
        f"Every workload that had a readiness probe lost it: {names}",
        "",
        len(had),
        0,
        "removed",
        resource=ctx.chart_id(),
        api_version="v2",
        related=tuple(members),
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
            f"{len(resources)} resources become exposed outside the cluster: {names}",
            "",
            None,
            [str(r) for r in resources],
            "added",
            resource=ctx.chart_id(),
            api_version="v2",
            related=tuple(s.id for s in members),
        )


@pattern_detector("pattern.rbac.coordinated", "security", "high")
def rbac_coordinated(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """An existing Role or ClusterRole widens and a binding to it changes in the same change
    (including a new service account bound to it).

    A role that gains permissions while a binding to it changes is how access is widened for a
    specific account in one step; review both together.
    """
    widened = defaultdict(list)
    for signal in signals:
        # A role that is new in this change is new RBAC, which the role's own signals report.
        if (
            signal.type.startswith("security.rbac.")
            and signal.resource.kind in ROLE_KINDS
            and signal.resource in ctx.base.resources
        ):
            widened[signal.resource].append(signal)
    for role, role_signals in sorted(widened.items(), key=lambda item: item[0].sort_key()):
        bindings = [d for d in ctx.diffs if _binds(d, role) and _binding_changed(d)]
        if not bindings:
            continue
        binding_ids = {d.id for d in bindings}
        members = [s.id for s in role_signals] + [s.id for s in signals if s.resource in binding_ids]
        names = ", ".join(f"{d.id.kind} '{d.id.name}'" for d in bindings)
        yield Finding(
            f"{role.kind} '{role.name}' widens while its binding changes ({names})",
            "rules",
            None,
            [str(d.id) for d in bindings],
            "modified",
            resource=role,
            api_version=role_signals[0].api_version,
            related=tuple(members),
        )


def _binds(diff: ResourceDiff, role: ResourceId) -> bool:
    if diff.id.kind not in BINDING_KINDS or diff.head is None:
        return False
    ref = get(diff.head.body, "roleRef")
    return bool(get(ref, "kind") == role.kind and get(ref, "name") == role.name)


def _binding_changed(diff: ResourceDiff) -> bool:
    """A new binding, or one whose roleRef or subjects changed (labels do not count)."""
    return diff.change_type == "added" or any(c.display_path.startswith(("roleRef", "subjects")) for c in diff.changes)


def _single_point(ctx: SignalContext, workload: object, which: str) -> bool:
    if replicas_of(workload) != 1:  # type: ignore[arg-type]
        return False
    return not ctx.pdbs_covering(workload, which) and not ctx.hpas_targeting(workload, which)  # type: ignore[arg-type]


@pattern_detector("pattern.availability.singlePointOfFailure", "availability", "medium")
def single_point_of_failure(ctx: SignalContext, signals: Sequence[Signal]) -> Iterator[Finding]:
    """A workload now ends with 1 replica, no PodDisruptionBudget and no HorizontalPodAutoscaler.

    One replica with neither a disruption budget nor an autoscaler goes down on every node drain,
    eviction or crash.
    """
    for workload in sorted(ctx.workloads("head"), key=lambda w: w.id.sort_key()):
        if workload.id.kind not in SCALABLE_KINDS:
            continue
        old = ctx.base.resources.get(workload.id)
        if old is None or not _single_point(ctx, workload, "head") or _single_point(ctx, old, "base"):
            continue
        members = [s.id for s in signals if s.resource == workload.id and s.type == "availability.replicas"]
        members += [s.id for s in signals if s.type.startswith(("availability.pdb.", "availability.hpa"))]
        yield Finding(
            f"{what(workload)} now runs a single replica with no PodDisruptionBudget and no autoscaler",
            "spec.replicas",
            None,
            1,
            "modified",
            ("spec", "replicas"),
            resource=workload.id,
            api_version=workload.api_version,
            related=tuple(members),
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
                f"{resource.kind} '{resource.name}' loses {len(types)} hardening controls: {', '.join(types)}",
                "",
                None,
                types,
                "modified",
                resource=resource,
                api_version=members[0].api_version,
                related=tuple(s.id for s in members),
            )
