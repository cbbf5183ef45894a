"""A Report as bytes for the result cache, and back.

The model's dataclasses go through msgspec's MessagePack, compressed with zlib, behind one
format byte. Never pickle: a shared Redis is written by every instance (and by whoever else can
reach it), and unpickling runs code. msgspec decodes into the model's own types and checks every
field as it does, so a payload answers a Report or an error, nothing else.

Lossless or not stored: the model's free-form values (a resource's body, a change's or a
signal's before and after) must be what YAML gives (dicts, lists, text, numbers, booleans,
null), because MessagePack would return any other container as a list and the renderers tell
them apart. Dicts keep their order. Encoding is deterministic: one Report, one byte string.

Sizes are bounded both ways: a report whose payload is larger than MAX_PAYLOAD_BYTES is not
cached, and decompressing a stored payload stops at MAX_REPORT_BYTES, so a corrupted or
hostile entry cannot exhaust the server's memory.
"""

from __future__ import annotations

import zlib
from typing import Any, TypeVar

import msgspec

from ..core.model import Report

FORMAT = b"\x01"
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
MAX_REPORT_BYTES = 64 * 1024 * 1024
COMPRESSION_LEVEL = 6
MAX_INT = 2**63  # MessagePack's integers; YAML's are unbounded

T = TypeVar("T")
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Report)


class UnreadableEntry(Exception):
    """A stored payload that is not a Report of this format (corrupted, or written by something else)."""


def encode_report(report: Report) -> bytes | None:
    """The payload of a report; None when it cannot be stored losslessly or is too large."""
    return encode_value(report, report, FORMAT)


def decode_report(payload: bytes) -> Report:
    """The report of a payload; UnreadableEntry for anything else."""
    return decode_value(payload, FORMAT, _decoder)


def encode_value(value: object, report: Report, format_byte: bytes) -> bytes | None:
    """`value` (a model value holding `report`) packed, compressed, behind `format_byte`."""
    if not _plain_values(report):
        return None
    try:
        packed = _encoder.encode(value)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return None
    if len(packed) > MAX_REPORT_BYTES:
        return None
    payload = format_byte + zlib.compress(packed, COMPRESSION_LEVEL)
    return payload if len(payload) <= MAX_PAYLOAD_BYTES else None


def decode_value(payload: bytes, format_byte: bytes, decoder: msgspec.msgpack.Decoder[T]) -> T:
    """What `encode_value` packed, checked against `decoder`'s type; UnreadableEntry for anything else."""
    if len(payload) > MAX_PAYLOAD_BYTES or not payload.startswith(format_byte):
        raise UnreadableEntry("not a stored report of this format")
    inflater = zlib.decompressobj()
    try:
        packed = inflater.decompress(payload[len(format_byte) :], MAX_REPORT_BYTES)
    except zlib.error as exc:
        raise UnreadableEntry(f"the stored report does not decompress: {exc}") from exc
    if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
        raise UnreadableEntry("the stored report is truncated, too large or followed by other data")
    try:
        return decoder.decode(packed)
    except msgspec.MsgspecError as exc:
        raise UnreadableEntry(f"the stored report does not match the model: {str(exc)[:200]}") from exc


def _plain_values(report: Report) -> bool:
    """Whether every free-form value of the report survives MessagePack unchanged."""
    values: list[Any] = []
    for chart in report.charts:
        for signal in chart.signals:
            values += (signal.before, signal.after)
        for diff in chart.diff.resources if chart.diff else ():
            values += [side.body for side in (diff.base, diff.head) if side is not None]
            values += [v for change in diff.changes for v in (change.before, change.after)]
    return _plain(values)


def _plain(root: Any) -> bool:
    pending = [root]
    while pending:
        value = pending.pop()
        kind = type(value)
        if kind is list:
            pending.extend(value)
        elif kind is dict:
            for key, item in value.items():
                if type(key) not in (str, int) or (type(key) is int and not -MAX_INT <= key < MAX_INT):
                    return False
                pending.append(item)
        elif kind is int:
            if not -MAX_INT <= value < MAX_INT:
                return False
        elif kind not in (str, float, bool, type(None)):
            return False
    return True
