"""The pieces of chart-upgrade intelligence (issue 13, point 4) on their own: version distance,
change notes as charts ship them (and as an attacker would), what counts as routine."""

from __future__ import annotations

import pytest

from chartimpact_bot.core.model import Change, Resource, ResourceDiff, ResourceId
from chartimpact_bot.core.signals.chart.upgrade import (
    MAX_NOTE_CHARS,
    MAX_NOTES,
    change_notes,
    is_routine,
    semver_distance,
)


@pytest.mark.parametrize(
    ("before", "after", "distance"),
    [
        ("1.2.3", "2.0.0", "major"),
        ("1.2.3", "1.3.0", "minor"),
        ("1.2.3", "1.2.4", "patch"),
        ("2.0.0-rc.1", "2.0.0", "pre-release"),
        ("2.0.0", "1.9.9", "downgrade"),
        ("v1.0.0", "v1.0.1", "patch"),
        ("latest", "1.0.0", None),
    ],
)
def test_semver_distance(before: str, after: str, distance: str | None) -> None:
    assert semver_distance(before, after) == distance


def test_change_notes_in_both_forms_artifact_hub_accepts() -> None:
    chart = (
        "name: x\nversion: 1.0.0\nannotations:\n  artifacthub.io/changes: |\n"
        "    - kind: added\n      description: A new probe\n    - plain sentence\n"
        "    - {kind: fixed}\n    - 42\n"
    )
    assert change_notes(chart) == ["added: A new probe", "plain sentence"]


@pytest.mark.parametrize(
    "chart",
    [
        "",
        "not: [valid",
        "annotations: 7",
        "annotations:\n  artifacthub.io/changes: 12\n",
        "annotations:\n  artifacthub.io/changes: '[unclosed'\n",
        "annotations:\n  artifacthub.io/changes: 'a: b'\n",
    ],
)
def test_change_notes_of_broken_charts_are_none(chart: str) -> None:
    assert change_notes(chart) == []


def test_change_notes_are_few_short_and_on_one_line() -> None:
    entries = "".join(f"    - 'note {n} {'x' * 500}\\n\\nnext line'\n" for n in range(50))
    notes = change_notes(f"annotations:\n  artifacthub.io/changes: |\n{entries}")
    assert len(notes) == MAX_NOTES
    assert all(len(n) <= MAX_NOTE_CHARS and "\n" not in n for n in notes), notes


def _diff(*paths: tuple[str | int, ...], change_type: str = "modified") -> ResourceDiff:
    resource = Resource(ResourceId("apps", "Deployment", "default", "web"), "apps/v1", {}, "t.yaml", 1)
    changes = tuple(Change("replace", p, "/".join(map(str, p)), "a", "b") for p in paths)
    return ResourceDiff(resource, resource, change_type, changes)  # type: ignore[arg-type]


def test_routine_is_images_and_labels_only() -> None:
    image = ("spec", "template", "spec", "containers", 0, "image")
    label = ("metadata", "labels", "helm.sh/chart")
    assert is_routine((_diff(image, label),))
    assert not is_routine((_diff(image, ("spec", "replicas")),))
    assert not is_routine((_diff(("spec", "selector", "matchLabels", "app")),))
    assert not is_routine((_diff(label, change_type="added"),))
