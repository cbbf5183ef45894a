"""Fetching remote chart dependencies from HTTP(S) Helm repositories.

`repository: https://…` dependencies are resolved like `helm dependency build`: the repository's
`index.yaml` lists each chart's versions; the highest version satisfying the constraint (or the
version pinned in Chart.lock) is downloaded, its sha256 digest checked against the index, and
the archive read with the same checks as any other (`archive.py`).

Every request goes through the SSRF guard (guard.py). Credentials configured for a URL prefix
(credentials.py) are sent with the requests whose own URL matches it: the index, and archives
listed under the same prefix; an archive the index places on another host gets that host's
credentials or none (Helm, too, passes credentials to the repository's own host only), and no
redirect carries them elsewhere. Archives are cached on disk by the digest the index gives
(cache.py) and verified when read back; one listed without a digest is not cached.
"""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.parse
from collections import OrderedDict
from pathlib import Path
from typing import Any

import yaml

from ...core.errors import brief
from ...core.semver import Constraint, ConstraintError
from ...core.yamlio import YamlLimits, load_untrusted
from .cache import ArchiveCache
from .credentials import NO_CREDENTIALS, RepositoryCredentials
from .errors import FetchedChart, FetchError
from .guard import DOWNLOAD_SECONDS, Connector, GuardedClient, Resolver, _create_connection, _resolve_host, short

MAX_INDEX_BYTES = 64 * 1024 * 1024
# Bitnami's index, among the largest, holds about two million nodes; an alias bomb holds billions.
INDEX_LIMITS = YamlLimits(max_bytes=MAX_INDEX_BYTES, max_depth=64, max_nodes=20_000_000)
MAX_CHART_ARCHIVE_BYTES = 16 * 1024 * 1024
INDEX_TTL_SECONDS = 600.0


class HttpRepositoryFetcher:
    """Thread-safe; index files are cached in memory for ten minutes, archives on disk by digest."""

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        cache: ArchiveCache | None = None,
        credentials: RepositoryCredentials = NO_CREDENTIALS,
        client: GuardedClient | None = None,
        timeout_seconds: float = 20.0,
        allow_private_networks: bool = False,
        resolve_host: Resolver = _resolve_host,
        connect: Connector = _create_connection,
        tls: Any = None,
        download_seconds: float = DOWNLOAD_SECONDS,
        max_cached_indexes: int = 16,
    ) -> None:
        """`client` is the guarded HTTP client to use; without one, one is built from the
        arguments after it (`resolve_host`, `connect` and `tls` are for tests)."""
        self.client = client or GuardedClient(
            timeout_seconds=timeout_seconds,
            download_seconds=download_seconds,
            allow_private_networks=allow_private_networks,
            resolve_host=resolve_host,
            connect=connect,
            tls=tls,
        )
        self._cache = cache or (ArchiveCache(cache_dir) if cache_dir is not None else None)
        self._credentials = credentials
        self._indexes: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._max_indexes = max_cached_indexes
        self._lock = threading.Lock()

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
        if digest is not None and self._cache is not None and (cached := self._cache.get(digest)) is not None:
            return cached
        data = self._get(url, MAX_CHART_ARCHIVE_BYTES)
        if digest is not None and hashlib.sha256(data).hexdigest() != digest:
            raise FetchError("the downloaded archive does not match the digest in the index")
        if digest is not None and self._cache is not None:
            self._cache.put(digest, data)
        return data

    def _get(self, url: str, limit: int) -> bytes:
        credential = self._credentials.for_url(url)
        response = self.client.request(url, limit, authorization=credential.authorization if credential else None)
        if response.status == 401:
            why = "none are configured for it" if credential is None else "the configured ones were refused"
            raise FetchError(f"{short(url)} answered 401: credentials are needed, and {why}")
        if response.status != 200:
            raise FetchError(f"{short(url)} answered HTTP {response.status}")
        return response.body
