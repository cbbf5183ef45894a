"""Human-facing reports: chart content cannot break the Markdown, colours only when asked."""

from __future__ import annotations

from chartimpact_bot.core.classify import classify
from chartimpact_bot.core.diff import diff_resources
from chartimpact_bot.core.model import (
    ChartReport,
    Report,
    Resource,
    ResourceId,
    Revision,
    StructuredDiff,
)
from chartimpact_bot.core.report.markdown import render_markdown
from chartimpact_bot.core.report.text import render_text
from chartimpact_bot.core.report.values import md_code, md_text

HOSTILE = "</details><script>alert(1)</script>`|` **bold** [x](http://e.vil)\n| row |"


def _report() -> Report:
    rid = ResourceId("", "ConfigMap", "default", "cm")
    base = Resource(rid, "v1", {"data": {"k": "plain"}}, "c/templates/cm.yaml", 0)
    head = Resource(rid, "v1", {"data": {"k": HOSTILE, HOSTILE: "x"}}, "c/templates/cm.yaml", 0)
    diff = StructuredDiff("id", (), diff_resources([base], [head], classify))
    chart = ChartReport(path="charts/" + HOSTILE, name="c", status="analyzed", diff=diff, warnings=(HOSTILE,))
    return Report(Revision("main"), Revision(HOSTILE), (chart,), "2026-01-01T00:00:00Z")


def test_markdown_escapes_everything_from_chart_content() -> None:
    markdown = render_markdown(_report())
    assert "<script>" not in markdown
    assert markdown.count("<details>") == markdown.count("</details>") == 1
    assert "```" not in markdown
    header_pipes = None
    for line in markdown.splitlines():
        pipes = line.count("|") - line.count("\\|")
        if not line.startswith("|"):
            header_pipes = None
        elif header_pipes is None:
            header_pipes = pipes
        else:
            # every row of a table keeps its header's column count: no pipe from content leaks
            assert pipes == header_pipes, line


def test_md_helpers() -> None:
    assert md_code("a|b`c<d>") == "<code>a&#124;b&#96;c&lt;d&gt;</code>"
    assert md_text("*x* [y](z) <b>") == "\\*x\\* \\[y\\]\\(z\\) &lt;b&gt;"


def test_text_colour_only_when_asked() -> None:
    assert "\033[" not in render_text(_report(), colour=False)
    assert "\033[" in render_text(_report(), colour=True)
