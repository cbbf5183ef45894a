"""The report as SARIF 2.1.0 (CONTRACT §1 `--format sarif`), for code-scanning tools: one rule per
signal type, one result per signal at the file and line that caused it.

Levels follow the thresholds: a signal that fails the verdict is an `error`, one that warns a
`warning`, the rest `note`s. Each result carries the signal id as its partial fingerprint, so a
code-scanning service follows one signal across runs as the App's acknowledgements do. Written
by the JSON report's writer (`dumps_document`): deterministic, no raw control or bidi character.
"""

from __future__ import annotations

from typing import Any

from ..model import ChartReport, Report, Signal
from .json import dumps_document

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"fail": "error", "warn": "warning"}


def render_sarif(report: Report) -> str:
    signals = [(chart, signal) for chart in report.charts for signal in chart.signals]
    rules: dict[str, Signal] = {}
    for _, signal in signals:
        rules.setdefault(signal.type, signal)
    order = {rule_id: n for n, rule_id in enumerate(sorted(rules))}
    driver = {
        "name": "ChartImpact",
        "version": report.engine_version,
        "rules": [
            {
                "id": rule_id,
                "shortDescription": {"text": rule_id},
                "fullDescription": {"text": rules[rule_id].explanation},
                "properties": {"category": rules[rule_id].category},
            }
            for rule_id in sorted(rules)
        ],
    }
    results = [_result(chart, signal, order[signal.type]) for chart, signal in signals]
    return dumps_document(
        {"$schema": SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}
    )


def _result(chart: ChartReport, signal: Signal, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": signal.type,
        "ruleIndex": rule_index,
        "level": LEVELS.get(signal.action, "note"),
        "message": {"text": signal.description},
        "partialFingerprints": {"chartimpactSignalId/v1": signal.id},
        "properties": {
            "importance": signal.importance,
            "category": signal.category,
            "chart": chart.path,
            "environment": chart.environment,
            "resource": str(signal.resource),
            "affectedPath": signal.affected_path,
        },
    }
    if signal.source is not None:
        region = {"startLine": signal.source.line or 1}
        location = {"artifactLocation": {"uri": signal.source.file}, "region": region}
        result["locations"] = [{"physicalLocation": location}]
    return result
