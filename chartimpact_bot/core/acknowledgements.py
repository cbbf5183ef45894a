"""Acknowledged signals (issue 12 point 5): a person accepted a known risk, so the check goes
green for the right reason.

An acknowledgement names a signal id (stable across runs: type, resource, affected path) and
the fingerprint of what the signal said then (its before and after) in the analysis the person
saw. It holds for a later analysis of the same pull request while the signal there has the same
fingerprint: a push that changes what the signal is about ends it, and the signal counts again.
A signal id can occur in several charts (the same chart in two environments, two copies of a
chart): the fingerprint covers every occurrence, so one acknowledgement accepts them all and
ends when any of them changes.

Applying acknowledgements keeps every signal in the report (shown as acknowledged) and
recomputes each chart's verdict and the report's from the signals that still count.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from typing import Protocol

from ..timestamps import iso
from .chart_report import overall_verdict
from .model import Acknowledged, ChartReport, Report, Signal
from .policy import verdict_of

COUNTING = frozenset({"fail", "warn"})


class Acknowledgement(Protocol):
    """What an acknowledgement store keeps (jobs/analyses.py)."""

    @property
    def signal_id(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def by(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def reason(self) -> str: ...


def _said(signal: Signal) -> str:
    return json.dumps([signal.type, signal.before, signal.after], sort_keys=True, default=str)


def fingerprints(report: Report) -> dict[str, str]:
    """Each signal id's fingerprint in the report: the digest (32 hex digits) of what every
    occurrence of it says (type, before, after)."""
    said: dict[str, set[str]] = {}
    for chart in report.charts:
        for signal in chart.signals:
            said.setdefault(signal.id, set()).add(_said(signal))
    return {
        signal_id: hashlib.sha256("\n".join(sorted(texts)).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        for signal_id, texts in said.items()
    }


def counts(signal: Signal) -> bool:
    """Whether a signal counts toward the verdict: a threshold acts on it and nobody accepted it."""
    return signal.action in COUNTING and signal.acknowledged is None


def apply_acknowledgements(report: Report, acknowledgements: Iterable[Acknowledgement]) -> Report:
    """The report with every signal an acknowledgement still holds for marked acknowledged, and
    the verdicts recomputed. Acknowledgements of other signals (or changed ones) change nothing."""
    current = fingerprints(report)
    held = {ack.signal_id: ack for ack in acknowledgements if current.get(ack.signal_id) == ack.fingerprint}
    if not held:
        return report
    charts = tuple(_chart(chart, held) for chart in report.charts)
    return dataclasses.replace(report, charts=charts, verdict=overall_verdict(charts))


def _chart(chart: ChartReport, held: dict[str, Acknowledgement]) -> ChartReport:
    signals = tuple(_signal(signal, held.get(signal.id)) for signal in chart.signals)
    if signals == chart.signals:
        return chart
    verdict = verdict_of(s.action for s in signals if s.acknowledged is None)
    if chart.status == "render_error" and verdict == "pass":
        verdict = "warn"  # as chart_report.py: a chart that cannot be analyzed is never a pass
    return dataclasses.replace(chart, signals=signals, verdict=verdict)


def _signal(signal: Signal, ack: Acknowledgement | None) -> Signal:
    if ack is None:
        return signal
    return dataclasses.replace(signal, acknowledged=Acknowledged(by=ack.by, at=iso(ack.at), reason=ack.reason))


def find_signal(report: Report, signal_id: str) -> Signal | None:
    for chart in report.charts:
        for signal in chart.signals:
            if signal.id == signal_id:
                return signal
    return None


def counting_signals(report: Report) -> list[Signal]:
    """Every signal that counts toward the verdict (what "acknowledge all" accepts), once each."""
    seen: dict[str, Signal] = {}
    for chart in report.charts:
        for signal in chart.signals:
            if counts(signal):
                seen.setdefault(signal.id, signal)
    return list(seen.values())
