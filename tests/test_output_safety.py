"""Chart content cannot drive a terminal, reorder text, mention anyone or link anywhere: the
command line's reports, in every format, on a chart written to attack them."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from chartimpact_bot.core.model import ChartReport, Report, Revision, StructuredDiff
from chartimpact_bot.core.report.markdown import render_markdown
from chartimpact_bot.core.report.safe_text import ZERO_WIDTH_SPACE, cut_markdown, md_code, md_text, one_line
from chartimpact_bot.core.report.text import render_text
from chartimpact_bot.github.checks import github_destination
from tests.conftest import REPO_ROOT, make_chart

# YAML escapes (the template is YAML): ESC[31m, an OSC 8 hyperlink ended by BEL, C1 CSI, RLO.
HOSTILE_YAML = (
    r"x\e[31mred\e]8;;http://e.vil\aclick\e]8;;\a\x9bcsi\u202eevil"
    r" @octocat @org/team #1 owner/repo#2 GH-3 https://e.vil/x www.e.vil"
)
HOSTILE = (
    "x\x1b[31mred\x1b]8;;http://e.vil\x07click\x1b]8;;\x07\x9bcsi\u202eevil"
    " @octocat @org/team #1 owner/repo#2 GH-3 https://e.vil/x www.e.vil"
)
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

CONFIGMAP = f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: "{HOSTILE_YAML}"
  labels: {{team: "{HOSTILE_YAML}"}}
  annotations: {{note: "{HOSTILE_YAML}"}}
data:
  "{HOSTILE_YAML}": "{HOSTILE_YAML}"
"""
DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: api}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      containers:
        - name: "{HOSTILE_YAML}"
          image: nginx:1.25
          {{{{- if .Values.readiness }}}}
          readinessProbe: {{httpGet: {{path: /ready, port: 80}}}}
          {{{{- end }}}}
"""


def _unsafe(text: str) -> list[str]:
    """Control characters other than newline and tab, and bidi controls."""
    return sorted({c for c in text if (unicodedata.category(c) == "Cc" and c not in "\n\t") or c in BIDI})


def _live_references(markdown: str) -> list[str]:
    """What GitHub would turn into a mention, an issue reference or an autolink (in the text the
    Markdown shows: entities decoded). GitHub links no mention or reference inside `<code>`
    (its mention filter skips `pre`, `code` and `a` ancestors), and none after a word character
    (`user@example.com`); the autolink extension works inside inline HTML too."""
    links = [m.group() for p in (r"(?i)https?://", r"(?i)\bwww\.") for m in re.finditer(p, html.unescape(markdown))]
    prose = html.unescape(re.sub(r"<code>.*?</code>", "", markdown, flags=re.DOTALL))
    patterns = (r"(?<![A-Za-z0-9_])@[A-Za-z0-9]", r"#\d", r"(?i)\bGH-\d")
    return links + [m.group() for p in patterns for m in re.finditer(p, prose)]


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    base = make_chart(root / "base", "evil", {"deployment.yaml": DEPLOYMENT}, values="readiness: true\n")
    head = make_chart(
        root / "head",
        "evil",
        {"deployment.yaml": DEPLOYMENT, "configmap.yaml": CONFIGMAP},
        values="readiness: false\n",
    )
    return base, head


def _cli(base: Path, head: Path, fmt: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "chartimpact_bot", "diff", str(base), str(head), "--format", fmt],
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    return done.returncode, done.stdout.decode("utf-8")


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_no_control_or_bidi_character_reaches_any_output(charts: tuple[Path, Path], fmt: str) -> None:
    _, out = _cli(*charts, fmt)
    assert "ConfigMap" in out
    assert _unsafe(out) == []
    if fmt == "json":
        report = json.loads(out)
        (chart,) = report["charts"]
        names = [r["identity"]["name"] for r in chart["diff"]["resources"]]
        assert HOSTILE in names  # the data is unchanged, only its encoding is safe
        assert "\\u009b" in out and "\\u202e" in out
    else:
        assert "\\x1b" in out and "\\x07" in out and "\\x9b" in out and "\\u202e" in out  # visibly escaped


def test_markdown_has_no_live_mention_reference_or_link(charts: tuple[Path, Path]) -> None:
    _, out = _cli(*charts, "markdown")
    assert "Readiness probe removed" in out
    assert _live_references(out) == []
    assert f"@{ZERO_WIDTH_SPACE}octocat" in out and f"@{ZERO_WIDTH_SPACE}org/team" in out
    assert f"GH-{ZERO_WIDTH_SPACE}3" in out


def test_reports_are_byte_identical_across_runs(charts: tuple[Path, Path]) -> None:
    first, second = _cli(*charts, "markdown")[1], _cli(*charts, "markdown")[1]
    assert first == second
    one, two = (json.loads(_cli(*charts, "json")[1]) for _ in range(2))
    one.pop("generatedAt"), two.pop("generatedAt")
    assert one == two


def _hostile_report() -> Report:
    diff = StructuredDiff("id", (), ())
    chart = ChartReport(path=HOSTILE, name=HOSTILE, status="analyzed", diff=diff, warnings=(HOSTILE,), error=HOSTILE)
    return Report(Revision("main"), Revision(HOSTILE), (chart,), "2026-01-01T00:00:00Z")


def test_coloured_text_keeps_only_its_own_colours() -> None:
    text = render_text(_hostile_report(), colour=True)
    sequences = set(re.findall(r"\x1b[^a-zA-Z]*[a-zA-Z]?", text))
    assert sequences and sequences <= {"\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m", "\x1b[0m"}
    assert "\x1b]" not in text and "\x07" not in text
    assert text.count("\\x1b[31m") == 5  # the ref, path, name, error and warning, each escaped


def test_single_line_fields_escape_newlines() -> None:
    assert one_line("a\nb\tc\x1bd\u2066") == "a\\nb\\tc\\x1bd\\u2066"
    assert md_code("a\nb") == "<code>a b</code>"  # one Markdown line, nothing else changes
    assert "\n" not in md_text("a\n| b |\n")


def test_markdown_cannot_open_markup_inside_code() -> None:
    assert md_code("[x](http://e.vil) *b* _i_ ~s~ \\") == (
        f"<code>&#91;x&#93;(http:{ZERO_WIDTH_SPACE}//e.vil) &#42;b&#42; &#95;i&#95; &#126;s&#126; &#92;</code>"
    )


def test_cutting_markdown_closes_what_it_cut_open_and_says_so() -> None:
    text = "<details>\n<summary>many</summary>\n\n| a | <code>" + "x&amp;" * 1000 + "</code> |\n\n</details>\n"
    cut = cut_markdown(text, 500)
    assert len(cut) <= 500
    assert cut.count("<details>") == cut.count("</details>") == 1
    assert cut.count("<code>") == cut.count("</code>")
    assert re.search(r"&[a-z]*</code>", cut) is None  # no half entity
    assert "Cut here" in cut
    fenced = cut_markdown("```\n" + "line\n" * 500 + "```\n", 300, note="cut")
    assert len(fenced) <= 300 and fenced.count("```") == 2 and fenced.endswith("cut\n")
    assert cut_markdown(text, len(text)) == text


def test_a_cut_report_keeps_our_own_link_live_and_stays_within_the_size() -> None:
    report = _hostile_report()
    big = ChartReport(path="c", name="c", status="render_error", error=HOSTILE * 5_000, warnings=(HOSTILE * 5_000,))
    report = Report(report.base, report.head, (*report.charts, big) * 20, report.generated_at)
    markdown = render_markdown(
        report, max_chars=3_000, destination=github_destination("https://github.example/acme/charts/runs/1")
    )
    assert len(markdown) <= 3_000
    assert "[the Check Run](https://github.example/acme/charts/runs/1)" in markdown
    assert _live_references(markdown.replace("https://github.example/acme/charts/runs/1", "")) == []
    assert _unsafe(markdown) == []


def test_digests_and_addresses_copy_and_paste_intact() -> None:
    assert (
        md_code("docker.io/bitnami/postgresql@sha256:4f5e") == "<code>docker.io/bitnami/postgresql@sha256:4f5e</code>"
    )
    assert md_code("@octocat") == "<code>@octocat</code>"  # GitHub links no mention inside code
    assert "ops@example.com" in md_text("mail ops@example.com")
    assert md_text("ping @octocat") == f"ping @{ZERO_WIDTH_SPACE}octocat"
    assert ZERO_WIDTH_SPACE in md_code("https://e.vil")  # autolinks work inside inline HTML
