"""Run the server: `python app.py` and `chartimpact serve`."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from aiohttp import web

from ..settings import SettingsError, load_settings
from .app import create_app


def serve(env: Mapping[str, str] | None = None) -> int:
    try:
        settings = load_settings(env)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"chartimpact: {problem}", file=sys.stderr)
        return 1
    if settings.setup_mode:
        # 0.0.0.0 is where the server listens, not an address to open: the page is opened on this
        # machine, or at the public URL GitHub will deliver to (the page checks that one).
        host = "localhost" if settings.host in ("0.0.0.0", "::", "") else settings.host
        where = settings.public_url or f"http://{host}:{settings.port}"
        print(
            f"chartimpact: no GitHub App credentials: setup mode, open {where}/ to register the App"
            " (GitHub must reach this server: the page asks for its public URL)",
            file=sys.stderr,
        )
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None)
    return 0
