"""The data model of an analysis: frozen values, no behaviour beyond naming and ordering.

Serialization lives in `report/json.py`; the model only carries what the pipeline computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ChangeOp = Literal["add", "remove", "replace"]
ChangeType = Literal["added", "removed", "modified"]
Importance = Literal["high", "medium", "low"]
Category = Literal["availability", "security", "upgrade", "other"]
Verdict = Literal["pass", "warn", "fail"]
ChartStatus = Literal["analyzed", "added", "removed", "unchanged", "render_error", "skipped"]

IMPORTANCES: tuple[Importance, ...] = ("high", "medium", "low")
CATEGORIES: tuple[Category, ...] = ("availability", "security", "upgrade", "other")

PathToken = str | int


@dataclass(frozen=True, slots=True)
class ResourceId:
    """Who a resource is: API group (not version, so an apiVersion bump is a modification),
    kind, namespace ("" for cluster-scoped kinds) and name."""

    group: str
    kind: str
    namespace: str
    name: str

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.namespace, self.name, self.group)

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True, slots=True, eq=False)
class Resource:
    """One rendered Kubernetes object after normalization and masking.

    `body` is what every output may show: secrets are already masked in it.
    """

    id: ResourceId
    api_version: str
    body: dict[str, Any]
    source: str
    document: int
    hook: str | None = None
    install_only: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """One field-level difference inside a resource, with its classification."""

    op: ChangeOp
    path_tokens: tuple[PathToken, ...]
    display_path: str
    before: Any
    after: Any
    semantic_type: str = "field"
    change_category: str = "other"
    importance: Importance = "low"
    flags: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """RFC 6901 JSON pointer of the change."""
        return json_pointer(self.path_tokens)


@dataclass(frozen=True, slots=True)
class ResourceDiff:
    base: Resource | None
    head: Resource | None
    change_type: ChangeType
    changes: tuple[Change, ...]

    @property
    def resource(self) -> Resource:
        present = self.head if self.head is not None else self.base
        assert present is not None, "a resource diff has at least one side"
        return present

    @property
    def id(self) -> ResourceId:
        return self.resource.id


@dataclass(frozen=True, slots=True)
class NormalizationRule:
    """A normalization that was applied, so a reader knows what the diff does not show."""

    rule: str
    scope: str
    detail: str


@dataclass(frozen=True, slots=True)
class StructuredDiff:
    compare_id: str
    normalization_rules: tuple[NormalizationRule, ...]
    resources: tuple[ResourceDiff, ...]


@dataclass(frozen=True, slots=True)
class SignalSource:
    """The repository file behind a signal, and its 1-based line; None when no line is known
    (an error that names no line, a file inside an archive): never a made-up line 1."""

    file: str
    line: int | None


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A person with write access accepted a signal (issue 12): it stays in the report, shown
    as acknowledged, and no longer counts toward the verdict. `at`: RFC 3339."""

    by: str
    at: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Signal:
    id: str
    type: str
    category: Category
    importance: Importance
    resource: ResourceId
    api_version: str
    change_type: ChangeType
    description: str
    explanation: str
    affected_path: str
    before: Any
    after: Any
    source: SignalSource | None
    raw_changes: tuple[tuple[ChangeOp, str], ...] = ()
    related: tuple[str, ...] = ()
    # What the thresholds make of it: "fail", "warn" or "ignore" (not counted in the verdict).
    action: str = "ignore"
    acknowledged: Acknowledged | None = None  # set by the App only, never by an analysis


@dataclass(frozen=True, slots=True)
class Relation:
    """How two resources of a chart's head depend on each other, for the report page's graph:
    `source` "reads" `target` (a workload reads a ConfigMap or Secret) or `source` "selects"
    `target` (a Service selects a workload's pods). Only relations touching a changed resource."""

    source: ResourceId
    verb: Literal["reads", "selects"]
    target: ResourceId


@dataclass(frozen=True, slots=True)
class ChartReport:
    path: str
    name: str
    status: ChartStatus
    environment: str = "default"
    error: str | None = None
    warnings: tuple[str, ...] = ()
    diff: StructuredDiff | None = None
    signals: tuple[Signal, ...] = ()
    ignored_signals: int = 0
    verdict: Verdict = "pass"
    relations: tuple[Relation, ...] = ()  # not in the report JSON: the report page draws them
    # Not in the report JSON either: the release the environment renders, which is what tells
    # one environment's resources from another's (core/report/environments.py).
    release: str = ""


@dataclass(frozen=True, slots=True)
class Revision:
    ref: str | None = None
    sha: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    base: Revision
    head: Revision
    charts: tuple[ChartReport, ...]
    generated_at: str
    verdict: Verdict = "pass"
    engine_version: str = field(default="")


def json_pointer(tokens: tuple[PathToken, ...]) -> str:
    """RFC 6901: '~' → '~0', '/' → '~1'; the empty tuple is the whole document."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)
