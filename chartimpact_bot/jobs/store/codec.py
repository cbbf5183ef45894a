"""A Job as a flat record of scalars, the one shape both backends store (a sqlite row, a Redis hash).

`params` (the job's parameters and check run, params_codec.py) and `result` travel as JSON
text; a field whose value is None is left out, so the Redis scripts can delete it and sqlite
stores NULL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from ..model import Ending, Job, JobState
from ..params import JobKind
from . import params_codec

Scalar = str | int | float
INT_FIELDS = ("installation_id", "attempts", "priority", "seq")
FLOAT_FIELDS = ("not_before", "lease_until", "close_due")
TEXT_FIELDS = (
    "id",
    "delivery_id",
    "event",
    "action",
    "repository",
    "kind",
    "key",
    "state",
    "created_at",
    "started_at",
    "finished_at",
    "error",
    "lease_owner",
    "superseded_by",
    "close_owed",
)
FIELDS = (*TEXT_FIELDS, *INT_FIELDS, *FLOAT_FIELDS, "params", "result")


def to_record(job: Job) -> dict[str, Scalar]:
    record: dict[str, Scalar] = {}
    for name in TEXT_FIELDS + INT_FIELDS + FLOAT_FIELDS:
        value = getattr(job, name)
        if value is not None:
            record[name] = value
    record["params"] = params_codec.encode(job.params, job.check_run)
    record["result"] = json.dumps(job.result, separators=(",", ":"), sort_keys=True)
    return record


def from_record(record: Mapping[str, Any]) -> Job:
    """Read a record back; Redis answers bytes or text for every field, sqlite typed values."""
    values: dict[str, Any] = {name: _text(record.get(name)) for name in TEXT_FIELDS}
    for name in INT_FIELDS:
        values[name] = int(record.get(name) or 0)
    for name in FLOAT_FIELDS:
        raw = record.get(name)
        values[name] = None if raw is None or raw in (b"", "") else float(raw)
    kind = cast(JobKind, values["kind"])
    params, check_run = params_codec.decode(kind, _text(record.get("params")) or "{}")
    result = json.loads(_text(record.get("result")) or "{}")
    return Job(
        delivery_id=values["delivery_id"] or "",
        event=values["event"] or "",
        action=values["action"],
        repository=values["repository"] or "",
        installation_id=values["installation_id"],
        kind=kind,
        params=params,
        key=values["key"] or "",
        id=values["id"] or "",
        state=cast(JobState, values["state"]),
        attempts=values["attempts"],
        created_at=values["created_at"] or "",
        started_at=values["started_at"],
        finished_at=values["finished_at"],
        error=values["error"],
        result=result,
        priority=values["priority"],
        not_before=values["not_before"],
        lease_owner=values["lease_owner"],
        lease_until=values["lease_until"],
        superseded_by=values["superseded_by"],
        close_owed=cast("Ending | None", values["close_owed"]),
        close_due=values["close_due"],
        seq=values["seq"],
        check_run=check_run,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
