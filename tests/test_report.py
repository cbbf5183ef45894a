"""Human-facing reports: chart content cannot break the Markdown, colours only when asked."""

from __future__ import annotations

from chartimpact_bot.core.classify import classify
from chartimpact_bot.core.diff import diff_resources
from chartimpact_bot.core.model import (
    Change,
    ChartReport,
    Report,
    Resource,
    ResourceDiff,
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


def _changed(before: object, after: object) -> Report:
    rid = ResourceId("", "ConfigMap", "default", "cm")
    base = Resource(rid, "v1", {"data": {"k": before}}, "c/templates/cm.yaml", 0)
    head = Resource(rid, "v1", {"data": {"k": after}}, "c/templates/cm.yaml", 0)
    diff = StructuredDiff("id", (), diff_resources([base], [head], classify))
    chart = ChartReport(path="charts/c", name="c", status="analyzed", diff=diff)
    return Report(Revision("main"), Revision("head"), (chart,), "2026-01-01T00:00:00Z")


def test_long_values_that_differ_late_show_where_they_differ() -> None:
    prefix = "x" * 150
    report = _changed(prefix + "-before-" + "y" * 40, prefix + "-after-" + "y" * 40)
    (line,) = [line for line in render_text(report).splitlines() if "data.k" in line]
    before, after = line.split(": ", 1)[1].rsplit("  [", 1)[0].split(" → ")
    assert before != after
    assert (before, after) == (
        "…" + "x" * 19 + "-before-" + "y" * 31 + "…",
        "…" + "x" * 19 + "-after-" + "y" * 32 + "…",
    )
    (row,) = [line for line in render_markdown(report).splitlines() if line.startswith("| changed |")]
    cells = [cell.strip() for cell in row.split("|")]
    assert cells[3] != cells[4] and "-before-" in cells[3] and "-after-" in cells[4]


def test_long_structures_that_differ_late_show_where_they_differ() -> None:
    # A change the diff does not descend into (here a type change: a list becomes a map).
    before = {"name": "n" * 100, "ports": [80, 443]}
    after = {"name": "n" * 100, "ports": {"http": 80}}
    rid = ResourceId("", "ConfigMap", "default", "cm")
    resource = Resource(rid, "v1", {}, "c/templates/cm.yaml", 0)
    change = Change("replace", ("data", "k"), "data.k", before, after)
    diff = StructuredDiff("id", (), (ResourceDiff(resource, resource, "modified", (change,)),))
    report = Report(
        Revision("main"),
        Revision("head"),
        (ChartReport(path="charts/c", name="c", status="analyzed", diff=diff),),
        "2026-01-01T00:00:00Z",
    )
    (line,) = [line for line in render_text(report).splitlines() if "data.k" in line]
    assert ': …nnnnnnnn", "ports": [80, 443]} → …nnnnnnnn", "ports": {"http": 80}}  [' in line


def test_short_values_and_early_differences_are_cut_at_the_end_as_before() -> None:
    report = _changed("a" + "z" * 100, "b" + "z" * 100)
    (line,) = [line for line in render_text(report).splitlines() if "data.k" in line]
    assert ': "a' + "z" * 57 + "… → " + '"b' + "z" * 57 + "…" in line


def _many_charts() -> Report:
    charts = [
        ChartReport(path=f"charts/u{i:02}", name=f"u{i:02}", status="unchanged", environment=env)
        for i in range(55)
        for env in (["default", "prod"] if i == 0 else ["default"])
    ]
    broken = ChartReport(path="charts/m", name="m", status="render_error", error="head: boom", verdict="warn")
    charts.insert(20, broken)
    return Report(Revision("main"), Revision("head"), tuple(charts), "2026-01-01T00:00:00Z", verdict="warn")


def test_unchanged_charts_come_after_the_changed_ones_in_one_line() -> None:
    text = render_text(_many_charts())
    lines = text.splitlines()
    assert lines[3].startswith("■ charts/m  chart m, render error, warn")
    assert "charts/u00" not in "\n".join(lines[:-1])
    assert lines[-1] == (
        "56 charts unchanged: charts/u00, charts/u00 [prod], "
        + ", ".join(f"charts/u{i:02}" for i in range(1, 49))
        + ", and 6 more"
    )
    markdown = render_markdown(_many_charts())
    table = [line for line in markdown.splitlines() if line.startswith("| <code>")]
    assert table == ["| <code>charts/m</code> | default | render error | ⚠️ warn | none | 0 |"]
    (summary,) = [line for line in markdown.splitlines() if "charts unchanged" in line]
    assert summary.startswith("56 charts unchanged: <code>charts/u00</code>, <code>charts/u00 &#91;prod&#93;</code>, ")
    assert summary.endswith(", and 6 more")
