"""Fetching remote chart dependencies from HTTP(S) Helm repositories.

`repository: https://…` dependencies are resolved like `helm dependency build`: the repository's
`index.yaml` lists each chart's versions; the highest version satisfying the constraint (or the
version pinned in Chart.lock) is downloaded, its sha256 digest checked against the index, and
the archive read with the same checks as any other (`archive.py`).

The repository URL comes from a pull request, so by default the fetcher refuses hosts that
resolve to loopback, private or link-local addresses (no server-side request forgery), caps
every download in size and time, and never follows a redirect to a refused host. A host is
resolved once per request and the connection goes to the addresses that were checked (TLS still
verifies the certificate for the host's name), so a name that answers a public address to the
check and a private one a moment later (DNS rebinding) gets nowhere. Proxies from the
environment are not used: a proxy would resolve the name again, out of our sight.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import ipaddress
import socket
import ssl
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

from ..core.errors import brief
from ..core.semver import Constraint, ConstraintError
from ..core.yamlio import YamlLimits, load_untrusted

MAX_INDEX_BYTES = 64 * 1024 * 1024
# Bitnami's index, among the largest, holds about two million nodes; an alias bomb holds billions.
INDEX_LIMITS = YamlLimits(max_bytes=MAX_INDEX_BYTES, max_depth=64, max_nodes=20_000_000)
MAX_CHART_ARCHIVE_BYTES = 16 * 1024 * 1024
INDEX_TTL_SECONDS = 600.0
DOWNLOAD_SECONDS = 120.0
_READ_SIZE = 256 * 1024


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
Connector = Callable[[tuple[str, int], float | None], socket.socket]
"""Opens a TCP connection to one (address, port); `socket.create_connection` by default."""


def _resolve_host(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


def _create_connection(address: tuple[str, int], timeout: float | None) -> socket.socket:
    return socket.create_connection(address, timeout)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _is_refused(address: str) -> bool:
    """Not a public address, or an IPv6 address that carries a non-public IPv4 one (mapped,
    compatible, 6to4, Teredo, NAT64): those reach the IPv4 address through a gateway."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return True
    if not ip.is_global:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return True
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return any(v4 is not None and not v4.is_global for v4 in embedded)
    return False


@dataclass(frozen=True, slots=True)
class _Pinned:
    """The checked addresses of one host, and how to connect to them."""

    addresses: tuple[str, ...]
    connect: Connector

    def open(self, port: int, timeout: float | None) -> socket.socket:
        error: OSError | None = None
        for address in self.addresses:
            try:
                return self.connect((address, port), timeout)
            except OSError as exc:
                error = exc
        raise error or OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, *, pinned: _Pinned, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._pinned = pinned

    def connect(self) -> None:
        self.sock = self._pinned.open(self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a checked address, with SNI and certificate verification for the URL's host."""

    def __init__(self, host: str, *, pinned: _Pinned, tls: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(host, context=tls, **kwargs)
        self._pinned = pinned
        self._tls = tls

    def connect(self) -> None:
        self.sock = self._tls.wrap_socket(self._pinned.open(self.port, self.timeout), server_hostname=self.host)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    """Every request, the first and each redirect, is checked and pinned right before it opens."""

    def __init__(self, pin: Callable[[str], _Pinned]) -> None:
        super().__init__()
        self._pin = pin

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_PinnedHTTPConnection, pinned=self._pin(req.full_url)), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, pin: Callable[[str], _Pinned], tls: ssl.SSLContext) -> None:
        super().__init__(context=tls)
        self._pin = pin
        self._tls = tls

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_PinnedHTTPSConnection, pinned=self._pin(req.full_url), tls=self._tls)
        return self.do_open(connection, req)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Only to http(s); the new host is checked and pinned when its request opens."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]  # noqa: PLR0917 - urllib's signature
        scheme = urllib.parse.urlsplit(newurl).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"a redirect to a '{scheme}' URL is not followed")
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
        connect: Connector = _create_connection,
        tls: ssl.SSLContext | None = None,
        download_seconds: float = DOWNLOAD_SECONDS,
        max_cached_indexes: int = 16,
    ) -> None:
        """`resolve_host`, `connect` and `tls` (the trusted certificates) are for tests; every
        download must finish within `download_seconds`, each read within `timeout_seconds`."""
        self._cache_dir = cache_dir
        self._timeout = timeout_seconds
        self._download_seconds = download_seconds
        self._allow_private = allow_private_networks
        self._resolve = resolve_host
        self._connect = connect
        self._indexes: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._max_indexes = max_cached_indexes
        self._lock = threading.Lock()
        # Built by hand: no proxy, file, ftp or data handler, and every connection pinned.
        self._opener = urllib.request.OpenerDirector()
        for handler in (
            _PinnedHTTPHandler(self._pin),
            _PinnedHTTPSHandler(self._pin, tls or ssl.create_default_context()),
            _CheckedRedirects(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            self._opener.add_handler(handler)

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

    def _check_url(self, url: str) -> tuple[str, ...]:
        """The addresses `url`'s host resolves to, once, each of them checked."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise FetchError(f"'{parsed.scheme}' URLs are not fetched")
        try:
            addresses = tuple(self._resolve(parsed.hostname))
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"cannot resolve {parsed.hostname}") from exc
        if not addresses:
            raise FetchError(f"cannot resolve {parsed.hostname}")
        if not self._allow_private and any(_is_refused(address) for address in addresses):
            raise FetchError(f"{parsed.hostname} is on a private network, which is not fetched")
        return addresses

    def _pin(self, url: str) -> _Pinned:
        return _Pinned(self._check_url(url), self._connect)

    def _get(self, url: str, limit: int) -> bytes:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"'{scheme}' URLs are not fetched")
        request = urllib.request.Request(url, headers={"User-Agent": "chartimpact-bot"})
        try:
            # The host is resolved, checked and pinned when the request opens (_pin), and so is
            # the host of each redirect; a refusal there comes out as the FetchError it is.
            with self._opener.open(request, timeout=self._timeout) as response:
                return _read(response, limit, time.monotonic() + self._download_seconds, url)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:  # urllib's own refusal of a redirect to another scheme
                raise FetchError(f"{_short(url)} redirects to a URL that is not followed") from exc
            raise FetchError(f"{_short(url)} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, FetchError):
                raise reason from exc
            raise FetchError(f"{_short(url)} is unreachable ({reason})") from exc


def _read(response: http.client.HTTPResponse, limit: int, deadline: float, url: str) -> bytes:
    """The body, at most `limit` bytes, by the deadline. One socket read at a time, so a
    server that sends a byte now and then cannot hold the download past it."""
    too_large = FetchError(f"{_short(url)} is larger than {limit // (1024 * 1024)} MB")
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(_READ_SIZE):
        size += len(chunk)
        if size > limit:
            raise too_large
        if time.monotonic() > deadline:
            raise FetchError(f"{_short(url)} took too long to download")
        chunks.append(chunk)
    return b"".join(chunks)


def _short(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.hostname}{parsed.path}"
