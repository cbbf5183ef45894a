"""Acknowledged signals (core/acknowledgements.py): shown, not counted, and ended by a change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chartimpact_bot.core.acknowledgements import apply_acknowledgements, counting_signals, fingerprints
from chartimpact_bot.core.model import Report
from chartimpact_bot.core.report import json as report_json
from chartimpact_bot.engine.pipeline import PipelineOptions
from chartimpact_bot.jobs.analyses import Acknowledgement
from tests.conftest import diff_dirs
from tests.pages.charts import blast_pair


@pytest.fixture
def report(tmp_path: Path, options: PipelineOptions) -> Report:
    return diff_dirs(*blast_pair(tmp_path), options)


def _ack(report: Report, *types: str) -> list[Acknowledgement]:
    signals = [s for c in report.charts for s in c.signals if s.type in types]
    said = fingerprints(report)
    return [Acknowledgement(s.id, said[s.id], "alice", 1_800_000_000.0, "planned maintenance") for s in signals]


def test_acknowledging_every_failing_signal_makes_the_verdict_pass_and_keeps_them_shown(report: Report) -> None:
    assert report.verdict == "fail"
    failing = {s.type for s in counting_signals(report)}
    shown = apply_acknowledgements(report, _ack(report, *failing))
    assert shown.verdict == "pass"
    assert shown.charts[0].verdict == "pass"
    assert len(shown.charts[0].signals) == len(report.charts[0].signals)
    acked = [s for s in shown.charts[0].signals if s.acknowledged is not None]
    assert {s.type for s in acked} == failing
    assert acked[0].acknowledged is not None
    assert (acked[0].acknowledged.by, acked[0].acknowledged.reason) == ("alice", "planned maintenance")
    assert acked[0].acknowledged.at == "2027-01-15T08:00:00Z"
    assert counting_signals(shown) == []


def test_one_acknowledgement_leaves_the_others_counting(report: Report) -> None:
    shown = apply_acknowledgements(report, _ack(report, "security.exposure.type"))
    assert shown.verdict == "fail"
    assert "security.exposure.type" not in {s.type for s in counting_signals(shown)}


def test_an_acknowledgement_ends_when_the_signal_says_something_else(report: Report) -> None:
    acks = _ack(report, "security.exposure.type")
    chart = report.charts[0]
    changed = tuple(
        dataclasses.replace(s, after="NodePort") if s.type == "security.exposure.type" else s for s in chart.signals
    )
    later = dataclasses.replace(report, charts=(dataclasses.replace(chart, signals=changed),))
    shown = apply_acknowledgements(later, acks)
    assert all(s.acknowledged is None for s in shown.charts[0].signals)
    assert "security.exposure.type" in {s.type for s in counting_signals(shown)}


def test_the_json_report_carries_the_acknowledgement_only_when_there_is_one(report: Report) -> None:
    plain = report_json.report_to_dict(report)
    assert all("acknowledged" not in s for c in plain["charts"] for s in c["signals"])
    shown = report_json.report_to_dict(apply_acknowledgements(report, _ack(report, "security.exposure.type")))
    marked = [s for c in shown["charts"] for s in c["signals"] if "acknowledged" in s]
    assert [m["acknowledged"] for m in marked] == [
        {"by": "alice", "at": "2027-01-15T08:00:00Z", "reason": "planned maintenance"}
    ]


def test_no_acknowledgement_is_the_same_report(report: Report) -> None:
    assert apply_acknowledgements(report, []) is report


def test_one_signal_id_in_two_charts_is_accepted_in_both_and_ends_when_either_changes(report: Report) -> None:
    (chart,) = report.charts
    prod = dataclasses.replace(
        chart,
        environment="prod",
        signals=tuple(
            dataclasses.replace(s, after="NodePort") if s.type == "security.exposure.type" else s for s in chart.signals
        ),
    )
    two = dataclasses.replace(report, charts=(chart, prod))
    shown = apply_acknowledgements(two, _ack(two, "security.exposure.type"))
    exposures = [s for c in shown.charts for s in c.signals if s.type == "security.exposure.type"]
    assert len(exposures) == 2 and all(s.acknowledged is not None for s in exposures)
    # The prod occurrence changes again: the acknowledgement ends for both.
    changed = dataclasses.replace(
        two,
        charts=(
            chart,
            dataclasses.replace(
                prod,
                signals=tuple(
                    dataclasses.replace(s, after="ExternalName") if s.type == "security.exposure.type" else s
                    for s in prod.signals
                ),
            ),
        ),
    )
    again = apply_acknowledgements(changed, _ack(two, "security.exposure.type"))
    assert all(s.acknowledged is None for c in again.charts for s in c.signals)
