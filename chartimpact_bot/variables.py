"""Every environment variable ChartImpact reads: its default as an operator would write it, what
it means, and who reads it (the server, the command line, or both).

docs/configuration-reference.md is generated from this list (`python -m chartimpact_bot.reference`),
and tests/test_configuration_reference.py keeps it true to the code: the variables `load_settings`
and the command line really read are exactly these, and setting a variable to the default written
here changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Reader = Literal["server", "cli"]
SERVER: frozenset[Reader] = frozenset({"server"})
CLI: frozenset[Reader] = frozenset({"cli"})
BOTH: frozenset[Reader] = frozenset({"server", "cli"})


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    section: str
    meaning: str  # Markdown, one paragraph
    default: str | None = None  # as written in the environment; None: unset (or `shown` says what applies)
    shown: str | None = None  # the default column when it is not a literal value ("learned", "derived …")
    readers: frozenset[Reader] = SERVER


APP = "The GitHub App"
SERVING = "Serving"
STORE = "Job store and jobs"
LIMITS = "Limits of an analysis"
REPORTS = "Reports, retention and caches"
REMOTE = "Remote chart dependencies"
SWITCHES = "Switches"
SECTIONS = (APP, SERVING, STORE, LIMITS, REPORTS, REMOTE, SWITCHES)

VARIABLES: tuple[Variable, ...] = (
    Variable(
        "GITHUB_APP_ID",
        APP,
        "The App's id (or client id), the issuer of the JWT the App signs. The App's three credentials "
        "come together: once one is set, the others are required. With none of them, the server starts "
        "in setup mode (docs/github-app-setup.md).",
    ),
    Variable(
        "GITHUB_PRIVATE_KEY",
        APP,
        "The App's PEM private key, inline (`\\n` escapes allowed). Parsed at start-up: a damaged, "
        "encrypted or non-RSA key stops it with one sentence.",
    ),
    Variable(
        "GITHUB_PRIVATE_KEY_PATH",
        APP,
        "The file holding the App's PEM private key, instead of `GITHUB_PRIVATE_KEY` (not both).",
    ),
    Variable(
        "GITHUB_WEBHOOK_SECRET",
        APP,
        "The webhook secret: a delivery without a valid `X-Hub-Signature-256` is answered 401.",
    ),
    Variable(
        "GITHUB_WEBHOOK_SECRET_PREVIOUS",
        APP,
        "The secret being rotated out: deliveries signed with it are accepted too (each logged), so the "
        "secret can change at GitHub before or after the instances restart without a delivery refused "
        "(docs/runbook.md#rotate-the-webhook-secret). Unset it once the log no longer mentions it.",
    ),
    Variable(
        "GITHUB_API_URL",
        APP,
        "GitHub's REST base URL; for GitHub Enterprise Server `https://ghe.example.com/api/v3`.",
        default="https://api.github.com",
    ),
    Variable(
        "CHARTIMPACT_CREDENTIALS_FILE",
        APP,
        "Where setup mode stores the App's id, key and webhook secret (mode 0600), and where the server "
        "reads them when the environment holds none of the three.",
        default="./data/github-app.env",
    ),
    Variable(
        "GITHUB_CLIENT_ID",
        APP,
        "The App's OAuth client id, for `REPORT_AUTH=github` and the sign-in of the report page's "
        "acknowledgement form.",
    ),
    Variable("GITHUB_CLIENT_SECRET", APP, "The App's OAuth client secret, with `GITHUB_CLIENT_ID`."),
    Variable("HOST", SERVING, "The address the server listens on.", default="0.0.0.0"),
    Variable("PORT", SERVING, "The port the server listens on.", default="8080"),
    Variable(
        "CHARTIMPACT_PUBLIC_URL",
        SERVING,
        "The App's public base URL (`https://chartimpact.example.com`), used in report links and by "
        "setup mode. Unset, links use the address GitHub delivers webhooks to, learned from signed "
        "deliveries only; set it behind a proxy that changes the host or the scheme.",
        shown="learned",
    ),
    Variable(
        "CHARTIMPACT_API_TOKEN",
        SERVING,
        "Bearer token of the operator API (`/api/jobs`, `/api/compare`); unset, those endpoints answer 403.",
    ),
    Variable(
        "REPORT_AUTH",
        SERVING,
        "`signed`: a report page opens with its link (HMAC-signed, bound to the report and its "
        "installation, valid 30 days). `github`: viewers also sign in with GitHub and must be able to "
        "read the repository (needs `GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET` and the callback URL "
        "`<public URL>/auth/callback` in the App's settings).",
        default="signed",
    ),
    Variable("MAX_WEBHOOK_BYTES", SERVING, "Larger deliveries are answered 413.", default="26214400"),
    Variable("LOG_LEVEL", SERVING, "`debug`, `info`, `warning` or `error`.", default="info", readers=SERVER),
    Variable("LOG_FORMAT", SERVING, "`json` (one object per line) or `console` for humans.", default="json"),
    Variable(
        "SHUTDOWN_GRACE_SECONDS",
        SERVING,
        "On SIGTERM, how long running jobs may finish before they are returned to the queue.",
        default="25",
    ),
    Variable(
        "CHARTIMPACT_QUEUE_URL",
        STORE,
        "The durable job store: a sqlite file (its directory is created), `redis://host:6379/0` or "
        "`rediss://…` for several instances sharing the work (`?prefix=name` namespaces the keys), or "
        "`memory://` (tests: nothing survives a restart).",
        default="sqlite:///./data/chartimpact.sqlite3",
    ),
    Variable(
        "WORKER_CONCURRENCY",
        STORE,
        "Analyses at once on this instance, each in its own worker process.",
        default="2",
    ),
    Variable(
        "INSTALLATION_CONCURRENCY",
        STORE,
        "Jobs of one installation running at once, over every instance sharing the store (`0`: no cap).",
        default="1",
    ),
    Variable(
        "REPOSITORY_RATE_LIMIT",
        STORE,
        "Analyses started per repository per minute, over every instance sharing the store (`0`: no "
        "limit); a job over it waits in the queue without being charged an attempt.",
        default="30",
    ),
    Variable(
        "JOB_MAX_ATTEMPTS",
        STORE,
        "Attempts of a job that fails for a transient reason before it is `dead`.",
        default="3",
    ),
    Variable(
        "JOB_RETRY_DELAY_SECONDS",
        STORE,
        "Delay before the second attempt, doubled for each further one (±20 % jitter; at least the wait "
        "GitHub asked for).",
        default="30",
    ),
    Variable(
        "JOB_LEASE_SECONDS",
        STORE,
        "A running job's lease, renewed every third of it; the job of an instance that vanished runs "
        "again once it expired.",
        default="30",
    ),
    Variable(
        "CHARTIMPACT_MAX_STORED_JOBS",
        STORE,
        "Beyond this many jobs held, the oldest finished ones are pruned; queued and running jobs never are.",
        default="100000",
    ),
    Variable(
        "CHARTIMPACT_AUDIT_RETENTION_DAYS",
        STORE,
        "Entries of the audit log of deliveries older than this are pruned, hourly.",
        default="30",
    ),
    Variable(
        "CHARTIMPACT_MAX_AUDIT_ENTRIES",
        STORE,
        "The audit log keeps at most this many entries, the newest.",
        default="100000",
    ),
    Variable(
        "RENDER_TIMEOUT_SECONDS",
        LIMITS,
        "Time limit of each render process.",
        default="60",
        readers=BOTH,
    ),
    Variable(
        "RENDER_MEMORY_MB",
        LIMITS,
        "Resident memory of each render process and what it starts, killed at the limit (at least 1024; "
        "docs/adr/0003-render-memory-bound.md).",
        default="1024",
        readers=BOTH,
    ),
    Variable(
        "WORKER_MEMORY_MB",
        LIMITS,
        "Address-space limit of each analysis worker process (at least `RENDER_MEMORY_MB` + 256).",
        default="4096",
    ),
    Variable(
        "JOB_TIME_BUDGET_SECONDS",
        LIMITS,
        "Total time of one analysis; charts not rendered by then are reported `skipped`, saying why.",
        default="900",
    ),
    Variable(
        "HELM_BINARY",
        LIMITS,
        "Render with this `helm` executable instead of the embedded Helm SDK.",
        readers=BOTH,
    ),
    Variable(
        "CHARTIMPACT_FINGERPRINT_KEY",
        REPORTS,
        "Key of the fingerprints that stand for secret values in reports. The App derives one from its "
        "private key; the command line creates one in `$XDG_CONFIG_HOME/chartimpact/fingerprint-key`. "
        "Set it to keep fingerprints stable across a key rotation, or equal between CI and the App.",
        shown="derived",
        readers=BOTH,
    ),
    Variable(
        "CHARTIMPACT_RESULT_RETENTION_DAYS",
        REPORTS,
        "Finished jobs, stored analyses (report pages, history) and acknowledgements older than this are "
        "pruned, hourly.",
        default="90",
    ),
    Variable(
        "CHARTIMPACT_MAX_STORED_REPORTS_MB",
        REPORTS,
        "Stored analyses (compressed) the job store keeps in all; beyond it the oldest go.",
        default="1024",
    ),
    Variable(
        "RESULT_CACHE_TTL_HOURS",
        REPORTS,
        "How long a stored report is re-published for an unchanged analysis without rendering; `0` turns "
        "the result cache off.",
        default="24",
    ),
    Variable("RESULT_CACHE_MAX_MB", REPORTS, "What the result cache may hold (compressed reports).", default="256"),
    Variable("RESULT_CACHE_MAX_ENTRIES", REPORTS, "Entries the result cache may hold.", default="10000"),
    Variable(
        "CHARTIMPACT_REPOSITORY_CREDENTIALS",
        REMOTE,
        "Path of a YAML file mapping chart repository URL prefixes (HTTP and OCI) to credentials "
        "(docs/repositories.md); unreadable or malformed, start-up stops.",
        readers=BOTH,
    ),
    Variable(
        "CHARTIMPACT_ALLOW_PRIVATE_REPOSITORIES",
        REMOTE,
        "Let dependencies come from repositories on loopback or private addresses (refused by default: "
        "the URL comes from the pull request). The command line's flag is `--allow-private-repositories`.",
        default="false",
    ),
    Variable(
        "CHARTIMPACT_CACHE_DIR",
        REMOTE,
        "Where fetched dependency archives are kept by digest, shared by every job. The command line's "
        "default is `$XDG_CACHE_HOME/chartimpact/charts` (`~/.cache/chartimpact/charts`).",
        default="./data/cache/charts",
        readers=BOTH,
    ),
    Variable(
        "CHARTIMPACT_CACHE_MAX_MB",
        REMOTE,
        "How much the dependency cache may hold.",
        default="1024",
        readers=BOTH,
    ),
    Variable("WEBHOOK_ENABLED", SWITCHES, "`false`: the webhook endpoint answers 503.", default="true"),
    Variable("SIGNALS_ENABLED", SWITCHES, "`false`: diffs only, no signals.", default="true"),
    Variable("GITHUB_CHECKS_ENABLED", SWITCHES, "Publish Check Runs.", default="true"),
    Variable("GITHUB_COMMENTING_ENABLED", SWITCHES, "Publish the pull request comment.", default="true"),
    Variable("GITHUB_STATUS_ENABLED", SWITCHES, "Also set a commit status `chartimpact`.", default="false"),
    Variable(
        "ASYNC_PROCESSING_ENABLED",
        SWITCHES,
        "`false`: a delivery is processed before it is answered.",
        default="true",
    ),
    Variable(
        "NO_COLOR",
        SWITCHES,
        "Any value: the command line's text report has no colour, even on a terminal.",
        readers=CLI,
    ),
    Variable(
        "XDG_CONFIG_HOME",
        REPORTS,
        "Where the command line keeps its fingerprint key when `CHARTIMPACT_FINGERPRINT_KEY` is unset.",
        shown="`~/.config`",
        readers=CLI,
    ),
    Variable(
        "XDG_CACHE_HOME",
        REMOTE,
        "Where the command line keeps fetched dependencies when `CHARTIMPACT_CACHE_DIR` is unset.",
        shown="`~/.cache`",
        readers=CLI,
    ),
)


def by_name() -> dict[str, Variable]:
    return {variable.name: variable for variable in VARIABLES}
