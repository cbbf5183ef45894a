"""What a repository's `.chartimpact.yml` means to the analysis, as plain values.

Loading and validation live in `chartimpact_bot.core.config_file`; this module only holds the result
and its defaults, so the library can run without any file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from .model import Category, Importance
from .normalize import NormalizeOptions

Action = Literal["fail", "warn", "ignore"]
CommentMode = Literal["always", "changes", "never"]

DEFAULT_THRESHOLDS: dict[Category, dict[Importance, Action]] = {
    "availability": {"high": "fail", "medium": "warn", "low": "ignore"},
    "security": {"high": "fail", "medium": "warn", "low": "ignore"},
    "upgrade": {"high": "fail", "medium": "fail", "low": "warn"},
    "other": {"high": "warn", "medium": "ignore", "low": "ignore"},
}


@dataclass(frozen=True, slots=True)
class InlineValues:
    """Values written inside another file (a deployment manifest): `name` is how reports call
    them, `text` is YAML whose first line is line `line` of repository file `file`."""

    name: str
    text: str
    file: str
    line: int
    pinned: bool = False  # not line for line (a quoted string): every value is at `line`


@dataclass(frozen=True, slots=True)
class Environment:
    name: str = "default"
    charts: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    set_values: tuple[str, ...] = ()
    release_name: str = "release"
    # Values written in a deployment manifest (an Argo CD Application's `values`/`valuesObject`),
    # passed after the values files; and `--set-string` expressions.
    inline_values: tuple[InlineValues, ...] = ()
    set_string_values: tuple[str, ...] = ()
    # A values file that does not exist: "warn" (render without it, say so), "fail" (the side
    # cannot render, as Argo CD cannot), or "ignore" (Argo CD's ignoreMissingValueFiles).
    missing_values: str = "warn"
    # `--set-file name=path`: (name, repository path); the value is the file's text, verbatim.
    set_file_values: tuple[tuple[str, str], ...] = ()
    # What the deployment manifest gets wrong that the analysis cannot follow (a values file
    # outside the repository…): shown as warnings of the chart.
    notes: tuple[str, ...] = ()
    # The values files replace the chart's own values.yaml instead of adding to it (a Flux
    # chart's `valuesFiles`): the chart's defaults count only when listed among them.
    chart_values_replaced: bool = False
    namespace: str = "default"
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    # `kubernetes.versions` of the environment: the releases it must work on (validation/targets.py).
    kube_versions: tuple[str, ...] = ()

    def applies_to(self, chart_path: str) -> bool:
        return not self.charts or any(fnmatchcase(chart_path, glob) for glob in self.charts)


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    kind: str = "*"
    namespace: str = "*"
    name: str = "*"


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    signals: tuple[str, ...] = ()
    resources: tuple[ResourceFilter, ...] = ()
    paths: tuple[str, ...] = ()


RuleEvent = Literal["added", "removed", "changed"]
RuleValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class CustomRule:
    """A user-defined signal (`rules:`); `signals/custom.py` says what each field means when
    it runs. Plain values only: the configuration is hashed into the result cache's key and
    sent to worker processes."""

    type: str
    category: Category
    importance: Importance
    description: str
    path: str
    kinds: tuple[str, ...] = ()
    matches: str | None = None
    explanation: str | None = None
    names: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    on: RuleEvent | None = None
    equals: RuleValue | None = None


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    environments: tuple[Environment, ...] = ()
    thresholds: dict[Category, dict[Importance, Action]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_THRESHOLDS.items()}
    )
    importance: dict[str, Importance] = field(default_factory=dict)
    ignore: IgnoreRules = field(default_factory=IgnoreRules)
    normalize: NormalizeOptions = field(default_factory=NormalizeOptions)
    comment_mode: CommentMode = "changes"
    comment_max_signals: int = 30
    rules: tuple[CustomRule, ...] = ()
    # `gitops.manifests`: globs of the files searched for Argo CD and Flux manifests; None: every
    # YAML file outside charts.
    manifests: tuple[str, ...] | None = None
    # `kubernetes.versions`: the releases charts must work on (validation/targets.py); and those
    # the change's own `.chartimpact.yml` adds to them (the base's is the one applied).
    kube_versions: tuple[str, ...] = ()
    added_kube_versions: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    def selects(self, chart_path: str) -> bool:
        """Whether the chart is analyzed at all (`charts.include` / `charts.exclude`)."""
        if self.include and not any(fnmatchcase(chart_path, g) for g in self.include):
            return False
        return not any(fnmatchcase(chart_path, g) for g in self.exclude)

    def environments_for(self, chart_path: str) -> tuple[Environment, ...]:
        """The environments a chart is rendered in; the default one when none names it."""
        matching = tuple(env for env in self.environments if env.applies_to(chart_path))
        return matching or (Environment(),)
