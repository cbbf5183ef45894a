"""Headers of every page and page asset (issue 12 point 3): a report of a private repository
must not leak through a Referer, a cache, a frame or a sniffed content type, and nothing but the
App's own files may run or load in it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

PAGE_PREFIXES = ("/reports/", "/repos/", "/static/", "/auth/")
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "private, no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def page_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith(PAGE_PREFIXES):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a 404 or 405 of the router: the same headers
        exc.headers.update(HEADERS)
        raise
    response.headers.update(HEADERS)
    return response
