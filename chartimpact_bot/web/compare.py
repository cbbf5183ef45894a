"""`POST /api/compare` (CONTRACT §4): the App's analysis of two refs, answered as report JSON.

Body: `{"repository": "owner/name", "base": "ref", "head": "ref", "charts": ["optional/paths"]}`
(at most MAX_BODY_BYTES). Bearer-protected by api.bearer_auth like `/api/jobs`. It runs the
analysis a delivery runs (github/runner.py, `AnalysisRunner.compare`) with the credentials of
the installation that reads the repository, publishes nothing, and answers the report JSON of
CONTRACT §2; when `.chartimpact.yml` has problems they are listed in `configProblems` (the
analysis then used the defaults, as a check run would say). It keeps working while webhooks
are disabled (WEBHOOK_ENABLED=false), and stops with the instance's intake on shutdown.

Answers: 200 the report; 400 a malformed body (with the reason); 404 the App is not installed
on the repository; 413 a body too large; 422 an unknown ref, or charts too large to analyze;
429 too many comparisons at once (`Retry-After`); 503 GitHub's rate limit or failures, or the
instance stopping (`Retry-After`).

At most `2 × WORKER_CONCURRENCY` comparisons run or wait at once on an instance: each holds an
analysis worker while it renders, and deliveries must not wait behind a script comparing
refs in a loop.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
import gidgethub
import structlog
from aiohttp import web

from ..core.errors import AnalysisError, brief
from ..core.report.json import dumps_document, report_to_dict
from ..engine.sources import is_plain_path
from ..github.installations import NotInstalled
from ..github.runner import Comparison, UnknownRef
from ..jobs.model import RateLimited, TransientError
from .answers import error_answer
from .keys import QUEUE, RUNNER, SETTINGS

log = structlog.get_logger(__name__)
MAX_BODY_BYTES = 64 * 1024
MAX_CHARTS = 200
MAX_PATH_CHARS = 1024
MAX_REF_CHARS = 255
BUSY_RETRY_SECONDS = 10
GITHUB_RETRY_SECONDS = 30
FIELDS = frozenset({"repository", "base", "head", "charts"})
UNEXPECTED = "ChartImpact failed unexpectedly while comparing; the operator's logs have the details"
# GitHub's own rules for owner and repository names (a dot-only name is not one).
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")


class BadComparison(Exception):
    """The body does not say what to compare; the message says why."""


@dataclass(frozen=True, slots=True)
class CompareRequest:
    owner: str
    repo: str
    base: str
    head: str
    charts: tuple[str, ...] | None


def parse_request(raw: bytes) -> CompareRequest:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadComparison("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise BadComparison("the body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadComparison(f"unknown field {_shown(unknown[0])}; expected repository, base, head, charts")
    repository = body.get("repository")
    if not isinstance(repository, str):
        raise BadComparison("repository must be a string 'owner/name'")
    owner, _, repo = repository.partition("/")
    if not (_OWNER.fullmatch(owner) and _REPO.fullmatch(repo) and repo.strip(".")):
        raise BadComparison(f"repository {_shown(repository)} is not 'owner/name'")
    base, head = _ref(body, "base"), _ref(body, "head")
    return CompareRequest(owner, repo, base, head, _charts(body.get("charts")))


def _ref(body: dict[str, Any], name: str) -> str:
    """A branch, tag or commit as git allows it to be named (git check-ref-format, roughly)."""
    ref = body.get(name)
    if not isinstance(ref, str) or not ref:
        raise BadComparison(f"{name} must be a branch, tag or commit")
    if (
        len(ref) > MAX_REF_CHARS
        or not ref.isprintable()
        or any(c in ref for c in " ~^:?*[\\")
        or ".." in ref
        or "@{" in ref
        or ref.startswith(("-", "/", "."))
        or ref.endswith(("/", ".", ".lock"))
        or "//" in ref
    ):
        raise BadComparison(f"{name} {_shown(ref)} is not a valid ref name")
    return ref


def _charts(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_CHARTS:
        raise BadComparison(f"charts must be a list of at most {MAX_CHARTS} chart directories")
    charts: list[str] = []
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_PATH_CHARS:
            raise BadComparison("each chart must be a directory path of the repository")
        path = item.strip("/")
        if path in ("", "."):
            charts.append("")  # the repository's root is a chart
        elif is_plain_path(path):
            charts.append(path)
        else:
            raise BadComparison(f"chart {_shown(item)} is not a plain path inside the repository")
    return tuple(dict.fromkeys(charts))


def _shown(value: str) -> str:
    """A value from the request, bounded and quoted for an error message."""
    text = value if len(value) <= 80 else value[:79] + "…"
    return json.dumps(text)


def answer(comparison: Comparison) -> web.Response:
    body = report_to_dict(comparison.report)
    if comparison.problems:
        body["configProblems"] = [
            {"file": ".chartimpact.yml", "line": p.line, "message": p.message, "in": p.where}
            for p in comparison.problems
        ]
    return web.Response(text=dumps_document(body), content_type="application/json")


class ComparisonSlots:
    """How many comparisons an instance runs or holds waiting at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0


COMPARISONS = web.AppKey("comparisons", ComparisonSlots)


async def compare(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return error_answer(413, f"the body may hold at most {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return error_answer(413, f"the body may hold at most {MAX_BODY_BYTES} bytes")
    try:
        wanted = parse_request(raw)
    except BadComparison as bad:
        return error_answer(400, str(bad))
    if not request.app[QUEUE].accepting:
        return error_answer(503, "the App is restarting; retry shortly", **{"Retry-After": str(GITHUB_RETRY_SECONDS)})
    slots = request.app[COMPARISONS]
    if slots.taken >= slots.limit:
        return error_answer(
            429, f"{slots.limit} comparisons are already running here", **{"Retry-After": str(BUSY_RETRY_SECONDS)}
        )
    slots.taken += 1
    try:
        return await _run(request, wanted)
    finally:
        slots.taken -= 1


async def _run(request: web.Request, wanted: CompareRequest) -> web.Response:
    runner = request.app[RUNNER]
    budget = request.app[SETTINGS].job_time_budget_seconds + 60
    repository = f"{wanted.owner}/{wanted.repo}"
    try:
        async with asyncio.timeout(budget):
            comparison = await runner.compare(wanted.owner, wanted.repo, wanted.base, wanted.head, wanted.charts)
    except NotInstalled:
        return error_answer(404, f"the App is not installed on {repository}")
    except UnknownRef as exc:
        return error_answer(422, str(exc))
    except RateLimited as exc:
        wait = max(1, math.ceil(exc.retry_after or 0))
        return error_answer(503, "GitHub's rate limit for this installation is spent", **{"Retry-After": str(wait)})
    except (TransientError, aiohttp.ClientError) as exc:
        return error_answer(503, f"GitHub is failing: {brief(str(exc))}", **{"Retry-After": str(GITHUB_RETRY_SECONDS)})
    except gidgethub.BadRequest as exc:
        return error_answer(502, f"GitHub refused a request ({exc.status_code})")
    except AnalysisError as exc:
        return error_answer(422, brief(str(exc)))
    except TimeoutError:
        return error_answer(503, f"the comparison took longer than {budget:g} s", **{"Retry-After": "60"})
    except Exception:  # a bug of ours: its text may quote the charts, so only the log has it
        log.exception("comparison failed unexpectedly", repository=repository)
        return error_answer(
            500, "ChartImpact failed unexpectedly while comparing; the operator's logs have the details"
        )
    log.info("comparison answered", repository=repository, verdict=comparison.report.verdict)
    return answer(comparison)
