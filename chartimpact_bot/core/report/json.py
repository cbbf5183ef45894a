"""The report JSON of CONTRACT §2: stable key order, deterministic for the same inputs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import msgspec

from ..model import (
    Acknowledged,
    Change,
    ChartReport,
    Report,
    ResourceDiff,
    ResourceId,
    Signal,
    StructuredDiff,
)
from .counts import by_category, by_importance
from .safe_text import json_safe

SCHEMA_VERSION = "1.0.0"


def dumps(report: Report) -> str:
    """The report as JSON text; no raw control or bidi character in it (values are unchanged)."""
    return dumps_document(report_to_dict(report))


def dumps_document(document: dict[str, Any]) -> str:
    """A report's dict (perhaps with fields added, as /api/compare adds `configProblems`) as
    the JSON text `dumps` writes."""
    return json_safe(indented(document)) + "\n"


def indented(document: Any) -> str:
    """`json.dumps(document, indent=2, ensure_ascii=False)`, the same text, three times faster:
    json writes with its C encoder only without an indent (with one, it runs in Python), so the
    document is written compact and msgspec lays the text out with the same indentation,
    copying every number and string as json wrote it. (orjson and msgspec's own encoder write
    some floats otherwise: `1e-05` as `0.00001`, `1e+21` as `1e21`.) A text msgspec cannot
    read, json's `NaN` and `Infinity` or a lone surrogate, or one nested too deeply, is written
    the slow way, which answers (or fails) exactly as before."""
    try:
        return msgspec.json.format(json.dumps(document, ensure_ascii=False), indent=2)
    except (TypeError, ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        return json.dumps(document, indent=2, ensure_ascii=False)


def report_to_dict(report: Report) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "engineVersion": report.engine_version,
        "generatedAt": report.generated_at,
        "base": {"ref": report.base.ref, "sha": report.base.sha},
        "head": {"ref": report.head.ref, "sha": report.head.sha},
        "verdict": report.verdict,
        "charts": [chart_to_dict(chart, report.engine_version) for chart in report.charts],
        "summary": {
            "charts": len(report.charts),
            "signals": signal_counts([s for c in report.charts for s in c.signals]),
            "ignoredSignals": sum(c.ignored_signals for c in report.charts),
        },
    }


def chart_to_dict(chart: ChartReport, engine_version: str) -> dict[str, Any]:
    summary = signal_counts(chart.signals)
    summary["topSignals"] = [s.id for s in chart.signals[:5]]
    summary["ignored"] = chart.ignored_signals
    return {
        "path": chart.path,
        "name": chart.name,
        "environment": chart.environment,
        "status": chart.status,
        "error": chart.error,
        "warnings": list(chart.warnings),
        "diff": diff_to_dict(chart.diff, engine_version) if chart.diff is not None else None,
        "signals": [signal_to_dict(s) for s in chart.signals],
        "summary": summary,
        "verdict": chart.verdict,
    }


def signal_counts(signals: tuple[Signal, ...] | list[Signal]) -> dict[str, Any]:
    return {
        "total": len(signals),
        "byCategory": by_category(signals),
        "byImportance": by_importance(signals),
    }


def diff_to_dict(diff: StructuredDiff, engine_version: str) -> dict[str, Any]:
    change_types = Counter(r.change_type for r in diff.resources)
    return {
        "metadata": {
            "engineVersion": engine_version,
            "compareId": diff.compare_id,
            "normalizationRules": [
                {"rule": r.rule, "scope": r.scope, "detail": r.detail} for r in diff.normalization_rules
            ],
        },
        "resources": [resource_diff_to_dict(r) for r in diff.resources],
        "stats": {
            "resources": {
                "added": change_types.get("added", 0),
                "removed": change_types.get("removed", 0),
                "modified": change_types.get("modified", 0),
            },
            "changes": {
                "total": sum(len(r.changes) for r in diff.resources),
                "byImportance": by_importance(c for r in diff.resources for c in r.changes),
            },
        },
    }


def identity_to_dict(rid: ResourceId, api_version: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": rid.kind,
        "name": rid.name,
        "namespace": rid.namespace,
    }


def resource_diff_to_dict(diff: ResourceDiff) -> dict[str, Any]:
    resource = diff.resource
    by_op = Counter(c.op for c in diff.changes)
    return {
        "identity": identity_to_dict(resource.id, resource.api_version),
        "changeType": diff.change_type,
        "source": resource.source,
        "hook": resource.hook,
        "installOnly": resource.install_only,
        "changes": [change_to_dict(c) for c in diff.changes],
        "summary": {
            "changes": len(diff.changes),
            "byOp": {op: by_op.get(op, 0) for op in ("add", "remove", "replace")},
            "byImportance": by_importance(diff.changes),
            "categories": sorted({c.change_category for c in diff.changes}),
            "flags": sorted({f for c in diff.changes for f in c.flags}),
        },
    }


def change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "op": change.op,
        "path": change.path,
        "pathTokens": list(change.path_tokens),
        "displayPath": change.display_path,
        "before": change.before,
        "after": change.after,
        "valueType": value_type(change.after if change.op != "remove" else change.before),
        "semanticType": change.semantic_type,
        "changeCategory": change.change_category,
        "importance": change.importance,
        "flags": list(change.flags),
    }


def signal_to_dict(signal: Signal) -> dict[str, Any]:
    return {
        "id": signal.id,
        "type": signal.type,
        "category": signal.category,
        "importance": signal.importance,
        "resource": identity_to_dict(signal.resource, signal.api_version),
        "changeType": signal.change_type,
        "description": signal.description,
        "explanation": signal.explanation,
        "affectedPath": signal.affected_path,
        "before": signal.before,
        "after": signal.after,
        # The contract's line is an integer: a signal that knows its file but no line is about the
        # file as a whole, at its top, as its GitHub annotation is (ADR 6).
        "source": ({"file": signal.source.file, "line": signal.source.line or 1} if signal.source else None),
        "rawChanges": [{"op": op, "path": path} for op, path in signal.raw_changes],
        "related": list(signal.related),
        "action": signal.action,
        # Only the App's reports carry acknowledgements (issue 12); the CLI's never do.
        **({"acknowledged": _acknowledged(signal.acknowledged)} if signal.acknowledged else {}),
    }


def _acknowledged(ack: Acknowledged) -> dict[str, str]:
    return {"by": ack.by, "at": ack.at, "reason": ack.reason}


def value_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
