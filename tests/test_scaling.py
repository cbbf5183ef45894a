"""How the core's work grows with the chart (issue 11): no stage from identities to the rendered
reports may be worse than O(n log n) in resources.

The work is counted, not timed: every function call (Python and built-in) that the core makes
from the rendered output of both sides to the JSON, Markdown and text reports, under cProfile,
on the synthetic chart of tests/synthetic_chart.py at about 500 and about 5,000 resources. Ten
times the resources may cost about ten times the calls, times a log factor (log 5,000 / log 500
is 1.37): 15× at most, for the whole and for every function called often enough to matter. A
lookup that scans every resource once per resource (a Service's selector matched against every
workload, for every Service) costs a hundred times as much instead.

Calls are a proxy: a loop that calls nothing per item (a comprehension over attributes) is not
seen. Such loops were audited by reading (issue 11); the synthetic chart still has them all
run, so one that turns into calls shows.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from chartimpact_bot.core.chart_report import build_report, chart_report
from chartimpact_bot.core.config import AnalysisConfig, CustomRule, Environment
from chartimpact_bot.core.model import Revision
from chartimpact_bot.core.report.json import dumps
from chartimpact_bot.core.report.markdown import render_diff_markdown, render_markdown
from chartimpact_bot.core.report.text import render_text
from tests.synthetic_chart import render, side

# Applications of the synthetic chart: about 13.5 resources each.
SMALL, LARGE = 37, 370
MAX_RATIO = 15.0
# Calls of one function (at the large size) below which its growth is not worth a verdict.
SIGNIFICANT = 20_000
CONFIG = AnalysisConfig(
    rules=(
        CustomRule(
            type="custom.teamImage",
            category="other",
            importance="low",
            description="Image of team 3",
            path="spec.template.spec.containers[*].image",
            kinds=("Deployment",),
            matches="team3",
        ),
        CustomRule(
            type="custom.setting",
            category="other",
            importance="low",
            description="Setting",
            path="data.setting",
            kinds=("ConfigMap",),
            on="changed",
        ),
    )
)
COMMENT_LIMIT = 65_536


@contextmanager
def _counting() -> Iterator[dict[str, int]]:
    """Calls per function while the block runs (Python functions and built-ins alike)."""
    counts: dict[str, int] = {}
    profile = cProfile.Profile(builtins=True)
    profile.enable()
    try:
        yield counts
    finally:
        profile.disable()
        for (file, line, name), entry in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
            counts[f"{file}:{line}({name})"] = entry[1]


def _core_calls(units: int) -> tuple[int, dict[str, int]]:
    """(resources, calls per function) of the whole core on the chart of `units` applications."""
    outputs = render(units, head=False), render(units, head=True)  # what Helm does: not counted
    with mock.patch("chartimpact_bot.core.chart_report.now", return_value="2026-01-01T00:00:00Z"), _counting() as calls:
        base, head = side(outputs[0]), side(outputs[1])
        chart = chart_report("charts/synth", Environment(), base, head, CONFIG)
        report = build_report([chart], Revision("main", "a" * 40), Revision("change", "b" * 40))
        dumps(report)
        render_markdown(report, max_chars=COMMENT_LIMIT)
        render_diff_markdown(report, max_chars=COMMENT_LIMIT)
        render_text(report)
    assert not [w for w in chart.warnings if "failed" in w], chart.warnings
    return len(base.resources) + len(head.resources), calls


def test_the_core_is_at_most_n_log_n_in_resources() -> None:
    _core_calls(SMALL)  # compiled patterns and other first-use costs, out of the comparison
    small_resources, small = _core_calls(SMALL)
    large_resources, large = _core_calls(LARGE)
    assert 900 <= small_resources <= 1_100  # about 500 a side
    assert 9_000 <= large_resources <= 11_000
    total_small, total_large = sum(small.values()), sum(large.values())
    growth = {
        name: count / max(small.get(name, 0), 1)
        for name, count in large.items()
        if count >= SIGNIFICANT and count / max(small.get(name, 0), 1) > MAX_RATIO
    }
    worst = sorted(growth.items(), key=lambda item: -large[item[0]])[:15]
    listing = "\n".join(f"  {ratio:7.1f}×  {large[name]:>11,} calls  {name}" for name, ratio in worst)
    ratio = total_large / total_small
    assert ratio <= MAX_RATIO and not growth, (
        f"{total_small:,} → {total_large:,} calls ({ratio:.1f}×) for {small_resources:,} → {large_resources:,} "
        f"resources; functions that grow faster than n log n:\n{listing}"
    )
