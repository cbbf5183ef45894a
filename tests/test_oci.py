"""OCI chart dependencies against a real registry (docker-registry, the CNCF distribution server)
started by the test on loopback, with charts the test builds and pushes."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chartimpact_bot.cli import main
from chartimpact_bot.engine.remote import RepositoryAccess, build_fetcher, oci
from chartimpact_bot.engine.remote.credentials import Credential, RepositoryCredentials
from chartimpact_bot.engine.remote.errors import FetchError
from chartimpact_bot.engine.remote.guard import GuardedClient, Response
from tests.conftest import make_chart
from tests.oci_registry import (
    HELM_CONFIG_TYPE,
    Pusher,
    Registry,
    blob_file,
    digest_of,
    helm_manifest,
    htpasswd_auth,
    registry,
    require_registry,
    token_auth,
    token_service,
    versioned_chart,
)
from tests.test_remote import PUBLIC, _certificate, _port, _server

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-oci}\ndata: {version: '%s'}\n"
VERSIONS = ("0.1.0", "0.1.5", "0.2.0+build.1")
USER, PASSWORD = "robot", "correct horse battery staple"


@pytest.fixture
def oci_registry(tmp_path: Path) -> Iterator[Registry]:
    """An anonymous registry holding charts/common at VERSIONS (0.2.0+build.1 as tag 0.2.0_build.1)."""
    require_registry()
    with registry(tmp_path / "registry") as reg:
        _push_versions(reg)
        yield reg


def _push_versions(reg: Registry) -> None:
    pusher = Pusher(reg)
    for version in VERSIONS:
        pusher.push_chart("charts/common", version.replace("+", "_"), versioned_chart("common", version, CM % version))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTIMPACT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CHARTIMPACT_REPOSITORY_CREDENTIALS", raising=False)


def _app(root: Path, repository: str, version: str, lock: str | None = None) -> Path:
    extra = f"dependencies:\n  - name: common\n    version: '{version}'\n    repository: {repository}\n"
    return make_chart(
        root,
        "app",
        {"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"},
        chart_extra=extra,
        extra_files={"Chart.lock": lock} if lock else None,
    )


def _diff(base: Path, head: Path, *flags: str) -> tuple[int, dict[str, object], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["diff", str(base), str(head), "--format", "json", *flags], stdout=out, stderr=err)
    return code, json.loads(out.getvalue()) if out.getvalue() else {}, err.getvalue()


def _only_chart(report: dict[str, object]) -> dict[str, object]:
    charts = report["charts"]
    assert isinstance(charts, list) and len(charts) == 1
    chart = charts[0]
    assert isinstance(chart, dict)
    return chart


def _config_map_change(chart: dict[str, object]) -> list[tuple[object, object, object]]:
    diff = chart["diff"]
    assert isinstance(diff, dict)
    (cm,) = [r for r in diff["resources"] if r["identity"]["kind"] == "ConfigMap"]
    assert cm["identity"]["name"] == "from-oci"
    return [(cm["source"], c["before"], c["after"]) for c in cm["changes"]]


def test_an_oci_dependency_renders_and_diffs_at_the_highest_matching_tag(
    tmp_path: Path, oci_registry: Registry
) -> None:
    url = f"oci://{oci_registry.host}/charts"
    base = _app(tmp_path / "base", url, "0.1.0")
    head = _app(tmp_path / "head", url, "~0.1.0")
    code, report, err = _diff(base, head, "--allow-private-repositories")
    chart = _only_chart(report)
    assert (code, err, chart["warnings"]) == (0, "", [])
    assert _config_map_change(chart) == [("app/charts/common/templates/cm.yaml", "0.1.0", "0.1.5")]


def test_a_locked_version_and_a_build_suffix_use_the_tag_helm_writes(tmp_path: Path, oci_registry: Registry) -> None:
    url = f"oci://{oci_registry.host}/charts"
    lock = f"dependencies:\n- name: common\n  repository: {url}\n  version: 0.1.0\n"
    base = _app(tmp_path / "base", url, "~0.1.0", lock=lock)
    head = _app(tmp_path / "head", url, "0.2.0+build.1")
    _, report, _ = _diff(base, head, "--allow-private-repositories")
    assert _config_map_change(_only_chart(report)) == [
        ("app/charts/common/templates/cm.yaml", "0.1.0", "0.2.0+build.1")
    ]


def test_loopback_registries_are_refused_by_default(tmp_path: Path, oci_registry: Registry) -> None:
    url = f"oci://{oci_registry.host}/charts"
    chart_dir = _app(tmp_path / "a", url, "0.1.0")
    _, report, _ = _diff(chart_dir, chart_dir)
    assert _only_chart(report)["warnings"] == [
        f"dependency 'common' of chart 'app' ({url}) could not be fetched: 127.0.0.1 is on a private "
        "network, which is not fetched; rendered without it"
    ]


def test_no_matching_tag_and_a_non_chart_artifact_are_warnings(tmp_path: Path, oci_registry: Registry) -> None:
    pusher = Pusher(oci_registry)
    image_config = b'{"architecture": "amd64", "os": "linux"}'
    layer = versioned_chart("image", "1.0.0", CM % "x")
    pusher.push_blob("charts/image", image_config)
    pusher.push_blob("charts/image", layer)
    manifest = helm_manifest(image_config, layer)
    manifest["config"]["mediaType"] = "application/vnd.oci.image.config.v1+json"
    pusher.push_manifest("charts/image", "1.0.0", manifest)
    url = f"oci://{oci_registry.host}/charts"
    base = _app(tmp_path / "base", url, "9.x")
    head = make_chart(
        tmp_path / "head",
        "app",
        {},
        chart_extra=f"dependencies:\n  - name: image\n    version: 1.0.0\n    repository: {url}\n",
    )
    fetcher = build_fetcher(RepositoryAccess(allow_private_networks=True))
    with pytest.raises(FetchError) as no_tag:
        fetcher.fetch(url, "common", "9.x")
    assert str(no_tag.value) == f"no tag of {oci_registry.host}/charts/common satisfies '9.x'"
    _, report, _ = _diff(base, head, "--allow-private-repositories")
    assert _only_chart(report)["warnings"] == [
        f"dependency 'common' of chart 'app' ({url}) could not be fetched: {no_tag.value}; rendered without it",
        f"dependency 'image' of chart 'app' ({url}) could not be fetched: {oci_registry.host}/charts/image"
        ":1.0.0 is not a Helm chart artifact: its config is of type 'application/vnd.oci.image.config.v1+json'; "
        "rendered without it",
    ]


def test_a_layer_that_does_not_match_its_digest_is_a_warning(tmp_path: Path, oci_registry: Registry) -> None:
    archive = versioned_chart("common", "0.3.0", CM % "0.3.0")
    Pusher(oci_registry).push_chart("charts/common", "0.3.0", archive)
    # The registry checks digests on upload, so the blob is changed where it is stored.
    stored = blob_file(oci_registry, digest_of(archive))
    tampered = versioned_chart("common", "0.3.0", CM % "0.3.1")
    assert len(tampered) == len(archive)
    stored.write_bytes(tampered)
    url = f"oci://{oci_registry.host}/charts"
    chart_dir = _app(tmp_path / "a", url, "0.3.0")
    _, report, _ = _diff(chart_dir, chart_dir, "--allow-private-repositories")
    assert _only_chart(report)["warnings"] == [
        f"dependency 'common' of chart 'app' ({url}) could not be fetched: the chart layer of "
        f"{oci_registry.host}/charts/common 0.3.0 does not match its digest ({digest_of(archive)[:19]}…); "
        "rendered without it"
    ]


def test_tags_are_listed_page_by_page_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """docker-registry 2.8 answers every tag at once, so the pages come from a stand-in."""
    pages = {
        "/v2/charts/common/tags/list?n=1000": (
            ["0.1.0"],
            '</v2/charts/common/tags/list?n=1000&last=0.1.0>; rel="next"',
        ),
        "/v2/charts/common/tags/list?n=1000&last=0.1.0": (
            ["0.3.0"],
            '</v2/charts/common/tags/list?last=0.3.0>; rel="next"',
        ),
        "/v2/charts/common/tags/list?last=0.3.0": (["0.2.0"], None),
    }
    with _tag_pages(pages) as host:
        fetcher = oci.OciRegistryFetcher(GuardedClient(allow_private_networks=True))
        assert fetcher._tags(oci.parse_artifact(f"oci://{host}/charts", "common"), None) == ["0.1.0", "0.3.0", "0.2.0"]
        monkeypatch.setattr(oci, "MAX_TAG_PAGES", 2)
        with pytest.raises(FetchError, match="the tag list of charts/common has more than 2 pages"):
            fetcher._tags(oci.parse_artifact(f"oci://{host}/charts", "common"), None)


@contextlib.contextmanager
def _tag_pages(pages: dict[str, tuple[list[str], str | None]]) -> Iterator[str]:
    class Pages(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            tags, link = pages[self.path]
            body = json.dumps({"name": "charts/common", "tags": tags}).encode()
            self.send_response(200)
            if link:
                self.send_header("Link", link)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_cached_layers_are_read_back_without_the_registry(tmp_path: Path, oci_registry: Registry) -> None:
    access = RepositoryAccess(allow_private_networks=True, cache_dir=str(tmp_path / "archives"))
    url = f"oci://{oci_registry.host}/charts"
    first = build_fetcher(access).fetch(url, "common", "0.1.5")
    manifest_digest = Pusher(oci_registry).push_chart(
        "charts/common", "0.4.0", versioned_chart("common", "0.4.0", CM % "0.4.0")
    )
    pinned = build_fetcher(access).fetch(url, "common", f"0.4.0@{manifest_digest}")
    for archive in (first.archive, pinned.archive):
        blob_file(oci_registry, digest_of(archive)).unlink()  # the registry can serve the layers no more
    again = build_fetcher(access).fetch(url, "common", "0.1.5")  # a new process: manifest, then the cache
    assert again == first
    # A manifest pinned by digest cannot change: with everything cached, the registry is not asked.
    dead = build_fetcher(access, client=_Unreachable())
    assert dead.fetch(url, "common", f"0.4.0@{manifest_digest}") == pinned
    with pytest.raises(FetchError, match="unreachable"):
        dead.fetch(url, "common", "0.1.5")


class _Unreachable(GuardedClient):
    def request(self, url: str, limit: int, **kwargs: object) -> Response:
        raise FetchError(f"{url} is unreachable (the test's network is down)")


def test_a_pinned_manifest_digest_is_checked(oci_registry: Registry) -> None:
    wrong = "sha256:" + "0" * 64
    with pytest.raises(FetchError, match=r"has no charts/common:@sha256:000000000000…$"):
        build_fetcher(RepositoryAccess(allow_private_networks=True)).fetch(
            f"oci://{oci_registry.host}/charts", "common", f"0.1.0@{wrong}"
        )


# --- credentials: basic (htpasswd) and token realms ------------------------------------------


def _credentials_file(tmp_path: Path, url: str, password: str) -> Path:
    path = tmp_path / "credentials.yaml"
    path.write_text(
        f"repositories:\n  - url: {url}\n    username: {USER}\n    password: {json.dumps(password)}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def basic_registry(tmp_path: Path) -> Iterator[Registry]:
    require_registry()
    workdir = tmp_path / "basic"
    workdir.mkdir()
    auth = htpasswd_auth(workdir, {USER: PASSWORD})
    with registry(workdir, auth, username=USER, password=PASSWORD) as reg:
        _push_versions(reg)
        yield reg


def test_an_unauthorized_registry_is_a_warning_and_configured_credentials_open_it(
    tmp_path: Path, basic_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"oci://{basic_registry.host}/charts"
    base = _app(tmp_path / "base", url, "0.1.0")
    head = _app(tmp_path / "head", url, "0.1.5")
    _, report, _ = _diff(base, head, "--allow-private-repositories")
    assert _only_chart(report)["warnings"] == [
        f"dependency 'common' of chart 'app' ({url}) could not be fetched: {basic_registry.host} answered 401: "
        "credentials are needed for charts/common, and none are configured for it "
        "(CHARTIMPACT_REPOSITORY_CREDENTIALS); rendered without it"
    ]
    monkeypatch.setenv("CHARTIMPACT_REPOSITORY_CREDENTIALS", str(_credentials_file(tmp_path, url, PASSWORD)))
    code, report, _ = _diff(base, head, "--allow-private-repositories")
    chart = _only_chart(report)
    assert (code, chart["warnings"]) == (0, [])
    assert _config_map_change(chart) == [("app/charts/common/templates/cm.yaml", "0.1.0", "0.1.5")]


def test_a_wrong_password_is_never_shown(
    tmp_path: Path,
    basic_registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong = "Tr0ub4dor&3-wrong"
    url = f"oci://{basic_registry.host}/charts"
    monkeypatch.setenv("CHARTIMPACT_REPOSITORY_CREDENTIALS", str(_credentials_file(tmp_path, url, wrong)))
    chart_dir = _app(tmp_path / "a", url, "0.1.0")
    caplog.set_level(logging.DEBUG)
    outputs = []
    for fmt in ("json", "text", "markdown"):
        out, err = io.StringIO(), io.StringIO()
        main(
            ["diff", str(chart_dir), str(chart_dir), "--format", fmt, "--allow-private-repositories"],
            stdout=out,
            stderr=err,
        )
        outputs += [out.getvalue(), err.getvalue()]
    assert "the configured ones were refused" in outputs[0]
    captured = capfd.readouterr()
    everything = "\n".join([*outputs, captured.out, captured.err, caplog.text])
    assert wrong not in everything
    assert "VHIwdWI0ZG9yJjMtd3Jvbmc" not in everything  # nor its base64 form, as in a Basic header


def test_the_token_flow_against_a_registry_with_token_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_registry()
    workdir = tmp_path / "token"
    workdir.mkdir()
    with (
        token_service(workdir, {USER: PASSWORD}) as realm,
        registry(workdir, token_auth(realm), username=USER, password=PASSWORD, token_url=realm.url) as reg,
    ):
        _push_versions(reg)
        url = f"oci://{reg.host}/charts"
        chart_dir = _app(tmp_path / "a", url, "~0.1.0")
        anonymous = build_fetcher(RepositoryAccess(allow_private_networks=True))
        with pytest.raises(FetchError, match=r"answered 401: credentials are needed for charts/common"):
            anonymous.fetch(url, "common", "~0.1.0")
        assert realm.seen[-1] == {"scope": "repository:charts/common:pull", "authorization": None}
        monkeypatch.setenv("CHARTIMPACT_REPOSITORY_CREDENTIALS", str(_credentials_file(tmp_path, url, PASSWORD)))
        realm.seen.clear()
        code, report, _ = _diff(chart_dir, chart_dir, "--allow-private-repositories")
        assert (code, _only_chart(report)["warnings"]) == (0, [])
        # A token for the tag list, the manifest and the layer (one per side at most: the two sides
        # render at once), asked for with the basic credentials.
        assert 1 <= len(realm.seen) <= 2
        assert {s["scope"] for s in realm.seen} == {"repository:charts/common:pull"}
        assert all((s["authorization"] or "").startswith("Basic ") for s in realm.seen)


# --- units: tags, challenges, references -------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "constraint", "chosen"),
    [
        (["0.1.0", "0.1.5", "0.2.0_build.1", "latest"], "~0.1.0", "0.1.5"),
        (["0.1.0", "0.1.5", "0.2.0_build.1", "latest"], None, "0.2.0_build.1"),
        (["1.0.0-rc.1", "0.9.0"], "*", "0.9.0"),
        (["1.0.0-rc.1", "0.9.0"], ">=1.0.0-0", "1.0.0-rc.1"),
        (["latest", "main"], "*", None),
        ([], "1.x", None),
    ],
)
def test_tag_selection(tags: list[str], constraint: str | None, chosen: str | None) -> None:
    assert oci.choose_tag(tags, constraint) == chosen


def test_challenges_are_parsed() -> None:
    challenge = oci.parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"'
    )
    assert challenge is not None
    assert (challenge.scheme, challenge.params) == (
        "bearer",
        {"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:a/b:pull"},
    )
    basic = oci.parse_challenge('Basic realm="test"')
    assert basic is not None and basic.scheme == "basic"


@pytest.mark.parametrize(
    ("repository", "problem"),
    [
        ("oci://registry.example.com/charts/../x", "not a valid OCI name"),
        ("oci://registry.example.com/Charts", "not a valid OCI name"),
        ("oci://user:pw@registry.example.com/charts", "not of the form"),
        ("oci://registry.example.com/charts?x=1", "not of the form"),
        ("oci://registry.example.com:99999/charts", "invalid port"),
        ("oci://exa_mple.com/charts", "invalid host name"),
    ],
)
def test_references_that_are_not_plain_oci_names_are_refused(repository: str, problem: str) -> None:
    with pytest.raises(FetchError, match=problem):
        oci.parse_artifact(repository, "common")


def test_a_registry_on_loopback_is_spoken_to_over_http_and_others_over_https() -> None:
    assert oci.parse_artifact("oci://127.0.0.1:5000/charts", "common").url("tags/list") == (
        "http://127.0.0.1:5000/v2/charts/common/tags/list"
    )
    assert oci.parse_artifact("oci://registry-1.docker.io/bitnamicharts", "common").url("manifests/2.0.0") == (
        "https://registry-1.docker.io/v2/bitnamicharts/common/manifests/2.0.0"
    )


def test_a_credential_for_a_prefix_does_not_reach_another_registry() -> None:
    credentials = RepositoryCredentials((Credential(url="oci://registry.example.com/team", token="t"),))
    assert credentials.for_url("oci://registry.example.com/team/common") is not None
    assert credentials.for_url("oci://registry.example.com/teamx/common") is None
    assert credentials.for_url("oci://registry.example.com:5000/team/common") is None


def test_helm_config_type_is_what_helm_pushes() -> None:
    assert HELM_CONFIG_TYPE == oci.HELM_CONFIG


# --- the token realm and blob redirects go through the same guard ---------------------------


def test_a_token_realm_or_a_blob_redirect_on_a_private_network_is_refused(tmp_path: Path) -> None:
    server_tls, client_tls = _certificate(tmp_path, "registry.example.com")
    archive = versioned_chart("common", "1.0.0", CM % "1.0.0")
    config = b"{}"
    manifest = json.dumps(helm_manifest(config, archive)).encode()
    with _server({}, tls=server_tls) as public:
        port = _port(public)
        private_realm = f'Bearer realm="http://internal.example.com:{port}/token",service="x"'
        public.routes.update(
            {
                "/v2/charts/common/manifests/1.0.0": (401, {"WWW-Authenticate": private_realm}, b""),
                "/v2/charts/other/manifests/1.0.0": (200, {"Content-Type": oci.OCI_MANIFEST}, manifest),
                f"/v2/charts/other/blobs/{digest_of(archive)}": (
                    307,
                    {"Location": f"http://internal.example.com:{port}/blob"},
                    b"",
                ),
            }
        )
        connections: list[tuple[str, int]] = []

        def connect(address: tuple[str, int], timeout: float | None) -> socket.socket:
            connections.append(address)
            return socket.create_connection(("127.0.0.1", port) if address[0] == PUBLIC else address, timeout)

        names = {"registry.example.com": [PUBLIC], "internal.example.com": ["127.0.0.1"]}
        client = GuardedClient(resolve_host=names.__getitem__, connect=connect, tls=client_tls)
        fetcher = oci.OciRegistryFetcher(client)
        url = f"oci://registry.example.com:{port}/charts"
        for chart in ("common", "other"):
            with pytest.raises(FetchError, match=r"^internal\.example\.com is on a private network"):
                fetcher.fetch(url, chart, "1.0.0")
        assert {address for address, _ in connections} == {PUBLIC}
        assert [path for path, _ in public.seen] == [
            "/v2/charts/common/manifests/1.0.0",
            "/v2/charts/other/manifests/1.0.0",
            f"/v2/charts/other/blobs/{digest_of(archive)}",
        ]
