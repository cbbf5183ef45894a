"""A real OCI registry for the tests: Debian's `docker-registry` (the CNCF distribution server)
on a free loopback port, with its storage in a temporary directory, and a small client that
pushes Helm charts to it through the distribution API (blob upload, manifest PUT) as `helm push`
does. The client is the test's own: the code under test only ever pulls."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.jobs.redis_server import free_port, wait_until_up

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
HELM_CONFIG_TYPE = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or shutil.which("registry")


@dataclass(frozen=True, slots=True)
class Registry:
    """A running registry: `host` is 127.0.0.1:PORT; `root` its storage on disk."""

    host: str
    root: Path
    username: str | None = None
    password: str | None = None
    token_url: str | None = None  # `auth: token`: where the test's own client gets push tokens

    @property
    def url(self) -> str:
        return f"http://{self.host}"


@contextlib.contextmanager
def registry(workdir: Path, auth: dict[str, Any] | None = None, **identity: Any) -> Iterator[Registry]:
    """Start a registry (its `auth:` section as given, e.g. htpasswd or token) and stop it on exit."""
    binary = registry_binary()
    if binary is None:
        raise FileNotFoundError("docker-registry is not on PATH (apt-get install docker-registry)")
    port = free_port()
    root = workdir / "storage"
    root.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "a test secret"},
    }
    if auth is not None:
        config["auth"] = auth
    config_file = workdir / "config.yml"
    config_file.write_text(yaml.safe_dump(config))
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config_file)], stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(process, port, workdir / "registry.log")
        yield Registry(host=f"127.0.0.1:{port}", root=root, **identity)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_for(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=0.5):
                return True
        except urllib.error.HTTPError:  # 401 from an authenticating registry: it is up
            return True

    wait_until_up(
        process,
        answers,
        seconds=15,
        failure=lambda: f"docker-registry did not start on port {port}: {log.read_text()[-2000:]}",
    )


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Pusher:
    """Pushes to one registry as its owner: basic credentials, or tokens from the test's realm."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self._authorization: str | None = None

    def push_chart(self, repository: str, tag: str, archive: bytes, *, config: bytes | None = None) -> str:
        """Push `archive` as a Helm chart `repository:tag`; the manifest's digest."""
        config = config if config is not None else json.dumps({"name": repository.rsplit("/", 1)[-1]}).encode()
        self.push_blob(repository, config)
        self.push_blob(repository, archive)
        return self.push_manifest(repository, tag, helm_manifest(config, archive))

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        started = self._request("POST", f"/v2/{repository}/blobs/uploads/", repository)
        location = urllib.parse.urljoin(self.reg.url, started.headers["Location"])
        separator = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{separator}digest={urllib.parse.quote(digest)}",
            repository,
            data,
            {"Content-Type": "application/octet-stream"},
        )
        return digest

    def push_manifest(
        self, repository: str, tag: str, manifest: dict[str, Any], media_type: str = MANIFEST_TYPE
    ) -> str:
        body = json.dumps(manifest).encode()
        self._request("PUT", f"/v2/{repository}/manifests/{tag}", repository, body, {"Content-Type": media_type})
        return digest_of(body)

    def _request(
        self, method: str, path: str, repository: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        url = path if path.startswith("http") else self.reg.url + path
        for attempt in range(2):
            request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
            if self._authorization:
                request.add_header("Authorization", self._authorization)
            try:
                return urllib.request.urlopen(request, timeout=10)
            except urllib.error.HTTPError as exc:
                if exc.code != 401 or attempt:
                    raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc
                self._authorization = self._authenticate(repository)
        raise AssertionError("unreachable")

    def _authenticate(self, repository: str) -> str:
        basic = base64.b64encode(f"{self.reg.username}:{self.reg.password}".encode()).decode()
        if self.reg.token_url is None:
            return f"Basic {basic}"
        query = urllib.parse.urlencode({"scope": f"repository:{repository}:pull,push", "service": "test-registry"})
        request = urllib.request.Request(f"{self.reg.token_url}?{query}", headers={"Authorization": f"Basic {basic}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return f"Bearer {json.load(response)['token']}"


def helm_manifest(config: bytes, archive: bytes, *, layer_digest: str | None = None) -> dict[str, Any]:
    """The manifest `helm push` writes (`layer_digest`: claim another digest for the chart)."""
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": HELM_CONFIG_TYPE, "digest": digest_of(config), "size": len(config)},
        "layers": [
            {"mediaType": HELM_LAYER_TYPE, "digest": layer_digest or digest_of(archive), "size": len(archive)},
        ],
    }


def blob_file(reg: Registry, digest: str) -> Path:
    """Where the filesystem driver keeps a blob's bytes (to tamper with them)."""
    hex_digest = digest.removeprefix("sha256:")
    return reg.root / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"


# --- a token realm (`auth: token`) ------------------------------------------------------------


@dataclass
class TokenService:
    """The registry's token realm: grants what is asked to `users`, and nothing to anyone else.
    Tokens are JWTs signed with a test RSA key whose self-signed certificate is the registry's
    `rootcertbundle` (the `x5c` header carries it, which is how distribution finds the key)."""

    url: str
    certificate_file: Path
    seen: list[dict[str, str | None]]  # each request: its scope and Authorization header


@contextlib.contextmanager
def token_service(workdir: Path, users: dict[str, str], *, issuer: str = "test-issuer") -> Iterator[TokenService]:
    import datetime  # noqa: PLC0415
    import http.server  # noqa: PLC0415
    import threading  # noqa: PLC0415
    import uuid  # noqa: PLC0415

    import jwt  # noqa: PLC0415
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token issuer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file = workdir / "token-issuer.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    seen: list[dict[str, str | None]] = []
    accepted = {f"Basic {base64.b64encode(f'{u}:{p}'.encode()).decode()}": u for u, p in users.items()}

    class Realm(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            authorization = self.headers.get("Authorization")
            scopes = query.get("scope")
            seen.append({"scope": scopes[0] if scopes else None, "authorization": authorization})
            user = accepted.get(authorization or "")
            if user is None:
                self.send_response(401)
                self.end_headers()
                return
            access = []
            for scope in query.get("scope", []):
                kind, repository, actions = scope.split(":")
                access.append({"type": kind, "name": repository, "actions": actions.split(",")})
            issued = int(time.time())
            claims = {
                "iss": issuer,
                "sub": user,
                "aud": (query.get("service") or [""])[0],
                "exp": issued + 300,
                "nbf": issued - 10,
                "iat": issued,
                "jti": uuid.uuid4().hex,
                "access": access,
            }
            token = jwt.encode(claims, key, algorithm="RS256", headers={"x5c": [x5c]})
            body = json.dumps({"token": token, "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Realm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TokenService(f"http://127.0.0.1:{server.server_address[1]}/token", certificate_file, seen)
    finally:
        server.shutdown()
        server.server_close()


def token_auth(service: TokenService, *, issuer: str = "test-issuer") -> dict[str, Any]:
    """The registry's `auth:` section for `service`."""
    return {
        "token": {
            "realm": service.url,
            "service": "test-registry",
            "issuer": issuer,
            "rootcertbundle": str(service.certificate_file),
        }
    }


def htpasswd_auth(workdir: Path, users: dict[str, str]) -> dict[str, Any]:
    """The registry's `auth:` section for basic authentication of `users` (bcrypt, as it requires)."""
    import bcrypt  # noqa: PLC0415

    path = workdir / "htpasswd"
    path.write_text(
        "".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n" for u, p in users.items())
    )
    return {"htpasswd": {"realm": "test-registry", "path": str(path)}}


def require_registry() -> None:
    """Skip (or, in CI, fail) a test that needs docker-registry when it is not installed, as the
    redis tests do: `make services` installs it."""
    import os  # noqa: PLC0415

    import pytest  # noqa: PLC0415

    if registry_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("docker-registry is not on PATH: .ci/run installs it (apt-get install docker-registry)")
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")


def versioned_chart(name: str, version: str, template: str) -> bytes:
    """A chart archive `name` at `version` with one template, as `helm package` would make it."""
    from tests.test_charts import raw_archive  # noqa: PLC0415

    return raw_archive(
        {
            f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n".encode(),
            f"{name}/templates/cm.yaml": template.encode(),
        }
    )
