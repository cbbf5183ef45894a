"""Private repository credentials (CHARTIMPACT_REPOSITORY_CREDENTIALS): the file, prefix matching,
masking; the archive cache; credentials on redirects; HTTP repositories that need credentials."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chartimpact_bot.cli import main
from chartimpact_bot.core.errors import ConfigError
from chartimpact_bot.engine.remote import GuardedClient, HttpRepositoryFetcher, RepositoryAccess
from chartimpact_bot.engine.remote.cache import ArchiveCache
from chartimpact_bot.engine.remote.credentials import Credential, RepositoryCredentials, parse_credentials
from chartimpact_bot.engine.remote.errors import FetchError
from chartimpact_bot.jobs.analysis_process import WorkerOptions
from chartimpact_bot.settings import SettingsError, load_settings
from tests.conftest import make_chart
from tests.test_charts import chart_archive

SECRET = "hunter2-do-not-show"


def _parse(text: str, env: dict[str, str] | None = None) -> RepositoryCredentials:
    return parse_credentials(text.encode(), env or {}, label="credentials")


# --- the file ----------------------------------------------------------------------------------


def test_the_file_gives_basic_and_bearer_credentials_from_values_or_the_environment() -> None:
    credentials = _parse(
        f"""
        repositories:
          - url: https://charts.example.com/private
            username: ci
            password: {SECRET}
          - url: oci://registry.example.com/team
            username: robot
            passwordEnv: REGISTRY_PASSWORD
          - url: https://charts.internal.example
            tokenEnv: CHARTS_TOKEN
        """.replace("\n        ", "\n"),
        {"REGISTRY_PASSWORD": "from-env", "CHARTS_TOKEN": "tok"},
    )
    first, second, third = credentials.entries
    assert first.basic == "Basic " + base64.b64encode(f"ci:{SECRET}".encode()).decode()
    assert (second.username, second.password) == ("robot", "from-env")
    assert third.authorization == "Bearer tok"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("repositories: {}\n", "must be a mapping with one key, 'repositories', holding a list"),
        ("other: []\n", "must be a mapping with one key"),
        ("repositories:\n  - username: a\n    password: b\n", "repository 1 has no url"),
        ("repositories:\n  - url: ftp://x.example\n    token: t\n", "the url must be http://, https:// or oci://"),
        ("repositories:\n  - url: https://u:p@x.example\n    token: t\n", "no user info"),
        ("repositories:\n  - url: https://x.example/a/../b\n    token: t\n", "dot segments"),
        ("repositories:\n  - url: https://x.example/?a=1\n    token: t\n", "has a query or fragment"),
        ("repositories:\n  - url: https://x.example\n    username: a\n", "give username and password"),
        ("repositories:\n  - url: https://x.example\n    username: a\n    password: b\n    token: t\n", "not both"),
        ("repositories:\n  - url: https://x.example\n    token: t\n    tokenEnv: T\n", "give token or tokenEnv"),
        (
            "repositories:\n  - url: https://x.example\n    tokenEnv: UNSET_VARIABLE\n",
            "UNSET_VARIABLE, which is not set",
        ),
        ("repositories:\n  - url: https://x.example\n    token: 12345\n", "token must be a non-empty string"),
        ('repositories:\n  - url: https://x.example\n    token: "a\\nb"\n', "line break or control character"),
        ("repositories:\n  - url: https://x.example\n    username: 'a:b'\n    password: p\n", "colon"),
        ("repositories:\n  - url: https://x.example\n    token: t\n    pasword: p\n", "unknown keys (pasword)"),
        (
            "repositories:\n  - url: https://x.example/a\n    token: t\n  - url: HTTPS://X.example:443/a/\n    token: u\n",
            "repositories 1 and 2 have the same url",
        ),
    ],
)
def test_a_malformed_file_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        _parse(text)


def test_no_problem_quotes_a_secret() -> None:
    broken = f'repositories:\n  - url: https://x.example\n    password: "{SECRET}\n    username: [\n'
    for text in (broken, f"repositories:\n  - url: https://x.example\n    password: {SECRET}\n"):
        with pytest.raises(ConfigError) as problem:
            _parse(text)
        assert SECRET not in str(problem.value)
    with pytest.raises(ConfigError, match=r"is not valid YAML \(line \d+, column \d+\)$"):
        _parse(broken)


def test_credentials_are_masked_in_every_repr() -> None:
    credentials = _parse(f"repositories:\n  - url: https://x.example\n    username: u\n    password: {SECRET}\n")
    access = RepositoryAccess(credentials=credentials)
    shown = [repr(credentials), repr(credentials.entries[0]), repr(access), repr(WorkerOptions(repositories=access))]
    assert all(SECRET not in text for text in shown)
    assert repr(credentials.entries[0]) == "Credential(url='https://x.example', basic, ***)"


# --- prefix matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "matched"),
    [
        ("https://charts.example.com/index.yaml", "https://charts.example.com"),
        ("https://charts.example.com:443/index.yaml", "https://charts.example.com"),
        ("https://CHARTS.example.com/index.yaml", "https://charts.example.com"),
        ("https://charts.example.com/private/index.yaml", "https://charts.example.com/private"),
        ("https://charts.example.com/private", "https://charts.example.com/private"),
        ("https://charts.example.com/private-other/index.yaml", "https://charts.example.com"),
        ("https://charts.example.com.evil.io/index.yaml", None),
        ("https://charts.example.com:444/index.yaml", None),
        ("http://charts.example.com/index.yaml", None),
        ("https://evil.io/charts.example.com/index.yaml", None),
        ("https://user:pw@charts.example.com/index.yaml", None),
        ("https://charts.example.com/private/../index.yaml", None),
        ("https://charts.example.com/private/%2e%2e/index.yaml", None),
        ("oci://registry.example.com/team/common", "oci://registry.example.com/team"),
        ("oci://registry.example.com/team2/common", None),
        ("oci://registry.example.com:5000/team/common", None),
    ],
)
def test_the_longest_prefix_on_a_boundary_matches(url: str, matched: str | None) -> None:
    credentials = RepositoryCredentials(
        (
            Credential(url="https://charts.example.com", token="root"),
            Credential(url="https://charts.example.com/private/", token="private"),
            Credential(url="oci://registry.example.com/team", token="team"),
        )
    )
    found = credentials.for_url(url)
    assert (found.url.rstrip("/") if found else None) == matched


# --- the App and the command line read the file ------------------------------------------------


def test_a_malformed_file_stops_the_app_and_is_a_usage_error_for_the_cli(tmp_path: Path) -> None:
    broken = tmp_path / "credentials.yaml"
    broken.write_text(f"repositories:\n  - url: https://x.example\n    password: {SECRET}\n")
    with pytest.raises(SettingsError) as stopped:
        load_settings({"CHARTIMPACT_REPOSITORY_CREDENTIALS": str(broken)})
    assert stopped.value.problems == [
        f"CHARTIMPACT_REPOSITORY_CREDENTIALS '{broken}': repository 1 (https://x.example): give username and "
        "password (or passwordEnv), or a token (or tokenEnv)"
    ]
    with pytest.raises(SettingsError, match="CHARTIMPACT_REPOSITORY_CREDENTIALS '/nonexistent' cannot be read"):
        load_settings({"CHARTIMPACT_REPOSITORY_CREDENTIALS": "/nonexistent"})
    chart = make_chart(tmp_path, "app", {})
    err = io.StringIO()
    with _environment(CHARTIMPACT_REPOSITORY_CREDENTIALS=str(broken)):
        code = main(["diff", str(chart), str(chart), "--format", "json"], stdout=io.StringIO(), stderr=err)
    assert code == 2
    assert "CHARTIMPACT_REPOSITORY_CREDENTIALS" in err.getvalue() and SECRET not in err.getvalue()


def test_the_app_settings_for_repositories(tmp_path: Path) -> None:
    good = tmp_path / "credentials.yaml"
    good.write_text("repositories:\n  - url: oci://registry.example.com\n    token: t\n")
    settings = load_settings(
        {
            "CHARTIMPACT_REPOSITORY_CREDENTIALS": str(good),
            "CHARTIMPACT_ALLOW_PRIVATE_REPOSITORIES": "true",
            "CHARTIMPACT_CACHE_DIR": str(tmp_path / "cache"),
            "CHARTIMPACT_CACHE_MAX_MB": "5",
        }
    )
    assert settings.repositories == RepositoryAccess(
        credentials=RepositoryCredentials((Credential(url="oci://registry.example.com", token="t"),)),
        allow_private_networks=True,
        cache_dir=str(tmp_path / "cache"),
        cache_max_bytes=5 * 1024 * 1024,
    )
    defaults = load_settings({}).repositories
    assert (defaults.allow_private_networks, defaults.cache_dir, defaults.credentials.entries) == (
        False,
        "./data/cache/charts",
        (),
    )


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- the archive cache -------------------------------------------------------------------------


def test_the_cache_verifies_what_it_reads_back_and_stays_within_its_bound(tmp_path: Path) -> None:
    cache = ArchiveCache(tmp_path / "cache", max_bytes=250)
    blobs = [bytes([n]) * 100 for n in range(3)]
    digests = [hashlib.sha256(b).hexdigest() for b in blobs]
    cache.put(digests[0], blobs[0])
    assert cache.get(digests[0]) == blobs[0]
    cache.put(digests[1], blobs[0])  # not what the digest says: not kept
    assert cache.get(digests[1]) is None
    (tmp_path / "cache" / f"sha256-{digests[0]}.blob").write_bytes(b"tampered")
    assert cache.get(digests[0]) is None
    assert not (tmp_path / "cache" / f"sha256-{digests[0]}.blob").exists()
    for blob, digest in zip(blobs, digests, strict=True):
        cache.put(digest, blob)
        os.utime(tmp_path / "cache" / f"sha256-{digest}.blob", (1000 + blob[0], 1000 + blob[0]))
    cache.put(digests[2], blobs[2])  # over the bound: the least recently read goes
    assert [cache.get(d) is not None for d in digests] == [False, True, True]
    assert cache.get("../../etc/passwd") is None


# --- credentials over HTTP: sent where they belong, never followed elsewhere --------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: Any = self.server
        server.seen.append((self.path, self.headers.get("Authorization")))
        status, headers, body = server.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _server(routes: dict[str, Any]) -> Iterator[Any]:
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.routes, server.seen = routes, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_authorization_follows_a_redirect_to_the_same_origin_only() -> None:
    with _server({"/blob": (200, {}, b"object")}) as storage, _server({}) as registry:
        other = f"http://127.0.0.1:{storage.server_address[1]}/blob"
        registry.routes["/to-storage"] = (307, {"Location": other}, b"")
        registry.routes["/to-self"] = (302, {"Location": "/here"}, b"")
        registry.routes["/here"] = (200, {}, b"same")
        client = GuardedClient(allow_private_networks=True)
        base = f"http://127.0.0.1:{registry.server_address[1]}"
        assert client.request(f"{base}/to-storage", 1000, authorization="Bearer secret-token").body == b"object"
        assert client.request(f"{base}/to-self", 1000, authorization="Bearer secret-token").body == b"same"
        assert storage.seen == [("/blob", None)]
        assert registry.seen == [
            ("/to-storage", "Bearer secret-token"),
            ("/to-self", "Bearer secret-token"),
            ("/here", "Bearer secret-token"),
        ]


def test_an_http_repository_gets_its_credentials_and_an_archive_elsewhere_does_not() -> None:
    archive = chart_archive("redis", {"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    digest = hashlib.sha256(archive).hexdigest()
    with _server({"/redis-0.1.0.tgz": (200, {}, archive)}) as elsewhere, _server({}) as repository:
        base = f"http://127.0.0.1:{repository.server_address[1]}/private"
        index = {
            "apiVersion": "v1",
            "entries": {
                "redis": [
                    {
                        "version": "0.1.0",
                        "urls": [f"http://127.0.0.1:{elsewhere.server_address[1]}/redis-0.1.0.tgz"],
                        "digest": digest,
                    },
                    {"version": "0.2.0", "urls": ["redis-0.1.0.tgz"], "digest": digest},
                ]
            },
        }
        repository.routes["/private/index.yaml"] = (200, {}, yaml.safe_dump(index).encode())
        repository.routes["/private/redis-0.1.0.tgz"] = (200, {}, archive)
        credentials = RepositoryCredentials((Credential(url=base, username="ci", password=SECRET),))
        fetcher = HttpRepositoryFetcher(allow_private_networks=True, credentials=credentials)
        assert fetcher.fetch(base, "redis", "0.1.0").archive == archive
        assert fetcher.fetch(base, "redis", "0.2.0").archive == archive
        basic = "Basic " + base64.b64encode(f"ci:{SECRET}".encode()).decode()
        assert repository.seen == [("/private/index.yaml", basic), ("/private/redis-0.1.0.tgz", basic)]
        assert elsewhere.seen == [("/redis-0.1.0.tgz", None)]


def test_an_http_repository_that_asks_for_credentials_says_so() -> None:
    with _server({"/index.yaml": (401, {"WWW-Authenticate": 'Basic realm="charts"'}, b"")}) as repository:
        url = f"http://127.0.0.1:{repository.server_address[1]}/"
        with pytest.raises(
            FetchError, match=r"^127\.0\.0\.1/index\.yaml answered 401: credentials are needed, and none"
        ):
            HttpRepositoryFetcher(allow_private_networks=True).fetch(url, "redis", None)
        wrong = RepositoryCredentials((Credential(url=url, username="ci", password=SECRET),))
        with pytest.raises(FetchError, match="the configured ones were refused") as refused:
            HttpRepositoryFetcher(allow_private_networks=True, credentials=wrong).fetch(url, "redis", None)
        assert SECRET not in str(refused.value)
