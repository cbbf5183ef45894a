"""Typed keys of what the application holds."""

from __future__ import annotations

from aiohttp import web

from ..github.credentials import CredentialCheck
from ..github.runner import AnalysisRunner, GitHubContext
from ..jobs.audit_writer import AuditWriter
from ..jobs.durable import DurableJobQueue
from ..jobs.queue import JobQueue
from ..settings import Settings

SETTINGS = web.AppKey("settings", Settings)
QUEUE = web.AppKey("queue", JobQueue)
GITHUB = web.AppKey("github", GitHubContext)
CREDENTIALS = web.AppKey("credentials", CredentialCheck)  # /readyz: does GitHub accept them
RUNNER = web.AppKey("runner", AnalysisRunner)  # POST /api/compare runs its analysis
# The same queue as QUEUE, with its store: the operator API (api.py) and /metrics read it.
JOBS = web.AppKey("jobs", DurableJobQueue)
# Writes the audit entries of deliveries that created no job (jobs/audit_writer.py).
AUDIT = web.AppKey("audit", AuditWriter)
# What a webhook answer was, for /metrics: "ignored" or "duplicate" (202 is "accepted", the rest "rejected").
OUTCOME = web.ResponseKey("outcome", str)
