"""Findings several detectors build the same way: a risky value that newly holds (or no longer
does), and a field of a container that changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..kubernetes.containers import Container
from ..kubernetes.paths import FieldPath
from ..model import Importance
from .registry import Finding


def risk_transition(
    subject: tuple[object, object],
    path: FieldPath,
    values: tuple[Any, Any],
    risky: Callable[[Any], bool],
    *,
    introduced: str,
    lifted: str | None = None,
) -> Iterator[Finding]:
    """The finding of a value that became risky (`introduced`; on a new subject, a value set to a
    risky one), or, when the detector reports it, of one that stopped being risky (`lifted`,
    at low importance)."""
    old, _ = subject
    before, after = values
    if risky(after) and (after is not None if old is None else not risky(before)):
        yield Finding(description=introduced, path=path, before=before, after=after, subject=subject)
    elif lifted is not None and old is not None and risky(before) and not risky(after):
        yield Finding(
            description=lifted, path=path, before=before, after=after, subject=subject, lifted=True, importance="low"
        )


def container_field(
    old: Container | None, new: Container, field: str, description: str, importance: Importance | None = None
) -> Finding:
    """A finding on one field of a container (its image, its pull policy), about the container."""
    before = old.body.get(field) if old is not None else None
    return Finding(
        description=description,
        path=(*new.path, field),
        before=before,
        after=new.body.get(field),
        subject=(old, new),
        importance=importance,
    )
