"""`GET /reports/{id}`: the full report of one stored analysis (issue 12 point 2).

Nothing is cut here: every signal and every resource's diff of the analysis is on the page
(the comment and the check run link to it for what GitHub's 65,536 characters cannot hold).
The query may filter the signals (`chart`, `environment`, `category`, `importance`, `kind`,
`resource`: a substring of namespace/name), which is how the filters work without JavaScript.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from aiohttp import web

from ...core.report.page_model import PageModel, SignalRow, page_model
from ...jobs.analyses import ANALYSIS_ID
from ...jobs.store import StoreError
from ...timestamps import iso
from .access import denied, history_subject
from .acknowledge import form_token
from .context import PAGES
from .sign_in import require_viewer, sign_in_available, signed_in_login
from .templates import message, render

FILTERS = ("chart", "environment", "category", "importance", "kind")
MAX_FILTER_CHARS = 200


async def page(request: web.Request) -> web.StreamResponse:
    pages = request.app[PAGES]
    analysis_id = request.match_info["analysis_id"]
    if not ANALYSIS_ID.fullmatch(analysis_id):
        return message(request, 404, "No such report", "This address names no report.")
    now = pages.clock()
    try:
        found = await pages.archive.load(analysis_id)
        if found is None:
            return _gone(request, pages.settings.result_retention_days)
        record, analysis = found
        refused = denied(request, pages.links, analysis_id, record.installation_id, now)
        if refused is not None:
            return refused
        signing_in = require_viewer(request, record.repository)
        if signing_in is not None:
            return signing_in
        report = await pages.archive.shown(record, analysis)
    except StoreError:
        return message(request, 503, "Try again", "The App's store cannot be read at the moment.")
    repository_url = f"{pages.web_url}/{record.repository}"
    model = await asyncio.to_thread(page_model, report, repository_url=repository_url)
    selected = _selected(request)
    history_query = pages.links.query(history_subject(record.repository), record.installation_id, now)
    context: dict[str, object] = {
        "record": record,
        "model": model,
        "shown": filtered_rows(model, selected),
        "selected": selected,
        "link_query": {"exp": request.query["exp"], "sig": request.query["sig"]},
        "repository_url": repository_url,
        "history_url": f"/repos/{record.repository}?{urlencode(history_query)}",
        "base_label": _revision(report.base.ref, report.base.sha),
        "head_label": _revision(report.head.ref, report.head.sha),
        "created": iso(record.created_at),
        "kept_until": iso(record.created_at + pages.settings.result_retention_days * 86400),
        # Acknowledging from the page needs the App's OAuth client; the token binds the form to
        # the signed-in login (empty: posting it starts the sign-in).
        "can_acknowledge": sign_in_available(request),
        "ack_token": form_token(pages.links.key, login, analysis_id) if (login := signed_in_login(request)) else "",
        "viewer": login or "",
        "analysis_id": analysis_id,
    }
    return render(request, "report.html.j2", context)


def _gone(request: web.Request, days: float) -> web.Response:
    return message(
        request,
        404,
        "Report not kept",
        f"This report is not stored (any more): analyses are kept {days:g} days. Re-run the check to analyze again.",
    )


def _selected(request: web.Request) -> dict[str, str]:
    chosen = {}
    for name in (*FILTERS, "resource"):
        value = request.query.get(name, "").strip()[:MAX_FILTER_CHARS]
        if value:
            chosen[name] = value
    return chosen


def filtered_rows(model: PageModel, selected: dict[str, str]) -> list[SignalRow]:
    if not selected:
        return model.signals
    wanted = {name: value for name, value in selected.items() if name in FILTERS}
    needle = selected.get("resource", "").lower()
    return [
        row
        for row in model.signals
        if all(_matches(row, name, value) for name, value in wanted.items())
        and needle in f"{row.namespace}/{row.name}".lower()
    ]


def _matches(row: SignalRow, name: str, value: str) -> bool:
    if name == "environment":  # a row stands for every environment of its chart it affects
        return value in row.environments
    return bool(getattr(row, name) == value)


def _revision(ref: str | None, sha: str | None) -> str:
    if ref and sha:
        return f"{ref} ({sha[:7]})"
    return ref or (sha[:7] if sha else "nothing")
