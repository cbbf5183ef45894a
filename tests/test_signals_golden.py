"""Golden tests: for every signal type, a minimal base/head chart pair rendered by the real Helm
engine, and the exact signals expected.

Cases live in tests/golden/signals/<family>.yaml:

    - name: what the case shows
      base: |            # templates/manifest.yaml of the base chart (plain manifests or Helm)
      head: |
      values: {base: "...", head: "..."}        # optional values.yaml texts
      chart: {base: "...", head: "..."}         # optional extra Chart.yaml lines
      config: |                                 # optional .chartimpact.yml
      files: {base: {path: text}, head: {...}}  # optional files beside the chart's own
      environment: [values-prod.yaml]           # optional values files (chart paths) to render with
      expect:                                   # every signal, in report order
        - {type: ..., resource: Kind ns/name, importance: ..., changeType: ..., before: ..., after: ...}

An expectation may also pin `affectedPath`, `description`, `source` (file:line) or `action`.
A case may also pin how the diff classifies changes that fire no signal:

      changes:                                  # {resource, displayPath, semanticType, importance}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chartimpact_bot.core.config import Environment
from chartimpact_bot.core.config_file import load_config
from chartimpact_bot.core.kubernetes.workloads import WORKLOAD_KINDS
from chartimpact_bot.core.model import Signal
from chartimpact_bot.core.report.values import source_text
from chartimpact_bot.core.signals.engine import detectors
from chartimpact_bot.engine.pipeline import PipelineOptions
from tests.conftest import chart_yaml, diff_dirs, only_chart, write_files

GOLDEN = Path(__file__).parent / "golden" / "signals"
# The catalogue lives in the repository: docs/signals.md is generated from the registry (its drift
# test is in test_signals.py), so this test reads the committed file and never depends on a checkout
# beside this one.
CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "signals.md"
REQUIRED = ("type", "resource", "importance", "changeType", "before", "after")


def _cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(GOLDEN.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            cases.append((f"{path.stem}: {case['name']}", case))
    return cases


CASES = _cases()


def _spellings() -> tuple[frozenset[str], frozenset[str]]:
    """The kinds and the camelCase field names the golden charts use, as the API spells them:
    what a description quotes, and must never show lower-cased ("deployment 'web'",
    "runasnonroot")."""
    kinds: set[str] = set(WORKLOAD_KINDS)
    fields: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and _CAMEL.search(key):
                    fields.add(key)
                if key == "kind" and isinstance(value, str):
                    kinds.add(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, case in CASES:
        for side in ("base", "head"):
            try:
                walk(list(yaml.safe_load_all(case.get(side) or "")))
            except yaml.YAMLError:
                continue  # a Helm template, not a plain manifest
    return frozenset(kinds), frozenset(fields)


_CAMEL = re.compile(r"[a-z][A-Z]")
KINDS, FIELDS = _spellings()
# A kind lower-cased where it names a resource (`deployment 'web'`); a field lower-cased anywhere
# (no English word is spelled like one). Kinds alone are ordinary words too ("pod template"), and
# a namespace is named in prose as Kubernetes' own messages do ("moves from namespace 'apps'").
LOWER_CASED = re.compile(
    "|".join(
        [rf"\b{re.escape(kind.lower())} '" for kind in sorted(KINDS - {"Namespace"})]
        + [rf"\b{re.escape(field.lower())}\b" for field in sorted(FIELDS)]
    )
)


def summarize(signal: Signal) -> dict[str, Any]:
    rid = signal.resource
    return {
        "type": signal.type,
        "resource": f"{rid.kind} {rid.namespace + '/' if rid.namespace else ''}{rid.name}",
        "importance": signal.importance,
        "changeType": signal.change_type,
        "before": signal.before,
        "after": signal.after,
        "affectedPath": signal.affected_path,
        "description": signal.description,
        "source": source_text(signal.source) if signal.source else None,
        "action": signal.action,
    }


def _chart(root: Path, case: dict[str, Any], side: str) -> Path:
    extra = (case.get("chart") or {}).get(side, "")
    files: dict[str, str | bytes] = {
        "Chart.yaml": chart_yaml("golden", extra=extra),
        "values.yaml": (case.get("values") or {}).get(side, ""),
    }
    if case.get(side):
        files["templates/manifest.yaml"] = case[side]
    files.update((case.get("files") or {}).get(side) or {})
    return write_files(root / side / "golden", files)


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[name for name, _ in CASES])
def test_golden_signals(case: dict[str, Any], tmp_path: Path, options: PipelineOptions) -> None:
    for item in case["expect"]:
        missing = [k for k in REQUIRED if k not in item]
        assert not missing, f"expectation {item} lacks {missing}"
    config = load_config(case["config"]) if case.get("config") else None
    environment = (
        Environment(values=tuple(f"golden/{v}" for v in case["environment"])) if "environment" in case else None
    )
    report = diff_dirs(
        _chart(tmp_path, case, "base"), _chart(tmp_path, case, "head"), options, config, environment=environment
    )
    chart = only_chart(report)
    actual = [summarize(s) for s in chart.signals]
    projected = [{k: a[k] for k in e} for a, e in zip(actual, case["expect"], strict=False)]
    assert (projected, len(actual)) == (case["expect"], len(case["expect"])), yaml.safe_dump(actual, sort_keys=False)
    lower_cased = [s.description for s in chart.signals if LOWER_CASED.search(s.description)]
    assert lower_cased == [], "descriptions spell kinds and fields as the API does"
    if "changes" in case:
        assert chart.diff is not None
        classified = [
            {
                "resource": f"{d.id.kind} {d.id.namespace + '/' if d.id.namespace else ''}{d.id.name}",
                "displayPath": c.display_path,
                "semanticType": c.semantic_type,
                "importance": c.importance,
            }
            for d in chart.diff.resources
            for c in d.changes
        ]
        assert classified == case["changes"], yaml.safe_dump(classified, sort_keys=False)


# Types a chart directory pair cannot show, and the test that shows each end to end instead.
ELSEWHERE = {"chart.upgrade": "test_gitops_remote_charts.py"}  # needs a chart repository's chart


def test_every_registered_type_has_a_golden_case() -> None:
    covered = {item["type"] for _, case in CASES for item in case["expect"]}
    for type_, test_file in ELSEWHERE.items():
        if f'"{type_}"' in (Path(__file__).parent / test_file).read_text():
            covered.add(type_)
    missing = [d.type for d in detectors() if not any(t == d.type or t.startswith(d.type + ".") for t in covered)]
    assert missing == []


def test_every_catalogue_type_is_implemented() -> None:
    catalogue = re.findall(r"^\| `([a-z]+(?:\.[A-Za-z]+)+)` \|", CATALOGUE.read_text(), re.MULTILINE)
    registered = {d.type for d in detectors()}
    assert len(catalogue) == len(set(catalogue)), "a type is listed twice"
    assert sorted(set(catalogue) - registered) == []
    assert sorted(registered - set(catalogue)) == []
