"""Custom rules: the signals a repository defines in `.chartimpact.yml` (`rules:`).

A rule selects resources (`kinds`, `names` globs, `labels`), names fields with a path (see
`rule_paths`), and fires on one place of one resource when

- `on: added | removed | changed`: the field appears, disappears, or has another value;
  with `matches`/`equals` too, the value it has (the old one when removed) must match;
- `matches: <RE2 pattern>` or `equals: <value>` alone: the head value matches and the base
  value did not (or was absent), so a rule reports what a change introduces, not what it keeps.

Each firing is a signal of type `custom.<id>` like any built-in one: it goes through the same
merge, source location, importance overrides, ignores and thresholds, and its id is stable.

The file is written by the pull request's author, so everything is bounded: the number of
rules, the length and shape of paths and patterns (RE2, linear time), and the work of one chart
(`MAX_STEPS_PER_CHART` nodes visited and values matched), past which evaluation stops with a
warning in the report rather than a slow or stuck analysis.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from ..config import CustomRule
from ..kubernetes.bodies import as_dict
from ..model import ResourceDiff
from .common import show, what
from .context import SignalContext
from .registry import Detector, Finding, ResourceDetector, change_type
from .rule_paths import Pair, PathError, RulePath, pairs, parse_path
from .rule_patterns import MAX_SUBJECT_CHARS, Pattern, PatternError, compile_pattern

MAX_RULES = 200
MAX_STEPS_PER_CHART = 200_000
DEFAULT_EXPLANATION = "A rule of this repository's .chartimpact.yml."


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule the schema accepts but that cannot run: where in `.chartimpact.yml`, and why."""

    location: tuple[str | int, ...]
    message: str


def check_rules(rules: Any) -> list[RuleProblem]:
    """What is wrong with the `rules:` list beyond its schema: too many rules, a type used
    twice, a path or pattern that cannot be read, a rule that never says when it fires.

    Tolerates values of the wrong type (the schema reports those)."""
    if not isinstance(rules, list):
        return []
    if len(rules) > MAX_RULES:
        return [RuleProblem(("rules",), f"at most {MAX_RULES} rules are allowed (got {len(rules)})")]
    problems: list[RuleProblem] = []
    seen: set[str] = set()
    for index, raw in enumerate(rules):
        if not isinstance(raw, dict):
            continue
        where = ("rules", index)
        type_ = raw.get("type")
        if isinstance(type_, str):
            if type_ in seen:
                problems.append(RuleProblem((*where, "type"), f"the rule type '{type_}' is defined twice"))
            seen.add(type_)
        problems += [RuleProblem((*where, key), message) for key, message in _rule_problems(raw)]
    return problems


def _rule_problems(raw: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    path, pattern = raw.get("path"), raw.get("matches")
    if isinstance(path, str):
        try:
            parse_path(path)
        except PathError as exc:
            yield "path", f"'path': {exc}"
    if isinstance(pattern, str):
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            yield "matches", f"'matches': {exc}"
    if "matches" in raw and "equals" in raw:
        yield "equals", "a rule has 'matches' or 'equals', not both"
    if not any(key in raw for key in ("on", "matches", "equals")):
        yield "type", "the rule never fires: give it 'on', 'matches' or 'equals'"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its path parsed and its pattern compiled: what selects, matches and fires."""

    rule: CustomRule
    path: RulePath
    pattern: Pattern | None

    def selects(self, diff: ResourceDiff) -> bool:
        """Whether the rule looks at this resource (kinds, names, labels)."""
        rule, resource = self.rule, diff.resource
        if rule.kinds and resource.id.kind not in rule.kinds:
            return False
        if rule.names and not any(fnmatchcase(resource.id.name, glob) for glob in rule.names):
            return False
        labels = as_dict(as_dict(resource.body.get("metadata")).get("labels"))
        return all(labels.get(key) == value for key, value in rule.labels)

    def value_matches(self, value: Any) -> bool:
        if self.pattern is not None:
            return self.pattern.search(value)
        return _equal(value, self.rule.equals)

    @property
    def has_condition(self) -> bool:
        return self.pattern is not None or self.rule.equals is not None

    def fires(self, pair: Pair) -> bool:
        """The rule's firing condition on one place (module docstring)."""
        base, head = pair.base, pair.head
        event = self.rule.on
        if event is None:
            return (
                head is not None
                and self.value_matches(head.value)
                and (base is None or not self.value_matches(base.value))
            )
        if event == "added":
            shown = head if base is None else None
        elif event == "removed":
            shown = base if head is None else None
        else:
            changed = base is not None and head is not None and not _equal(base.value, head.value)
            shown = head if changed else None
        return shown is not None and (not self.has_condition or self.value_matches(shown.value))


def _equal(value: Any, expected: Any) -> bool:
    """Equality as YAML means it: `true` is not `1`, `1` is `1.0`, `"1"` is not `1`."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


class BudgetExhausted(Exception):
    """Custom rules used up their work budget on one chart."""


@dataclass(slots=True)
class StepBudget:
    remaining: int = MAX_STEPS_PER_CHART

    def spend(self, steps: int) -> None:
        self.remaining -= steps
        if self.remaining < 0:
            raise BudgetExhausted


@dataclass(slots=True)
class RuleOutcome:
    """What the custom rules of one chart found, and one warning when they were cut short."""

    found: list[tuple[Detector, Finding, ResourceDiff]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def compile_rule(rule: CustomRule) -> CompiledRule:
    """The rule ready to run; ValueError (PathError, PatternError) for a rule that was not
    validated and cannot run."""
    if rule.on is None and rule.matches is None and rule.equals is None:
        raise ValueError(f"the rule {rule.type} never fires: it has no 'on', 'matches' or 'equals'")
    pattern = compile_pattern(rule.matches) if rule.matches is not None else None
    return CompiledRule(rule, parse_path(rule.path), pattern)


def rule_detector(compiled: CompiledRule) -> ResourceDetector:
    """The rule as the engine's detectors are described: what its signals are (type, category,
    importance, explanation), and a function that runs it alone on one resource."""
    rule = compiled.rule
    return ResourceDetector(
        type=rule.type,
        category=rule.category,
        importance=rule.importance,
        explanation=rule.explanation or DEFAULT_EXPLANATION,
        doc=rule.description,
        kinds=frozenset(rule.kinds) if rule.kinds else None,
        check=partial(_run_alone, compiled),
    )


def _run_alone(compiled: CompiledRule, ctx: SignalContext, diff: ResourceDiff) -> list[Finding]:
    return findings(compiled, diff, StepBudget()) if compiled.selects(diff) else []


def evaluate_rules(ctx: SignalContext, rules: Sequence[CustomRule], budget: StepBudget | None = None) -> RuleOutcome:
    """Every firing of every rule over the chart's changed resources, in rule then resource
    order (the engine sorts signals afterwards)."""
    outcome = RuleOutcome()
    budget = budget if budget is not None else StepBudget()
    if len(rules) > MAX_RULES:  # only a library caller can get here: the file is refused
        outcome.warnings.append(f"only the first {MAX_RULES} of {len(rules)} custom rules ran")
    for compiled in [compile_rule(rule) for rule in rules[:MAX_RULES]]:
        detector = rule_detector(compiled)
        try:
            for diff in ctx.diffs:
                budget.spend(1)
                if compiled.selects(diff):
                    outcome.found += [(detector, finding, diff) for finding in findings(compiled, diff, budget)]
        except BudgetExhausted:
            outcome.warnings.append(
                f"custom rules stopped at {compiled.rule.type}: they looked at their limit of "
                f"{MAX_STEPS_PER_CHART:,} fields and values on this chart, so later matches are not reported"
            )
            break
    return outcome


def findings(rule: CompiledRule, diff: ResourceDiff, budget: StepBudget) -> list[Finding]:
    """The rule's findings on one resource."""
    base = diff.base.body if diff.base is not None else None
    head = diff.head.body if diff.head is not None else None
    out = []
    for pair in pairs(rule.path, base, head, budget.spend):
        budget.spend(_match_cost(pair))
        if rule.fires(pair):
            out.append(_finding(rule.rule, diff, pair))
    return out


def _match_cost(pair: Pair) -> int:
    """One step per value, and more for long text, which a pattern reads in full."""
    cost = 1
    for side in (pair.base, pair.head):
        if side is not None and isinstance(side.value, str):
            cost += min(len(side.value), MAX_SUBJECT_CHARS) // 512
    return cost


def _finding(rule: CustomRule, diff: ResourceDiff, pair: Pair) -> Finding:
    before = pair.base.value if pair.base is not None else None
    after = pair.head.value if pair.head is not None else None
    subject = f"{rule.description}: {what(diff.resource)}"
    change = change_type(pair.base, pair.head)
    if change == "added":
        sentence = f"{subject} sets {pair.display} to {show(after)}"
    elif change == "removed":
        sentence = f"{subject} no longer sets {pair.display} (was {show(before)})"
    else:
        sentence = f"{subject} sets {pair.display} to {show(after)} (was {show(before)})"
    return Finding(
        description=sentence,
        path=pair.path,
        before=before,
        after=after,
        subject=(pair.base, pair.head),
        side="base" if change == "removed" else "head",
    )
