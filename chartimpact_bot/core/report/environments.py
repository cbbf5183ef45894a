"""One chart's environments as one group (issue 13 point 5): each signal once, with the
environments it affects, and the verdict of each environment.

The report JSON keeps one ChartReport per chart and environment (CONTRACT §2); the comment, the
check run, the terminal and the report page show the reports of one chart path together.

When are two environments' signals "the same"? Their ids differ whenever the resource does
(an Argo CD Application's release is named after it, so `prod-web` and `staging-web`), so they
are matched on what a reviewer reads: the type, the kind, the resource's name with the
environment's release name taken out, the field, and the description with that name taken out.
The namespace is left out (environments usually differ by it). A change that differs between
environments (replicas 3 → 1 in one, 2 → 1 in the other) stays two rows, because its
descriptions differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..acknowledgements import counts
from ..model import ChartReport, Signal, SignalSource
from ..signals.engine import sort_key as signal_sort_key

_ACTION_ORDER = {"fail": 0, "warn": 1, "ignore": 2}
_VERDICT_ORDER = {"fail": 0, "warn": 1, "pass": 2}


@dataclass(frozen=True, slots=True)
class SharedSignal:
    """A signal as the environments of one chart have it: `signal` is the one shown (the one
    that weighs most on the verdict), `members` every environment's own (its name first)."""

    signal: Signal
    members: tuple[tuple[str, Signal], ...]

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(environment for environment, _ in self.members))

    @property
    def acknowledged(self) -> bool:
        return all(member.acknowledged is not None for _, member in self.members)

    def sources(self) -> list[tuple[SignalSource, tuple[str, ...]]]:
        """Each distinct source line of the members, with the environments it is theirs in."""
        by_source: dict[tuple[str, int | None], tuple[SignalSource, list[str]]] = {}
        for environment, member in self.members:
            if member.source is None:
                continue
            key = (member.source.file, member.source.line)
            entry = by_source.setdefault(key, (member.source, []))
            if environment not in entry[1]:
                entry[1].append(environment)
        return [(source, tuple(envs)) for source, envs in by_source.values()]


@dataclass(frozen=True, slots=True)
class ChartGroup:
    """The reports of one chart path, in the report's order, and their signals merged."""

    path: str
    charts: tuple[ChartReport, ...]
    signals: tuple[SharedSignal, ...]

    @property
    def several(self) -> bool:
        """Whether the group has more than one environment (else it reads as its one chart)."""
        return len(self.charts) > 1

    @property
    def verdict(self) -> str:
        return min((c.verdict for c in self.charts), key=lambda v: _VERDICT_ORDER.get(v, 2))

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(c.environment for c in self.charts)


def chart_groups(charts: Iterable[ChartReport]) -> list[ChartGroup]:
    """The charts grouped by path, each group where its first chart is in the report."""
    by_path: dict[str, list[ChartReport]] = {}
    for chart in charts:
        by_path.setdefault(chart.path, []).append(chart)
    return [ChartGroup(path, tuple(group), _merged(group)) for path, group in by_path.items()]


def _merged(charts: list[ChartReport]) -> tuple[SharedSignal, ...]:
    if len(charts) == 1:
        chart = charts[0]
        return tuple(SharedSignal(s, ((chart.environment, s),)) for s in chart.signals)
    by_key: dict[tuple[object, ...], list[tuple[str, Signal]]] = {}
    for chart in charts:
        # Two signals of one environment alike in all but namespace (a chart that makes one
        # resource in two namespaces) stay two rows: the n-th of each environment go together.
        seen: dict[tuple[str, ...], int] = {}
        for signal in chart.signals:
            key = _key(chart, signal)
            seen[key] = seen.get(key, 0) + 1
            by_key.setdefault((*key, seen[key]), []).append((chart.environment, signal))
    shared = [SharedSignal(_shown(members), tuple(members)) for members in by_key.values()]
    return tuple(sorted(shared, key=_order))


def _key(chart: ChartReport, signal: Signal) -> tuple[str, ...]:
    rid = signal.resource

    def general(text: str) -> str:
        # The release name is what tells environments' resources apart; a name too short to
        # stand for it ("a") would take letters out of every word, so it is left in.
        return text.replace(chart.release, "\0") if len(chart.release) >= 3 else text

    return (
        signal.type,
        signal.api_version.split("/")[0] if "/" in signal.api_version else "",
        rid.kind,
        general(rid.name),
        signal.affected_path,
        signal.change_type,
        general(signal.description.replace(rid.name, "\0")),
    )


def _shown(members: list[tuple[str, Signal]]) -> Signal:
    """The member shown for all: one still counting toward the verdict before an acknowledged
    one, a failing one before a warning; the first environment's among equals."""
    return min(
        (signal for _, signal in members),
        key=lambda s: (not counts(s), _ACTION_ORDER.get(s.action, 2)),
    )


def _order(shared: SharedSignal) -> tuple[int, int, str, tuple[str, str, str, str], str]:
    return signal_sort_key(shared.signal)


def environments_phrase(environments: Iterable[str], *, of: int | None = None) -> str:
    """ "prod, staging" (every environment of the group: "all 3: prod, staging, dev")."""
    names = list(environments)
    listed = ", ".join(names)
    return f"all {of}: {listed}" if of is not None and of > 2 and len(names) == of else listed
