"""Label selectors: whether a selector (matchLabels and matchExpressions, or a Service's plain map)
selects a set of labels."""

from __future__ import annotations

from typing import Any

from .bodies import as_dict, as_list


def labels_match(selector: Any, labels: Any) -> bool:
    """Whether the selector selects `labels`; an empty or missing selector selects nothing here."""
    if not isinstance(selector, dict) or not selector:
        return False
    labels = as_dict(labels)
    if "matchLabels" in selector or "matchExpressions" in selector:
        if not all(labels.get(k) == v for k, v in as_dict(selector.get("matchLabels")).items()):
            return False
        return all(_expression(e, labels) for e in as_list(selector.get("matchExpressions")))
    return all(labels.get(k) == v for k, v in selector.items())


def _expression(expression: Any, labels: dict[str, Any]) -> bool:
    if not isinstance(expression, dict):
        return False
    key, operator = str(expression.get("key")), expression.get("operator")
    values = as_list(expression.get("values"))
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False
