"""The Kubernetes releases a chart must work on, and the one its diff is rendered for.

Where they come from, first found wins: `--kube-version` (repeatable), the environment's
`kubernetes.versions`, the file's `kubernetes.versions`, the environment's `kubeVersion` (the
render's version, before targets existed), else the newest release the bundled schemas know.
Versions the pull request's own `.chartimpact.yml` adds to the base's are targets too, marked
`added` (a change can make its checks stricter, never weaker: CONFIG.md reads the base).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..config import AnalysisConfig, Environment
from ..kubernetes.lifecycle import Minor, minor, shown
from .schemas import newest_version

FALLBACK_VERSION = "1.37"  # when the schema data is missing: the newest it was generated with


@dataclass(frozen=True, slots=True, order=True)
class Target:
    version: Minor
    # Added by the change's own configuration: what it finds was there before the change too.
    added: bool = False

    @property
    def name(self) -> str:
        return shown(self.version)


def default_version() -> str:
    return newest_version() or FALLBACK_VERSION


def default_targets() -> tuple[Target, ...]:
    return (Target(minor(default_version())),)


def targets(environment: Environment, config: AnalysisConfig, chosen: tuple[str, ...] = ()) -> tuple[Target, ...]:
    """The environment's target releases, oldest first. `chosen`: `--kube-version`s."""
    versions = (
        chosen
        or environment.kube_versions
        or config.kube_versions
        or ((environment.kube_version,) if environment.kube_version else ())
        or (default_version(),)
    )
    own = {minor(v) for v in versions}
    added = set() if chosen else {minor(v) for v in config.added_kube_versions} - own
    return tuple(sorted({Target(v) for v in own} | {Target(v, added=True) for v in added}))


def render_version(environment: Environment, config: AnalysisConfig, chosen: tuple[str, ...] = ()) -> str:
    """The `.Capabilities.KubeVersion` the diff is rendered with: the newest target, with the
    patch release given where one was (`--kube-version 1.30.4`, `kubeVersion: 1.30.4`)."""
    given = [*chosen, *((environment.kube_version,) if environment.kube_version and not chosen else ())]
    newest = max(t.version for t in targets(environment, config, chosen) if not t.added)
    for version in given:
        if minor(version) == newest and version.lstrip("v").count(".") == 2:
            return str(version).lstrip("v")
    return f"{shown(newest)}.0"


def releases(chosen: Iterable[Target]) -> str:
    """ "1.31", "1.31 and 1.33", "1.29, 1.31 and 1.33"."""
    names = [t.name for t in chosen]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
