"""The analysis step of the GitHub Action (action.yml): one `analyze`, three files from it.

    python -m chartimpact_bot.integrations.github_action --summary FILE --sarif FILE --json FILE \
        --outputs FILE -- analyze --repo . --base BASE --head HEAD [analyze options]

The Markdown report is appended to the job summary (GitHub shows at most 1 MiB of it, so it is cut
to fit, saying so), the SARIF file is for code scanning's upload, the JSON report is the whole
analysis, and the step's outputs (`verdict`, `signals`, `charts`) go to `$GITHUB_OUTPUT`. Errors
and exit codes are the command line's: 0 pass or warn, 1 fail, 2 nothing could be decided.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import cli
from ..core.model import Report
from ..core.report.json import dumps as render_json
from ..core.report.markdown import Destination, render_markdown
from ..core.report.sarif import render_sarif

# GitHub refuses a step summary above 1 MiB; the rest of the margin is for what the job adds.
SUMMARY_MAX_CHARS = 1_000_000
SUMMARY = Destination(limit_owner="GitHub's job summary", full_report="the JSON report (the `report-file` output)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chartimpact-action", description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", type=Path, required=True, help="the job summary file ($GITHUB_STEP_SUMMARY)")
    parser.add_argument("--sarif", type=Path, required=True, help="where the SARIF report is written")
    parser.add_argument("--json", type=Path, required=True, help="where the JSON report is written")
    parser.add_argument("--outputs", type=Path, required=True, help="the step's outputs file ($GITHUB_OUTPUT)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- analyze …, as for the command line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    def write(report: Report, _: argparse.Namespace) -> None:
        args.sarif.write_text(render_sarif(report), encoding="utf-8")
        args.json.write_text(render_json(report), encoding="utf-8")
        with args.summary.open("a", encoding="utf-8") as summary:
            summary.write(render_markdown(report, max_chars=SUMMARY_MAX_CHARS, destination=SUMMARY) + "\n")
        signals = sum(len(chart.signals) for chart in report.charts)
        with args.outputs.open("a", encoding="utf-8") as outputs:
            outputs.write(f"verdict={report.verdict}\nsignals={signals}\ncharts={len(report.charts)}\n")

    return cli.main(command, emit=write)


if __name__ == "__main__":
    sys.exit(main())
