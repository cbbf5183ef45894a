"""`availability.pdb.*`: PodDisruptionBudgets that allow more disruption, or none at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...kubernetes.bodies import get
from ...kubernetes.quantities import int_or_percent
from ...kubernetes.workloads import replicas_of
from ...model import Resource, ResourceDiff
from ...side import Side
from ..common import show, what
from ..context import SignalContext, Update
from ..registry import Finding, chart_detector, resource_detector, update_detector


def _pdb_replicas(ctx: SignalContext, pdb: Resource, which: Side) -> int | None:
    """Replicas of the workloads a PDB covers (HPA minimum when autoscaled), or None."""
    selector = get(pdb.body, "spec", "selector")
    total = 0
    found = False
    for workload in ctx.selected_workloads(selector, pdb.id.namespace, which):
        hpas = ctx.hpas_targeting(workload, which)
        count = get(hpas[0].body, "spec", "minReplicas") if hpas else replicas_of(workload)
        if isinstance(count, int):
            total += count
            found = True
    return total if found else None


def _budget(ctx: SignalContext, pdb: Resource, which: Side, field: str) -> tuple[Any, int | None]:
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
            description=f"minAvailable of {what(update.head)} lowered from {show(raw_before)} to {show(raw_after)}",
            path=("spec", "minAvailable"),
            before=raw_before,
            after=raw_after,
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
            description=f"maxUnavailable of {what(update.head)} raised from {show(raw_before)} to {show(raw_after)}",
            path=("spec", "maxUnavailable"),
            before=raw_before,
            after=raw_after,
        )


@resource_detector("availability.pdb.removed", "medium", kinds={"PodDisruptionBudget"}, absorbs=("availability.pdb.",))
def pdb_removed(ctx: SignalContext, diff: ResourceDiff) -> Iterator[Finding]:
    """A PodDisruptionBudget removed.

    Without a PodDisruptionBudget, a node drain or cluster upgrade may evict every pod of the
    workload at the same time.
    """
    if diff.change_type == "removed":
        yield Finding(description=f"{what(diff.resource)} removed", side="base")


def _blocks(ctx: SignalContext, pdb: Resource, which: Side) -> str | None:
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
    for pdb in sorted(ctx.of_kind("head", "PodDisruptionBudget"), key=lambda p: p.id.sort_key()):
        rid = pdb.id
        reason = _blocks(ctx, pdb, "head")
        if reason is None:
            continue
        old = ctx.base.resources.get(rid)
        if old is not None and _blocks(ctx, old, "base") is not None:
            continue
        yield Finding(
            description=f"{what(pdb)} blocks every eviction: {reason}", path=("spec",), after=reason, about=pdb
        )
