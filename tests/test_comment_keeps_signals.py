"""The comment and the Check Run never lose a high- or medium-importance signal (issue 12, point
4): whatever the size, each is named, one resource per signal under its type, and only low ones
are left to the full report."""

from __future__ import annotations

import re
from dataclasses import replace

from chartimpact_bot.core.chart_report import build_report, chart_report
from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.core.model import Report, Revision
from chartimpact_bot.core.report.markdown import render_markdown
from chartimpact_bot.github.checks import MAX_OUTPUT_CHARS, github_destination
from chartimpact_bot.github.comments import MAX_COMMENT_CHARS, comment_body
from tests.synthetic_chart import render, side

_LINE = re.compile(r"^- \S* (high|medium|low) <code>([\w.-]+)</code> ×(\d+): (.*)$")


def _report_of_2000_signals() -> Report:
    """Five charts of the synthetic chart's 150 applications: 2,355 signals, 2,040 of them high
    or medium."""
    base, head = side(render(150, head=False)), side(render(150, head=True))
    chart = chart_report("charts/synth", Environment(), base, head, AnalysisConfig())
    charts = [replace(chart, path=f"charts/synth{i}", name=f"synth{i}") for i in range(5)]
    return build_report(charts, Revision("main", "a" * 40), Revision("change", "b" * 40))


def _named(markdown: str) -> dict[tuple[str, str, str], int]:
    """(chart, importance, type) → how many resources the compact lines name."""
    named: dict[tuple[str, str, str], int] = {}
    chart = ""
    for line in markdown.splitlines():
        if line.startswith("#### "):
            chart = line.split("<code>", 1)[1].split("</code>", 1)[0]
        match = _LINE.match(line)
        if match:
            importance, kind, count, names = match.groups()
            # `Kind namespace: a, b; Kind namespace: c`
            listed = sum(len(place.split(": ", 1)[1].split(", ")) for place in names.split("; "))
            assert listed == int(count), line[:200]
            named[(chart, importance, kind)] = named.get((chart, importance, kind), 0) + int(count)
    return named


def _expected(report: Report, *, low: bool = False) -> dict[tuple[str, str, str], int]:
    expected: dict[tuple[str, str, str], int] = {}
    for chart in report.charts:
        for signal in chart.signals:
            if low or signal.importance != "low":
                key = (chart.path, signal.importance, signal.type)
                expected[key] = expected.get(key, 0) + 1
    return expected


def test_a_comment_of_2000_signals_names_every_high_and_medium_one_within_the_limit() -> None:
    report = _report_of_2000_signals()
    signals = [s for c in report.charts for s in c.signals]
    low = sum(1 for s in signals if s.importance == "low")
    assert len(signals) >= 2_000 and len(signals) - low >= 2_000
    body = comment_body(report, check_run_url="https://github.example/acme/charts/runs/1", max_signals=None)
    assert len(body) <= MAX_COMMENT_CHARS
    named = _named(body)
    assert {key: n for key, n in named.items() if key[1] != "low"} == _expected(report)
    # the low ones: named, or counted as left to the Check Run
    hidden = low - sum(n for key, n in named.items() if key[1] == "low")
    note = f"_{hidden} more signals not shown here: see [the Check Run](https://github.example/acme/charts/runs/1)._"
    assert (note in body) == (hidden > 0)


def test_the_check_run_summary_names_them_too() -> None:
    report = _report_of_2000_signals()
    summary = render_markdown(report, include_diff=False, max_chars=MAX_OUTPUT_CHARS, destination=github_destination())
    assert len(summary) <= MAX_OUTPUT_CHARS
    assert {key: n for key, n in _named(summary).items() if key[1] != "low"} == _expected(report)


def test_low_signals_are_named_too_while_they_fit() -> None:
    base, head = side(render(150, head=False)), side(render(150, head=True))
    chart = chart_report("charts/synth", Environment(), base, head, AnalysisConfig())
    report = build_report([chart], Revision("main", "a" * 40), Revision("change", "b" * 40))
    body = comment_body(report, check_run_url=None, max_signals=None)
    assert len(body) <= MAX_COMMENT_CHARS
    assert "| high |" not in body  # the rows did not fit
    assert _named(body) == _expected(report, low=True)
    assert "more signals not shown" not in body


def test_a_report_that_fits_keeps_its_table_rows() -> None:
    """The compact lines are for when rows do not fit, not a loss for every report."""
    base, head = side(render(5, head=False)), side(render(5, head=True))
    chart = chart_report("charts/synth", Environment(), base, head, AnalysisConfig())
    report = build_report([chart], Revision("main", "a" * 40), Revision("change", "b" * 40))
    body = comment_body(report, check_run_url=None, max_signals=None)
    assert _named(body) == {}
    assert body.count("| high |") + body.count("| medium |") == sum(1 for s in chart.signals if s.importance != "low")


def test_with_a_report_page_the_comment_names_them_all_and_links_the_page_for_the_rest() -> None:
    report = _report_of_2000_signals()
    page = "https://chartimpact.example/reports/" + "a" * 32 + "?exp=2000000000&sig=" + "s" * 43
    body = comment_body(report, check_run_url="https://github.example/runs/1", max_signals=None, page_url=page)
    assert len(body) <= MAX_COMMENT_CHARS
    assert {key: n for key, n in _named(body).items() if key[1] != "low"} == _expected(report)
    assert f"[full report]({page})" in body.split("\n\n", 3)[1]  # in the heading's line
    assert "see [the full report](" + page in body or "more signals" not in body
