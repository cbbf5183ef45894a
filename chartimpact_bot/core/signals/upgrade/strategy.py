"""`upgrade.strategy.*`: strategy changes the API server rejects."""

from __future__ import annotations

from collections.abc import Iterator

from ...kubernetes.bodies import as_dict, get
from ..common import what
from ..context import SignalContext, Update
from ..registry import Finding, update_detector


@update_detector("upgrade.strategy.conflict", "high", kinds={"Deployment"})
def strategy_conflict(ctx: SignalContext, update: Update) -> Iterator[Finding]:
    """A Deployment's strategy becomes Recreate while rollingUpdate is still set (in the chart,
    or on the live object through its defaults).

    The API server rejects a Recreate strategy that still has rollingUpdate settings, and the live
    Deployment keeps its defaulted rollingUpdate unless the chart sets `rollingUpdate: null`.
    """
    old, new = (
        as_dict(get(update.base.body, "spec", "strategy")),
        as_dict(get(update.head.body, "spec", "strategy")),
    )
    if new.get("type") != "Recreate" or old.get("type") == "Recreate":
        return
    if "rollingUpdate" in new and new["rollingUpdate"] is None:
        return
    reason = (
        "rollingUpdate is still set"
        if new.get("rollingUpdate")
        else "the live object keeps its rollingUpdate defaults (set rollingUpdate: null)"
    )
    yield Finding(
        description=f"{what(update.head)} switches to Recreate but {reason}: the upgrade will be rejected",
        path=("spec", "strategy"),
        before=old or None,
        after=new,
    )
