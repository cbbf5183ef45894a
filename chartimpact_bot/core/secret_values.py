"""The secrets a render is given: values under sensitive keys of its values files and `--set`.

Key-based masking cannot see a secret once a template has moved it somewhere keyless: a
positional argument of a script (`createUser console <secret>`), an `AWS_SECRET_ACCESS_KEY`
pair inside an embedded configuration, a JAAS line. What the chart was *given* as a secret is
known, though, so every literal occurrence of it is masked too, in the rendered objects (the
parent) and in error text (the render process). Standard library, PyYAML and `yamlio` only:
`render_worker.py` imports this.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import yaml

from .sensitive import (
    is_masked_text,
    is_plain_setting,
    is_sensitive_key,
    names_secret_key,
    sensitive_values,
    set_expression_parts,
)
from .yamlio import VALUES_LIMITS, load_untrusted

# Shorter values are too likely to occur by chance (`admin`, `1234`) to be masked wherever
# they appear; they are still masked where their key is seen.
MIN_LITERAL_CHARS = 6


def given_secrets(values_texts: Iterable[str], set_values: Iterable[str], public: Iterable[str] = ()) -> set[str]:
    """Values under sensitive keys of these values files and `--set` expressions, and the
    secrets inside their strings (URL passwords, private keys).

    `public` are the names the render shows anyway: the chart's and its subcharts' names, the
    release name and the namespace. They are part of every resource name and template path, so
    masking one wherever it appears would blank the report, and hides nothing (MinIO's default
    `accessKey: enterprise-logs` in Grafana's enterprise-logs chart masked the chart's own name).
    Where their key is seen, such values are still masked by the key rule."""
    found: set[str] = set()
    for text in values_texts:
        try:
            found |= sensitive_values(load_untrusted(text, VALUES_LIMITS))
        except (ValueError, RecursionError, yaml.YAMLError):
            continue
    for expression in set_values:
        _keys, fragments = set_expression_parts(expression)
        for piece in expression.split(","):
            name, sep, value = piece.partition("=")
            leaf = name.split(".")[-1]
            if sep and any(is_sensitive_key(part) for part in name.split(".")) and not names_secret_key(leaf, value):
                found |= fragments
            found |= sensitive_values(value)
    return found - set(public)


def _worth_masking(secret: str) -> bool:
    return (
        len(secret.strip()) >= MIN_LITERAL_CHARS
        and "\n" not in secret  # a PEM block: masked by its own rule, wherever it is
        and not is_plain_setting(secret)
        and not is_masked_text(secret)
    )


def literal_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One regular expression matching every secret worth masking wherever it appears (longest
    first, so a secret that contains another is masked whole); None when there is none."""
    literals = sorted({s for s in secrets if _worth_masking(s)}, key=lambda s: (-len(s), s))
    if not literals:
        return None
    return re.compile("|".join(re.escape(s) for s in literals))
