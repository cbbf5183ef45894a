"""Typed keys of what the application holds."""

from __future__ import annotations

from aiohttp import web

from ..github.runner import GitHubContext
from ..jobs.queue import JobQueue
from ..settings import Settings

SETTINGS = web.AppKey("settings", Settings)
QUEUE = web.AppKey("queue", JobQueue)
GITHUB = web.AppKey("github", GitHubContext)
