"""Running a command (commands.py, a check run's "Acknowledge" button): who may, and what it
does (issue 12 point 5).

Only a person with write access to the repository (GitHub's `write`, `maintain` or `admin`,
asked through the API each time: a comment's `author_association` says nothing about it) may
acknowledge, withdraw or re-run; anyone else gets a reply saying why not. An acknowledgement is
kept for the pull request (the scope of its analyses), logged (the acknowledgement log, one
entry per signal), and the latest stored analysis is published again at once with it applied:
a new check run on the same commit (GitHub appends annotations to a run, so the old run cannot
be rewritten; the newer run of the same name is the one GitHub shows and branch protection
reads) and the comment edited in place. Nothing is rendered again.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import gidgethub
import structlog

from ..core.acknowledgements import apply_acknowledgements, counting_signals, fingerprints
from ..jobs.analyses import AckChange, AckEvent, Acknowledgement, AnalysisRecord
from ..jobs.analysis_archive import AnalysisArchive
from ..jobs.analysis_codec import StoredAnalysis
from ..jobs.model import Job
from ..jobs.params import CommandParams, PullRequestParams
from .checks import ConfigProblem, create_check_run
from .client import GitHubClient
from .commands import USAGE
from .publish import CommentSettings, Target, publish_analysis

if TYPE_CHECKING:
    from .runner import AnalysisRunner

log = structlog.get_logger(__name__)
WRITERS = frozenset({"admin", "maintain", "write"})
MAX_NAMED = 20  # signal ids a reply names; the rest are counted
MAX_ROUNDS = 3  # publishing again while other commands change the acknowledgements
Run = Callable[[Job], Awaitable[None]]


async def run_command(runner: AnalysisRunner, client: GitHubClient, job: Job, params: CommandParams, run: Run) -> None:
    """`run`: how the runner analyzes a job (a re-run is a pull request's analysis)."""
    replies = _Replies(client, job, params)
    if params.command == "usage":
        await replies.say(f"{params.reason}. {USAGE}")
        return
    permission = await permission_of(client, job.owner, job.repo, params.sender)
    if permission not in WRITERS:
        what = {"ack": "acknowledge signals", "unack": "withdraw acknowledgements", "rerun": "re-run the analysis"}
        await replies.say(
            f"only people with write access to this repository can {what[params.command]}"
            f" (your access: {permission or 'none'})."
        )
        job.result["refused"] = params.sender
        log.info("command refused", command=params.command, sender=params.sender, permission=permission)
        return
    if params.command == "rerun":
        await _rerun(client, job, params, run, replies)
        return
    await _acknowledge(runner, client, job, params, replies)


async def permission_of(client: GitHubClient, owner: str, repo: str, login: str) -> str | None:
    """`login`'s permission on the repository (`admin`, `maintain`, `write`, `triage`, `read`),
    None for someone who is no collaborator."""
    try:
        answer = await client.getitem(
            "/repos/{owner}/{repo}/collaborators/{username}/permission",
            {"owner": owner, "repo": repo, "username": login},
        )
    except gidgethub.BadRequest as exc:
        if exc.status_code == 404:  # not a collaborator at all
            return None
        raise
    permission = answer.get("permission") if isinstance(answer, dict) else None
    return permission if isinstance(permission, str) else None


async def _rerun(client: GitHubClient, job: Job, params: CommandParams, run: Run, replies: _Replies) -> None:
    if params.number is None:
        await replies.say("`rerun` works in a pull request's comments.")
        return
    try:
        pull = await client.getitem(
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            {"owner": job.owner, "repo": job.repo, "pull_number": params.number},
        )
    except gidgethub.BadRequest as exc:
        if exc.status_code not in (404, 410):
            raise
        await replies.say(f"GitHub does not show pull request #{params.number} to ChartImpact; nothing was re-run.")
        return
    analysis = Job(
        delivery_id=job.delivery_id,
        event=job.event,
        action=job.action,
        repository=job.repository,
        installation_id=job.installation_id,
        kind="pull_request",
        params=PullRequestParams(
            str(pull["base"]["sha"]),
            str(pull["head"]["sha"]),
            str(pull["base"].get("ref") or ""),
            str(pull["head"].get("ref") or ""),
            number=params.number,
        ),
        key=f"{job.repository}#{params.number}",
    )
    analysis.seq, analysis.check_run = job.seq, job.check_run  # a retry reuses the run it opened
    analysis.result.update(job.result)
    await run(analysis)
    job.result.update(analysis.result)
    job.check_run = analysis.check_run
    if analysis.state == "failed":
        job.state, job.error = analysis.state, analysis.error
    await replies.react()


async def _acknowledge(
    runner: AnalysisRunner, client: GitHubClient, job: Job, params: CommandParams, replies: _Replies
) -> None:
    """Acknowledge (or withdraw) signals of the analysis the person saw, then publish the
    pull request's latest analysis with the acknowledgements as they stand."""
    archive = runner.archive
    seen = await _analysis_seen(archive, job, params) if archive is not None else None
    if archive is None or seen is None:
        await replies.say(
            "there is no stored analysis of this pull request to acknowledge signals of; re-run it first."
        )
        return
    record, stored = seen
    now = runner.github.clock()
    held = {a.signal_id for a in await archive.acknowledgements(record.repository, record.scope)}
    said = fingerprints(stored.report)
    change: AckChange = params.command if params.command == "unack" else "ack"
    if change == "ack":
        shown = apply_acknowledgements(stored.report, await archive.acknowledgements(record.repository, record.scope))
        wanted = [s.id for s in counting_signals(shown)] if params.every else list(params.signal_ids)
        ids = [i for i in wanted if i in said]
    else:
        wanted = sorted(held) if params.every else list(params.signal_ids)
        ids = [i for i in wanted if i in held]
    unknown = [i for i in wanted if i not in ids]
    events = [
        AckEvent(now, record.repository, record.scope, i, change, params.sender, params.via, params.reason) for i in ids
    ]
    if ids:
        if change == "ack":
            added = [Acknowledgement(i, said[i], params.sender, now, params.reason) for i in ids]
            await archive.change(record.repository, record.scope, add=added, events=events)
        else:
            await archive.change(record.repository, record.scope, remove=ids, events=events)
    job.result["acknowledged" if change == "ack" else "withdrawn"] = ids
    log.info("acknowledgements changed", change=change, signals=len(ids), sender=params.sender, via=params.via)
    if ids:
        await _republish(runner, client, job=job, scope_of=record)
    if unknown:
        named = ", ".join(f"`{i}`" for i in unknown[:MAX_NAMED]) + (
            f" and {len(unknown) - MAX_NAMED} more" if len(unknown) > MAX_NAMED else ""
        )
        what = "the analysis has no signal" if change == "ack" else "no acknowledgement is held for"
        await replies.say(f"{what} {named}; nothing was changed for it.")
    elif not ids:
        await replies.say(
            "no signal counts toward the verdict: nothing to acknowledge."
            if change == "ack"
            else "no acknowledgement to withdraw."
        )
    else:
        await replies.react()


async def _analysis_seen(
    archive: AnalysisArchive, job: Job, params: CommandParams
) -> tuple[AnalysisRecord, StoredAnalysis] | None:
    """The analysis the person acted on: the page's, the pressed check run's (its head commit),
    or for a comment the pull request's latest (what the comment shows)."""
    if params.analysis_id is not None:
        found = await archive.load(params.analysis_id)
        if found is None or found[0].repository != job.repository:
            return None
        return found
    if params.via == "check_run" or params.number is None:
        record = await archive.latest(job.repository, head_sha=params.head_sha)
    else:
        record = await archive.latest(job.repository, scope=f"{job.repository}#{params.number}")
    return await archive.load(record.id) if record is not None else None


async def _republish(runner: AnalysisRunner, client: GitHubClient, *, job: Job, scope_of: AnalysisRecord) -> None:
    """Publish the latest analysis of the scope again with its acknowledgements as they stand,
    until what was published is what is held: two commands of one pull request may run at
    once (on two workers or instances), and the one that publishes last must not leave the
    other's change out. Each round reads the acknowledgements just before it publishes and
    checks them again after; a change meanwhile means another round (at most MAX_ROUNDS)."""
    archive = runner.archive
    assert archive is not None
    latest = await archive.latest(scope_of.repository, scope=scope_of.scope) or scope_of
    found = await archive.load(latest.id)
    if found is None:
        return
    record, stored = found
    held = await archive.acknowledgements(record.repository, record.scope)
    for _ in range(MAX_ROUNDS):
        await _publish_once(runner, client, job=job, record=record, stored=stored, held=held)
        now_held = await archive.acknowledgements(record.repository, record.scope)
        if now_held == held:
            return
        held = now_held


async def _publish_once(
    runner: AnalysisRunner,
    client: GitHubClient,
    *,
    job: Job,
    record: AnalysisRecord,
    stored: StoredAnalysis,
    held: list[Acknowledgement],
) -> None:
    settings = runner.github.settings
    owner, repo = record.repository.split("/", 1)
    shown = apply_acknowledgements(stored.report, held)
    run_id, run_url = None, ""
    if settings.checks_enabled:
        external_id = json.dumps({"kind": record.kind, "base": record.base_sha}, separators=(",", ":"))
        run_id, run_url = await create_check_run(client, owner, repo, record.head_sha, external_id)
    problems = [ConfigProblem(p.line, p.message, p.where) for p in stored.problems]
    await publish_analysis(
        client,
        settings,
        Target(owner, repo, record.head_sha, run_id, run_url, record.pull_number),
        shown,
        problems=problems,
        head_paths=set(stored.annotated_files),
        comment=CommentSettings(stored.comment_mode, stored.comment_max_signals),
        page_url=runner.github.report_url(record.id, record.installation_id, job),
    )


class _Replies:
    """Answers to the person who asked: a reply comment (mentioning them), or a 👍 reaction on
    their comment when all went well. A check run's button has no comment to react to."""

    def __init__(self, client: GitHubClient, job: Job, params: CommandParams) -> None:
        self.client, self.job, self.params = client, job, params

    async def say(self, text: str) -> None:
        if self.params.number is None:
            log.info("command answered without a pull request to reply on", answer=text)
            return
        body = f"@{self.params.sender}: {text}"
        await self.client.post(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            {"owner": self.job.owner, "repo": self.job.repo, "issue_number": self.params.number},
            data={"body": body},
        )
        self.job.result["replied"] = True

    async def react(self) -> None:
        if self.params.comment_id is None:
            return
        with contextlib.suppress(gidgethub.BadRequest):  # a deleted comment: the work is done all the same
            await self.client.post(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
                {"owner": self.job.owner, "repo": self.job.repo, "comment_id": self.params.comment_id},
                data={"content": "+1"},
            )
