"""The pages' templates, of the report pages and the setup pages (Jinja2 through aiohttp-jinja2,
docs/adr/0009-report-pages.md), and their static files, both read from the package: the App
serves every asset itself.

Autoescape is on for every template and undefined names raise: a page never shows markup that
came from a chart, and a misspelt variable is a failing test rather than an empty field."""

from __future__ import annotations

from importlib import resources

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ... import __version__

_STATIC_TYPES = {"report.css": "text/css", "report.js": "text/javascript"}
_STATIC: dict[str, bytes] = {}


def setup_templates(app: web.Application) -> None:
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("chartimpact_bot.web.pages", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["version"] = __version__


def render(request: web.Request, template: str, context: dict[str, object], *, status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context, status=status)


def message(request: web.Request, status: int, title: str, text: str) -> web.Response:
    """A page saying why there is nothing to show (expired link, unknown report…)."""
    return render(request, "message.html.j2", {"title": title, "message": text}, status=status)


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = _STATIC_TYPES.get(name)
    if content_type is None:
        raise web.HTTPNotFound(text="no such file")
    if name not in _STATIC:
        _STATIC[name] = resources.files("chartimpact_bot.web.pages").joinpath("static", name).read_bytes()
    return web.Response(body=_STATIC[name], content_type=content_type, charset="utf-8")
