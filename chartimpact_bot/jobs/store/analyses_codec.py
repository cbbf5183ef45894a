"""Stored analyses, acknowledgements and acknowledgement log entries (jobs/analyses.py) as the
bytes both backends keep: one JSON document per record (a sqlite column, a Redis field).

The store keeps beside it, as columns or key names, only what it looks records up by
(repository, scope, head commit, time); the document is the record. Reading one back treats it
as untrusted (a shared Redis is written by whoever can reach it): msgspec decodes it into the
record's own dataclass, checking every field's type and running the record's own checks
(`__post_init__`: the ids' shapes, the bounds of the texts), so a stored value answers a
record or None, never an exception of the decoder's.

The cursor of `JobStore.analyses` is the (created_at, id) of the last record of a page.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TypeVar

import msgspec
import structlog

from ..analyses import ANALYSIS_ID, AckEvent, Acknowledgement, AnalysisRecord

_T = TypeVar("_T")
log = structlog.get_logger(__name__)

_RECORD = msgspec.json.Decoder(AnalysisRecord)
_ACK = msgspec.json.Decoder(Acknowledgement)
_EVENT = msgspec.json.Decoder(AckEvent)
_encoder = msgspec.json.Encoder()
MAX_CURSOR_CHARS = 80


def encode_record(record: AnalysisRecord) -> bytes:
    if not math.isfinite(record.created_at):
        raise ValueError(f"an analysis is created at a finite epoch, not {record.created_at!r}")
    return _encoder.encode(record)


def decode_record(raw: object) -> AnalysisRecord | None:
    """The record stored as `raw`; None when it is not one (absent, corrupted, another format)."""
    return _decode(_RECORD, raw, "analysis")


def encode_ack(ack: Acknowledgement) -> bytes:
    if not math.isfinite(ack.at):
        raise ValueError(f"an acknowledgement is made at a finite epoch, not {ack.at!r}")
    return _encoder.encode(ack)


def decode_ack(raw: object) -> Acknowledgement | None:
    return _decode(_ACK, raw, "acknowledgement")


def encode_event(event: AckEvent) -> bytes:
    """The entry without its seq: the store gives it one, and keeps it as the entry's key."""
    if not math.isfinite(event.at):
        raise ValueError(f"an acknowledgement event happens at a finite epoch, not {event.at!r}")
    return _encoder.encode(dataclasses.replace(event, seq=0))


def decode_event(raw: object, seq: int) -> AckEvent | None:
    event = _decode(_EVENT, raw, "acknowledgement log entry")
    return None if event is None else dataclasses.replace(event, seq=seq)


def _decode(decoder: msgspec.json.Decoder[_T], raw: object, what: str) -> _T | None:
    if raw is None:
        return None
    try:
        if not isinstance(raw, (bytes, str)):
            raise TypeError(f"a {type(raw).__name__}, not text")
        return decoder.decode(raw)
    except (msgspec.MsgspecError, ValueError, TypeError, RecursionError) as exc:
        log.warning(f"a stored {what} is unreadable; passed by", error=str(exc)[:200])
        return None


def analyses_cursor(created_at: float, analysis_id: str) -> str:
    """The cursor after the record of that (created_at, id): the page goes on below it."""
    return f"{created_at!r}_{analysis_id}"


def parse_analyses_cursor(cursor: str | None) -> tuple[float, str] | None:
    """(created_at, id) of the last record of the page before; ValueError for anything a store
    did not write (as `base.parse_cursor`)."""
    if cursor is None:
        return None
    at_text, _, ident = cursor[: MAX_CURSOR_CHARS + 1].rpartition("_")
    try:
        at = float(at_text)
    except ValueError:
        at = math.nan
    # Only what analyses_cursor writes: a finite float in its own repr, then an analysis id.
    if (
        len(cursor) > MAX_CURSOR_CHARS
        or not math.isfinite(at)
        or repr(at) != at_text
        or not ANALYSIS_ID.fullmatch(ident)
    ):
        raise ValueError(f"not a cursor from this store: {cursor[:40]!r}")
    return at, ident
