"""The command line's progress on a terminal: "rendering 3/12 charts/web (prod)" on one line of
stderr, rewritten in place and cleared when the analysis ends. Nothing is written when stderr is
not a terminal, so logs and pipes see only the report and errors."""

from __future__ import annotations

import shutil
from typing import TextIO

from .core.report.safe_text import one_line

CLEAR_LINE = "\r\x1b[K"


class TerminalProgress:
    def __init__(self, stream: TextIO, prog: str) -> None:
        self._stream = stream
        self._prog = prog
        self._shown = False

    def __call__(self, n: int, of: int, path: str, environment: str) -> None:
        where = one_line(path) + ("" if environment == "default" else f" ({one_line(environment)})")
        line = f"{self._prog}: rendering {n}/{of} {where}"
        # Longer than the terminal, the line would wrap and \r would rewrite only its last part.
        width = shutil.get_terminal_size(fallback=(80, 24)).columns - 1
        if len(line) > width:
            line = line[: max(width - 1, 0)] + "…"
        self._stream.write(CLEAR_LINE + line)
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self._stream.write(CLEAR_LINE)
            self._stream.flush()
            self._shown = False


def terminal_progress(stream: TextIO, prog: str) -> TerminalProgress | None:
    """A progress line for `stream` when it is a terminal, else None (silent)."""
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-less stream
        interactive = False
    return TerminalProgress(stream, prog) if interactive else None
