"""Which deliveries cause work (CONTRACT §5): one gidgethub Router per concern, composed below.

Handlers only read the payload and plan a job, or say why there is none; the work happens after
the webhook has been answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gidgethub.routing import Router
from gidgethub.sansio import Event

from ..jobs.model import Job, JobKind
from .checks import CHECK_NAME

ZERO_SHA = "0" * 40


@dataclass(slots=True)
class Plan:
    """What a delivery asks for: a job, or the reason it needs none."""

    job: Job | None = None
    reason: str | None = None

    def ignore(self, reason: str) -> None:
        self.reason = reason

    def run(self, event: Event, kind: JobKind, params: dict[str, Any], key: str) -> None:
        data = event.data
        self.job = Job(
            delivery_id=str(event.delivery_id),
            event=event.event,
            action=data.get("action"),
            repository=repository(event),
            installation_id=int(data["installation"]["id"]),
            kind=kind,
            params=params,
            key=key,
        )


def repository(event: Event) -> str:
    return str(event.data["repository"]["full_name"])


pull_requests = Router()


@pull_requests.register("pull_request", action="opened")
@pull_requests.register("pull_request", action="synchronize")
@pull_requests.register("pull_request", action="reopened")
@pull_requests.register("pull_request", action="ready_for_review")
async def pull_request_changed(event: Event, plan: Plan) -> None:
    pull = event.data["pull_request"]
    if pull.get("state") == "closed":
        plan.ignore("the pull request is closed")
        return
    params = {
        "number": int(pull["number"]),
        "base_sha": str(pull["base"]["sha"]),
        "head_sha": str(pull["head"]["sha"]),
        "base_ref": str(pull["base"].get("ref") or ""),
        "head_ref": str(pull["head"].get("ref") or ""),
    }
    plan.run(event, "pull_request", params, key=f"{repository(event)}#{params['number']}")


@pull_requests.register("pull_request", action="edited")
async def pull_request_edited(event: Event, plan: Plan) -> None:
    if "base" not in (event.data.get("changes") or {}):
        plan.ignore("the pull request was edited without changing its base branch")
        return
    await pull_request_changed(event, plan)


@pull_requests.register("pull_request", action="closed")
async def pull_request_closed(event: Event, plan: Plan) -> None:
    plan.ignore("the pull request was closed")


pushes = Router()


@pushes.register("push")
async def push(event: Event, plan: Plan) -> None:
    data = event.data
    default = f"refs/heads/{data['repository'].get('default_branch')}"
    if data.get("ref") != default:
        plan.ignore(f"the push is to {data.get('ref')}, not the default branch")
    elif data.get("created") or data.get("deleted") or ZERO_SHA in (data.get("before"), data.get("after")):
        plan.ignore("the push creates or deletes the branch")
    else:
        params = {
            "base_sha": str(data["before"]),
            "head_sha": str(data["after"]),
            "base_ref": str(data["before"])[:7],
            "head_ref": str(data["ref"]).removeprefix("refs/heads/"),
        }
        plan.run(event, "push", params, key=f"{repository(event)}@{data['ref']}")


releases = Router()


@releases.register("release", action="published")
async def release_published(event: Event, plan: Plan) -> None:
    release = event.data["release"]
    params = {"tag": str(release["tag_name"]), "release_id": int(release["id"])}
    plan.run(event, "release", params, key=f"{repository(event)}@releases")


checks = Router()


@checks.register("check_run", action="rerequested")
async def check_run_rerequested(event: Event, plan: Plan) -> None:
    run = event.data["check_run"]
    if run.get("name") != CHECK_NAME:
        plan.ignore(f"check run '{run.get('name')}' is not ChartImpact's")
        return
    _rerun(event, plan, str(run["head_sha"]), run.get("external_id"), run.get("pull_requests") or [])


@checks.register("check_suite", action="rerequested")
async def check_suite_rerequested(event: Event, plan: Plan) -> None:
    suite = event.data["check_suite"]
    pulls = suite.get("pull_requests") or []
    before = suite.get("before")
    # A suite of a pull request re-runs that pull request; otherwise the push it came from.
    external = json.dumps({"kind": "push", "base": before}) if not pulls and before and before != ZERO_SHA else None
    _rerun(event, plan, str(suite["head_sha"]), external, pulls)


def _rerun(event: Event, plan: Plan, head_sha: str, external_id: Any, pulls: list[dict[str, Any]]) -> None:
    """The analysis the check was made for, again: from our external_id, else the pull request."""
    origin = _origin(external_id)
    if pulls and origin.get("kind") in (None, "pull_request"):
        pull = pulls[0]
        params = {
            "number": int(pull["number"]),
            "base_sha": str(origin.get("base") or pull["base"]["sha"]),
            "head_sha": head_sha,
            "base_ref": str(pull["base"].get("ref") or ""),
            "head_ref": str(pull["head"].get("ref") or ""),
        }
        plan.run(event, "pull_request", params, key=f"{repository(event)}#{params['number']}")
    elif origin.get("base"):
        kind = "release" if origin.get("kind") == "release" else "push"
        params = {
            "base_sha": str(origin["base"]),
            "head_sha": head_sha,
            "base_ref": str(origin["base"])[:7],
            "head_ref": head_sha[:7],
        }
        plan.run(event, kind, params, key=f"{repository(event)}@{head_sha}")  # type: ignore[arg-type]
    else:
        plan.ignore("the check has no pull request or earlier commit to compare with")


def _origin(external_id: Any) -> dict[str, Any]:
    try:
        value = json.loads(external_id) if isinstance(external_id, str) and external_id else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


installations = Router()


@installations.register("installation")
@installations.register("installation_repositories")
@installations.register("ping")
async def acknowledge(event: Event, plan: Plan) -> None:
    plan.ignore(f"{event.event} acknowledged")


ROUTER = Router(pull_requests, pushes, releases, checks, installations)
