"""Environment variables: typed, with one sentence per bad value."""

from __future__ import annotations

import pytest

from chartimpact_bot.core.errors import ConfigError
from chartimpact_bot.envvars import env_bool, env_int, render_limits


def test_render_limits_defaults_and_values() -> None:
    limits = render_limits({})
    assert (limits.timeout_seconds, limits.memory_mb) == (60.0, 1024)
    limits = render_limits({"RENDER_TIMEOUT_SECONDS": "2.5", "RENDER_MEMORY_MB": "2048"})
    assert (limits.timeout_seconds, limits.memory_mb) == (2.5, 2048)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"RENDER_TIMEOUT_SECONDS": "soon"},
            "RENDER_TIMEOUT_SECONDS must be a number of seconds, not 'soon'",
        ),
        ({"RENDER_TIMEOUT_SECONDS": "0"}, "RENDER_TIMEOUT_SECONDS must be at least 0.1, not 0"),
        ({"RENDER_MEMORY_MB": "1e3"}, "RENDER_MEMORY_MB must be a whole number, not '1e3'"),
        ({"RENDER_MEMORY_MB": "512"}, "RENDER_MEMORY_MB must be at least 1024, not 512"),
    ],
)
def test_bad_render_limits(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        render_limits(env)
    assert str(caught.value) == message


def test_bool_and_int() -> None:
    assert env_bool({"X": "False"}, "X", True) is False
    assert env_bool({}, "X", True) is True
    with pytest.raises(ConfigError, match="X must be true or false, not 'maybe'"):
        env_bool({"X": "maybe"}, "X", True)
    assert env_int({"N": " 3 "}, "N", 1) == 3
