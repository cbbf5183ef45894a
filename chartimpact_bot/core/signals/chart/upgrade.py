"""`chart.upgrade` and `chart.values.stale`: a chart taken at another version (issue 13). What a
Renovate bump of an Application's `targetRevision` means is rarely in its diff: how far the
version moved, what the chart's authors say changed, and which of the repository's settings the
new chart no longer reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

from ...gitops.remote_chart import MOUNT_ROOT
from ...model import ResourceDiff
from ...semver import Version
from ...side import ChartSide, ValuesSource
from ...sourcemap import placed_leaves
from ...yamlio import VALUES_LIMITS, load_untrusted
from ..context import SignalContext
from ..registry import Finding, chart_detector
from .files import chart_file
from .values import read_paths

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
MAX_NOTES = 5
MAX_NOTE_CHARS = 160
CHANGES_ANNOTATION = "artifacthub.io/changes"


@chart_detector("chart.upgrade", "low")
def upgrade(ctx: SignalContext) -> Iterator[Finding]:
    """A chart taken from a chart repository changes version: how far (a major version, or a
    downgrade, is called out and counts more), the chart's own change notes when it ships them
    (`artifacthub.io/changes`), and whether the rendered change is routine (image tags and
    labels only).

    The rendered diff shows what the new version does with today's values; a major version
    often also asks for changes the diff cannot show (migrations, renamed values).
    """
    base, head = ctx.base.info, ctx.head.info
    if base is None or head is None or ctx.head.chart_ref is None or base.version == head.version:
        return
    distance = semver_distance(base.version, head.version)
    routine = is_routine(ctx.diffs)
    text = f"Chart '{head.name}' {'downgraded' if distance == 'downgrade' else 'upgraded'}"
    text += f" from {base.version} to {head.version}"
    text += distance_phrase(base.version, head.version)
    if routine:
        text += "; a routine upgrade: the rendered change is image tags and labels only"
    notes = change_notes(chart_file(ctx.head.chart, "Chart.yaml")[1])
    if notes:
        text += ". Its notes: " + "; ".join(notes)
    yield Finding(
        description=text,
        path=("version",),
        before=base.version,
        after=head.version,
        subject=(base.version, head.version),
        # A major version may ask for steps no diff shows (migrations), routine render or not.
        importance="medium" if distance in ("major", "downgrade") else None,
        source=ctx.head.chart_ref,
        about=ctx.chart_resource(),
    )


@chart_detector("chart.values.stale", "medium")
def values_stale(ctx: SignalContext) -> Iterator[Finding]:
    """A value the repository sets (a values file, an Application's values) that the base chart
    read and the head chart no longer does: absent from its values.yaml and values.schema.json
    and read by none of its templates. Pointed at the line that sets it.

    A setting the new chart ignores silently stops applying: usually a key the chart renamed or
    moved in that version. Charts whose templates read `.Values` whole, keys for subcharts and
    `global` are left alone.
    """
    base_chart, head_chart = ctx.base.chart, ctx.head.chart
    if base_chart is None or head_chart is None:
        return
    head_reads, head_whole = read_paths(head_chart, every_file=True)
    if head_whole:
        return
    base_known = _known_paths(ctx.base, read_paths(base_chart, every_file=True)[0])
    head_known = _known_paths(ctx.head, head_reads)
    if base_known == head_known:
        return
    subcharts = {d.alias or d.name for d in head_chart.info.dependencies} | {"global"}
    own = f"{head_chart.info.name}/values.yaml"
    seen: set[tuple[str, ...]] = set()
    for values in ctx.head.values:
        if values.key == own or values.path.startswith(MOUNT_ROOT + "/"):
            continue  # the chart's own files: not what the repository sets
        for leaf in placed_leaves(values):
            keys = tuple(k for k in leaf.path if not k.isdigit())
            if not keys or keys[0] in subcharts or keys in seen or leaf.value in _NULLS:
                continue  # a null unsets a key: nothing is set that could go unread
            if _known(keys, base_known) and not _known(keys, head_known):
                seen.add(keys)
                yield _stale(ctx, values, keys, leaf.line)


def _stale(ctx: SignalContext, values: ValuesSource, keys: tuple[str, ...], line: int) -> Finding:
    base, head = ctx.base.info, ctx.head.info
    assert base is not None
    assert head is not None
    versions = f" {base.version} → {head.version}" if base.version != head.version else ""
    dotted = ".".join(keys)
    return Finding(
        description=(
            f"Value '{dotted}' set in {values.path} is no longer read by chart '{head.name}'{versions}:"
            " it is not in its values.yaml or schema, and no template reads it"
        ),
        path=("values", *keys),
        # The value is not shown: the base chart may have put it anywhere, a Secret included,
        # and the key is what the signal is about.
        subject=("read", None),  # what is removed is the chart's reading of it
        source=(values.path, line),
        about=ctx.chart_resource(),
    )


def _known_paths(side: ChartSide, reads: set[tuple[str, ...]]) -> frozenset[tuple[str, ...]]:
    """Every values path the side's chart knows: its values.yaml's keys (maps included), its
    schema's properties, and what its templates read."""
    chart = side.chart
    assert chart is not None
    known: set[tuple[str, ...]] = set(reads)
    defaults = chart.files.get(f"{chart.info.name}/values.yaml", b"").decode("utf-8", "replace")
    known.update(_key_paths(defaults))
    known.update(_schema_paths(chart.files.get(f"{chart.info.name}/values.schema.json", b"")))
    return frozenset(known)


def _key_paths(text: str, *, limit: int = 100_000) -> set[tuple[str, ...]]:
    """Every key path of a values file, maps and lists included however empty (`extra: {}`
    takes keys of any name; a list's items count at the list's own path)."""
    try:
        root = load_untrusted(text, VALUES_LIMITS) if text else None
    except (yaml.YAMLError, ValueError, RecursionError):
        return set()
    found: set[tuple[str, ...]] = set()
    pending: list[tuple[tuple[str, ...], Any]] = [((), root)]
    while pending and len(found) < limit:
        path, node = pending.pop()
        if isinstance(node, dict):
            for key, below in node.items():
                found.add((*path, str(key)))
                pending.append(((*path, str(key)), below))
        elif isinstance(node, list):
            pending.extend((path, item) for item in node)
    return found


def _known(keys: tuple[str, ...], known: frozenset[tuple[str, ...]]) -> bool:
    """Whether a key or one of its parents is known: a parent the chart reads or defines may take
    any keys below it (`podAnnotations: {}`)."""
    return any(keys[:n] in known for n in range(1, len(keys) + 1))


def _schema_paths(data: bytes, *, limit: int = 5_000) -> set[tuple[str, ...]]:
    try:
        schema = json.loads(data) if data else None
    except (ValueError, RecursionError):
        return set()
    found: set[tuple[str, ...]] = set()
    pending: list[tuple[tuple[str, ...], Any]] = [((), schema)]
    while pending and len(found) < limit:
        path, node = pending.pop()
        if not isinstance(node, dict) or len(path) > 32:
            continue
        properties = node.get("properties")
        if isinstance(properties, dict):
            for name, below in properties.items():
                found.add((*path, str(name)))
                pending.append(((*path, str(name)), below))
    return found


def distance_phrase(before: str, after: str) -> str:
    """` (a major version: read its upgrade notes)`, ` (minor)`…; "" between non-semver versions."""
    distance = semver_distance(before, after)
    if distance in ("major", "downgrade"):
        return f" ({'a downgrade' if distance == 'downgrade' else 'a major version'}: read its upgrade notes)"
    return f" ({distance})" if distance is not None else ""


def semver_distance(before: str, after: str) -> str | None:
    """`major`, `minor`, `patch`, `pre-release` or `downgrade` between two versions; None when
    either is no semantic version."""
    old, new = Version.parse(before), Version.parse(after)
    if old is None or new is None:
        return None
    if new == old:
        return None  # the same release (`v1.0.0` and `1.0.0`, or build metadata only)
    if new < old:
        return "downgrade"
    if new.major != old.major:
        return "major"
    if new.minor != old.minor:
        return "minor"
    if new.patch != old.patch:
        return "patch"
    return "pre-release"


def change_notes(chart_yaml: str) -> list[str]:
    """The `artifacthub.io/changes` annotation of a Chart.yaml, as a few short sentences: a YAML
    list of `{kind, description}` or of plain strings (Artifact Hub accepts both)."""
    try:
        chart = load_untrusted(chart_yaml) if chart_yaml else None
        annotations = chart.get("annotations") if isinstance(chart, dict) else None
        raw = annotations.get(CHANGES_ANNOTATION) if isinstance(annotations, dict) else None
        entries = load_untrusted(raw) if isinstance(raw, str) else None
    except (yaml.YAMLError, ValueError):
        return []
    notes = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("description"), str):
            kind = entry.get("kind")
            text = f"{kind}: {entry['description']}" if isinstance(kind, str) and kind else entry["description"]
        elif isinstance(entry, str):
            text = entry
        else:
            continue
        text = " ".join(text.split())
        notes.append(text if len(text) <= MAX_NOTE_CHARS else text[: MAX_NOTE_CHARS - 1] + "…")
        if len(notes) == MAX_NOTES:
            break
    return notes


_ROUTINE_LAST = ("image", "tag")


def is_routine(diffs: tuple[ResourceDiff, ...]) -> bool:
    """Whether every rendered change is an image or a label/annotation (what a chart release
    bumps: its image tags, `helm.sh/chart`, `app.kubernetes.io/version`)."""
    if not diffs:
        return True
    for diff in diffs:
        if diff.change_type != "modified":
            return False
        for change in diff.changes:
            tokens = [str(t) for t in change.path_tokens]
            if "selector" in tokens:
                return False
            if tokens and tokens[-1] in _ROUTINE_LAST:
                continue
            if any(t.startswith("helm.sh/hook") for t in tokens):
                return False  # when Helm runs a hook is no label
            if any(t in ("labels", "annotations") for t in tokens):
                continue
            return False
    return True
