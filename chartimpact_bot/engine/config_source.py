"""The repository's `.chartimpact.yml`, read from both sides of a change."""

from __future__ import annotations

import dataclasses

from ..core.config import AnalysisConfig
from ..core.config_file import CONFIG_FILE, InvalidConfig, Problem, load_config
from .sources import ChartSource, read_file


def repository_config(base: ChartSource, head: ChartSource) -> tuple[AnalysisConfig, list[tuple[str, Problem]]]:
    """The base branch's configuration (a change cannot weaken its own policy), and the problems
    of either version, each with the version it is in. An invalid base file means the defaults.
    Target Kubernetes releases the head's file adds are its `added_kube_versions`.

    Both files come from the pull request's repository: call this where untrusted input is
    parsed (an analysis worker, the command line), never on the server's event loop.
    """
    problems: list[tuple[str, Problem]] = []
    config = AnalysisConfig()
    base_entry, head_entry = (
        base.list_files(CONFIG_FILE).get(CONFIG_FILE),
        head.list_files(CONFIG_FILE).get(CONFIG_FILE),
    )
    if base_entry is not None:
        try:
            config = load_config(read_file(base, CONFIG_FILE), CONFIG_FILE)
        except InvalidConfig as exc:
            problems += [("base branch", p) for p in exc.problems]
    if head_entry is not None and (base_entry is None or head_entry.digest != base_entry.digest):
        try:
            proposed = load_config(read_file(head, CONFIG_FILE), CONFIG_FILE)
        except InvalidConfig as exc:
            problems += [("this change", p) for p in exc.problems]
        else:
            config = with_added_targets(config, proposed)
    return config, problems


def with_added_targets(config: AnalysisConfig, proposed: AnalysisConfig) -> AnalysisConfig:
    """`config` (the base's) with the target Kubernetes releases `proposed` (the change's own
    file) adds to it: those are checked at once, since that only makes the analysis stricter."""
    added = tuple(v for v in proposed.kube_versions if v not in config.kube_versions)
    return dataclasses.replace(config, added_kube_versions=added) if added else config


def proposed_config(base: ChartSource, head: ChartSource) -> AnalysisConfig | None:
    """The change's own `.chartimpact.yml` when it differs from the base's and is valid."""
    base_entry, head_entry = (
        base.list_files(CONFIG_FILE).get(CONFIG_FILE),
        head.list_files(CONFIG_FILE).get(CONFIG_FILE),
    )
    if head_entry is None or (base_entry is not None and head_entry.digest == base_entry.digest):
        return None
    try:
        return load_config(read_file(head, CONFIG_FILE), CONFIG_FILE)
    except InvalidConfig:
        return None
