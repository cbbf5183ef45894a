"""Helm test hooks (`helm.sh/hook: test`) in a materialized chart: is the template a render error
names one of them, and the chart without them.

Helm renders test templates with the rest of the chart (`helm install` fails when one does not
render), so they are rendered here too. But the analysis does not compare tests unless asked
(`--include-tests`), and a test that needs a value only CI sets should not make the whole chart
"no longer render": when the template a render error names declares a test hook, the chart is
rendered again without its test templates (removed from the sandbox copy only), with a warning.

A template counts as a test only when its text declares a test hook in every document it writes:
removing it must not remove anything the analysis compares.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..core.chart import CHART_FILE
from ..core.yamlio import METADATA_LIMITS, load_untrusted

# Helm's errors name the template first: `template: web/templates/x.yaml:12:3: executing …`,
# `execution error at (web/templates/tests/t.yaml:10:16): …`, `parse error at (…)`; ours
# `web/templates/x.yaml renders invalid YAML (…)`.
_TEMPLATE_PATH = re.compile(r"[\w.@-]+(?:/[\w.@-]+)*/templates/[\w./@-]*[\w@-]")
_TEST_HOOK = re.compile(r"""["']?helm\.sh/hook["']?\s*:\s*["']?[^"'\n#]*\btest(?:-success|-failure)?\b""")
_KIND = re.compile(r"(?m)^kind\s*:")
_SEPARATOR = re.compile(r"(?m)^---[ \t]*$")
_SCAN = 2_000  # an error can be megabytes of a template's own text; the path comes first
MAX_TEMPLATE_BYTES = 1024 * 1024  # a larger file is no test template worth reading


def named_template(error: str) -> str | None:
    """The Helm path of the template a render error names first (`web/templates/tests/t.yaml`)."""
    match = _TEMPLATE_PATH.search(error[:_SCAN])
    return match.group() if match else None


def declares_test_hook(text: str) -> bool:
    """Whether every document the template writes is a test hook (`helm.sh/hook: test`,
    `test-success`, `test-failure`)."""
    documents = [d for d in _SEPARATOR.split(text) if _KIND.search(d)]
    return bool(documents) and all(_TEST_HOOK.search(d) for d in documents)


def is_test_template(chart_dir: Path, chart_name: str, helm_path: str) -> bool:
    """Whether the Helm path names a test template of the chart materialized at `chart_dir`."""
    found = _file_of(chart_dir, chart_name, helm_path)
    return found is not None and declares_test_hook(_read(found))


def remove_test_templates(chart_dir: Path) -> list[Path]:
    """Delete every test template of the chart and its subcharts from the sandbox copy; the
    files removed, relative to `chart_dir`, in order."""
    removed = []
    for path in sorted(chart_dir.rglob("*")):
        relative = path.relative_to(chart_dir)
        if "templates" not in relative.parts[:-1] or not path.is_file() or path.is_symlink():
            continue
        if declares_test_hook(_read(path)):
            path.unlink()
            removed.append(relative)
    return removed


def _file_of(chart_dir: Path, chart_name: str, helm_path: str) -> Path | None:
    """The file behind a Helm path: `<chart>/charts/<subchart>/…/templates/x.yaml`, each
    subchart found by its directory or by the name its Chart.yaml gives it."""
    parts = helm_path.split("/")
    if len(parts) < 2 or parts[0] != chart_name or ".." in parts:
        return None
    directory, rest = chart_dir, parts[1:]
    while len(rest) > 2 and rest[0] == "charts":
        sub = _subchart(directory / "charts", rest[1])
        if sub is None:
            return None
        directory, rest = sub, rest[2:]
    target = directory.joinpath(*rest)
    return target if target.is_file() and not target.is_symlink() else None


def _subchart(charts: Path, name: str) -> Path | None:
    if (charts / name / CHART_FILE).is_file():
        return charts / name
    if not charts.is_dir():
        return None
    for candidate in sorted(charts.iterdir()):
        chart_file = candidate / CHART_FILE
        if chart_file.is_file() and _chart_name(chart_file) == name:
            return candidate
    return None


def _chart_name(chart_file: Path) -> str | None:
    try:
        meta = load_untrusted(chart_file.read_bytes()[: METADATA_LIMITS.max_bytes], METADATA_LIMITS)
    except (OSError, yaml.YAMLError):
        return None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def _read(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TEMPLATE_BYTES + 1)
    except OSError:
        return ""
    return data.decode("utf-8", "replace") if len(data) <= MAX_TEMPLATE_BYTES else ""
