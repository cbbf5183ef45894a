"""Credentials of private chart repositories: the operator's file (CHARTIMPACT_REPOSITORY_CREDENTIALS),
never the pull request's `.chartimpact.yml`.

The file maps repository URL prefixes to credentials:

    repositories:
      - url: https://charts.example.com/private     # HTTP(S) repository: index and archives
        username: ci
        password: s3cret                            # or passwordEnv: CHARTS_PASSWORD
      - url: oci://registry.example.com/team        # OCI registry: every chart below team/
        username: robot
        passwordEnv: REGISTRY_PASSWORD              # sent to the registry's token realm, or as Basic
      - url: https://charts.internal.example
        token: abc123                               # or tokenEnv: NAME; sent as a Bearer token

A request uses the entry with the longest prefix that matches its URL on a boundary: the same
scheme, the same host and port exactly, and a path that is the prefix's or continues it after
a `/` (`https://charts.example.com` matches neither `https://charts.example.com.evil.io` nor
`https://charts.example.com:444`, `…/private` not `…/private-other`). A URL with dot segments,
percent escapes or user info matches nothing.

No credential value is ever shown: not in a repr, a log line, an error of this file (which
names entries and keys only; a YAML syntax error gives its line, not its text) or a report.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...core.errors import ConfigError
from ...core.yamlio import YamlLimits, load_untrusted

ENV_VAR = "CHARTIMPACT_REPOSITORY_CREDENTIALS"
MAX_FILE_BYTES = 1024 * 1024
MAX_ENTRIES = 1000
MAX_VALUE_CHARS = 8192
_LIMITS = YamlLimits(max_bytes=MAX_FILE_BYTES, max_depth=8, max_nodes=20_000)
_KEYS = {"url", "username", "password", "passwordEnv", "token", "tokenEnv"}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class _Location:
    scheme: str
    host: str
    port: int | None
    segments: tuple[str, ...]


def _location(url: str) -> _Location | None:
    """`url` as prefix matching compares it; None for a URL that must match nothing."""
    try:
        parsed = urllib.parse.urlsplit(url)
        port = parsed.port
    except ValueError:
        return None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https", "oci") or not parsed.hostname or "@" in parsed.netloc:
        return None
    segments = tuple(s for s in parsed.path.split("/") if s)
    if any(s in (".", "..") or "%" in s for s in segments):
        return None
    return _Location(scheme, parsed.hostname.lower(), port or _DEFAULT_PORTS.get(scheme), segments)


@dataclass(frozen=True, slots=True)
class Credential:
    """One entry: basic (`username` and `password`) or a bearer `token`."""

    url: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def basic(self) -> str | None:
        """The `Authorization` value for basic credentials, if these are."""
        if self.username is None or self.password is None:
            return None
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    @property
    def authorization(self) -> str:
        """The `Authorization` value sent to a repository that takes these directly."""
        return f"Bearer {self.token}" if self.token is not None else self.basic or ""

    def __repr__(self) -> str:
        kind = "token" if self.token is not None else "basic"
        return f"Credential(url={self.url!r}, {kind}, ***)"


@dataclass(frozen=True, slots=True)
class RepositoryCredentials:
    entries: tuple[Credential, ...] = ()

    def for_url(self, url: str) -> Credential | None:
        """The entry with the longest prefix matching `url` on a boundary, if any."""
        target = _location(url)
        if target is None:
            return None
        best: tuple[int, Credential] | None = None
        for entry in self.entries:
            prefix = _location(entry.url)
            if (
                prefix is not None
                and (prefix.scheme, prefix.host, prefix.port) == (target.scheme, target.host, target.port)
                and target.segments[: len(prefix.segments)] == prefix.segments
                and (best is None or len(prefix.segments) > best[0])
            ):
                best = (len(prefix.segments), entry)
        return best[1] if best else None

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for masking."""
        return tuple(s for e in self.entries for s in (e.password, e.token) if s)

    def __repr__(self) -> str:
        return f"RepositoryCredentials({len(self.entries)} entries, ***)"


NO_CREDENTIALS = RepositoryCredentials()


def load_credentials(env: Mapping[str, str] | None = None) -> RepositoryCredentials:
    """The file named by CHARTIMPACT_REPOSITORY_CREDENTIALS (none: no credentials); a file that
    cannot be read or is malformed raises ConfigError naming the variable."""
    env = os.environ if env is None else env
    path = env.get(ENV_VAR, "").strip()
    if not path:
        return NO_CREDENTIALS
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{ENV_VAR} '{path}' cannot be read: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{ENV_VAR} '{path}' is larger than {MAX_FILE_BYTES // 1024} KB")
    return parse_credentials(raw, env, label=f"{ENV_VAR} '{path}'")


def parse_credentials(raw: bytes, env: Mapping[str, str], *, label: str) -> RepositoryCredentials:
    try:
        data = load_untrusted(raw, _LIMITS)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{label} is not valid YAML{where}") from None  # its text may quote a secret
    except yaml.YAMLError:
        raise ConfigError(f"{label} is not valid YAML") from None
    if not isinstance(data, dict) or set(data) != {"repositories"} or not isinstance(data["repositories"], list):
        raise ConfigError(f"{label} must be a mapping with one key, 'repositories', holding a list")
    items = data["repositories"]
    if len(items) > MAX_ENTRIES:
        raise ConfigError(f"{label} has more than {MAX_ENTRIES} repositories")
    entries = [_entry(item, number, env, label) for number, item in enumerate(items, start=1)]
    seen: dict[_Location | None, int] = {}
    for number, entry in enumerate(entries, start=1):
        key = _location(entry.url)
        if key in seen:
            raise ConfigError(f"{label}: repositories {seen[key]} and {number} have the same url")
        seen[key] = number
    return RepositoryCredentials(tuple(entries))


def _entry(item: Any, number: int, env: Mapping[str, str], label: str) -> Credential:
    where = f"{label}: repository {number}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} is not a mapping")
    unknown = sorted(str(k) for k in item if k not in _KEYS)
    if unknown:
        raise ConfigError(f"{where} has unknown keys ({', '.join(unknown)}); allowed: {', '.join(sorted(_KEYS))}")
    url = item.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{where} has no url")
    url = url.strip()
    if _location(url) is None:
        raise ConfigError(
            f"{where}: the url must be http://, https:// or oci:// with a host, and no user info, "
            "percent escapes or dot segments"
        )
    parsed = urllib.parse.urlsplit(url)
    if parsed.query or parsed.fragment:
        raise ConfigError(f"{where}: the url has a query or fragment")
    where = f"{label}: repository {number} ({url})"
    password = _secret(item, "password", env, where)
    token = _secret(item, "token", env, where)
    username = item.get("username")
    if username is not None and not isinstance(username, str):
        raise ConfigError(f"{where}: username is not a string")
    if token is not None and (username is not None or password is not None):
        raise ConfigError(f"{where}: give username and password, or a token, not both")
    if token is None and (username is None or password is None):
        raise ConfigError(f"{where}: give username and password (or passwordEnv), or a token (or tokenEnv)")
    if username is not None and (":" in username or _UNSAFE.search(username) or len(username) > MAX_VALUE_CHARS):
        raise ConfigError(f"{where}: the username holds a colon or a control character, or is too long")
    return Credential(url=url, username=username, password=password, token=token)


def _secret(item: dict[str, Any], key: str, env: Mapping[str, str], where: str) -> str | None:
    inline, variable = item.get(key), item.get(f"{key}Env")
    if inline is not None and variable is not None:
        raise ConfigError(f"{where}: give {key} or {key}Env, not both")
    if variable is not None:
        if not isinstance(variable, str) or not variable:
            raise ConfigError(f"{where}: {key}Env must name an environment variable")
        if not env.get(variable):
            raise ConfigError(f"{where}: {key}Env names {variable}, which is not set")
        inline = env[variable]
    if inline is None:
        return None
    if not isinstance(inline, str) or not inline:
        raise ConfigError(f"{where}: {key} must be a non-empty string (quote it in YAML)")
    if _UNSAFE.search(inline) or len(inline) > MAX_VALUE_CHARS:
        raise ConfigError(f"{where}: the {key} holds a line break or control character, or is too long")
    return inline
