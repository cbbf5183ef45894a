"""Server settings from the environment (CONTRACT §3): one sentence per bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartimpact_bot.settings import SettingsError, load_settings

KEY = "-----BEGIN RSA PRIVATE KEY-----\\nMIIB\\n-----END RSA PRIVATE KEY-----"


def test_defaults_without_credentials_mean_setup_mode() -> None:
    settings = load_settings({})
    assert settings.setup_mode
    assert (settings.api_url, settings.port, settings.worker_concurrency) == ("https://api.github.com", 8080, 2)
    assert (settings.render.timeout_seconds, settings.render.memory_mb) == (60.0, 1024)
    assert (settings.checks_enabled, settings.commenting_enabled, settings.status_enabled) == (True, True, False)
    assert settings.helm_binary is None


def test_full_configuration(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text(KEY.replace("\\n", "\n"))
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
    assert settings.private_key is not None and settings.private_key.startswith(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n"
    )
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
