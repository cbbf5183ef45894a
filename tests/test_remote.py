"""Remote dependencies from an HTTP Helm repository served on loopback for the test."""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import http.server
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chartimpact_bot.engine.pipeline import PipelineOptions
from chartimpact_bot.engine.remote import FetchError, HttpRepositoryFetcher, guard, http_repository
from tests.conftest import diff_dirs, make_chart, only_chart, resource
from tests.test_charts import chart_archive

SUB_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-remote}\ndata: {version: '%s'}\n"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Helm repository with redis 0.1.0 and 0.1.5 (and a tampered 0.2.0), over HTTP."""
    root = tmp_path / "repo"
    root.mkdir()
    entries = []
    for version in ("0.1.0", "0.1.5", "0.2.0"):
        data = chart_archive("redis", {"templates/cm.yaml": SUB_CM % version}).replace(
            b"version: 0.1.0", f"version: {version}".encode()
        )
        (root / f"redis-{version}.tgz").write_bytes(data)
        digest = hashlib.sha256(data).hexdigest() if version != "0.2.0" else "0" * 64
        entries.append(
            {
                "name": "redis",
                "version": version,
                "urls": [f"redis-{version}.tgz"],
                "digest": digest,
            }
        )
    (root / "index.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "entries": {"redis": entries}}))
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def _app(root: Path, repo_url: str, version: str, lock: str | None = None) -> Path:
    extra = f"dependencies:\n  - name: redis\n    version: '{version}'\n    repository: {repo_url}\n"
    files = {"Chart.lock": lock} if lock else None
    return make_chart(
        root,
        "app",
        {"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"},
        chart_extra=extra,
        extra_files=files,
    )


def _options(options: PipelineOptions, **kwargs: object) -> PipelineOptions:
    from dataclasses import replace  # noqa: PLC0415

    return replace(options, fetcher=HttpRepositoryFetcher(**kwargs))  # type: ignore[arg-type]


def test_remote_dependency_is_fetched_at_the_highest_matching_version(
    tmp_path: Path, options: PipelineOptions, repository: tuple[str, Path]
) -> None:
    url, _ = repository
    base = _app(tmp_path / "base", url, "0.1.0")
    head = _app(tmp_path / "head", url, "0.1.*")
    report = diff_dirs(base, head, _options(options, allow_private_networks=True))
    chart = only_chart(report)
    assert chart.warnings == ()
    cm = resource(chart, "ConfigMap", "from-remote")
    assert cm.resource.source == "app/charts/redis/templates/cm.yaml"
    assert [(c.display_path, c.before, c.after) for c in cm.changes] == [("data.version", "0.1.0", "0.1.5")]


def test_chart_lock_pins_the_version(tmp_path: Path, options: PipelineOptions, repository: tuple[str, Path]) -> None:
    url, _ = repository
    lock = f"dependencies:\n- name: redis\n  repository: {url}\n  version: 0.1.0\n"
    base = _app(tmp_path / "base", url, "0.1.*", lock=lock)
    head = _app(tmp_path / "head", url, "0.1.*")
    chart = only_chart(diff_dirs(base, head, _options(options, allow_private_networks=True)))
    cm = resource(chart, "ConfigMap", "from-remote")
    assert [(c.before, c.after) for c in cm.changes] == [("0.1.0", "0.1.5")]


def test_tampered_archive_and_unknown_versions_are_warnings(
    tmp_path: Path, options: PipelineOptions, repository: tuple[str, Path]
) -> None:
    url, _ = repository
    base = _app(tmp_path / "base", url, "9.9.9")
    head = _app(tmp_path / "head", url, "0.2.0")
    report = diff_dirs(base, head, _options(options, allow_private_networks=True))
    chart = only_chart(report)
    assert chart.status == "analyzed"
    assert chart.warnings == (
        f"dependency 'redis' of chart 'app' ({url}) could not be fetched: no version of 'redis' "
        "satisfies '9.9.9'; rendered without it",
        f"dependency 'redis' of chart 'app' ({url}) could not be fetched: the downloaded archive "
        "does not match the digest in the index; rendered without it",
    )


def test_private_network_repositories_are_refused_by_default(
    tmp_path: Path, options: PipelineOptions, repository: tuple[str, Path]
) -> None:
    url, _ = repository
    base = _app(tmp_path / "base", url, "0.1.0")
    chart = only_chart(diff_dirs(base, base, _options(options)))
    assert chart.warnings == (
        f"dependency 'redis' of chart 'app' ({url}) could not be fetched: 127.0.0.1 is on a "
        "private network, which is not fetched; rendered without it",
    )


def test_address_checks_cover_every_resolved_address() -> None:
    fetcher = HttpRepositoryFetcher(
        resolve_host=lambda host: {
            "charts.example.com": ["93.184.216.34"],
            "sneaky.example.com": ["93.184.216.34", "169.254.169.254"],
        }[host]
    )
    fetcher.client.check_url("https://charts.example.com/index.yaml")
    with pytest.raises(FetchError, match=r"sneaky\.example\.com is on a private network"):
        fetcher.client.check_url("https://sneaky.example.com/index.yaml")
    with pytest.raises(FetchError, match="'file' URLs are not fetched"):
        fetcher.client.check_url("file:///etc/passwd")


def test_alias_repositories_are_warnings(tmp_path: Path, options: PipelineOptions) -> None:
    chart_dir = _app(tmp_path / "a", "'@stable'", "1.0.0")
    chart = only_chart(diff_dirs(chart_dir, chart_dir, _options(options)))
    assert chart.warnings == (
        "dependency 'redis' of chart 'app' (@stable) could not be fetched: a repository alias "
        "cannot be resolved here; rendered without it",
    )


def test_downloads_are_cached_on_disk(tmp_path: Path, repository: tuple[str, Path]) -> None:
    url, root = repository
    fetcher = HttpRepositoryFetcher(cache_dir=tmp_path / "cache", allow_private_networks=True)
    first = fetcher.fetch(url, "redis", "0.1.5")
    (root / "redis-0.1.5.tgz").unlink()
    assert (
        HttpRepositoryFetcher(cache_dir=tmp_path / "cache", allow_private_networks=True).fetch(url, "redis", "0.1.5")
        == first
    )


# --- DNS rebinding, redirects, TLS and size limits ------------------------------------------
# Every server here listens on loopback; "public" addresses are never connected to: the
# `socket` functions are patched so that 93.184.216.34 lands on a loopback stand-in.

PUBLIC = "93.184.216.34"


class _Recording(http.server.BaseHTTPRequestHandler):
    """Answers from `self.server.routes` (path -> (status, headers, body)) and records requests."""

    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        server: Any = self.server
        server.seen.append((self.path, self.headers.get("Host")))
        status, headers, body = server.routes.get(self.path, (404, {}, b"not here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if callable(body):
            body(self.wfile)
        else:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _server(routes: dict[str, Any], tls: ssl.SSLContext | None = None) -> Iterator[Any]:
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    server.routes, server.seen = routes, []
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _port(server: Any) -> int:
    return int(server.server_address[1])


def _network(monkeypatch: pytest.MonkeyPatch, public: Any, system_answers: dict[str, str]) -> list[tuple[str, int]]:
    """The machine's view of the network: the system resolver answers `system_answers` (the
    rebound names), and connections to PUBLIC reach the `public` stand-in. Returns the
    (address, port) of every connection made."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection
    connections: list[tuple[str, int]] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo(system_answers.get(host, host), port, *args, **kwargs)

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        connections.append(address)
        if address[0] == PUBLIC:
            return real_connect(("127.0.0.1", _port(public)), *args, **kwargs)
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return connections


def _index_routes(repository_root: Path) -> dict[str, Any]:
    return {
        f"/{path.name}": (200, {"Content-Length": str(path.stat().st_size)}, path.read_bytes())
        for path in repository_root.iterdir()
    }


def test_a_name_rebound_to_loopback_after_the_check_is_not_reached(
    monkeypatch: pytest.MonkeyPatch, repository: tuple[str, Path]
) -> None:
    _, root = repository
    answers = iter([[PUBLIC]])
    with _server(_index_routes(root)) as public, _server(_index_routes(root)) as internal:
        url = f"http://charts.example.com:{_port(internal)}/"
        connections = _network(monkeypatch, public, {"charts.example.com": "127.0.0.1"})
        fetcher = HttpRepositoryFetcher(resolve_host=lambda host: next(answers, ["127.0.0.1"]))
        with pytest.raises(FetchError, match=r"^charts\.example\.com is on a private network"):
            fetcher.fetch(url, "redis", "0.1.5")
        assert internal.seen == []
        # The index came from the checked address, asked for by its name; the archive's
        # request resolved again, saw loopback and was refused before connecting.
        assert public.seen == [("/index.yaml", f"charts.example.com:{_port(internal)}")]
        assert connections == [(PUBLIC, _port(internal))]


def test_a_download_goes_to_the_checked_address_however_the_system_resolves_the_name(
    monkeypatch: pytest.MonkeyPatch, repository: tuple[str, Path]
) -> None:
    _, root = repository
    with _server(_index_routes(root)) as public, _server(_index_routes(root)) as internal:
        url = f"http://charts.example.com:{_port(internal)}/"
        connections = _network(monkeypatch, public, {"charts.example.com": "127.0.0.1"})
        fetched = HttpRepositoryFetcher(resolve_host=lambda host: [PUBLIC]).fetch(url, "redis", "0.1.5")
        assert fetched.version == "0.1.5"
        assert internal.seen == []
        assert [path for path, _ in public.seen] == ["/index.yaml", "/redis-0.1.5.tgz"]
        assert connections == [(PUBLIC, _port(internal))] * 2


def test_redirects_are_checked_and_pinned_the_same_way(
    monkeypatch: pytest.MonkeyPatch, repository: tuple[str, Path]
) -> None:
    _, root = repository
    with _server({}) as public, _server(_index_routes(root)) as internal:
        port = _port(internal)
        public.routes["/to-internal/index.yaml"] = (
            302,
            {"Location": f"http://internal.example.com:{port}/index.yaml"},
            b"",
        )
        public.routes["/to-rebound/index.yaml"] = (
            302,
            {"Location": f"http://rebound.example.com:{port}/index.yaml"},
            b"",
        )
        public.routes["/to-file/index.yaml"] = (302, {"Location": "file:///etc/passwd"}, b"")
        public.routes["/index.yaml"] = _index_routes(root)["/index.yaml"]
        connections = _network(monkeypatch, public, {"rebound.example.com": "127.0.0.1"})
        names = {"charts.example.com": [PUBLIC], "internal.example.com": ["127.0.0.1"], "rebound.example.com": [PUBLIC]}
        fetcher = HttpRepositoryFetcher(resolve_host=names.__getitem__)
        base = f"http://charts.example.com:{port}"
        with pytest.raises(FetchError, match=r"^internal\.example\.com is on a private network"):
            fetcher.fetch(f"{base}/to-internal/", "redis", "0.1.5")
        with pytest.raises(
            FetchError, match=r"^charts\.example\.com/to-file/index\.yaml redirects to a URL that is not followed$"
        ):
            fetcher.fetch(f"{base}/to-file/", "redis", "0.1.5")
        with pytest.raises(FetchError, match="no chart named 'nope'"):
            fetcher.fetch(f"{base}/to-rebound/", "nope", None)  # the index was read, from the stand-in
        assert internal.seen == []
        assert ("/index.yaml", f"rebound.example.com:{port}") in public.seen
        assert {address for address, _ in connections} == {PUBLIC}


def test_private_repositories_when_allowed_still_connect_where_the_name_was_resolved(
    repository: tuple[str, Path],
) -> None:
    url, _ = repository
    fetcher = HttpRepositoryFetcher(allow_private_networks=True, resolve_host=lambda host: ["127.0.0.1"])
    port = urllib.parse.urlsplit(url).port
    assert fetcher.fetch(f"http://charts.internal.test:{port}/", "redis", "0.1.5").version == "0.1.5"


def _certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for `name`, and a client trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_tls_to_the_checked_address_verifies_the_certificate_of_the_name(
    tmp_path: Path, repository: tuple[str, Path]
) -> None:
    _, root = repository
    server_tls, client_tls = _certificate(tmp_path, "charts.example.com")
    with _server(_index_routes(root), tls=server_tls) as server:
        fetcher = HttpRepositoryFetcher(
            allow_private_networks=True, resolve_host=lambda host: ["127.0.0.1"], tls=client_tls
        )
        fetched = fetcher.fetch(f"https://charts.example.com:{_port(server)}/", "redis", "0.1.5")
        assert fetched.version == "0.1.5"
        assert server.seen[0] == ("/index.yaml", f"charts.example.com:{_port(server)}")
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            fetcher.fetch(f"https://other.example.com:{_port(server)}/", "redis", "0.1.5")


def _drip(count: int, pause: float) -> Any:
    def write(out: Any) -> None:
        with contextlib.suppress(OSError):
            for _ in range(count):
                out.write(b"#")
                out.flush()
                time.sleep(pause)

    return write


def test_downloads_are_bounded_in_size_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_repository, "MAX_INDEX_BYTES", 1000)
    routes = {
        "/announced/index.yaml": (200, {"Content-Length": "5000"}, b"#" * 5000),
        "/unannounced/index.yaml": (200, {}, b"#" * 5000),
        "/slow/index.yaml": (200, {}, _drip(50, 0.02)),
    }
    with _server(routes) as server:
        fetcher = HttpRepositoryFetcher(allow_private_networks=True, download_seconds=0.3)
        base = f"http://127.0.0.1:{_port(server)}"
        for path in ("announced", "unannounced"):
            with pytest.raises(FetchError, match=r"index\.yaml is larger than 0 MB$"):
                fetcher.fetch(f"{base}/{path}/", "redis", None)
        with pytest.raises(FetchError, match=r"index\.yaml took too long to download$"):
            fetcher.fetch(f"{base}/slow/", "redis", None)


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("fd00:ec2::254", True),
        ("::ffff:127.0.0.1", True),
        ("::127.0.0.1", True),
        ("64:ff9b::a9fe:a9fe", True),
        ("64:ff9b::5db8:d822", False),
        ("2002:a9fe:a9fe::1", True),
        ("not an address", True),
    ],
)
def test_which_addresses_are_refused(address: str, refused: bool) -> None:
    assert guard.is_refused(address) is refused


def test_the_index_is_read_with_the_bounded_yaml_loader() -> None:
    routes: dict[str, Any] = {"/index.yaml": (200, {}, b"entries: " + b"[" * 10_000 + b"]" * 10_000 + b"\n")}
    with _server(routes) as server:
        fetcher = HttpRepositoryFetcher(allow_private_networks=True)
        with pytest.raises(FetchError, match="not valid YAML: the document nests deeper than 64 levels"):
            fetcher.fetch(f"http://127.0.0.1:{_port(server)}/", "redis", None)
