"""structlog configuration: JSON lines (or console), context per delivery, secrets redacted.

Every line of a delivery's work carries what `bind_contextvars` put there (delivery id, event,
repository, installation, job id), because contextvars follow asyncio tasks.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

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


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
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
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
