"""POST /api/webhooks/github and GET /api/webhooks/status/{jobId} (CONTRACT §4).

The delivery is checked, parsed and turned into a job (or an ignore reason) without any network
call, so the answer comes back well within GitHub's timeout; the analysis runs afterwards.
Nothing a client sends can make this answer 500: malformed input is a 400 with a reason, a job
store that cannot be used a 503 (GitHub's delivery can be redelivered), and a 500 is a bug of
ours, logged with its traceback.

Every delivery is recorded in the audit log (jobs/audit.py): an accepted one with its job, in
the same write to the store; any other (ignored, duplicate, rejected) behind the answer, by the
AuditWriter, which never delays nor fails the answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http import HttpProcessingError

from ..github import events
from ..github.payloads import PayloadError, shown
from ..github.runner import PUBLIC_URL_KEY
from ..jobs.audit import OUTCOMES
from ..jobs.model import Job
from ..jobs.queue import QueueClosed
from ..jobs.store import StoreError
from .answers import error_answer
from .delivery_audit import DeliveryRecord
from .keys import AUDIT, GITHUB, OUTCOME, QUEUE, SETTINGS
from .metrics import METRICS

log = structlog.get_logger(__name__)
BODY_TIMEOUT_SECONDS = 30.0
RETRY_AFTER_SECONDS = 30
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class _BadDelivery(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC of the body>`, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


async def receive(request: web.Request) -> web.Response:
    audit = request.app.get(AUDIT)
    record = DeliveryRecord.from_headers(request.headers, audit.clock() if audit is not None else time.time())
    try:
        response = await _answer(request, record)
    except web.HTTPException as exc:
        _observe(request, record, exc.status, "rejected")
        raise
    outcome = response.get(OUTCOME) or ("accepted" if response.status == 202 else "rejected")
    _observe(request, record, response.status, outcome)
    return response


def _observe(request: web.Request, record: DeliveryRecord, status: int, outcome: str) -> None:
    """Count the delivery and, unless it was written with its job, hand its entry to the writer."""
    metrics, audit = request.app.get(METRICS), request.app.get(AUDIT)
    if metrics is not None:
        metrics.delivery(request.headers.get("X-GitHub-Event"), status, outcome)
    if audit is None or record.stored:
        return
    try:
        audit.record(record.entry(outcome if outcome in OUTCOMES else "rejected", status))
    except Exception:  # the answer is already decided: the audit log must not change it
        log.exception("the delivery's audit entry could not be recorded")


async def _answer(request: web.Request, record: DeliveryRecord) -> web.Response:
    delivery = shown(request.headers.get("X-GitHub-Delivery") or "", 128)
    with structlog.contextvars.bound_contextvars(delivery_id=delivery):
        try:
            return await _receive(request, record)
        except StoreError as exc:
            log.warning("the job store cannot be used; the delivery is refused for now", error=str(exc))
            return _unavailable("the job store is unavailable; deliver again shortly")
        except _BadDelivery as bad:
            return error_answer(bad.status, str(bad))
        except web.HTTPException:
            raise
        except Exception:
            log.exception("the delivery could not be handled")
            return error_answer(500, "the delivery could not be handled because of an error in the App")


async def _receive(request: web.Request, record: DeliveryRecord) -> web.Response:
    settings = request.app[SETTINGS]
    if not settings.webhook_enabled:
        return error_answer(503, "webhooks are disabled")
    queue = request.app[QUEUE]
    if not queue.accepting:
        return _shutting_down()
    if settings.webhook_secret is None:
        return error_answer(503, "the GitHub App is not registered yet: open / on this server to set it up")
    body = await _body(request, settings.max_webhook_bytes)
    signature = request.headers.get("X-Hub-Signature-256")
    if not signature_valid(settings.webhook_secret, body, signature):
        previous = settings.previous_webhook_secret
        if previous is None or not signature_valid(previous, body, signature):
            return error_answer(401, "missing or invalid X-Hub-Signature-256")
        # The rotation is finished once no delivery says this any more (then unset the variable).
        log.info("delivery signed with GITHUB_WEBHOOK_SECRET_PREVIOUS")
    event_name = request.headers.get("X-GitHub-Event")
    delivery_id = request.headers.get("X-GitHub-Delivery")
    if not event_name or not delivery_id:
        return error_answer(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
    if not _DELIVERY_ID.fullmatch(delivery_id):
        return error_answer(400, "X-GitHub-Delivery is not a delivery id")
    data = _json_object(body, request.content_type)
    record.verified(data)
    origin = None if settings.public_url is not None else _learn_public_url(request)
    # "event" is structlog's key for the message itself, so GitHub's event goes under github_event.
    with structlog.contextvars.bound_contextvars(github_event=shown(event_name)):
        seen = await queue.for_delivery(delivery_id)
        if seen is not None and seen.state != "dead":  # a dead job's redelivery revives it (submit)
            record.facts.job_id = seen.id
            return _duplicate(seen)
        try:
            decision = await events.decide(event_name, delivery_id, data)
        except PayloadError as exc:
            log.info("malformed payload", field=exc.field, error=str(exc))
            return error_answer(400, f"the {shown(event_name)} payload is missing or has a malformed field: {exc}")
        if decision.job is None:
            log.info("delivery ignored", reason=decision.reason)
            return _ignored(decision.reason or "the delivery causes no analysis")
        job = decision.job
        if origin is not None:
            job.result[PUBLIC_URL_KEY] = origin  # for the links of whichever instance runs it
        with structlog.contextvars.bound_contextvars(
            repository=job.repository, installation=job.installation_id, job_id=job.id
        ):
            # Written with the job: an accepted delivery's entry is as durable as its job. The
            # store records it as a duplicate when the same delivery arrived twice at once.
            entry = record.entry("accepted", 202)
            entry.job_id = job.id
            try:
                if settings.async_processing:
                    added = await queue.submit(job, audit=entry)
                else:
                    added = await queue.run_now(job, audit=entry)
            except QueueClosed:
                return _shutting_down()
            record.stored, record.facts.job_id = True, added.job.id
            if not (added.created or added.revived):
                return _duplicate(added.job)  # the same delivery, arrived twice at once
            log.info("delivery revived a dead job" if added.revived else "delivery accepted", kind=job.kind)
        return web.json_response({"jobId": added.job.id, "statusUrl": _status_url(added.job.id)}, status=202)


def _learn_public_url(request: web.Request) -> str | None:
    """Without CHARTIMPACT_PUBLIC_URL, report links use the address GitHub delivers to: only a
    delivery whose signature verified says it (anyone else could send any Host header)."""
    host = request.host
    if not _HOST.fullmatch(host):
        return None
    origin = request.app[GITHUB].public_url = f"{request.scheme}://{host}"
    return origin


def _duplicate(seen: Job) -> web.Response:
    log.info("redelivery of a known delivery", job_id=seen.id)
    response = web.json_response({"jobId": seen.id, "statusUrl": _status_url(seen.id), "status": "duplicate"})
    response[OUTCOME] = "duplicate"
    return response


def _shutting_down() -> web.Response:
    return _unavailable("the App is restarting; deliver again shortly")


def _unavailable(message: str) -> web.Response:
    response = error_answer(503, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _body(request: web.Request, limit: int) -> bytes:
    """The whole body, however many pieces it arrives in (the signature covers all of it), and
    whether or not a Content-Length announced it."""
    too_large = _BadDelivery(413, f"the delivery is larger than {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise _BadDelivery(408, f"the body did not arrive within {BODY_TIMEOUT_SECONDS:g} seconds") from None
    except (HttpProcessingError, ConnectionError):
        # A broken chunked encoding, or the sender went away: nothing of ours failed.
        raise _BadDelivery(400, "the body could not be read to its end") from None
    return b"".join(chunks)


def _json_object(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type not in ("application/json", "application/x-www-form-urlencoded"):
        raise _BadDelivery(400, f"unsupported content type {shown(content_type)}")
    try:
        data = json.loads(_payload(body, content_type))
    except (ValueError, UnicodeDecodeError):
        raise _BadDelivery(400, "the body is not valid JSON") from None
    except RecursionError:
        raise _BadDelivery(400, "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise _BadDelivery(400, "the payload is not a JSON object")
    return data


def _payload(body: bytes, content_type: str) -> str:
    text = body.decode("utf-8")
    if content_type == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qs  # noqa: PLC0415

        return parse_qs(text).get("payload", [""])[0]
    return text


def _ignored(reason: str) -> web.Response:
    response = web.json_response({"status": "ignored", "reason": reason})
    response[OUTCOME] = "ignored"
    return response


def _status_url(job_id: str) -> str:
    return f"/api/webhooks/status/{job_id}"


async def status(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    job = await request.app[QUEUE].get(job_id) if _JOB_ID.fullmatch(job_id) else None
    if job is None:
        return error_answer(404, "unknown job id")
    return web.json_response(job.status())
