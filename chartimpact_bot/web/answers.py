"""The JSON error answer every endpoint gives: `{"error": "<one sentence>"}`."""

from __future__ import annotations

from aiohttp import web


def error_answer(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)
