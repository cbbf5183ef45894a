"""`availability.rollout.*`: how a rollout replaces pods, and which rollouts restart them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import as_dict, get
from ...kubernetes.quantities import int_or_percent
from ...kubernetes.references import CONFIG_KINDS, config_references
from ...kubernetes.workloads import ROLLING_KINDS, STRATEGY_FIELDS, pod_template, replicas_of
from ...model import Resource
from ..common import show, what
from ..context import SignalContext, Update
from ..registry import Finding, update_detector


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
            description=f"{what(head)} rollout strategy changed from {before} to {after}",
            path=("spec", field, "type"),
            before=before,
            after=after,
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
        description=f"maxUnavailable of {what(head)} raised from {show(raw_before)} to {show(raw_after)}"
        + (f" ({after} of {total} pods may be down at once)" if total is not None else ""),
        path=("spec", field, "rollingUpdate", "maxUnavailable"),
        before=raw_before,
        after=raw_after,
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
        description=f"maxSurge of {what(head)} lowered from {show(raw_before)} to {show(raw_after)}"
        + (" while maxUnavailable is 0: the rollout cannot progress" if stuck else ""),
        path=("spec", "strategy", "rollingUpdate", "maxSurge"),
        before=raw_before,
        after=raw_after,
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
                description=f"{field} of {what(head)} lowered from {old} to {new}",
                path=("spec", field),
                before=before,
                after=after,
            )


@update_detector("availability.rollout.restart", "low", kinds=ROLLING_KINDS)
def rollout_restart(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A workload's pod template changed, so its pods will be restarted; the description lists
    what changed, and for a restart driven only by `checksum/*` annotations, which ConfigMaps and
    Secrets of the chart changed (by name).

    Any change to a pod template replaces the workload's pods through a rollout.
    """
    pod = pod_template(update.head)
    if pod is None:
        return
    prefix = ".".join(pod.template_path)
    touched = sorted(
        {_area(c.display_path, prefix) for c in update.diff.changes if c.display_path.startswith(prefix + ".")}
    )
    if not touched:
        return
    checksums = _checksums_only(update)
    if checksums:
        why = f"{', '.join(checksums)} changed ({_changed_config(ctx, update.head)})"
    else:
        listed = ", ".join(touched[:4]) + (f" and {len(touched) - 4} more" if len(touched) > 4 else "")
        why = f"pod template changed ({listed})"
    yield Finding(
        description=f"Pods of {what(update.head)} will be restarted: {why}",
        path=pod.template_path,
        after=touched,
    )


def _checksum_keys(resource: Resource) -> dict[str, Any]:
    pod = pod_template(resource)
    annotations = as_dict(pod.metadata.get("annotations")) if pod is not None else {}
    return {str(k): v for k, v in annotations.items() if str(k).startswith("checksum/")}


def _checksums_only(update: Update) -> list[str]:
    """The `checksum/*` pod-template annotations that changed, when nothing else of the pod
    template did (a chart's way to restart pods when a ConfigMap or Secret they read changes)."""
    old, new = pod_template(update.base), pod_template(update.head)
    if old is None or new is None:
        return []
    old_sums, new_sums = _checksum_keys(update.base), _checksum_keys(update.head)
    if old_sums == new_sums or _without_checksums(old.template_path, update.base) != _without_checksums(
        new.template_path, update.head
    ):
        return []
    return sorted(k for k in old_sums.keys() | new_sums.keys() if old_sums.get(k) != new_sums.get(k))


def _without_checksums(template_path: tuple[str, ...], resource: Resource) -> Any:
    template = as_dict(get(resource.body, *template_path))
    metadata = dict(as_dict(template.get("metadata")))
    metadata["annotations"] = {
        k: v for k, v in as_dict(metadata.get("annotations")).items() if not str(k).startswith("checksum/")
    }
    return {**template, "metadata": metadata}


def _changed_config(ctx: SignalContext, workload: Resource) -> str:
    """The ConfigMaps and Secrets of the chart whose content changed, in the workload's namespace:
    those its pods read when any of them changed, else every one that did (a checksum can cover a
    file the pods read by another name). Names only: a Secret's values are never shown. None
    changed when the checksum is of a rendered template whose only change is a label the
    comparison leaves out (the chart's version): then the restart happens on every chart bump."""
    pod = pod_template(workload)
    changed = ctx.once(_changed_configs).get(workload.id.namespace, [])
    read = config_references(pod) if pod is not None else set()
    named = [ref for ref in changed if ref in read] or changed
    if not named:
        return (
            "no ConfigMap or Secret of the chart changed its data: the checksum covers something else, "
            "such as a label with the chart version"
        )
    return ", ".join(f"{kind} '{name}'" for kind, name in named) + " changed"


def _changed_configs(ctx: SignalContext) -> dict[str, list[tuple[str, str]]]:
    """(kind, name) of the ConfigMaps and Secrets whose content the change added or modified,
    sorted, by namespace."""
    changed: dict[str, list[tuple[str, str]]] = {}
    for d in ctx.diffs:
        if (
            d.id.kind in CONFIG_KINDS
            and d.change_type in ("added", "modified")
            and any(_content(c.display_path) for c in d.changes)
        ):
            changed.setdefault(d.id.namespace, []).append((d.id.kind, d.id.name))
    return {namespace: sorted(refs) for namespace, refs in changed.items()}


def _content(display_path: str) -> bool:
    """Whether a change of a ConfigMap or Secret is to its content (or the whole object), not its
    labels or annotations."""
    return not display_path.startswith("metadata")


def _area(display_path: str, prefix: str) -> str:
    """`spec.template.spec.containers[name=web].image` → `containers[name=web].image`."""
    rest = display_path[len(prefix) + 1 :]
    return rest.removeprefix("spec.") if rest.startswith("spec.") else rest
