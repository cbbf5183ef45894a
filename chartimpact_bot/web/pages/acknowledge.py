"""`POST /reports/{id}/acknowledgements`: acknowledging a signal (or withdrawing it) from the
report page (issue 12 point 5), for a viewer signed in with GitHub (sign_in.py).

The form carries the page's signed link (the same access rule as the page), the signal, the
change and a reason, and a token bound to the signed-in login and the report, so that no other
site can post it for the viewer (the session cookie is SameSite=Lax as well). The sender's write
access is asked of GitHub here, so a refusal is said on the page at once; the change itself is a
`command` job like a comment's (github/command_runner.py, which asks again), so it is logged,
retried and published exactly as the others are.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from urllib.parse import parse_qs

import gidgethub
from aiohttp import web

from ...github.command_runner import WRITERS, permission_of
from ...jobs.analyses import ANALYSIS_ID, MAX_REASON_CHARS, SIGNAL_ID
from ...jobs.model import Job
from ...jobs.params import CommandParams
from ...jobs.queue import QueueClosed
from ...jobs.store import StoreError
from ..keys import GITHUB, QUEUE
from .access import denied
from .context import PAGES
from .sign_in import session_key, signed_in_login, start_sign_in
from .templates import message

MAX_FORM_BYTES = 16 * 1024
# A row of the page stands for one signal in each environment of its chart it affects
# (core/report/environments.py), so its form names up to this many signals.
MAX_FORM_SIGNALS = 200
MAX_FIELDS = 20 + MAX_FORM_SIGNALS


def form_token(link_key: bytes, login: str, analysis_id: str) -> str:
    return hmac.new(session_key(link_key), f"ack\n{login}\n{analysis_id}".encode(), hashlib.sha256).hexdigest()


async def post(request: web.Request) -> web.StreamResponse:
    pages = request.app[PAGES]
    analysis_id = request.match_info["analysis_id"]
    if not ANALYSIS_ID.fullmatch(analysis_id):
        return message(request, 404, "No such report", "This address names no report.")
    form = await _form(request)
    if isinstance(form, web.Response):
        return form
    exp, sig = _first(form, "exp"), _first(form, "sig")
    page_url = f"/reports/{analysis_id}?exp={exp}&sig={sig}"
    try:
        found = await pages.archive.load(analysis_id)
    except StoreError:
        return message(request, 503, "Try again", "The App's store cannot be read at the moment.")
    if found is None:
        return message(request, 404, "Report not kept", "This report is not stored any more.")
    record, _ = found
    checked = denied(request, pages.links, analysis_id, record.installation_id, pages.clock(), exp=exp, sig=sig)
    if checked is not None:
        return checked
    if not (pages.settings.oauth_client_id and pages.settings.oauth_client_secret):
        return message(request, 404, "Not available", "Sign-in is not configured: acknowledge with a comment command.")
    login = signed_in_login(request)
    if login is None:
        return start_sign_in(request, record.repository, return_to=page_url)
    signal_ids, change = form.get("signal", []), _first(form, "change")
    token = _first(form, "token")
    if not hmac.compare_digest(token, form_token(pages.links.key, login, analysis_id)):
        return message(request, 403, "Not accepted", "The form has expired: open the report again and retry.")
    if (
        not signal_ids
        or len(signal_ids) > MAX_FORM_SIGNALS
        or not all(SIGNAL_ID.fullmatch(signal_id) for signal_id in signal_ids)
        or change not in ("ack", "unack")
    ):
        return message(request, 400, "Not understood", "The form names no signal, or no change.")
    if not await _may_write(request, record.installation_id, record.repository, login):
        return message(
            request,
            403,
            "Not allowed",
            f"Only people with write access to {record.repository} can acknowledge signals.",
        )
    params = CommandParams(
        "ack" if change == "ack" else "unack",
        login,
        "page",
        number=record.pull_number,
        signal_ids=tuple(dict.fromkeys(signal_ids)),
        reason=_first(form, "reason")[:MAX_REASON_CHARS] if change == "ack" else "",
        head_sha=record.head_sha,
        analysis_id=record.id,
    )
    delivery = f"page-{uuid.uuid4()}"
    job = Job(delivery, "report_page", change, record.repository, record.installation_id, "command", params,
              f"{record.repository}@{record.head_sha}:command:{delivery}")  # fmt: skip
    queue = request.app[QUEUE]
    try:
        if pages.settings.async_processing:
            await queue.submit(job)
        else:
            await queue.run_now(job)
    except QueueClosed:
        return message(request, 503, "Try again", "The App is restarting.")
    except StoreError:
        return message(request, 503, "Try again", "The App's store cannot be written at the moment.")
    raise web.HTTPSeeOther(f"{page_url}#signal-{signal_ids[0]}")


def _first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0] if values else ""


async def _form(request: web.Request) -> dict[str, list[str]] | web.Response:
    """The posted fields (every value of each), or the page saying why not: the body is read up to
    MAX_FORM_BYTES whatever its Content-Length claims (a chunked one claims none), and must be
    an URL-encoded form in UTF-8."""
    if request.content_type != "application/x-www-form-urlencoded":
        return message(request, 415, "Not understood", "The form must be sent as application/x-www-form-urlencoded.")
    if (request.content_length or 0) > MAX_FORM_BYTES:
        return message(request, 413, "Too large", "The form is larger than an acknowledgement can be.")
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return message(request, 413, "Too large", "The form is larger than an acknowledgement can be.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return message(request, 400, "Not understood", "The form is not one of this page's.")
    return fields


async def _may_write(request: web.Request, installation_id: int, repository: str, login: str) -> bool:
    owner, repo = repository.split("/", 1)
    try:
        permission = await permission_of(request.app[GITHUB].client(installation_id), owner, repo, login)
    except gidgethub.GitHubException:
        return False
    return permission in WRITERS
