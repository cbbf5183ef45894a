"""structlog configuration: JSON lines (or console), context per delivery, secrets redacted.

Every line of a delivery's work carries what `bind_contextvars` put there (delivery id, event,
repository, installation, job id), because contextvars follow asyncio tasks.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from .analysis.report.safe_text import clip, visible

_SECRET_KEYS = re.compile(r"(token|secret|password|authorization|private_?key|jwt)", re.IGNORECASE)
# GitHub tokens (ghs_, ghp_, gho_, ghu_, ghr_, github_pat_) and JWTs anywhere in a message.
_SECRET_VALUES = re.compile(
    r"\b(gh[psoru]_[A-Za-z0-9_]{10,}|github_pat_[A-Za-z0-9_]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"
)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _SECRET_KEYS.search(key) and key != "event":
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = _SECRET_VALUES.sub("[redacted]", value)
    return event


# Log lines quote what a pull request wrote (error text, names): on an operator's terminal an
# ANSI or OSC sequence in them would run, and a 300 kB render error would flood the log.
MAX_FIELD_CHARS = 8_000


def neutralize(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = visible(clip(value, MAX_FIELD_CHARS))
    return event


STDLIB_HANDLER = "chartimpact-stdlib"


class _Stdout(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stdout` is when a line is emitted (a test may have replaced it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """structlog's lines, and the standard library's (the analysis library and aiohttp log with
    `logging`), through the same processors: one format, context, redaction and escaping for
    every line the process writes. Called again, it replaces what it set up before."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    threshold = getattr(logging, level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            neutralize,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    handler = _Stdout()
    handler.set_name(STDLIB_HANDLER)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                neutralize,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == STDLIB_HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)
