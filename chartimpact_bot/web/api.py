"""The operator API (CONTRACT §4): `GET /api/jobs`, `POST /api/jobs/{jobId}/retry`, the audit
log `GET /api/jobs/deliveries`, and `POST /api/compare` (compare.py).

Every path under `/api/jobs` and `/api/compare` is behind a bearer token,
`Authorization: Bearer $CHARTIMPACT_API_TOKEN`, checked by `bearer_auth` before any route is
looked up: with no token configured they answer 403, with a missing or wrong one 401 (the
comparison takes the same time whatever the token sent).

- `GET /api/jobs?state=dead,failed&limit=50&cursor=…`: jobs in the given states (comma-separated
  or repeated; all states when none is given), newest first, `limit` of them (1 to 200, default
  50); `{"jobs": [<job status>…], "nextCursor": "…" | null}`, where each job is the status
  shape of `GET /api/webhooks/status/{jobId}` and `nextCursor`, passed back as `cursor`, gives
  the next page. The cursor is the store's, opaque.
- `POST /api/jobs/{jobId}/retry`: queues a `dead` or `failed` job again (same id, attempts from
  zero; the newest job of its pull request or ref, so queued older ones are superseded) and
  answers 202 with its status; 404 for an unknown id, 409 for a job in any other state.
- `GET /api/jobs/acknowledgements?repository=o/r&limit=&cursor=`: the acknowledgement log
  (issue 12): every acknowledgement and withdrawal, newest first, `{"acknowledgements": [{"at",
  "repository", "scope", "signalId", "change": "ack" | "unack", "by", "via": "comment" |
  "check_run", "reason"}…], "nextCursor": …}`, paged like `GET /api/jobs`.
- `GET /api/jobs/deliveries?repository=o/r&event=…&outcome=…&delivery=…&installation=…&limit=
  &cursor=`: the audit log (jobs/audit.py), newest first, entries matching every filter given;
  `{"deliveries": [{"at", "deliveryId", "event", "action", "repository", "installation",
  "sender", "outcome", "status", "jobId"}…], "nextCursor": …}`, paged like `GET /api/jobs` (a
  page may be short while `nextCursor` is set). Filter values are compared as entries store
  them (escaped, bounded).

Bad parameters are a 400 with a reason; an unreachable store a 503.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..jobs.analyses import AckEvent
from ..jobs.audit import LIMITS, OUTCOMES, AuditEntry, AuditQuery, Outcome, bounded, installation
from ..jobs.model import Job
from ..jobs.queue import QueueClosed
from ..jobs.store import StoreError
from ..jobs.store.base import REVIVABLE, STATES, Item, Page
from ..timestamps import iso
from .answers import error_answer
from .compare import compare
from .keys import JOBS, SETTINGS

PROTECTED = ("/api/jobs", "/api/compare")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _protected(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PROTECTED)


def token_valid(expected: str, authorization: str | None) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        given = ""
    return hmac.compare_digest(
        given.strip().encode("utf-8", "backslashreplace"), expected.encode("utf-8", "backslashreplace")
    )


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _protected(request.path):
        expected = request.app[SETTINGS].api_token
        if not expected:
            return error_answer(403, "the operator API is disabled: set CHARTIMPACT_API_TOKEN to enable it")
        if not token_valid(expected, request.headers.get("Authorization")):
            return error_answer(
                401, "missing or wrong bearer token", **{"WWW-Authenticate": 'Bearer realm="chartimpact"'}
            )
    return await handler(request)


def add_api_routes(app: web.Application) -> None:
    app.router.add_post("/api/compare", compare)
    app.router.add_get("/api/jobs", list_jobs)
    app.router.add_get("/api/jobs/deliveries", list_deliveries)
    app.router.add_get("/api/jobs/acknowledgements", list_acknowledgements)
    app.router.add_post("/api/jobs/{job_id}/retry", retry_job)


class _BadQuery(Exception):
    pass


def _states(request: web.Request) -> list[str]:
    wanted = [s.strip() for value in request.query.getall("state", []) for s in value.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STATES]
    if unknown:
        raise _BadQuery(f"unknown job state {unknown[0][:40]!r}; expected {', '.join(STATES)}")
    return list(dict.fromkeys(wanted)) or list(STATES)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 3 or not 1 <= int(raw) <= MAX_LIMIT:
        raise _BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


async def _listing(
    request: web.Request,
    parameters: tuple[str, ...],
    read: Callable[[str | None], Awaitable[Page[Item]]],
    shown: Callable[[Item], dict[str, Any]],
    key: str,
) -> web.Response:
    """A page of a listing, `read` from the store with the query's cursor, or why not: 400 for
    a query parameter not in `parameters` or a bad value (_BadQuery), 503 for the store."""
    unknown = set(request.query) - set(parameters)
    if unknown:
        return error_answer(
            400, f"unknown query parameter {sorted(unknown)[0][:40]!r}; expected {', '.join(parameters)}"
        )
    try:
        page = await read(request.query.get("cursor") or None)
    except _BadQuery as bad:
        return error_answer(400, str(bad))
    except ValueError:  # the store's answer to a cursor it did not give
        return error_answer(400, "cursor is not one this API gave: start again without it")
    except StoreError as exc:
        return error_answer(503, str(exc))
    return web.json_response({key: [shown(item) for item in page.items], "nextCursor": page.cursor})


async def list_jobs(request: web.Request) -> web.Response:
    async def read(cursor: str | None) -> Page[Job]:
        states, limit = _states(request), _limit(request)
        return await request.app[JOBS].store.list(states, limit=limit, cursor=cursor)

    return await _listing(request, ("state", "limit", "cursor"), read, Job.status, "jobs")


_DELIVERY_PARAMETERS = ("repository", "event", "outcome", "delivery", "installation", "limit", "cursor")
_OUTCOMES: dict[str, Outcome] = {outcome: outcome for outcome in OUTCOMES}


def _delivery_query(request: web.Request) -> AuditQuery:
    delivery_id = _text_filter(request, "delivery", LIMITS["delivery_id"])
    event = _text_filter(request, "event", LIMITS["event"])
    repository = _text_filter(request, "repository", LIMITS["repository"])
    outcome = request.query.get("outcome")
    if outcome is not None and outcome not in _OUTCOMES:
        raise _BadQuery(f"unknown outcome {outcome[:40]!r}; expected {', '.join(OUTCOMES)}")
    raw, number = request.query.get("installation"), None
    if raw is not None:
        number = installation(int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 19 else None)
        if number is None:
            raise _BadQuery("installation must be an installation id (a positive whole number)")
    return AuditQuery(
        delivery_id=delivery_id,
        event=event,
        outcome=None if outcome is None else _OUTCOMES[outcome],
        repository=repository,
        installation_id=number,
    )


def _text_filter(request: web.Request, parameter: str, longest: int) -> str | None:
    """A filter compared with what an entry stores: no longer than the entry can hold."""
    raw = request.query.get(parameter)
    if raw is None:
        return None
    value = bounded(raw, longest)
    if value is None or len(raw) > longest:
        raise _BadQuery(f"{parameter} must be 1 to {longest} characters")
    return value


async def list_deliveries(request: web.Request) -> web.Response:
    async def read(cursor: str | None) -> Page[AuditEntry]:
        repeated = [name for name in _DELIVERY_PARAMETERS if len(request.query.getall(name, [])) > 1]
        if repeated:
            raise _BadQuery(f"{repeated[0]} may be given once")
        query, limit = _delivery_query(request), _limit(request)
        return await request.app[JOBS].store.deliveries(query, limit=limit, cursor=cursor)

    return await _listing(request, _DELIVERY_PARAMETERS, read, AuditEntry.shown, "deliveries")


def _acknowledgement_shown(event: AckEvent) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "repository": event.repository,
        "scope": event.scope,
        "signalId": event.signal_id,
        "change": event.change,
        "by": event.by,
        "via": event.via,
        "reason": event.reason,
    }


async def list_acknowledgements(request: web.Request) -> web.Response:
    async def read(cursor: str | None) -> Page[AckEvent]:
        repository = _text_filter(request, "repository", LIMITS["repository"])
        return await request.app[JOBS].store.acknowledgement_log(repository, limit=_limit(request), cursor=cursor)

    return await _listing(request, ("repository", "limit", "cursor"), read, _acknowledgement_shown, "acknowledgements")


async def retry_job(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    queue = request.app[JOBS]
    try:
        job = await queue.get(job_id) if _JOB_ID.fullmatch(job_id) else None
        if job is None:
            return error_answer(404, "unknown job id")
        if job.state not in REVIVABLE:
            return error_answer(409, f"the job is {job.state}; only dead or failed jobs can be retried")
        added = await queue.revive(job_id)
    except QueueClosed:
        return error_answer(503, "the App is restarting; retry shortly", **{"Retry-After": "30"})
    except StoreError as exc:
        return error_answer(503, str(exc))
    if added is None:  # it changed meanwhile (retried by someone else, or pruned)
        current = await queue.get(job_id)
        if current is None:
            return error_answer(404, "unknown job id")
        return error_answer(409, f"the job is {current.state}; only dead or failed jobs can be retried")
    return web.json_response(added.job.status(), status=202)
