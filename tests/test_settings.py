"""Server settings from the environment (CONTRACT §3): one sentence per bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chartimpact_bot.settings import SettingsError, load_settings
from tests.github.conftest import generate_app_keys

KEY = generate_app_keys()[0]


def test_defaults_without_credentials_mean_setup_mode() -> None:
    settings = load_settings({})
    assert settings.setup_mode
    assert (settings.api_url, settings.port, settings.worker_concurrency) == ("https://api.github.com", 8080, 2)
    assert (settings.render.timeout_seconds, settings.render.memory_mb) == (60.0, 1024)
    assert (settings.checks_enabled, settings.commenting_enabled, settings.status_enabled) == (True, True, False)
    assert settings.helm_binary is None


def test_full_configuration(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text(KEY)
    settings = load_settings(
        {
            "GITHUB_APP_ID": "123",
            "GITHUB_PRIVATE_KEY_PATH": str(key),
            "GITHUB_WEBHOOK_SECRET": "s3cret",
            "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
            "PORT": "9000",
            "WORKER_CONCURRENCY": "4",
            "RENDER_TIMEOUT_SECONDS": "30",
            "GITHUB_STATUS_ENABLED": "true",
            "ASYNC_PROCESSING_ENABLED": "false",
            "LOG_FORMAT": "console",
            "HELM_BINARY": "/usr/local/bin/helm",
        }
    )
    assert not settings.setup_mode
    assert settings.helm_binary == "/usr/local/bin/helm"
    assert settings.private_key == KEY
    assert (settings.api_url, settings.port, settings.worker_concurrency) == ("https://ghe.example.com/api/v3", 9000, 4)
    assert settings.status_enabled and not settings.async_processing
    assert "s3cret" not in repr(settings) and "PRIVATE" not in repr(settings)


def test_every_problem_is_one_sentence_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "GITHUB_APP_ID": "123",
                "GITHUB_PRIVATE_KEY": "not a key",
                "PORT": "eighty",
                "GITHUB_API_URL": "ghe.example.com",
                "WEBHOOK_ENABLED": "maybe",
                "RENDER_MEMORY_MB": "512",
                "LOG_LEVEL": "loud",
            }
        )
    assert caught.value.problems == [
        "GITHUB_PRIVATE_KEY is not a PEM private key (it should start with -----BEGIN RSA PRIVATE KEY-----)",
        "GITHUB_WEBHOOK_SECRET is required once any GitHub App credential is set",
        "GITHUB_API_URL must be an http(s) URL such as https://ghe.example.com/api/v3, not 'ghe.example.com'",
        "LOG_LEVEL must be debug, info, warning or error, not 'loud'",
        "PORT must be a whole number, not 'eighty'",
        "RENDER_MEMORY_MB must be at least 1024, not 512",
        "WEBHOOK_ENABLED must be true or false, not 'maybe'",
    ]


def test_an_unreadable_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError, match=r"GITHUB_PRIVATE_KEY_PATH '.*missing.pem' cannot be read: No such file or directory"
    ):
        load_settings({"GITHUB_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem")})


def test_job_queue_settings() -> None:
    defaults = load_settings({})
    assert (defaults.shutdown_grace_seconds, defaults.job_max_attempts) == (25.0, 3)
    assert (defaults.job_retry_delay_seconds, defaults.job_lease_seconds) == (30.0, 30.0)
    assert defaults.queue_url == "sqlite:///./data/chartimpact.sqlite3"
    settings = load_settings(
        {
            "SHUTDOWN_GRACE_SECONDS": "5",
            "JOB_MAX_ATTEMPTS": "6",
            "JOB_RETRY_DELAY_SECONDS": "2.5",
            "JOB_LEASE_SECONDS": "9",
        }
    )
    assert (settings.shutdown_grace_seconds, settings.job_max_attempts) == (5.0, 6)
    assert (settings.job_retry_delay_seconds, settings.job_lease_seconds) == (2.5, 9.0)
    with pytest.raises(SettingsError) as raised:
        load_settings({"SHUTDOWN_GRACE_SECONDS": "soon", "JOB_LEASE_SECONDS": "0"})
    assert len(raised.value.problems) == 2
    assert "SHUTDOWN_GRACE_SECONDS" in raised.value.problems[0] and "JOB_LEASE_SECONDS" in raised.value.problems[1]


def test_retention_and_api_settings() -> None:
    defaults = load_settings({})
    assert (defaults.result_retention_days, defaults.max_stored_jobs, defaults.api_token) == (90, 100_000, None)
    settings = load_settings(
        {
            "CHARTIMPACT_RESULT_RETENTION_DAYS": "7",
            "CHARTIMPACT_MAX_STORED_JOBS": "5000",
            "CHARTIMPACT_API_TOKEN": "t0ken",
        }
    )
    assert (settings.result_retention_days, settings.max_stored_jobs, settings.api_token) == (7, 5000, "t0ken")
    with pytest.raises(SettingsError) as raised:
        load_settings({"CHARTIMPACT_RESULT_RETENTION_DAYS": "0", "CHARTIMPACT_MAX_STORED_JOBS": "lots"})
    assert len(raised.value.problems) == 2
    assert "CHARTIMPACT_RESULT_RETENTION_DAYS" in raised.value.problems[0]
    assert "CHARTIMPACT_MAX_STORED_JOBS" in raised.value.problems[1]


@pytest.mark.parametrize(
    ("pem", "problem"),
    [
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIBcanary\n-----END RSA PRIVATE KEY-----\n",
            "GITHUB_PRIVATE_KEY holds a damaged or unreadable private key; download it again from GitHub",
        ),
        (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            .decode(),
            "GITHUB_PRIVATE_KEY is not an RSA key; a GitHub App's private key is RSA",
        ),
        (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            )
            .decode(),
            "GITHUB_PRIVATE_KEY is encrypted with a passphrase; GitHub's downloaded key is not",
        ),
    ],
)
def test_a_private_key_that_does_not_parse_stops_start_up_naming_the_variable(pem: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": pem, "GITHUB_WEBHOOK_SECRET": "s"})
    assert caught.value.problems == [problem]
    assert "canary" not in str(caught.value)  # the key's text is never quoted


def test_result_cache_settings() -> None:
    defaults = load_settings({})
    assert (defaults.result_cache_ttl_hours, defaults.result_cache_max_mb, defaults.result_cache_max_entries) == (
        24.0,
        256,
        10_000,
    )
    settings = load_settings(
        {"RESULT_CACHE_TTL_HOURS": "0.5", "RESULT_CACHE_MAX_MB": "64", "RESULT_CACHE_MAX_ENTRIES": "100"}
    )
    assert (settings.result_cache_ttl_hours, settings.result_cache_max_mb, settings.result_cache_max_entries) == (
        0.5,
        64,
        100,
    )
    assert load_settings({"RESULT_CACHE_TTL_HOURS": "0"}).result_cache_ttl_hours == 0.0  # the cache is off
    with pytest.raises(SettingsError) as raised:
        load_settings({"RESULT_CACHE_TTL_HOURS": "a day", "RESULT_CACHE_MAX_MB": "0", "RESULT_CACHE_MAX_ENTRIES": "-1"})
    assert raised.value.problems == [
        "RESULT_CACHE_TTL_HOURS must be a number of hours, not 'a day'",
        "RESULT_CACHE_MAX_MB must be at least 1, not 0",
        "RESULT_CACHE_MAX_ENTRIES must be at least 1, not -1",
    ]
    with pytest.raises(SettingsError, match="RESULT_CACHE_TTL_HOURS must be at least 0"):
        load_settings({"RESULT_CACHE_TTL_HOURS": "-2"})


def test_audit_log_and_rate_limit_settings() -> None:
    defaults = load_settings({})
    assert (defaults.audit_retention_days, defaults.max_audit_entries, defaults.repository_rate_limit) == (
        30,
        100_000,
        30,
    )
    settings = load_settings(
        {
            "CHARTIMPACT_AUDIT_RETENTION_DAYS": "7",
            "CHARTIMPACT_MAX_AUDIT_ENTRIES": "2000",
            "REPOSITORY_RATE_LIMIT": "0",
        }
    )
    assert (settings.audit_retention_days, settings.max_audit_entries, settings.repository_rate_limit) == (7, 2000, 0)
    with pytest.raises(SettingsError) as raised:
        load_settings(
            {
                "REPOSITORY_RATE_LIMIT": "-1",
                "CHARTIMPACT_AUDIT_RETENTION_DAYS": "forever",
                "CHARTIMPACT_MAX_AUDIT_ENTRIES": "10",
            }
        )
    assert raised.value.problems == [
        "REPOSITORY_RATE_LIMIT must be at least 0, not -1",
        "CHARTIMPACT_AUDIT_RETENTION_DAYS must be a whole number, not 'forever'",
        "CHARTIMPACT_MAX_AUDIT_ENTRIES must be at least 100, not 10",
    ]
