"""Typed reading of environment variables, one clear sentence per bad value."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from .core.errors import ConfigError
from .engine.render import MIN_MEMORY_MB, RenderLimits

N = TypeVar("N", int, float)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    return _number(env, name, default, int, what="a whole number", minimum=minimum)


def env_float(env: Mapping[str, str], name: str, default: float, *, minimum: float, unit: str = "seconds") -> float:
    return _number(env, name, default, float, what=f"a number of {unit}", minimum=minimum)


def _number(env: Mapping[str, str], name: str, default: N, parse: Callable[[str], N], *, what: str, minimum: N) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, not '{raw}'") from None
    if not value >= minimum:  # `not >=`: a float's NaN is below every minimum too
        shown = f"{minimum:g}" if isinstance(minimum, float) else str(minimum)
        raise ConfigError(f"{name} must be at least {shown}, not {raw}")
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
