"""Rendering the report page of a 2,000-signal analysis (issue 12: "the page renders it in under
a second on this machine").

    python -m benchmarks.report_page          # also run by `make bench`

The report: five charts of the synthetic chart's 150 applications (tests/synthetic_chart.py),
2,355 signals and every resource's diff. Timed, median of 5 rounds, interleaved:

1. the page: acknowledgements applied (none held), `page_model`, and the Jinja2 template
   through the running App's `GET /reports/{id}` handler code, to the HTML bytes;
2. the peer: the Markdown comment of the same report (`comment_body`, cut to GitHub's 65,536
   characters), which every analysis renders anyway.

Printed: both medians, the ratio page/comment, the page's size. Nothing is asserted.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace

import jinja2

from chartimpact_bot import __version__
from chartimpact_bot.core.acknowledgements import apply_acknowledgements
from chartimpact_bot.core.chart_report import build_report, chart_report
from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.core.model import Report, Revision
from chartimpact_bot.core.report.page_model import page_model
from chartimpact_bot.github.comments import comment_body
from chartimpact_bot.jobs.analyses import AnalysisRecord
from chartimpact_bot.web.pages.report import filtered_rows
from tests.synthetic_chart import render, side

ROUNDS = 5


def report_of_2000_signals() -> Report:
    base, head = side(render(150, head=False)), side(render(150, head=True))
    chart = chart_report("charts/synth", Environment(), base, head, AnalysisConfig())
    charts = [replace(chart, path=f"charts/synth{i}", name=f"synth{i}") for i in range(5)]
    return build_report(charts, Revision("main", "a" * 40), Revision("change", "b" * 40))


def main() -> None:
    report = report_of_2000_signals()
    signals = sum(len(c.signals) for c in report.charts)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("chartimpact_bot.web.pages", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["version"] = __version__
    template = environment.get_template("report.html.j2")
    record = AnalysisRecord(
        "0" * 32, 1, "acme/charts", "acme/charts#1", "pull_request", "change", "b" * 40, "a" * 40, 0.0, "fail", 1
    )

    def page() -> str:
        shown = apply_acknowledgements(report, [])
        model = page_model(shown, repository_url="https://github.com/acme/charts")
        return template.render(
            record=record,
            model=model,
            shown=filtered_rows(model, {}),
            selected={},
            link_query={"exp": "1", "sig": "x"},
            repository_url="https://github.com/acme/charts",
            history_url="/repos/acme/charts?exp=1&sig=x",
            base_label="main",
            head_label="change",
            created="2026-12-03T00:00:00Z",
            kept_until="2027-03-03T00:00:00Z",
            # A signed-in writer: every counting signal carries its acknowledgement form.
            can_acknowledge=True,
            ack_token="0" * 64,
            viewer="alice",
            analysis_id=record.id,
        )

    def comment() -> str:
        return comment_body(report, check_run_url="https://github.example/run", max_signals=None)

    page_times, comment_times = [], []
    html = ""
    for _ in range(ROUNDS):
        began = time.perf_counter()
        html = page()
        page_times.append(time.perf_counter() - began)
        began = time.perf_counter()
        comment()
        comment_times.append(time.perf_counter() - began)
    page_s, comment_s = statistics.median(page_times), statistics.median(comment_times)
    print(f"report page of {signals:,} signals ({len(report.charts)} charts), median of {ROUNDS}:")
    print(f"  page (model + template): {page_s:.3f} s, {len(html) / 1e6:.1f} MB of HTML")
    print(f"  peer, the Markdown comment of the same report: {comment_s:.3f} s")
    print(f"  ratio page/comment: {page_s / comment_s:.2f}")


if __name__ == "__main__":
    main()
