"""Where the key of secret fingerprints comes from (CONTRACT §1, §2).

A fingerprint is a truncated HMAC-SHA256 of the secret under this key: stable for one
deployment (a re-run shows the same fingerprints, so "changed" and "unchanged" stay visible),
useless to anyone who does not hold the key (a guessed password cannot be confirmed from a
public PR comment).

- Command line: `CHARTIMPACT_FINGERPRINT_KEY`, else a random key created once in
  `$XDG_CONFIG_HOME/chartimpact/fingerprint-key` (default `~/.config/…`), mode 0600. The file's
  text is the key, so copying it into the variable (on CI) gives the same fingerprints.
- App: `CHARTIMPACT_FINGERPRINT_KEY` when set, else derived from the App's private key (or,
  without one, its webhook secret) with HMAC under a fixed label: every instance of one
  deployment agrees without any extra configuration.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from .core.errors import ConfigError

ENV_VAR = "CHARTIMPACT_FINGERPRINT_KEY"
KEY_FILE = Path("chartimpact") / "fingerprint-key"
_LABEL = b"chartimpact fingerprint key v1"


def derive_app_key(private_key: str | None, webhook_secret: str | None) -> bytes:
    """The App's key, from its own secret material; ConfigError when it has none."""
    material = private_key or webhook_secret
    if not material:
        raise ConfigError(f"no key for secret fingerprints: set {ENV_VAR}, GITHUB_PRIVATE_KEY or GITHUB_WEBHOOK_SECRET")
    return hmac.new(material.strip().encode(), _LABEL, hashlib.sha256).digest()


def key_from_env(env: Mapping[str, str]) -> bytes | None:
    value = env.get(ENV_VAR, "").strip()
    return value.encode() if value else None


def key_file_path(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / KEY_FILE


def cli_key(env: Mapping[str, str] | None = None) -> bytes:
    """The command line's key: the variable, else the key file (created on first use)."""
    env = os.environ if env is None else env
    return key_from_env(env) or load_or_create_key_file(key_file_path(env))


def load_or_create_key_file(path: Path) -> bytes:
    """The key in `path`; a new random one, written atomically with mode 0600, if none exists.

    Concurrent first runs agree: the file appears with its whole content at once (a hard link
    from a private temporary file, which fails if another process won), and the loser reads
    the winner's key.
    """
    existing = _read_key(path)
    if existing is not None:
        return existing
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the fingerprint key file '{path}': {exc.strerror}; set {ENV_VAR} instead"
        ) from exc
    created = _read_key(path)
    if created is None:
        raise ConfigError(f"the fingerprint key file '{path}' is empty; delete it or set {ENV_VAR}")
    return created


def _read_key(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not text"
        raise ConfigError(f"the fingerprint key file '{path}' cannot be read: {reason}; set {ENV_VAR}") from exc
    if not text:
        return None
    return text.encode()
