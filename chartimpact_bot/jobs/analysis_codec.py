"""A stored analysis as the job store's opaque payload, and back (jobs/analyses.py).

What the report page and a republish after an acknowledgement need besides the record: the
report as the analysis made it (acknowledgements are applied when it is shown, never stored in
it), the problems of `.chartimpact.yml`, which files of the head an annotation may point at,
and the comment settings of the configuration read. Same format and bounds as the result
cache's (report_codec.py), behind a format byte of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from ..core.model import Report
from .report_codec import UnreadableEntry, decode_value, encode_value

FORMAT = b"\x02"
__all__ = ["StoredAnalysis", "StoredProblem", "UnreadableEntry", "decode_analysis", "encode_analysis"]


@dataclass(frozen=True, slots=True)
class StoredProblem:
    """A problem of `.chartimpact.yml` (github/checks.py's ConfigProblem)."""

    line: int
    message: str
    where: str


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    report: Report
    problems: tuple[StoredProblem, ...] = ()
    annotated_files: tuple[str, ...] = ()  # signal source files present in the head commit
    comment_mode: str = "changes"
    comment_max_signals: int | None = None


_decoder = msgspec.msgpack.Decoder(StoredAnalysis)


def encode_analysis(analysis: StoredAnalysis) -> bytes | None:
    """The payload; None when the report cannot be stored losslessly or is too large."""
    return encode_value(analysis, analysis.report, FORMAT)


def decode_analysis(payload: bytes) -> StoredAnalysis:
    """UnreadableEntry for anything that is not a stored analysis of this format."""
    return decode_value(payload, FORMAT, _decoder)
