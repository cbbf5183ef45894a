"""Bounded-time regular expressions for custom rules (`matches:` in `.chartimpact.yml`).

The pattern is written by a pull request's author, so Python's backtracking `re` is out: one
nested quantifier makes it exponential. RE2 matches in time linear in the subject and refuses
what it cannot do that way (backreferences, lookaround); its memory is capped per pattern, and
pattern and subject lengths are capped here, so one match costs a bounded amount of work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN_CHARS = 256
# Longer values (a whole config file in a ConfigMap) never match: a rule is about a field.
MAX_SUBJECT_CHARS = 4096
# RE2's memory budget for one compiled pattern; a pattern that needs more is refused.
_MAX_PROGRAM_BYTES = 1 << 20


class PatternError(ValueError):
    """The pattern cannot be used; the message says why in words for the config's author."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled `matches:` pattern: `search` tells whether it occurs in a scalar's text."""

    source: str
    _regexp: Any  # re2._Regexp; the package ships no type information

    def search(self, value: Any) -> bool:
        text = scalar_text(value)
        return text is not None and len(text) <= MAX_SUBJECT_CHARS and self._regexp.search(text) is not None


def scalar_text(value: Any) -> str | None:
    """The text a pattern is matched against: strings as they are, numbers and booleans as
    YAML writes them, None for null, objects and lists (a pattern is about one field)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def compile_pattern(source: str) -> Pattern:
    """The compiled pattern; PatternError when it is too long, invalid or too large for RE2."""
    if len(source) > MAX_PATTERN_CHARS:
        raise PatternError(f"the pattern is {len(source)} characters long; at most {MAX_PATTERN_CHARS} are allowed")
    return _compiled(source)


@lru_cache(maxsize=512)
def _compiled(source: str) -> Pattern:
    options = re2.Options()
    options.max_mem = _MAX_PROGRAM_BYTES
    # RE2 would otherwise write every parse error to the process' stderr.
    options.log_errors = False
    try:
        return Pattern(source, re2.compile(source, options))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(f"not a valid RE2 pattern: {str(reason)[:120]}") from exc
