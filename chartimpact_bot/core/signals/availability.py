"""Availability: changes that can take pods out of service or stop a rollout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..kubernetes.bodies import as_dict, as_list, get
from ..kubernetes.containers import Container, container_pairs
from ..kubernetes.ports import named_ports, service_target_ports
from ..kubernetes.quantities import int_or_percent, quantity
from ..kubernetes.references import CONFIG_KINDS, config_references, object_references
from ..kubernetes.workloads import (
    ROLLING_KINDS,
    SCALABLE_KINDS,
    STRATEGY_FIELDS,
    WORKLOAD_KINDS,
    pod_template,
    replicas_of,
)
from ..model import ChangeType, Resource, ResourceDiff
from .common import show, what
from .context import SignalContext, Update
from .registry import Finding, chart_detector, resource_detector, update_detector

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


def _probe_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why a probe that exists on both sides now behaves differently, in words."""
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
            if before != after:
                reasons.append(f"{field} {show(before)} → {show(after)}")
    for field, direction in _TIGHTER.items():
        before = old.get(field, PROBE_DEFAULTS[field])
        after = new.get(field, PROBE_DEFAULTS[field])
        if not (isinstance(before, int) and isinstance(after, int)) or before == after:
            continue
        if (direction < 0 and after < before) or (direction > 0 and after > before):
            reasons.append(f"{field} {before} → {after}")
    return reasons


def _probe_findings(diff: ResourceDiff, probe: str, removed_importance: str) -> Iterator[Finding]:
    label = probe.removesuffix("Probe")
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None or new.list_name == "ephemeralContainers":
            continue
        before, after = old.body.get(probe), new.body.get(probe)
        path = (*new.path, probe)
        display = new.display(probe)
        if isinstance(before, dict) and after is None:
            yield Finding(
                f"{label.capitalize()} probe removed from {new.kind_word} '{new.name}' of {_what(diff)}",
                display,
                before,
                None,
                "removed",
                path,
                importance=removed_importance,  # type: ignore[arg-type]
            )
        elif before is None and isinstance(after, dict):
            if probe == "livenessProbe" and not _risky_liveness(new):
                continue
            yield Finding(
                f"{label.capitalize()} probe added to {new.kind_word} '{new.name}' of {_what(diff)}",
                display,
                None,
                after,
                "added",
                path,
                importance="medium",
            )
        elif isinstance(before, dict) and isinstance(after, dict):
            reasons = _probe_changes(before, after)
            if reasons:
                yield Finding(
                    f"{label.capitalize()} probe of {new.kind_word} '{new.name}' in {_what(diff)} "
                    f"changed: {', '.join(reasons)}",
                    display,
                    before,
                    after,
                    "modified",
                    path,
                    importance="medium",
                )


def _risky_liveness(container: Container) -> bool:
    """A new liveness probe kills slow starters when nothing else gives them time."""
    probe = as_dict(container.body.get("livenessProbe"))
    delay = probe.get("initialDelaySeconds", 0)
    return "startupProbe" not in container.body and isinstance(delay, int) and delay < 10


def _what(diff: ResourceDiff) -> str:
    return what(diff.resource)


@resource_detector("availability.probe.readiness", "medium", kinds=WORKLOAD_KINDS)
def readiness_probe(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A readiness probe removed (high), added, or changed: handler, port, path, or thresholds
    that make it fail sooner.

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


@resource_detector("availability.replicas", "high", kinds=SCALABLE_KINDS)
def replicas(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """spec.replicas lowered (high when it ends at 1 or less), removed (Kubernetes then runs
    1), or newly set on a workload that a HorizontalPodAutoscaler targets.

    Fewer replicas means less capacity and less tolerance of node failures; one replica is a single
    point of failure. A replica count on a workload an autoscaler manages resets the autoscaler's
    choice on every upgrade.
    """
    base, head = diff.base, diff.head
    if head is None:
        return
    after_set = get(head.body, "spec", "replicas")
    if base is not None:
        before_set = get(base.body, "spec", "replicas")
        old, new = replicas_of(base), replicas_of(head)
        if old is not None and new is not None and new < old:
            if after_set is None:
                yield Finding(
                    f"spec.replicas removed from {what(head)}: it will run 1 replica instead of {old}",
                    "spec.replicas",
                    before_set,
                    None,
                    "removed",
                    ("spec", "replicas"),
                    importance="high",
                )
            else:
                yield Finding(
                    f"Replicas of {what(head)} lowered from {old} to {new}",
                    "spec.replicas",
                    before_set,
                    after_set,
                    "modified",
                    ("spec", "replicas"),
                    importance="high" if new <= 1 else "medium",
                )
            return
        if before_set is not None or after_set is None:
            return
    if after_set is not None and ctx.hpas_targeting(head, "head"):
        yield Finding(
            f"{what(head)} sets spec.replicas ({after_set}) although a HorizontalPodAutoscaler targets it",
            "spec.replicas",
            None,
            after_set,
            "added",
            ("spec", "replicas"),
            importance="medium",
        )


@update_detector("availability.rollout.strategy", "high", kinds=frozenset(STRATEGY_FIELDS))
def rollout_strategy(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """Deployment strategy → Recreate; StatefulSet or DaemonSet updateStrategy → OnDelete.

    Recreate stops every old pod before starting new ones, and OnDelete never replaces pods by
    itself: either way the rollout is no longer gradual.
    """
    base, head = update.base, update.head
    field, risky = STRATEGY_FIELDS[head.id.kind], "Recreate" if head.id.kind == "Deployment" else "OnDelete"
    before = get(base.body, "spec", field, "type") or "RollingUpdate"
    after = get(head.body, "spec", field, "type") or "RollingUpdate"
    if after == risky and before != risky:
        yield Finding(
            f"{what(head)} rollout strategy changed from {before} to {after}",
            f"spec.{field}.type",
            before,
            after,
            "modified",
            ("spec", field, "type"),
        )


def _rolling(resource: Resource) -> dict[str, Any] | None:
    strategy = as_dict(get(resource.body, "spec", STRATEGY_FIELDS[resource.id.kind]))
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return as_dict(strategy.get("rollingUpdate"))


def _max_unavailable(resource: Resource) -> tuple[Any, int | None]:
    rolling = _rolling(resource)
    if rolling is None:
        return None, None
    default = "25%" if resource.id.kind == "Deployment" else 1
    raw = rolling.get("maxUnavailable", default)
    total = replicas_of(resource) or 1
    return raw, int_or_percent(raw, total, round_up=False)


def _max_surge(resource: Resource) -> tuple[Any, int | None]:
    rolling = _rolling(resource)
    if rolling is None:
        return None, None
    raw = rolling.get("maxSurge", "25%")
    return raw, int_or_percent(raw, replicas_of(resource) or 1, round_up=True)


@update_detector("availability.rollout.maxUnavailable", "medium", kinds=frozenset(STRATEGY_FIELDS))
def max_unavailable(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """rollingUpdate.maxUnavailable raised, resolved against the replica count (high when it
    reaches the replica count).

    maxUnavailable is how many pods a rollout may take down at once; when it reaches the replica
    count, every pod can be down at the same time.
    """
    base, head = update.base, update.head
    raw_before, before = _max_unavailable(base)
    raw_after, after = _max_unavailable(head)
    if before is None or after is None or after <= before:
        return
    field = STRATEGY_FIELDS[head.id.kind]
    total = replicas_of(head)
    outage = total is not None and after >= total
    yield Finding(
        f"maxUnavailable of {what(head)} raised from {show(raw_before)} to {show(raw_after)}"
        + (f" ({after} of {total} pods may be down at once)" if total is not None else ""),
        f"spec.{field}.rollingUpdate.maxUnavailable",
        raw_before,
        raw_after,
        "modified",
        ("spec", field, "rollingUpdate", "maxUnavailable"),
        importance="high" if outage else "medium",
    )


@update_detector("availability.rollout.maxSurge", "medium", kinds={"Deployment"})
def max_surge(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """rollingUpdate.maxSurge lowered, or set to 0 while maxUnavailable is 0.

    maxSurge is how many extra pods a rollout may start; with maxSurge and maxUnavailable both 0 a
    rollout cannot make progress, and a lower surge slows it down.
    """
    base, head = update.base, update.head
    raw_before, before = _max_surge(base)
    raw_after, after = _max_surge(head)
    if before is None or after is None or after >= before:
        return
    _, unavailable = _max_unavailable(head)
    stuck = after == 0 and unavailable == 0
    yield Finding(
        f"maxSurge of {what(head)} lowered from {show(raw_before)} to {show(raw_after)}"
        + (" while maxUnavailable is 0: the rollout cannot progress" if stuck else ""),
        "spec.strategy.rollingUpdate.maxSurge",
        raw_before,
        raw_after,
        "modified",
        ("spec", "strategy", "rollingUpdate", "maxSurge"),
        importance="medium",
    )


@update_detector("availability.rollout.minReadySeconds", "low", kinds=frozenset(STRATEGY_FIELDS))
def min_ready_seconds(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """minReadySeconds or progressDeadlineSeconds lowered.

    minReadySeconds is how long a new pod must stay ready before the rollout moves on;
    progressDeadlineSeconds is how long before a stuck rollout is reported as failed.
    """
    base, head = update.base, update.head
    defaults = {"minReadySeconds": 0, "progressDeadlineSeconds": 600}
    for field, default in defaults.items():
        if field == "progressDeadlineSeconds" and head.id.kind != "Deployment":
            continue
        before = get(base.body, "spec", field)
        after = get(head.body, "spec", field)
        old = before if isinstance(before, int) else default
        new = after if isinstance(after, int) else default
        if new < old:
            yield Finding(
                f"{field} of {what(head)} lowered from {old} to {new}",
                f"spec.{field}",
                before,
                after,
                "modified",
                ("spec", field),
            )


def _resource_findings(diff: ResourceDiff, section: str) -> Iterator[tuple[Container, str, Any, Any, str]]:
    """(container, resource name, before, after, kind of change) for cpu and memory."""
    for old, new in container_pairs(diff.base, diff.head):
        if old is None or new is None:
            continue
        before_all = as_dict(as_dict(old.body.get("resources")).get(section))
        after_all = as_dict(as_dict(new.body.get("resources")).get(section))
        for name in ("cpu", "memory"):
            before, after = before_all.get(name), after_all.get(name)
            if before == after:
                continue
            if after is None:
                yield new, name, before, after, "removed"
                continue
            old_q, new_q = quantity(before), quantity(after)
            if old_q is not None and new_q is not None:
                yield (
                    new,
                    name,
                    before,
                    after,
                    "lowered" if new_q < old_q else "raised" if new_q > old_q else "same",
                )


def _resource_signals(diff: ResourceDiff, section: str, noun: str, *, risky: str) -> Iterator[Finding]:
    """Findings for cpu/memory of `section` that moved in the `risky` direction or were removed."""
    for container, name, before, after, how in _resource_findings(diff, section):
        if how not in (risky, "removed"):
            continue
        label = "Memory" if name == "memory" else "CPU"
        text = f"{risky} from {before} to {after}" if how == risky else f"removed (was {before})"
        yield Finding(
            f"{label} {noun} of {container.kind_word} '{container.name}' {text}",
            container.display("resources", section, name),
            before,
            after,
            "removed" if how == "removed" else "modified",
            (*container.path, "resources", section, name),
        )


@resource_detector("availability.resources.limits", "medium", kinds=WORKLOAD_KINDS)
def resource_limits(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's memory or CPU limit lowered or removed.

    A container that exceeds its memory limit is killed (OOMKilled) and one that reaches its CPU
    limit is throttled; a removed limit lets it starve its neighbours.
    """
    return _resource_signals(diff, "limits", "limit", risky="lowered")


@resource_detector("availability.resources.requests", "medium", kinds=WORKLOAD_KINDS)
def resource_requests(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A container's memory or CPU request raised or removed.

    The scheduler places a pod only on a node with its requests free: raised requests may leave pods
    Pending; removed requests let a pod land on a node without room.
    """
    return _resource_signals(diff, "requests", "request", risky="raised")


@resource_detector("availability.resources.quota", "medium", kinds={"ResourceQuota", "LimitRange"})
def quota(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A ResourceQuota or LimitRange added or removed, or one of its hard limits (max) lowered.

    Quotas and limit ranges apply to every pod in the namespace: new or tighter ones can reject pods
    of other workloads too.
    """
    resource = diff.resource
    if diff.change_type in ("added", "removed"):
        verb = "added" if diff.change_type == "added" else "removed"
        yield Finding(f"{what(resource)} {verb}", "", None, None, diff.change_type)
        return
    base, head = diff.base, diff.head
    assert base is not None
    assert head is not None
    if resource.id.kind == "ResourceQuota":
        old, new = as_dict(get(base.body, "spec", "hard")), as_dict(get(head.body, "spec", "hard"))
        for name, after in new.items():
            before_q, after_q = quantity(old.get(name)), quantity(after)
            if before_q is not None and after_q is not None and after_q < before_q:
                yield Finding(
                    f"Hard limit {name} of {what(head)} lowered from {old[name]} to {after}",
                    f"spec.hard.{name}",
                    old[name],
                    after,
                    "modified",
                    ("spec", "hard", name),
                )
        return
    old_limits = {
        (i.get("type"), k): v
        for i in as_list(get(base.body, "spec", "limits"))
        if isinstance(i, dict)
        for k, v in as_dict(i.get("max")).items()
    }
    for index, item in enumerate(as_list(get(head.body, "spec", "limits"))):
        if not isinstance(item, dict):
            continue
        for name, after in as_dict(item.get("max")).items():
            before = old_limits.get((item.get("type"), name))
            before_q, after_q = quantity(before), quantity(after)
            if before_q is not None and after_q is not None and after_q < before_q:
                yield Finding(
                    f"Maximum {name} per {item.get('type', 'item')} in {what(head)} lowered from {before} to {after}",
                    f"spec.limits[type={item.get('type')}].max.{name}",
                    before,
                    after,
                    "modified",
                    ("spec", "limits", index, "max", name),
                )


def _pdb_replicas(ctx: SignalContext, pdb: Resource, which: str) -> int | None:
    """Replicas of the workloads a PDB covers (HPA minimum when autoscaled), or None."""
    selector = get(pdb.body, "spec", "selector")
    total = 0
    found = False
    for workload in ctx.selected_workloads(selector, pdb.id.namespace, which):  # type: ignore[arg-type]
        hpas = ctx.hpas_targeting(workload, which)  # type: ignore[arg-type]
        count = get(hpas[0].body, "spec", "minReplicas") if hpas else replicas_of(workload)
        if isinstance(count, int):
            total += count
            found = True
    return total if found else None


def _budget(ctx: SignalContext, pdb: Resource, which: str, field: str) -> tuple[Any, int | None]:
    raw = get(pdb.body, "spec", field)
    if raw is None:
        return None, None
    total = _pdb_replicas(ctx, pdb, which)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw, raw
    if total is None:
        return raw, None
    return raw, int_or_percent(raw, total, round_up=field == "minAvailable")


@update_detector("availability.pdb.minAvailable", "medium", kinds={"PodDisruptionBudget"})
def pdb_min_available(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A PodDisruptionBudget's minAvailable lowered (percentages resolved against the replicas of
    the workloads it selects).

    minAvailable is how many pods voluntary disruptions (node drains, cluster upgrades) must leave
    running; lowering it lets more pods go down at once.
    """
    raw_before, before = _budget(ctx, update.base, "base", "minAvailable")
    raw_after, after = _budget(ctx, update.head, "head", "minAvailable")
    if before is not None and after is not None and after < before:
        yield Finding(
            f"minAvailable of {what(update.head)} lowered from {show(raw_before)} to {show(raw_after)}",
            "spec.minAvailable",
            raw_before,
            raw_after,
            "modified",
            ("spec", "minAvailable"),
        )


@update_detector("availability.pdb.maxUnavailable", "medium", kinds={"PodDisruptionBudget"})
def pdb_max_unavailable(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A PodDisruptionBudget's maxUnavailable raised.

    maxUnavailable is how many pods voluntary disruptions may take down at once; raising it lets
    drains remove more capacity at the same time.
    """
    raw_before, before = _budget(ctx, update.base, "base", "maxUnavailable")
    raw_after, after = _budget(ctx, update.head, "head", "maxUnavailable")
    if before is not None and after is not None and after > before:
        yield Finding(
            f"maxUnavailable of {what(update.head)} raised from {show(raw_before)} to {show(raw_after)}",
            "spec.maxUnavailable",
            raw_before,
            raw_after,
            "modified",
            ("spec", "maxUnavailable"),
        )


@resource_detector("availability.pdb.removed", "medium", kinds={"PodDisruptionBudget"}, absorbs=("availability.pdb.",))
def pdb_removed(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A PodDisruptionBudget removed.

    Without a PodDisruptionBudget, a node drain or cluster upgrade may evict every pod of the
    workload at the same time.
    """
    if diff.change_type == "removed":
        yield Finding(f"{what(diff.resource)} removed", "", None, None, "removed", side="base")


def _blocks(ctx: SignalContext, pdb: Resource, which: str) -> str | None:
    if get(pdb.body, "spec", "maxUnavailable") in (0, "0", "0%"):
        return "maxUnavailable is 0"
    raw, minimum = _budget(ctx, pdb, which, "minAvailable")
    total = _pdb_replicas(ctx, pdb, which)
    if minimum is not None and total is not None and minimum >= total:
        return f"minAvailable {show(raw)} is at least the {total} replica{'s' if total != 1 else ''} it covers"
    return None


@chart_detector("availability.pdb.blocksEviction", "medium")
def pdb_blocks_eviction(ctx: SignalContext) -> Iterator[Finding]:
    """A PodDisruptionBudget that now allows no eviction: minAvailable at or above the replicas
    it covers, or maxUnavailable 0 (including when the workload's replicas went down).

    A budget that allows no disruption makes node drains wait forever: cluster upgrades and
    autoscaler scale-downs stall until someone intervenes.
    """
    for rid, pdb in sorted(ctx.head.resources.items(), key=lambda item: item[0].sort_key()):
        if rid.kind != "PodDisruptionBudget":
            continue
        reason = _blocks(ctx, pdb, "head")
        if reason is None:
            continue
        old = ctx.base.resources.get(rid)
        if old is not None and _blocks(ctx, old, "base") is not None:
            continue
        yield Finding(
            f"{what(pdb)} blocks every eviction: {reason}",
            "spec",
            None,
            reason,
            "added" if old is None else "modified",
            ("spec",),
            resource=rid,
            api_version=pdb.api_version,
        )


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


@update_detector("availability.initContainer", "medium", kinds=WORKLOAD_KINDS)
def init_container(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """An init container added or removed on an existing workload, or its image or command
    changed.

    Init containers run to completion before the application starts: a new, removed or changed one
    changes what every pod must do before it can serve.
    """
    for old, new in container_pairs(update.base, update.head):
        current = new or old
        assert current is not None
        if current.list_name != "initContainers":
            continue
        if old is None:
            assert new is not None
            yield Finding(
                f"Init container '{new.name}' added to {what(update.head)}",
                new.display(),
                None,
                new.body.get("image"),
                "added",
                new.path,
            )
        elif new is None:
            yield Finding(
                f"Init container '{old.name}' removed from {what(update.head)}",
                old.display(),
                old.body.get("image"),
                None,
                "removed",
                old.path,
                side="base",
            )
        else:
            changed = [f for f in ("image", "command", "args") if old.body.get(f) != new.body.get(f)]
            if changed:
                yield Finding(
                    f"Init container '{new.name}' of {what(update.head)} changed: {', '.join(changed)}",
                    new.display(),
                    {f: old.body.get(f) for f in changed},
                    {f: new.body.get(f) for f in changed},
                    "modified",
                    new.path,
                )


SCHEDULING_FIELDS = (
    "nodeSelector",
    "affinity",
    "tolerations",
    "topologySpreadConstraints",
    "priorityClassName",
)


@update_detector("availability.scheduling", "medium", kinds=WORKLOAD_KINDS)
def scheduling(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """nodeSelector, affinity, tolerations, topologySpreadConstraints or priorityClassName of an
    existing workload changed; pod anti-affinity removed.

    Scheduling constraints decide which nodes can run the pods and how they spread: a change can
    leave pods Pending or put every replica on the same node or zone.
    """
    old, new = pod_template(update.base), pod_template(update.head)
    if old is None or new is None:
        return
    for field in SCHEDULING_FIELDS:
        before, after = old.spec.get(field), new.spec.get(field)
        if before == after:
            continue
        if field == "affinity" and get(before, "podAntiAffinity") and not get(after, "podAntiAffinity"):
            yield Finding(
                f"Pod anti-affinity removed from {what(update.head)}: its replicas may now share a node",
                new.display("affinity", "podAntiAffinity"),
                get(before, "podAntiAffinity"),
                None,
                "removed",
                (*new.spec_path, "affinity"),
            )
            continue
        change: ChangeType = "added" if before is None else "removed" if after is None else "modified"
        yield Finding(
            f"{field} of {what(update.head)} {'changed' if change == 'modified' else change}",
            new.display(field),
            before,
            after,
            change,
            (*new.spec_path, field),
        )


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
                f"Selector of Service '{rid.name}' no longer matches any pod template in the chart",
                "spec.selector",
                get(old.body, "spec", "selector"),
                selector,
                "modified",
                ("spec", "selector"),
                resource=rid,
                api_version=service.api_version,
            )
            continue
        if not after:
            continue
        old_names, new_names = _named_ports(before), _named_ports(after)
        for port in service_target_ports(service):
            if isinstance(port, str) and port in old_names and port not in new_names:
                yield Finding(
                    f"targetPort '{port}' of Service '{rid.name}' no longer exists on the containers it selects",
                    f"spec.ports[targetPort={port}]",
                    port,
                    None,
                    "modified",
                    ("spec", "ports"),
                    resource=rid,
                    api_version=service.api_version,
                )


def _template_changed(diff: ResourceDiff | None) -> bool:
    if diff is None:
        return False
    pod = pod_template(diff.head)
    if pod is None:
        return False
    prefix = ".".join(pod.template_path)
    return any(c.display_path.startswith(prefix) for c in diff.changes)


@chart_detector("availability.config.noRollout", "medium")
def config_no_rollout(ctx: SignalContext) -> Iterator[Finding]:
    """A ConfigMap or Secret consumed by a workload changed while that workload's pod template
    did not (no rollout).

    Pods read ConfigMaps and Secrets at start (environment variables, subPath mounts): when the data
    changes but the pod template does not, running pods keep the old configuration until they happen
    to restart. A checksum annotation on the pod template fixes it.
    """
    changed = {
        (d.id.kind, d.id.name, d.id.namespace)
        for d in ctx.diffs
        if d.change_type == "modified"
        and d.id.kind in CONFIG_KINDS
        and any(c.display_path.startswith(("data", "stringData", "binaryData")) for c in d.changes)
    }
    if not changed:
        return
    for workload in sorted(ctx.workloads("head"), key=lambda r: r.id.sort_key()):
        pod = pod_template(workload)
        if pod is None or workload.id not in ctx.base.resources or workload.id.kind not in ROLLING_KINDS:
            continue
        consumed = sorted(
            (kind, name) for kind, name in config_references(pod) if (kind, name, workload.id.namespace) in changed
        )
        if not consumed or _template_changed(ctx.diff_by_id.get(workload.id)):
            continue
        names = ", ".join(f"{kind} '{name}'" for kind, name in consumed)
        yield Finding(
            f"{names} changed but the pods of {what(workload)} that read it will not restart",
            pod.display(),
            None,
            [f"{k}/{n}" for k, n in consumed],
            "modified",
            pod.spec_path,
            resource=workload.id,
            api_version=workload.api_version,
        )


@chart_detector("availability.config.missingRef", "high")
def config_missing_ref(ctx: SignalContext) -> Iterator[Finding]:
    """A workload references a ConfigMap, Secret, PersistentVolumeClaim or ServiceAccount that
    the chart used to create and no longer does.

    A pod that references a ConfigMap, Secret, PersistentVolumeClaim or ServiceAccount that does not
    exist cannot start (CreateContainerConfigError or Pending).
    """
    for workload in sorted(ctx.workloads("head"), key=lambda r: r.id.sort_key()):
        pod = pod_template(workload)
        assert pod is not None
        for kind, name in sorted(object_references(pod)):
            existed = ctx.resource("base", kind, workload.id.namespace, name) is not None
            exists = ctx.resource("head", kind, workload.id.namespace, name) is not None
            if existed and not exists:
                yield Finding(
                    f"{what(workload)} references {kind} '{name}', which the chart no longer creates",
                    pod.display(),
                    f"{kind}/{name}",
                    None,
                    "removed",
                    pod.spec_path,
                    resource=workload.id,
                    api_version=workload.api_version,
                )


@update_detector("availability.rollout.restart", "low", kinds=ROLLING_KINDS)
def rollout_restart(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A workload's pod template changed, so its pods will be restarted; the description lists
    what changed.

    Any change to a pod template replaces the workload's pods through a rollout.
    """
    pod = pod_template(update.head)
    if pod is None:
        return
    prefix = ".".join(pod.template_path)
    touched = sorted(
        {_area(c.display_path, prefix) for c in update.diff.changes if c.display_path.startswith(prefix + ".")}
    )
    if touched:
        listed = ", ".join(touched[:4]) + (f" and {len(touched) - 4} more" if len(touched) > 4 else "")
        yield Finding(
            f"Pods of {what(update.head)} will be restarted: pod template changed ({listed})",
            prefix,
            None,
            touched,
            "modified",
            pod.template_path,
        )


def _area(display_path: str, prefix: str) -> str:
    """`spec.template.spec.containers[name=web].image` → `containers[name=web].image`."""
    rest = display_path[len(prefix) + 1 :]
    return rest.removeprefix("spec.") if rest.startswith("spec.") else rest
