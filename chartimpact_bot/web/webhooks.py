"""POST /api/webhooks/github and GET /api/webhooks/status/{jobId} (CONTRACT §4).

The delivery is checked, parsed and turned into a job (or an ignore reason) without any network
call, so the answer comes back well within GitHub's timeout; the analysis runs afterwards.
Nothing a client sends can make this answer 500: malformed input is a 400 with a reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import structlog
from aiohttp import web
from gidgethub.sansio import Event

from ..github.events import ROUTER, Plan
from .keys import QUEUE, SETTINGS

log = structlog.get_logger(__name__)
NO_INSTALLATION_NEEDED = frozenset({"ping", "installation", "installation_repositories"})


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC of the body>`, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def receive(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if not settings.webhook_enabled:
        return _error(503, "webhooks are disabled")
    if settings.webhook_secret is None:
        return _error(503, "the GitHub App is not registered yet: open / on this server to set it up")
    limit = settings.max_webhook_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"the delivery is larger than {limit} bytes")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        return _error(413, f"the delivery is larger than {limit} bytes")
    if not signature_valid(settings.webhook_secret, body, request.headers.get("X-Hub-Signature-256")):
        return _error(401, "missing or invalid X-Hub-Signature-256")
    event_name = request.headers.get("X-GitHub-Event")
    delivery_id = request.headers.get("X-GitHub-Delivery")
    if not event_name or not delivery_id:
        return _error(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
    if request.content_type not in ("application/json", "application/x-www-form-urlencoded"):
        return _error(400, f"unsupported content type {request.content_type}")
    try:
        data = json.loads(_payload(body, request.content_type))
    except (ValueError, UnicodeDecodeError):
        return _error(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        return _error(400, "the payload is not a JSON object")
    queue = request.app[QUEUE]
    # "event" is structlog's key for the message itself, so GitHub's event goes under github_event.
    with structlog.contextvars.bound_contextvars(delivery_id=delivery_id, github_event=event_name):
        seen = queue.for_delivery(delivery_id)
        if seen is not None:
            log.info("redelivery of a known delivery", job_id=seen.id)
            return web.json_response({"jobId": seen.id, "statusUrl": _status_url(seen.id), "status": "duplicate"})
        if event_name not in NO_INSTALLATION_NEEDED and not isinstance((data.get("installation") or {}).get("id"), int):
            return _ignored("the delivery carries no installation")
        plan = Plan()
        try:
            await ROUTER.dispatch(Event(data, event=event_name, delivery_id=delivery_id), plan=plan)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.info("malformed payload", error=repr(exc))
            return _error(400, f"the {event_name} payload is missing or has a malformed field ({exc})")
        if plan.job is None:
            reason = plan.reason or f"{event_name} {data.get('action') or ''}".strip() + " causes no analysis"
            log.info("delivery ignored", reason=reason)
            return _ignored(reason)
        job = plan.job
        with structlog.contextvars.bound_contextvars(
            repository=job.repository, installation=job.installation_id, job_id=job.id
        ):
            log.info("delivery accepted", kind=job.kind)
            job = await (queue.submit(job) if settings.async_processing else queue.run_now(job))
        return web.json_response({"jobId": job.id, "statusUrl": _status_url(job.id)}, status=202)


def _payload(body: bytes, content_type: str) -> str:
    text = body.decode("utf-8")
    if content_type == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qs  # noqa: PLC0415

        return parse_qs(text).get("payload", [""])[0]
    return text


def _ignored(reason: str) -> web.Response:
    return web.json_response({"status": "ignored", "reason": reason})


def _status_url(job_id: str) -> str:
    return f"/api/webhooks/status/{job_id}"


async def status(request: web.Request) -> web.Response:
    job = request.app[QUEUE].get(request.match_info["job_id"])
    if job is None:
        return _error(404, "unknown job id")
    return web.json_response(job.status())
