"""What a job is asked to analyze: typed parameters, one shape per kind of job.

A delivery decides them (github/events.py), the runner reads them (github/runner.py), and the
store keeps them as one JSON object (store/params_codec.py): msgspec Structs, so that object is
their own encoding. They never change once decided: what a run finds out (the commits of a
release, the check run it opened) is kept elsewhere.
"""

from __future__ import annotations

from typing import Literal, assert_never

import msgspec

# "compare": the analysis of POST /api/compare, which is never stored (a re-run of a delivery's
# job has the kind of the job it repeats).
# "command": what a person asked for in a pull request comment or with a check run's button
# (acknowledge, withdraw, re-run), run once for that request.
JobKind = Literal["pull_request", "push", "release", "compare", "command"]
CommandName = Literal["ack", "unack", "rerun", "usage"]  # usage: a malformed command, answered how to write one


class Commits(msgspec.Struct, frozen=True, omit_defaults=True):
    """Two commits an analysis compares, and the names its report shows them by. The
    parameters of a push, and of the re-run of a push's or a release's check run."""

    base_sha: str | None  # None: nothing to compare with (the first release): every chart is new
    head_sha: str
    base_ref: str | None = None
    head_ref: str | None = None


class PullRequestParams(Commits, frozen=True, omit_defaults=True, kw_only=True):
    """A pull request's head against its base; the comment goes on pull request `number`."""

    number: int


class ReleaseParams(msgspec.Struct, frozen=True):
    """A published release: its commit and that of the release published before it are looked
    up when it runs."""

    tag: str
    release_id: int


class CompareParams(msgspec.Struct, frozen=True):
    """Two refs of POST /api/compare, resolved to commits when it runs."""

    base_ref: str
    head_ref: str


class CommandParams(msgspec.Struct, frozen=True, omit_defaults=True):
    """A command (github/commands.py): who asked (`sender`, a login), how (`via`: "comment",
    with the comment's id; "check_run", with the run's head commit; "page", with the analysis
    shown), and on what: pull request
    `number` (None for a push's run), the signal ids (`every`: all the ones that count) and a
    reason. Whether the sender may is checked when it runs, through the API."""

    command: CommandName
    sender: str
    via: Literal["comment", "check_run", "page"]
    number: int | None = None
    signal_ids: tuple[str, ...] = ()
    every: bool = False
    reason: str = ""
    comment_id: int | None = None
    head_sha: str | None = None
    # The stored analysis the person looked at (the report page's): an acknowledgement accepts
    # what that analysis said, whatever a newer push says.
    analysis_id: str | None = None


JobParams = PullRequestParams | Commits | ReleaseParams | CompareParams | CommandParams

# The parameters each kind may have: a re-run of a release's check run names both commits
# (from the run's external_id), not the release.
PARAMS_OF_KIND: dict[JobKind, tuple[type[JobParams], ...]] = {
    "pull_request": (PullRequestParams,),
    "push": (Commits,),
    "release": (ReleaseParams, Commits),
    "compare": (CompareParams,),
    "command": (CommandParams,),
}


def check_params(kind: JobKind, params: JobParams) -> None:
    # The type itself, not isinstance: a pull request's parameters are Commits too.
    if type(params) not in PARAMS_OF_KIND[kind]:
        raise TypeError(f"a {kind} job does not take {type(params).__name__}")


def named_head(params: JobParams) -> str | None:
    """The head commit the parameters name, when they name one before the job runs."""
    match params:
        case Commits(head_sha=sha):  # a pull request's too
            return sha
        case ReleaseParams() | CompareParams() | CommandParams():
            return None
        case _:
            assert_never(params)
