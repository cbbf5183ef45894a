"""The server's configuration (CONTRACT §3): environment → frozen Settings.

Every problem is one sentence naming the variable; all of them are reported at once, so an
operator fixes a deployment in one pass. With no App credentials at all the server starts in
setup mode (the manifest flow registers the App).
"""

from __future__ import annotations

import json
import os
import secrets
from collections import ChainMap
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .core.errors import ConfigError
from .engine.remote import NO_CREDENTIALS, RepositoryAccess, RepositoryCredentials, load_credentials
from .engine.remote.cache import DEFAULT_MAX_BYTES as DEFAULT_CACHE_BYTES
from .engine.render import MIN_MEMORY_MB, OUTPUT_HEADROOM_MB, RenderLimits
from .envvars import env_bool, env_float, env_int, render_limits
from .fingerprint_key import ENV_VAR as FINGERPRINT_ENV_VAR
from .fingerprint_key import derive_app_key

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_CACHE_DIR = "./data/cache/charts"


class SettingsError(ConfigError):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Settings:
    app_id: str | None
    private_key: str | None = None
    webhook_secret: str | None = None
    # GITHUB_WEBHOOK_SECRET_PREVIOUS: also accepted while a rotation is under way (docs/runbook.md),
    # so deliveries signed with either secret pass between GitHub's change and every restart.
    previous_webhook_secret: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    host: str = "0.0.0.0"
    port: int = 8080
    queue_url: str = "sqlite:///./data/chartimpact.sqlite3"
    worker_concurrency: int = 2
    installation_concurrency: int = 1  # running jobs of one installation, over every instance; 0: no cap
    repository_rate_limit: int = 30  # REPOSITORY_RATE_LIMIT: jobs started per repository per minute; 0: none
    render: RenderLimits = field(default_factory=RenderLimits)
    max_webhook_bytes: int = 26_214_400
    api_token: str | None = None
    log_level: str = "info"
    log_format: str = "json"
    webhook_enabled: bool = True
    signals_enabled: bool = True
    checks_enabled: bool = True
    commenting_enabled: bool = True
    status_enabled: bool = False
    async_processing: bool = True
    credentials_file: str = "./data/github-app.env"
    helm_binary: str | None = None
    worker_memory_mb: int = 4096
    job_time_budget_seconds: float = 900.0
    fingerprint_secret: str | None = None  # CHARTIMPACT_FINGERPRINT_KEY
    shutdown_grace_seconds: float = 25.0
    job_max_attempts: int = 3
    job_retry_delay_seconds: float = 30.0
    job_lease_seconds: float = 30.0
    result_retention_days: float = 90.0  # CHARTIMPACT_RESULT_RETENTION_DAYS
    max_stored_jobs: int = 100_000  # CHARTIMPACT_MAX_STORED_JOBS
    audit_retention_days: float = 30.0  # CHARTIMPACT_AUDIT_RETENTION_DAYS
    max_audit_entries: int = 100_000  # CHARTIMPACT_MAX_AUDIT_ENTRIES
    prune_interval_seconds: float = 3600.0  # how often retention runs (tests shorten it)
    result_cache_ttl_hours: float = 24.0  # RESULT_CACHE_TTL_HOURS; 0: no result cache
    result_cache_max_mb: int = 256  # RESULT_CACHE_MAX_MB: stored reports (compressed) in all
    result_cache_max_entries: int = 10_000  # RESULT_CACHE_MAX_ENTRIES
    public_url: str | None = None  # CHARTIMPACT_PUBLIC_URL: the base of report links; None: none published
    report_auth: str = "signed"  # REPORT_AUTH: "signed" links, or "github" (viewers sign in too)
    max_stored_reports_mb: int = 1024  # CHARTIMPACT_MAX_STORED_REPORTS_MB: stored analyses (compressed) in all
    oauth_client_id: str | None = None  # GITHUB_CLIENT_ID: the App's OAuth client, for REPORT_AUTH=github
    oauth_client_secret: str | None = None  # GITHUB_CLIENT_SECRET
    # Remote dependencies: CHARTIMPACT_REPOSITORY_CREDENTIALS, CHARTIMPACT_ALLOW_PRIVATE_REPOSITORIES,
    # CHARTIMPACT_CACHE_DIR, CHARTIMPACT_CACHE_MAX_MB
    repositories: RepositoryAccess = field(default_factory=lambda: RepositoryAccess(cache_dir=DEFAULT_CACHE_DIR))

    def fingerprint_key(self) -> bytes:
        """The key of secret fingerprints (fingerprint_key.py): CHARTIMPACT_FINGERPRINT_KEY, else
        derived from the App's private key or webhook secret, so it is stable per deployment and
        a re-run shows the same fingerprints. Setup mode analyzes nothing: a random key."""
        if self.fingerprint_secret:
            return self.fingerprint_secret.encode()
        if not (self.private_key or self.webhook_secret):
            return secrets.token_bytes(32)
        return derive_app_key(self.private_key, self.webhook_secret)

    @property
    def setup_mode(self) -> bool:
        """No App credentials: serve the manifest flow instead of webhooks."""
        return self.app_id is None and self.private_key is None and self.webhook_secret is None

    @property
    def web_url(self) -> str:
        """Where repositories are browsed and Apps registered: github.com for its API, the
        Enterprise Server's host for its own."""
        parts = urlsplit(self.api_url)
        if parts.hostname in (None, "api.github.com"):
            return "https://github.com"
        return f"{parts.scheme}://{parts.netloc}"

    def __repr__(self) -> str:
        # Secrets never reach logs, even through a repr.
        return f"Settings(app_id={self.app_id!r}, api_url={self.api_url!r}, port={self.port})"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment; SettingsError lists every problem."""
    # A view, not a copy: what is read goes through the given mapping, so the configuration
    # reference's test can see exactly which variables this reads.
    stored: dict[str, str] = {}
    given = os.environ if env is None else env
    # ChainMap writes only to its first map, so the given mapping is never changed.
    env = ChainMap(stored, cast("MutableMapping[str, str]", given))
    credentials_file = env.get("CHARTIMPACT_CREDENTIALS_FILE", "./data/github-app.env")
    if not any(
        env.get(k) for k in ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_PRIVATE_KEY_PATH", "GITHUB_WEBHOOK_SECRET")
    ):
        # Credentials stored by setup mode, read when the environment has none of its own.
        stored.update(_stored_credentials(Path(credentials_file)))
    collector = _Problems()
    problems, attempt = collector.problems, collector.attempt

    app_id = env.get("GITHUB_APP_ID", "").strip() or None
    private_key = attempt(_private_key, env)
    secret = env.get("GITHUB_WEBHOOK_SECRET") or None
    key_given = bool(env.get("GITHUB_PRIVATE_KEY", "").strip() or env.get("GITHUB_PRIVATE_KEY_PATH", "").strip())
    if any((app_id, key_given, secret)) and not all((app_id, key_given, secret)):
        for name, value in (
            ("GITHUB_APP_ID", app_id),
            ("GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH", key_given),
            ("GITHUB_WEBHOOK_SECRET", secret),
        ):
            if not value:
                problems.append(f"{name} is required once any GitHub App credential is set")
    api_url = attempt(_api_url, env.get("GITHUB_API_URL", DEFAULT_API_URL))
    log_level = env.get("LOG_LEVEL", "info").strip().lower() or "info"
    if log_level not in ("debug", "info", "warning", "error"):
        problems.append(f"LOG_LEVEL must be debug, info, warning or error, not '{log_level}'")
    log_format = env.get("LOG_FORMAT", "json").strip().lower() or "json"
    if log_format not in ("json", "console"):
        problems.append(f"LOG_FORMAT must be json or console, not '{log_format}'")
    queue_url = env.get("CHARTIMPACT_QUEUE_URL", "sqlite:///./data/chartimpact.sqlite3").strip()
    if not queue_url.startswith(("sqlite://", "redis://", "rediss://", "memory://")):
        problems.append(f"CHARTIMPACT_QUEUE_URL must be a sqlite://, redis:// or memory:// URL, not '{queue_url}'")
    report_auth = env.get("REPORT_AUTH", "signed").strip().lower() or "signed"
    if report_auth not in ("signed", "github"):
        problems.append(f"REPORT_AUTH must be signed or github, not '{report_auth}'")
    settings = Settings(
        app_id=app_id,
        private_key=private_key,
        webhook_secret=secret,
        previous_webhook_secret=env.get("GITHUB_WEBHOOK_SECRET_PREVIOUS") or None,
        api_url=api_url or DEFAULT_API_URL,
        host=env.get("HOST", "0.0.0.0").strip() or "0.0.0.0",
        port=attempt(env_int, env, "PORT", 8080, minimum=0) or 8080,
        queue_url=queue_url,
        worker_concurrency=attempt(env_int, env, "WORKER_CONCURRENCY", 2, minimum=1) or 2,
        installation_concurrency=_count(attempt, env, "INSTALLATION_CONCURRENCY", 1, minimum=0),
        repository_rate_limit=_count(attempt, env, "REPOSITORY_RATE_LIMIT", 30, minimum=0),
        render=attempt(render_limits, env) or RenderLimits(),
        max_webhook_bytes=attempt(env_int, env, "MAX_WEBHOOK_BYTES", 26_214_400, minimum=1024) or 26_214_400,
        api_token=env.get("CHARTIMPACT_API_TOKEN") or None,
        log_level=log_level,
        log_format=log_format,
        webhook_enabled=_flag(attempt, env, "WEBHOOK_ENABLED", True),
        signals_enabled=_flag(attempt, env, "SIGNALS_ENABLED", True),
        checks_enabled=_flag(attempt, env, "GITHUB_CHECKS_ENABLED", True),
        commenting_enabled=_flag(attempt, env, "GITHUB_COMMENTING_ENABLED", True),
        status_enabled=_flag(attempt, env, "GITHUB_STATUS_ENABLED", False),
        async_processing=_flag(attempt, env, "ASYNC_PROCESSING_ENABLED", True),
        credentials_file=credentials_file,
        helm_binary=env.get("HELM_BINARY", "").strip() or None,
        worker_memory_mb=attempt(env_int, env, "WORKER_MEMORY_MB", 4096, minimum=MIN_MEMORY_MB) or 4096,
        job_time_budget_seconds=attempt(env_float, env, "JOB_TIME_BUDGET_SECONDS", 900.0, minimum=1.0) or 900.0,
        fingerprint_secret=env.get(FINGERPRINT_ENV_VAR, "").strip() or None,
        shutdown_grace_seconds=_number(attempt, env, "SHUTDOWN_GRACE_SECONDS", 25.0, minimum=0.0),
        job_max_attempts=attempt(env_int, env, "JOB_MAX_ATTEMPTS", 3, minimum=1) or 3,
        job_retry_delay_seconds=_number(attempt, env, "JOB_RETRY_DELAY_SECONDS", 30.0, minimum=0.0),
        job_lease_seconds=_number(attempt, env, "JOB_LEASE_SECONDS", 30.0, minimum=1.0),
        result_retention_days=attempt(env_int, env, "CHARTIMPACT_RESULT_RETENTION_DAYS", 90, minimum=1) or 90,
        max_stored_jobs=attempt(env_int, env, "CHARTIMPACT_MAX_STORED_JOBS", 100_000, minimum=100) or 100_000,
        result_cache_ttl_hours=_number(attempt, env, "RESULT_CACHE_TTL_HOURS", 24.0, minimum=0.0, unit="hours"),
        result_cache_max_mb=attempt(env_int, env, "RESULT_CACHE_MAX_MB", 256, minimum=1) or 256,
        result_cache_max_entries=attempt(env_int, env, "RESULT_CACHE_MAX_ENTRIES", 10_000, minimum=1) or 10_000,
        audit_retention_days=attempt(env_int, env, "CHARTIMPACT_AUDIT_RETENTION_DAYS", 30, minimum=1) or 30,
        max_audit_entries=attempt(env_int, env, "CHARTIMPACT_MAX_AUDIT_ENTRIES", 100_000, minimum=100) or 100_000,
        repositories=_repositories(attempt, env),
        public_url=attempt(_public_url, env.get("CHARTIMPACT_PUBLIC_URL", "")),
        report_auth=report_auth,
        max_stored_reports_mb=attempt(env_int, env, "CHARTIMPACT_MAX_STORED_REPORTS_MB", 1024, minimum=1) or 1024,
        oauth_client_id=env.get("GITHUB_CLIENT_ID", "").strip() or None,
        oauth_client_secret=env.get("GITHUB_CLIENT_SECRET", "").strip() or None,
    )
    if settings.report_auth == "github" and not (settings.oauth_client_id and settings.oauth_client_secret):
        problems.append(
            "REPORT_AUTH=github needs the App's OAuth client: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"
        )
    render_ceiling = settings.render.memory_mb + OUTPUT_HEADROOM_MB
    if settings.worker_memory_mb < render_ceiling:
        problems.append(
            f"WORKER_MEMORY_MB ({settings.worker_memory_mb}) must be at least RENDER_MEMORY_MB + {OUTPUT_HEADROOM_MB} "
            f"({render_ceiling}): render processes cannot have more memory than their worker"
        )
    if problems:
        raise SettingsError(problems)
    return settings


class _Problems:
    """Collects one sentence per bad variable instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def attempt(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T | None:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            self.problems.append(str(exc))
            return None


def _flag(attempt: Callable[..., bool | None], env: Mapping[str, str], name: str, default: bool) -> bool:
    value = attempt(env_bool, env, name, default)
    return default if value is None else bool(value)


def _number(
    attempt: Callable[..., float | None],
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float,
    unit: str = "seconds",
) -> float:
    value = attempt(env_float, env, name, default, minimum=minimum, unit=unit)
    return default if value is None else value


def _count(attempt: Callable[..., int | None], env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    value = attempt(env_int, env, name, default, minimum=minimum)
    return default if value is None else value


def _repositories(attempt: Callable[..., Any], env: Mapping[str, str]) -> RepositoryAccess:
    """How remote chart dependencies are fetched. A credentials file that cannot be read or is
    malformed stops start-up, like any bad variable: a silent no-op would fail every private
    dependency later, one pull request at a time."""
    credentials: RepositoryCredentials | None = attempt(load_credentials, env)
    cache_mb = _count(attempt, env, "CHARTIMPACT_CACHE_MAX_MB", DEFAULT_CACHE_BYTES // (1024 * 1024), minimum=1)
    return RepositoryAccess(
        credentials=credentials if credentials is not None else NO_CREDENTIALS,
        allow_private_networks=_flag(attempt, env, "CHARTIMPACT_ALLOW_PRIVATE_REPOSITORIES", False),
        cache_dir=env.get("CHARTIMPACT_CACHE_DIR", "").strip() or DEFAULT_CACHE_DIR,
        cache_max_bytes=cache_mb * 1024 * 1024,
    )


def _public_url(value: str) -> str | None:
    """CHARTIMPACT_PUBLIC_URL: an http(s) URL with a host, no query or fragment; its trailing
    slash dropped. Report links are only published when it is set: a link derived from one
    webhook request's Host header would name whatever host the sender chose."""
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            "CHARTIMPACT_PUBLIC_URL must be an http(s) URL such as https://chartimpact.example.com,"
            f" not '{value[:100]}'"
        )
    return value.rstrip("/")


def _stored_credentials(path: Path) -> dict[str, str]:
    """KEY="json string" lines written by setup mode; {} when there is no such file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    stored = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            try:
                stored[key.strip()] = str(json.loads(value))
            except ValueError:
                continue
    return stored


def _private_key(env: Mapping[str, str]) -> str | None:
    inline = env.get("GITHUB_PRIVATE_KEY", "").strip()
    path = env.get("GITHUB_PRIVATE_KEY_PATH", "").strip()
    if inline and path:
        raise ConfigError("set GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH, not both")
    if path:
        try:
            inline = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"GITHUB_PRIVATE_KEY_PATH '{path}' cannot be read: {exc.strerror}") from exc
    if not inline:
        return None
    key = inline.replace("\\n", "\n").strip()
    if "-----BEGIN" not in key or "PRIVATE KEY-----" not in key:
        source = "GITHUB_PRIVATE_KEY_PATH" if path else "GITHUB_PRIVATE_KEY"
        raise ConfigError(f"{source} is not a PEM private key (it should start with -----BEGIN RSA PRIVATE KEY-----)")
    _check_rsa_key(key, "GITHUB_PRIVATE_KEY_PATH" if path else "GITHUB_PRIVATE_KEY")
    return key + "\n"


def _check_rsa_key(key: str, source: str) -> None:
    """Parse the key now: a damaged one would otherwise fail every delivery, one by one. The
    error never quotes the key."""
    try:
        loaded = serialization.load_pem_private_key(key.encode(), password=None)
    except TypeError as exc:  # encrypted
        raise ConfigError(f"{source} is encrypted with a passphrase; GitHub's downloaded key is not") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{source} holds a damaged or unreadable private key; download it again from GitHub") from exc
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ConfigError(f"{source} is not an RSA key; a GitHub App's private key is RSA")


def _api_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"GITHUB_API_URL must be an http(s) URL such as https://ghe.example.com/api/v3, not '{raw}'")
    return url
