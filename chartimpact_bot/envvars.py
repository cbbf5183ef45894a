"""Typed reading of environment variables, one clear sentence per bad value."""

from __future__ import annotations

from collections.abc import Mapping

from .core.errors import ConfigError
from .engine.render import MIN_MEMORY_MB, RenderLimits

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not '{raw}'") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, *, minimum: float, unit: str = "seconds") -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of {unit}, not '{raw}'") from None
    if not value >= minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, not {raw}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not '{env[name]}'")


def render_limits(env: Mapping[str, str]) -> RenderLimits:
    """RENDER_TIMEOUT_SECONDS and RENDER_MEMORY_MB (CONTRACT §3), shared by CLI and server."""
    return RenderLimits(
        timeout_seconds=env_float(env, "RENDER_TIMEOUT_SECONDS", 60.0, minimum=0.1),
        memory_mb=env_int(env, "RENDER_MEMORY_MB", 1024, minimum=MIN_MEMORY_MB),
    )
