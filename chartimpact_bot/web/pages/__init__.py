"""The App's HTML pages (issue 12): the report of one analysis (`GET /reports/{id}`, report.py),
the history of a repository (`GET /repos/{owner}/{repo}`, history.py), and the files they use
(`GET /static/…`, served by the App: no CDN). Access rules and headers: access.py, headers.py."""

from __future__ import annotations

from aiohttp import web

from . import acknowledge, history, report, sign_in
from .headers import page_headers
from .templates import setup_templates, static_file


def add_page_routes(app: web.Application) -> None:
    setup_templates(app)
    app.middlewares.append(page_headers)
    app.router.add_get("/reports/{analysis_id}", report.page)
    app.router.add_get("/repos/{owner}/{repo}", history.page)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/auth/callback", sign_in.callback)
    app.router.add_post("/reports/{analysis_id}/acknowledgements", acknowledge.post)


__all__ = ["add_page_routes"]
