"""Which deliveries cause work (CONTRACT §5): one gidgethub Router per concern, composed below.

A payload is checked and turned into a typed event (`payloads.py`) before any handler runs, so a
handler reads only typed fields, and an exception out of one is a bug of ours, not bad input.
Handlers only decide on a job, or say why there is none; the work happens after the webhook has been
answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gidgethub.routing import Router
from gidgethub.sansio import Event

from ..jobs.model import Job
from ..jobs.params import CommandParams, Commits, JobKind, JobParams, PullRequestParams, ReleaseParams
from . import commands, payloads
from .checks import CHECK_NAME
from .payloads import (
    Acknowledged,
    CheckRunEvent,
    CheckSuiteEvent,
    IssueCommentEvent,
    Origin,
    PullRequestEvent,
    PullRequestLink,
    PushEvent,
    ReleaseEvent,
    shown,
)

ZERO_SHA = "0" * 40
NO_INSTALLATION_NEEDED = frozenset({"ping", "installation", "installation_repositories"})


@dataclass(slots=True)
class Decision:
    """What a delivery asks for: a job, or the reason it needs none. Deciding runs nothing: the
    webhook hands the job to the queue. (Not to be confused with pipeline.AnalysisPlan, the
    targets one analysis renders.)"""

    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    job: Job | None = None
    reason: str | None = None

    def ignore(self, reason: str) -> None:
        self.reason = reason

    def accept(self, repository: str, kind: JobKind, params: JobParams, key: str) -> None:
        if self.installation_id is None:
            raise RuntimeError(f"a job was asked for by a {self.event} delivery without an installation")
        self.job = Job(
            delivery_id=self.delivery_id,
            event=self.event,
            action=self.action,
            repository=repository,
            installation_id=self.installation_id,
            kind=kind,
            params=params,
            key=key,
        )


async def decide(event: str, delivery_id: str, data: Mapping[str, Any]) -> Decision:
    """The job a delivery asks for, or why there is none.

    Raises `payloads.PayloadError` when the payload has the wrong shape; anything else raised
    is a bug."""
    envelope = payloads.envelope(data)
    decision = Decision(delivery_id, event, envelope.action, envelope.installation_id)
    parse = payloads.PARSERS.get(event)
    if event not in NO_INSTALLATION_NEEDED and envelope.installation_id is None:
        decision.ignore("the delivery carries no installation")
    elif parse is not None:
        # Handlers read the typed payload only; the router needs no more than the action.
        routed = Event(
            {} if envelope.action is None else {"action": envelope.action}, event=event, delivery_id=delivery_id
        )
        await ROUTER.dispatch(routed, decision=decision, payload=parse(data))
    if decision.job is None and decision.reason is None:
        decision.ignore(f"{shown(event)} {shown(envelope.action or '')}".strip() + " causes no analysis")
    return decision


pull_requests = Router()


@pull_requests.register("pull_request", action="opened")
@pull_requests.register("pull_request", action="synchronize")
@pull_requests.register("pull_request", action="reopened")
@pull_requests.register("pull_request", action="ready_for_review")
async def pull_request_changed(event: Event, decision: Decision, payload: PullRequestEvent) -> None:
    if payload.state == "closed":
        decision.ignore("the pull request is closed")
        return
    _accept_pull_request(decision, payload.repository, payload.pull, payload.pull.base.sha, payload.pull.head.sha)


@pull_requests.register("pull_request", action="edited")
async def pull_request_edited(event: Event, decision: Decision, payload: PullRequestEvent) -> None:
    if not payload.base_changed:
        decision.ignore("the pull request was edited without changing its base branch")
        return
    await pull_request_changed(event, decision, payload)


@pull_requests.register("pull_request", action="closed")
async def pull_request_closed(event: Event, decision: Decision, payload: PullRequestEvent) -> None:
    decision.ignore("the pull request was closed")


pushes = Router()


@pushes.register("push")
async def push(event: Event, decision: Decision, payload: PushEvent) -> None:
    if payload.ref != f"refs/heads/{payload.default_branch}":
        decision.ignore(f"the push is to {shown(payload.ref)}, not the default branch")
    elif payload.created or payload.deleted or ZERO_SHA in (payload.before, payload.after):
        decision.ignore("the push creates or deletes the branch")
    else:
        commits = Commits(payload.before, payload.after, payload.before[:7], payload.ref.removeprefix("refs/heads/"))
        decision.accept(payload.repository, "push", commits, key=f"{payload.repository}@{payload.ref}")


releases = Router()


@releases.register("release", action="published")
async def release_published(event: Event, decision: Decision, payload: ReleaseEvent) -> None:
    params = ReleaseParams(payload.tag, payload.release_id)
    decision.accept(payload.repository, "release", params, key=f"{payload.repository}@releases")


checks = Router()


@checks.register("check_run", action="rerequested")
async def check_run_rerequested(event: Event, decision: Decision, payload: CheckRunEvent) -> None:
    if payload.name != CHECK_NAME:
        decision.ignore(f"check run '{shown(payload.name or '')}' is not ChartImpact's")
        return
    _rerun(decision, payload.repository, payload.head_sha, payload.origin, payload.pull_request)


@checks.register("check_run", action="requested_action")
async def check_run_action(event: Event, decision: Decision, payload: CheckRunEvent) -> None:
    """The buttons of our completed runs (checks.py): re-analyze, or acknowledge what fails."""
    if payload.name != CHECK_NAME:
        decision.ignore(f"check run '{shown(payload.name or '')}' is not ChartImpact's")
    elif payload.requested_action == "reanalyze":
        _rerun(decision, payload.repository, payload.head_sha, payload.origin, payload.pull_request)
    elif payload.requested_action == "acknowledge" and payload.sender is not None:
        number = payload.pull_request.number if payload.pull_request else None
        params = CommandParams(
            "ack", payload.sender.login, "check_run", number=number, every=True, head_sha=payload.head_sha
        )
        _accept_command(decision, payload.repository, params)
    else:
        decision.ignore(f"check run action '{shown(payload.requested_action or '')}' is not one of ChartImpact's")


@checks.register("check_suite", action="rerequested")
async def check_suite_rerequested(event: Event, decision: Decision, payload: CheckSuiteEvent) -> None:
    before = payload.before
    # A suite of a pull request re-runs that pull request; otherwise the push it came from.
    origin = Origin("push", before) if payload.pull_request is None and before and before != ZERO_SHA else Origin()
    _rerun(decision, payload.repository, payload.head_sha, origin, payload.pull_request)


def _rerun(decision: Decision, repository: str, head_sha: str, origin: Origin, pull: PullRequestLink | None) -> None:
    """The analysis the check was made for, again: from our external_id, else the pull request."""
    if pull is not None and origin.kind in (None, "pull_request"):
        _accept_pull_request(decision, repository, pull, origin.base or pull.base.sha, head_sha)
    elif origin.base:
        kind: JobKind = "release" if origin.kind == "release" else "push"
        commits = Commits(origin.base, head_sha, origin.base[:7], head_sha[:7])
        decision.accept(repository, kind, commits, key=f"{repository}@{head_sha}")
    else:
        decision.ignore("the check has no pull request or earlier commit to compare with")


def _accept_pull_request(decision: Decision, repository: str, pull: PullRequestLink, base: str, head: str) -> None:
    """The analysis of pull request `pull`: its head commit `head` against `base`."""
    params = PullRequestParams(base, head, pull.base.ref, pull.head.ref, number=pull.number)
    decision.accept(repository, "pull_request", params, key=f"{repository}#{pull.number}")


comments = Router()


@comments.register("issue_comment", action="created")
async def comment_created(event: Event, decision: Decision, payload: IssueCommentEvent) -> None:
    if not payload.pull:
        decision.ignore("the comment is on an issue, not a pull request")
        return
    if payload.sender is None or payload.sender.bot:
        decision.ignore("the comment was written by an App")  # never a command: no loop between bots
        return
    parsed = commands.parse(payload.body)
    if parsed is None:
        decision.ignore("the comment holds no /chartimpact command")
        return
    sender = payload.sender.login
    if isinstance(parsed, commands.Usage):
        params = CommandParams(
            "usage", sender, "comment", number=payload.number, reason=parsed.problem, comment_id=payload.comment_id
        )
    else:
        params = CommandParams(
            parsed.name,
            sender,
            "comment",
            number=payload.number,
            signal_ids=parsed.signal_ids,
            every=parsed.every,
            reason=parsed.reason,
            comment_id=payload.comment_id,
        )
    _accept_command(decision, payload.repository, params)


def _accept_command(decision: Decision, repository: str, params: CommandParams) -> None:
    """A command runs once per request: its key is its own, so no other job supersedes it."""
    where = f"#{params.number}" if params.number is not None else f"@{params.head_sha}"
    decision.accept(repository, "command", params, key=f"{repository}{where}:command:{decision.delivery_id}")


installations = Router()


@installations.register("installation")
@installations.register("installation_repositories")
@installations.register("ping")
async def acknowledge(event: Event, decision: Decision, payload: Acknowledged) -> None:
    decision.ignore(f"{event.event} acknowledged")


ROUTER = Router(pull_requests, pushes, releases, checks, comments, installations)
