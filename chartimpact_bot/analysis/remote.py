"""Fetching remote chart dependencies from HTTP(S) Helm repositories.

`repository: https://…` dependencies are resolved like `helm dependency build`: the repository's
`index.yaml` lists each chart's versions; the highest version satisfying the constraint (or the
version pinned in Chart.lock) is downloaded, its sha256 digest checked against the index, and
the archive read with the same checks as any other (`archive.py`).

The repository URL comes from a pull request, so by default the fetcher refuses hosts that
resolve to loopback, private or link-local addresses (no server-side request forgery), caps
every download, and never follows a redirect to a refused host.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from .errors import brief
from .semver import Constraint, ConstraintError
from .yamlio import YamlLimits, load_untrusted

MAX_INDEX_BYTES = 64 * 1024 * 1024
# Bitnami's index, among the largest, holds about two million nodes; an alias bomb holds billions.
INDEX_LIMITS = YamlLimits(max_bytes=MAX_INDEX_BYTES, max_depth=64, max_nodes=20_000_000)
MAX_CHART_ARCHIVE_BYTES = 16 * 1024 * 1024
INDEX_TTL_SECONDS = 600.0


class FetchError(Exception):
    """A dependency could not be fetched; the message says why, in a few words."""


@dataclass(frozen=True, slots=True)
class FetchedChart:
    version: str
    archive: bytes


class DependencyFetcher(Protocol):
    def fetch(self, repository: str, name: str, version: str | None) -> FetchedChart:
        """The archive of `name` from `repository` satisfying `version` (a constraint)."""
        ...


Resolver = Callable[[str], list[str]]


def _resolve_host(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None)]


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, check: Callable[[str], None]) -> None:
        self._check = check

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]  # noqa: PLR0917 - urllib's signature
        self._check(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HttpRepositoryFetcher:
    """Thread-safe; index files are cached for ten minutes, archives by URL and digest."""

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        timeout_seconds: float = 20.0,
        allow_private_networks: bool = False,
        resolve_host: Resolver = _resolve_host,
        max_cached_indexes: int = 16,
    ) -> None:
        self._cache_dir = cache_dir
        self._timeout = timeout_seconds
        self._allow_private = allow_private_networks
        self._resolve = resolve_host
        self._indexes: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._max_indexes = max_cached_indexes
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(_RefuseRedirects(self._check_url))

    def fetch(self, repository: str, name: str, version: str | None) -> FetchedChart:
        base = repository.rstrip("/") + "/"
        entries = self._index(base).get("entries") or {}
        candidates = entries.get(name) if isinstance(entries, dict) else None
        if not isinstance(candidates, list) or not candidates:
            raise FetchError(f"the repository has no chart named '{name}'")
        by_version = {str(c.get("version")): c for c in candidates if isinstance(c, dict)}
        try:
            chosen = Constraint.parse(version or "*").best(list(by_version))
        except ConstraintError as exc:
            raise FetchError(str(exc)) from exc
        if chosen is None:
            raise FetchError(f"no version of '{name}' satisfies '{version}'")
        entry = by_version[chosen]
        urls = entry.get("urls")
        if not isinstance(urls, list) or not urls:
            raise FetchError(f"the index lists no download for {name} {chosen}")
        url = urllib.parse.urljoin(base, str(urls[0]))
        digest = str(entry.get("digest") or "").removeprefix("sha256:").lower() or None
        return FetchedChart(version=chosen, archive=self._archive(url, digest))

    def _index(self, base: str) -> dict[str, Any]:
        with self._lock:
            cached = self._indexes.get(base)
            if cached is not None and time.monotonic() - cached[0] < INDEX_TTL_SECONDS:
                self._indexes.move_to_end(base)
                return cached[1]
        raw = self._get(base + "index.yaml", MAX_INDEX_BYTES)
        try:
            index = load_untrusted(raw, INDEX_LIMITS)
        except yaml.YAMLError as exc:
            raise FetchError(f"the repository index is not valid YAML: {brief(exc)}") from exc
        if not isinstance(index, dict):
            raise FetchError("the repository index is not a YAML mapping")
        with self._lock:
            self._indexes[base] = (time.monotonic(), index)
            while len(self._indexes) > self._max_indexes:
                self._indexes.popitem(last=False)
        return index

    def _archive(self, url: str, digest: str | None) -> bytes:
        cached = self._cache_path(url, digest)
        if cached is not None and cached.exists():
            data = cached.read_bytes()
            if digest is None or hashlib.sha256(data).hexdigest() == digest:
                return data
        data = self._get(url, MAX_CHART_ARCHIVE_BYTES)
        if digest is not None and hashlib.sha256(data).hexdigest() != digest:
            raise FetchError("the downloaded archive does not match the digest in the index")
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{threading.get_ident()}.part")
            partial.write_bytes(data)
            partial.replace(cached)
        return data

    def _cache_path(self, url: str, digest: str | None) -> Path | None:
        if self._cache_dir is None:
            return None
        key = hashlib.sha256(f"{url}\0{digest}".encode()).hexdigest()
        return self._cache_dir / f"{key}.tgz"

    def _check_url(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise FetchError(f"'{parsed.scheme}' URLs are not fetched")
        if self._allow_private:
            return
        try:
            addresses = self._resolve(parsed.hostname)
        except OSError as exc:
            raise FetchError(f"cannot resolve {parsed.hostname}") from exc
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise FetchError(f"{parsed.hostname} is on a private network, which is not fetched")

    def _get(self, url: str, limit: int) -> bytes:
        self._check_url(url)
        request = urllib.request.Request(url, headers={"User-Agent": "chartimpact-bot"})
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                data: bytes = response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{_short(url)} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, FetchError):
                raise reason from exc
            raise FetchError(f"{_short(url)} is unreachable ({reason})") from exc
        if len(data) > limit:
            raise FetchError(f"{_short(url)} is larger than {limit // (1024 * 1024)} MB")
        return data


def _short(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.hostname}{parsed.path}"
