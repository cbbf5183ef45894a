"""Policy: importance overrides, ignores and thresholds → signals kept, ignored, verdicts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from .config import Action, AnalysisConfig
from .model import Signal, Verdict


@dataclass(frozen=True, slots=True)
class PolicyResult:
    signals: tuple[Signal, ...]
    ignored: int
    verdict: Verdict


def with_importance(signal: Signal, config: AnalysisConfig) -> Signal:
    """The configured importance of the longest matching type prefix, if any."""
    matches = [prefix for prefix in config.importance if _type_matches(signal.type, prefix)]
    if not matches:
        return signal
    return replace(signal, importance=config.importance[max(matches, key=len)])


def is_ignored(signal: Signal, config: AnalysisConfig) -> bool:
    rules = config.ignore
    if any(_type_matches(signal.type, prefix) for prefix in rules.signals):
        return True
    rid = signal.resource
    for pattern in rules.resources:
        if (
            fnmatchcase(rid.kind, pattern.kind)
            and fnmatchcase(rid.namespace, pattern.namespace)
            and fnmatchcase(rid.name, pattern.name)
        ):
            return True
    return any(fnmatchcase(signal.affected_path, glob) for glob in rules.paths)


def action(signal: Signal, config: AnalysisConfig) -> Action:
    return config.thresholds.get(signal.category, {}).get(signal.importance, "ignore")


def verdict_of(actions: Iterable[str]) -> Verdict:
    seen = set(actions)
    if "fail" in seen:
        return "fail"
    if "warn" in seen:
        return "warn"
    return "pass"


def apply_policy(signals: Iterable[Signal], config: AnalysisConfig) -> PolicyResult:
    kept: list[Signal] = []
    ignored = 0
    for signal in signals:
        signal = with_importance(signal, config)
        if is_ignored(signal, config):
            ignored += 1
            continue
        kept.append(replace(signal, action=action(signal, config)))
    return PolicyResult(tuple(kept), ignored, verdict_of(s.action for s in kept))


def _type_matches(type_: str, prefix: str) -> bool:
    """`workload.image` matches itself and `workload.image.mutableTag`, not `workload.imageX`."""
    return type_ == prefix or type_.startswith(prefix.rstrip(".") + ".")
