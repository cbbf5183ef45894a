"""Small helpers that keep detectors short: names and values for descriptions."""

from __future__ import annotations

import json
from typing import Any

from ..kubernetes.containers import Container
from ..model import Resource


def what(resource: Resource) -> str:
    """`Deployment 'web'` for descriptions."""
    return f"{resource.id.kind} '{resource.id.name}'"


def container_of(container: Container, resource: Resource) -> str:
    """`init container 'migrate' of Deployment 'web'` for descriptions."""
    return f"{container.kind_word} '{container.name}' of {what(resource)}"


def sentence(text: str) -> str:
    """The text with its first letter capitalized and the rest as written (str.capitalize would
    lowercase the kinds, names and capabilities a description quotes)."""
    return text[:1].upper() + text[1:]


def show(value: Any) -> str:
    """A value inside a sentence: bare scalars, compact JSON otherwise, `unset` for None."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:79] + "…"
