"""docs/signals.md, generated from the detector registry: `python -m chartimpact_bot.core.signals.catalogue`.

A test compares the committed file with this output, so the documentation cannot drift from
what is implemented.
"""

from __future__ import annotations

import inspect
import sys

from ..model import CATEGORIES
from .engine import detectors
from .registry import Detector, change_type

_TITLES = {"availability": "Availability", "security": "Security", "upgrade": "Upgrade safety", "other": "Other"}


def render_catalogue() -> str:
    lines = [
        "# Signals",
        "",
        "Generated from the detector registry (`python -m chartimpact_bot.core.signals.catalogue`);",
        "do not edit by hand. Importance is the default; `.chartimpact.yml` can override it per type.",
        "A repository adds signal types of its own, `custom.<id>`, with `rules:` in `.chartimpact.yml`",
        "(see configuration.md); they take part in thresholds, ignores and annotations like these.",
        "",
        *_change_type_rule(),
        "",
    ]
    registered = detectors()
    for category in CATEGORIES:
        group = [d for d in registered if d.category == category and d.scope != "pattern"]
        lines += _table(_TITLES[category], group)
    lines += _table("Cross-resource patterns", [d for d in registered if d.scope == "pattern"])
    lines.append(f"{len(registered)} signal types.")
    return "\n".join(lines) + "\n"


def _change_type_rule() -> list[str]:
    """The rule's own words (the docstring of `change_type`, without the note on its arguments)."""
    paragraphs = inspect.cleandoc(change_type.__doc__ or "").split("\n\n")
    return "\n\n".join(paragraphs[:2]).splitlines()


def _table(title: str, group: list[Detector]) -> list[str]:
    lines = [
        f"## {title}",
        "",
        "| type | importance | applies to | fires when | why it matters |",
        "|---|---|---|---|---|",
    ]
    for det in group:
        kinds = ", ".join(sorted(det.kinds)) if det.kinds else ("the chart" if det.scope != "resource" else "any kind")
        doc = " ".join(det.doc.split()).replace("|", "\\|")
        why = " ".join(det.explanation.split()).replace("|", "\\|")
        lines.append(f"| `{det.type}` | {det.importance} | {kinds} | {doc} | {why} |")
    return [*lines, ""]


if __name__ == "__main__":
    sys.stdout.write(render_catalogue())
