"""What the pages share: the archive of analyses, the link signer, the clock (tests move it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ...jobs.analysis_archive import AnalysisArchive
from ...report_links import ReportLinks
from ...settings import Settings


@dataclass(frozen=True, slots=True)
class Pages:
    archive: AnalysisArchive
    links: ReportLinks
    clock: Callable[[], float]
    settings: Settings
    web_url: str = "https://github.com"  # where repositories are browsed (GitHub Enterprise: its host)


PAGES = web.AppKey("pages", Pages)
