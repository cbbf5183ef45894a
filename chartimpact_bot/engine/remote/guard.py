"""HTTP(S) requests to hosts a pull request names, without reaching what it must not.

Every remote dependency (an HTTP repository's index and archives, an OCI registry, its token
realm, the object store its blobs redirect to) is fetched through one `GuardedClient`. By
default it refuses hosts that resolve to loopback, private or link-local addresses (no
server-side request forgery), caps every response in size and time, and never follows a
redirect to a refused host. A host is resolved once per request and the connection goes to the
addresses that were checked (TLS still verifies the certificate for the host's name), so a name
that answers a public address to the check and a private one a moment later (DNS rebinding)
gets nowhere. Proxies from the environment are not used: a proxy would resolve the name again,
out of our sight. An `Authorization` header goes to the origin it was meant for only: urllib's
redirect handler copies it to wherever a redirect points (a registry's blob redirects to object
storage on another host), so it is kept out of the copied headers and added back for a redirect
to the same scheme, host and port.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import FetchError

DOWNLOAD_SECONDS = 120.0
_READ_SIZE = 256 * 1024
MAX_ERROR_BODY_BYTES = 64 * 1024  # of a 4xx answer: only its headers are ever used

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


def is_refused(address: str) -> bool:
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


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what "the same server" means."""
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme.lower()
    port = parsed.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parsed.hostname or "").lower(), port


def short(url: str) -> str:
    """A URL as error messages show it: host and path, never credentials or a query (a signed
    object-storage URL carries its signature there)."""
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.hostname}{parsed.path}"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # http.client.HTTPMessage: case-insensitive
    body: bytes
    url: str  # after redirects


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
    """Only to http(s); the new host is checked and pinned when its request opens. Credentials
    (sent as an unredirected header, which urllib does not copy) follow a redirect only to the
    same origin."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]  # noqa: PLR0917 - urllib's signature
        scheme = urllib.parse.urlsplit(newurl).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"a redirect to a '{scheme}' URL is not followed")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        authorization = req.unredirected_hdrs.get("Authorization")
        if new is not None and authorization is not None and origin(newurl) == origin(req.full_url):
            new.add_unredirected_header("Authorization", authorization)
        return new


class _KeepErrors(urllib.request.HTTPErrorProcessor):
    """A 4xx or 5xx answer is returned, not raised: a registry's 401 carries the challenge the
    client answers. Redirects are still followed (the redirect handler sees 3xx first)."""

    def http_response(self, request, response):  # type: ignore[no-untyped-def]
        if 300 <= response.status < 400:
            return super().http_response(request, response)
        return response

    https_response = http_response


class GuardedClient:
    """Thread-safe: each request opens its own connection."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 20.0,
        download_seconds: float = DOWNLOAD_SECONDS,
        allow_private_networks: bool = False,
        resolve_host: Resolver = _resolve_host,
        connect: Connector = _create_connection,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`resolve_host`, `connect` and `tls` (the trusted certificates) are for tests; every
        response must arrive within `download_seconds`, each read within `timeout_seconds`."""
        self._timeout = timeout_seconds
        self._download_seconds = download_seconds
        self.allow_private_networks = allow_private_networks
        self._resolve = resolve_host
        self._connect = connect
        # Built by hand: no proxy, file, ftp or data handler, and every connection pinned.
        self._opener = urllib.request.OpenerDirector()
        for handler in (
            _PinnedHTTPHandler(self._pin),
            _PinnedHTTPSHandler(self._pin, tls or ssl.create_default_context()),
            _CheckedRedirects(),
            urllib.request.HTTPDefaultErrorHandler(),
            _KeepErrors(),
        ):
            self._opener.add_handler(handler)

    def get(self, url: str, limit: int, *, headers: Mapping[str, str] | None = None) -> bytes:
        """The body of a 200 answer, at most `limit` bytes; any other answer is a FetchError."""
        response = self.request(url, limit, headers=headers)
        if response.status != 200:
            raise FetchError(f"{short(url)} answered HTTP {response.status}")
        return response.body

    def request(
        self,
        url: str,
        limit: int,
        *,
        headers: Mapping[str, str] | None = None,
        authorization: str | None = None,
    ) -> Response:
        """GET `url`, whatever the answer's status (redirects followed, checked and pinned).
        `authorization` goes to `url`'s origin only, never to where it redirects elsewhere."""
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"'{scheme}' URLs are not fetched")
        request = urllib.request.Request(url, headers={"User-Agent": "chartimpact-bot", **(headers or {})})
        if authorization is not None:
            request.add_unredirected_header("Authorization", authorization)
        try:
            # The host is resolved, checked and pinned when the request opens (_pin), and so is
            # the host of each redirect; a refusal there comes out as the FetchError it is.
            with self._opener.open(request, timeout=self._timeout) as response:
                deadline = time.monotonic() + self._download_seconds
                if response.status >= 400:  # its text is never shown: the start is plenty
                    body = _read(response, MAX_ERROR_BODY_BYTES, deadline, url, truncate=True)
                else:
                    body = _read(response, limit, deadline, url)
                return Response(response.status, response.headers, body, response.geturl())
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:  # urllib's own refusal of a redirect loop or another scheme
                raise FetchError(f"{short(url)} redirects to a URL that is not followed") from exc
            raise FetchError(f"{short(url)} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, FetchError):
                raise reason from exc
            raise FetchError(f"{short(url)} is unreachable ({reason})") from exc

    def check_url(self, url: str) -> tuple[str, ...]:
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
        if not self.allow_private_networks and any(is_refused(address) for address in addresses):
            raise FetchError(f"{parsed.hostname} is on a private network, which is not fetched")
        return addresses

    def _pin(self, url: str) -> _Pinned:
        return _Pinned(self.check_url(url), self._connect)


def _read(
    response: http.client.HTTPResponse, limit: int, deadline: float, url: str, *, truncate: bool = False
) -> bytes:
    """The body, at most `limit` bytes (`truncate`: its first `limit` bytes), by the deadline.
    One socket read at a time, so a server that sends a byte now and then cannot hold the
    download past it."""
    too_large = FetchError(f"{short(url)} is larger than {limit // (1024 * 1024)} MB")
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit and not truncate:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(_READ_SIZE):
        size += len(chunk)
        if size > limit:
            if truncate:
                chunks.append(chunk[: len(chunk) - (size - limit)])
                break
            raise too_large
        if time.monotonic() > deadline:
            raise FetchError(f"{short(url)} took too long to download")
        chunks.append(chunk)
    return b"".join(chunks)
