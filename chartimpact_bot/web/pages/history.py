"""`GET /repos/{owner}/{repo}`: the past analyses of a repository (issue 12 point 6), per chart
and branch, with a plot of their signals by category over time; each entry links to its report
with a fresh signed link. Same access rule as a report: a signed link (made on a report page of
the repository), bound to the installation the stored analyses belong to.

The query may narrow it to one chart (`chart`) and one branch or tag (`ref`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from ...core.model import CATEGORIES
from ...jobs.analyses import AnalysisRecord
from ...jobs.store import StoreError
from ...timestamps import iso
from .access import denied, history_subject
from .context import PAGES, Pages
from .sign_in import require_viewer
from .templates import message, render

NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
MAX_ANALYSES = 200  # the newest ones; older ones stay reachable from their own links
PLOT_WIDTH, PLOT_HEIGHT, PLOT_MARGIN = 860, 180, 24
MAX_BARS = (PLOT_WIDTH - 2 * PLOT_MARGIN) // 2


@dataclass(frozen=True, slots=True)
class Entry:
    at: str
    ref: str
    pull_number: int | None
    head: str
    chart: str
    environment: str
    verdict: str
    counts: dict[str, int]
    url: str


@dataclass(frozen=True, slots=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    category: str
    label: str


async def page(request: web.Request) -> web.StreamResponse:
    pages = request.app[PAGES]
    owner, repo = request.match_info["owner"], request.match_info["repo"]
    if not (NAME.fullmatch(owner) and NAME.fullmatch(repo)):
        return message(request, 404, "No such repository", "This address names no repository.")
    repository = f"{owner}/{repo}"
    try:
        listed = await pages.archive.history(repository, limit=MAX_ANALYSES)
    except StoreError:
        return message(request, 503, "Try again", "The App's store cannot be read at the moment.")
    if not listed.items:
        return message(request, 404, "No analyses kept", f"No analysis of {repository} is stored.")
    installation_id = listed.items[0].installation_id
    refused = denied(request, pages.links, history_subject(repository), installation_id, pages.clock())
    if refused is not None:
        return refused
    signing_in = require_viewer(request, repository)
    if signing_in is not None:
        return signing_in
    # Only the records of the installation the link was signed for: a repository that moved to
    # another installation keeps the old one's analyses out of the new one's history.
    records = [r for r in listed.items if r.installation_id == installation_id]
    chart, ref = request.query.get("chart", "")[:200], request.query.get("ref", "")[:200]
    entries = [e for e in _entries(records, pages) if (not chart or e.chart == chart) and (not ref or e.ref == ref)]
    context: dict[str, object] = {
        "repository": repository,
        "repository_url": f"{pages.web_url}/{repository}",
        "entries": entries,
        "charts": sorted({s.path for r in records for s in r.charts}),
        "refs": sorted({r.ref for r in records}),
        "chart": chart,
        "ref": ref,
        "link_query": {"exp": request.query["exp"], "sig": request.query["sig"]},
        "categories": CATEGORIES,
        "plot": _plot(list(reversed(entries))),
        "plot_width": PLOT_WIDTH,
        "plot_height": PLOT_HEIGHT,
    }
    return render(request, "history.html.j2", context)


def _entries(records: list[AnalysisRecord], pages: Pages) -> list[Entry]:
    now = pages.clock()
    entries = []
    for record in records:
        url = f"/reports/{record.id}?{urlencode(pages.links.query(record.id, record.installation_id, now))}"
        for chart in record.charts:
            entries.append(
                Entry(
                    at=iso(record.created_at),
                    ref=record.ref,
                    pull_number=record.pull_number,
                    head=record.head_sha[:7],
                    chart=chart.path,
                    environment=chart.environment,
                    verdict=chart.verdict,
                    counts={c: chart.counts.get(c, 0) for c in CATEGORIES},
                    url=url,
                )
            )
    return entries


def _plot(entries: list[Entry]) -> list[Bar]:
    """Stacked bars, oldest left: one per entry, one segment per category."""
    if not entries:
        return []
    entries = entries[-MAX_BARS:]  # the newest that fit, one bar of at least 2 px each
    tallest = max([1, *(sum(e.counts.values()) for e in entries)])
    step = max(2, (PLOT_WIDTH - 2 * PLOT_MARGIN) // len(entries))
    width = max(1, step - 2)
    scale = (PLOT_HEIGHT - 2 * PLOT_MARGIN) / tallest
    bars = []
    for n, entry in enumerate(entries):
        bottom = PLOT_HEIGHT - PLOT_MARGIN
        for category in CATEGORIES:
            count = entry.counts[category]
            if not count:
                continue
            height = max(1, round(count * scale))
            bottom -= height
            label = f"{entry.at} {entry.chart} {entry.ref}: {count} {category}"
            bars.append(Bar(PLOT_MARGIN + n * step, bottom, width, height, category, label))
    return bars
