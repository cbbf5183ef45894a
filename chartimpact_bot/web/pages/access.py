"""Who may open a page (issue 12 point 3, CONTRACT §4): the holder of a signed, unexpired link
to it. A link is signed for one subject (a report's id, or `repo:owner/name` for a history)
and the installation the subject belongs to, as the store says (web/report_links.py), so a
link of one installation's report never opens another's.

An expired or tampered link is a 403 page saying which; a subject the store does not hold
(never stored, or pruned after CHARTIMPACT_RESULT_RETENTION_DAYS) a 404."""

from __future__ import annotations

from aiohttp import web

from ...report_links import Check, ReportLinks
from .templates import message

EXPIRED_TEXT = (
    "This link has expired. Open the report again from the pull request's ChartImpact check or"
    " comment: every analysis publishes fresh links."
)
INVALID_TEXT = "This link is not valid: it was changed, or it was made for another page."


def denied(
    request: web.Request,
    links: ReportLinks,
    subject: str,
    installation_id: int,
    now: float,
    *,
    exp: str | None = None,
    sig: str | None = None,
) -> web.Response | None:
    """The 403 page of a request whose link does not open `subject`; None when it does. The
    link is the query's, or `exp` and `sig` as a form posted them."""
    exp = request.query.get("exp") if exp is None else exp
    sig = request.query.get("sig") if sig is None else sig
    verdict = links.check(subject, installation_id, exp, sig, now)
    if verdict is Check.VALID:
        return None
    if verdict is Check.EXPIRED:
        return message(request, 403, "Link expired", EXPIRED_TEXT)
    return message(request, 403, "Not allowed", INVALID_TEXT)


def history_subject(repository: str) -> str:
    return f"repo:{repository}"
