"""Secret masking and noise rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from chartimpact_bot.core.model import ResourceId
from chartimpact_bot.core.normalize import fingerprint, is_sensitive_key, mask_secrets

KEY = b"test-fingerprint-key"


def test_secret_data_and_string_data_are_fingerprinted_alike() -> None:
    body = {
        "data": {"password": base64.b64encode(b"hunter2").decode()},
        "stringData": {"token": "hunter2"},
    }
    mask_secrets(ResourceId("", "Secret", "default", "s"), body, KEY)
    expected = "(sensitive value changed, sha256:" + hmac.new(KEY, b"hunter2", hashlib.sha256).hexdigest()[:12] + ")"
    assert body == {"data": {"password": expected}, "stringData": {"token": expected}}
    assert fingerprint(b"hunter2", KEY) == expected


def test_credential_looking_env_values_and_config_keys_are_masked() -> None:
    body: dict[str, Any] = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "api",
                            "env": [
                                {"name": "DB_PASSWORD", "value": "s3cret"},
                                {"name": "API_TOKEN", "value": "tok"},
                                {"name": "LOG_LEVEL", "value": "debug"},
                                {"name": "PASSWORD_FILE", "value": "/run/secrets/db"},
                            ],
                        }
                    ]
                }
            }
        }
    }
    mask_secrets(ResourceId("apps", "Deployment", "default", "d"), body, KEY)
    env = body["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0]["value"].startswith("(sensitive value changed, sha256:")
    assert env[1]["value"].startswith("(sensitive value changed, sha256:")
    assert env[2]["value"] == "debug"
    assert env[3]["value"] == "/run/secrets/db"

    config = {"data": {"apiKey": "abc", "level": "info"}}
    mask_secrets(ResourceId("", "ConfigMap", "default", "c"), config, KEY)
    assert config["data"]["level"] == "info"
    assert config["data"]["apiKey"].startswith("(sensitive value changed")


def test_sensitive_key_heuristic() -> None:
    for key in (
        "password",
        "DB_PASSWORD",
        "apiKey",
        "api-key",
        "client_secret",
        "GITHUB_TOKEN",
        "credentials",
    ):
        assert is_sensitive_key(key), key
    for key in (
        "secretName",
        "tokenPath",
        "passwordSecretRef",
        "LOG_LEVEL",
        "existingSecret" + "Name",
    ):
        assert not is_sensitive_key(key), key


def test_name_patterns_cut_back_to_a_separator() -> None:
    from chartimpact_bot.core.normalize import _name_pattern  # noqa: PLC0415

    assert _name_pattern("release-test-ab12c", "release-test-x9z8q") == "release-test-*"
    # random parts that share characters by chance do not leak into the pattern
    assert _name_pattern("release-test-ab12c", "release-test-ax9zc") == "release-test-*"
    assert _name_pattern("job-k2x9a-migrate", "job-p0q1r-migrate") == "job-*-migrate"
