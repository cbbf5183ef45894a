"""The repository's `.chartimpact.yml`, read from both sides of a change."""

from __future__ import annotations

from ..core.config import AnalysisConfig
from ..core.config_file import CONFIG_FILE, InvalidConfig, Problem, load_config
from .sources import ChartSource, read_file


def repository_config(base: ChartSource, head: ChartSource) -> tuple[AnalysisConfig, list[tuple[str, Problem]]]:
    """The base branch's configuration (a change cannot weaken its own policy), and the problems
    of either version, each with the version it is in. An invalid base file means the defaults.

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
            load_config(read_file(head, CONFIG_FILE), CONFIG_FILE)
        except InvalidConfig as exc:
            problems += [("this change", p) for p in exc.problems]
    return config, problems
