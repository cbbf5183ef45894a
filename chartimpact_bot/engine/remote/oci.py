"""Fetching chart dependencies from OCI registries, as `helm dependency build` does.

`repository: oci://host[:port]/path` with `name: common` is the artifact `host/path/common`. Its
version is the one Chart.lock pins, or the highest tag satisfying the constraint (tags listed
through `/v2/<name>/tags/list`, page by page; Helm writes a version's `+` as `_` in a tag). The
tag's manifest must be a Helm chart's (config `application/vnd.cncf.helm.config.v1+json`); its
chart layer is downloaded and checked against the layer's sha256 digest. A version given as
`1.2.3@sha256:…` (or `sha256:…`) names the manifest by digest, which is checked too.

Access is anonymous unless the registry asks: a 401 with a `Bearer` challenge sends us to its
token realm (with the basic credentials configured for the artifact, if any) and the request is
made again with the token; a `Basic` challenge is answered with those credentials directly.

Every request, to the registry, its token realm or the storage a blob redirects to, goes through
the SSRF guard (guard.py), and credentials never follow a redirect to another host. A registry
on a loopback address is spoken to over plain HTTP (as Docker and containerd do for
`localhost`); every other one over HTTPS.

What is cached: chart layers on disk by their digest (cache.py), so a chart already fetched by
any job is read back, verified, without a download. A tag can be moved, so a tag's manifest is
fetched again once per INDEX_TTL_SECONDS (kept in memory until then, as an HTTP repository's
index is); a manifest named by digest cannot change, so it is kept on disk too, and such a
dependency, once fetched, never touches the network again.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...core.errors import brief
from ...core.semver import Constraint, ConstraintError, Version
from .cache import ArchiveCache
from .credentials import NO_CREDENTIALS, Credential, RepositoryCredentials
from .errors import FetchedChart, FetchError
from .guard import GuardedClient, Response, origin

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
LEGACY_CHART_LAYER = "application/tar+gzip"  # charts pushed by Helm before 3.7
MAX_CHART_ARCHIVE_BYTES = 16 * 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # what oras-go allows
MAX_TAGS_PAGE_BYTES = 4 * 1024 * 1024
MAX_TAG_PAGES = 20
MAX_TAGS = 20_000
MAX_TOKEN_BYTES = 1024 * 1024
TAGS_PER_PAGE = 1000
INDEX_TTL_SECONDS = 600.0
TOKEN_SECONDS = 60  # a token's life when the realm does not say (the distribution spec's default)

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PINNED = re.compile(r"^(?:(?P<version>[^@\s]+)@)?(?P<digest>sha256:[0-9a-f]{64})$")
_EXACT = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_CHALLENGE_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


@dataclass(frozen=True, slots=True)
class _Artifact:
    """One chart in one registry: `registry` is host[:port], `name` the repository path."""

    scheme: str
    registry: str
    name: str

    def url(self, tail: str) -> str:
        return f"{self.scheme}://{self.registry}/v2/{self.name}/{tail}"

    @property
    def oci_url(self) -> str:
        return f"oci://{self.registry}/{self.name}"


def parse_artifact(repository: str, chart: str) -> _Artifact:
    """`oci://host[:port]/path` and a chart name → the artifact, or FetchError for a reference
    that is not a plain OCI name (it would otherwise reach into other URLs)."""
    parsed = urllib.parse.urlsplit(repository.strip())
    try:
        port = parsed.port
    except ValueError:
        raise FetchError("the OCI reference has an invalid port") from None
    host = (parsed.hostname or "").lower()
    if parsed.scheme != "oci" or not host or "@" in parsed.netloc or parsed.query or parsed.fragment:
        raise FetchError("the OCI reference is not of the form oci://host[:port]/path")
    shown_host = f"[{host}]" if ":" in host else host
    if not _HOST.match(shown_host):
        raise FetchError("the OCI reference has an invalid host name")
    components = [c for c in parsed.path.split("/") if c] + [chart]
    if not all(_COMPONENT.match(c) for c in components) or len("/".join(components)) > 255:
        raise FetchError("the OCI reference has a repository path that is not a valid OCI name")
    registry = f"{shown_host}:{port}" if port is not None else shown_host
    return _Artifact(scheme="http" if _loopback(host) else "https", registry=registry, name="/".join(components))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class _Challenge:
    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> _Challenge | None:
    """`WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (or Basic)."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return _Challenge(scheme.lower(), {k: v.replace('\\"', '"') for k, v in params.items()})


def choose_tag(tags: list[str], constraint: str | None) -> str | None:
    """The tag of the highest version satisfying `constraint`, as Helm picks one: tags that are
    not versions are ignored, and `_` in a tag stands for `+`."""
    by_version: dict[str, str] = {}
    for tag in tags:
        version = tag.replace("_", "+")
        if Version.parse(version) is not None:
            by_version.setdefault(version, tag)
    try:
        chosen = Constraint.parse(constraint or "*").best(list(by_version))
    except ConstraintError as exc:
        raise FetchError(str(exc)) from exc
    return by_version[chosen] if chosen is not None else None


class _NotFound(FetchError):
    """The registry answered 404."""


class OciRegistryFetcher:
    """Thread-safe; tokens and tag manifests are kept in memory, chart layers on disk."""

    def __init__(
        self,
        client: GuardedClient,
        *,
        credentials: RepositoryCredentials = NO_CREDENTIALS,
        cache: ArchiveCache | None = None,
    ) -> None:
        self._client = client
        self._credentials = credentials
        self._cache = cache
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[float, str]] = {}  # (registry, scope) → (expiry, token)
        self._manifests: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def fetch(self, repository: str, name: str, version: str | None) -> FetchedChart:
        artifact = parse_artifact(repository, name)
        credential = self._credentials.for_url(artifact.oci_url)
        wanted = (version or "").strip()
        pinned = _PINNED.match(wanted)
        if pinned:
            shown = pinned["version"] or pinned["digest"][:19]
            manifest = self._pinned_manifest(artifact, pinned["digest"], credential)
        else:
            tag, manifest = self._resolve(artifact, wanted, credential)
            shown = tag.replace("_", "+")
        return FetchedChart(version=shown, archive=self._chart_layer(artifact, manifest, shown, credential))

    def _resolve(self, artifact: _Artifact, wanted: str, credential: Credential | None) -> tuple[str, dict[str, Any]]:
        """The tag `wanted` names and its manifest."""
        tag = wanted.replace("+", "_")
        if _EXACT.match(wanted) and _TAG.match(tag):
            # A locked or exact version: its tag, which Helm looks for before it lists tags.
            try:
                return tag, self._tag_manifest(artifact, tag, credential)
            except _NotFound:
                pass
        tag = self._tag(artifact, wanted, credential)
        return tag, self._tag_manifest(artifact, tag, credential)

    # --- which version --------------------------------------------------------------------

    def _tag(self, artifact: _Artifact, wanted: str, credential: Credential | None) -> str:
        chosen = choose_tag(self._tags(artifact, credential), wanted or None)
        if chosen is None:
            raise FetchError(f"no tag of {artifact.registry}/{artifact.name} satisfies '{brief(wanted or '*', 80)}'")
        return chosen

    def _tags(self, artifact: _Artifact, credential: Credential | None) -> list[str]:
        url = artifact.url(f"tags/list?n={TAGS_PER_PAGE}")
        tags: list[str] = []
        for _ in range(MAX_TAG_PAGES):
            response = self._get(
                artifact, url, MAX_TAGS_PAGE_BYTES, credential, missing=f"has no chart {artifact.name}"
            )
            page = _json(response.body, f"the tag list of {artifact.name}")
            listed = page.get("tags") if isinstance(page, dict) else None
            if listed is None:
                listed = []
            if not isinstance(listed, list):
                raise FetchError(f"the tag list of {artifact.name} is not a list")
            tags.extend(t for t in listed if isinstance(t, str))
            if len(tags) > MAX_TAGS:
                raise FetchError(f"{artifact.name} has more than {MAX_TAGS} tags")
            following = _next_link(response.headers.get("Link", ""), response.url)
            if following is None:
                return tags
            if origin(following) != origin(url):
                raise FetchError(f"the tag list of {artifact.name} continues on another host")
            url = following
        raise FetchError(f"the tag list of {artifact.name} has more than {MAX_TAG_PAGES} pages")

    # --- the manifest -----------------------------------------------------------------------

    def _tag_manifest(self, artifact: _Artifact, tag: str, credential: Credential | None) -> dict[str, Any]:
        key = f"{artifact.registry}/{artifact.name}:{tag}"
        with self._lock:
            cached = self._manifests.get(key)
            if cached is not None and time.monotonic() - cached[0] < INDEX_TTL_SECONDS:
                return cached[1]
        response = self._manifest_response(artifact, tag, credential)
        announced = response.headers.get("Docker-Content-Digest", "")
        if _DIGEST.match(announced) and _sha256(response.body) != announced:
            raise FetchError(f"the manifest of {key} does not match the digest the registry gave for it")
        manifest = _helm_manifest(response.body, key)
        with self._lock:
            self._manifests[key] = (time.monotonic(), manifest)
            while len(self._manifests) > 256:
                self._manifests.popitem(last=False)
        return manifest

    def _pinned_manifest(self, artifact: _Artifact, digest: str, credential: Credential | None) -> dict[str, Any]:
        key = f"{artifact.registry}/{artifact.name}@{digest[:19]}…"
        hex_digest = digest.removeprefix("sha256:")
        body = self._cache.get(hex_digest) if self._cache is not None else None
        if body is None:
            body = self._manifest_response(artifact, digest, credential).body
            if _sha256(body) != digest:
                raise FetchError(f"the manifest of {key} does not match its digest")
        manifest = _helm_manifest(body, key)  # before it is cached: only a chart's manifest is
        if self._cache is not None:
            self._cache.put(hex_digest, body)
        return manifest

    def _manifest_response(self, artifact: _Artifact, reference: str, credential: Credential | None) -> Response:
        accept = {"Accept": f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"}
        url = artifact.url(f"manifests/{reference}")
        shown = reference if not reference.startswith("sha256:") else f"@{reference[:19]}…"
        missing = f"has no {artifact.name}:{shown}"
        return self._get(artifact, url, MAX_MANIFEST_BYTES, credential, headers=accept, missing=missing)

    # --- the chart layer --------------------------------------------------------------------

    def _chart_layer(
        self, artifact: _Artifact, manifest: dict[str, Any], version: str, credential: Credential | None
    ) -> bytes:
        label = f"{artifact.registry}/{artifact.name} {version}"
        layers = [
            layer
            for layer in manifest.get("layers") or []
            if isinstance(layer, dict) and layer.get("mediaType") in (HELM_CHART_LAYER, LEGACY_CHART_LAYER)
        ]
        if len(layers) != 1:
            raise FetchError(f"{label} is not a Helm chart artifact: it has {len(layers)} chart layers, not one")
        digest, size = layers[0].get("digest"), layers[0].get("size")
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise FetchError(f"the chart layer of {label} has no sha256 digest")
        if isinstance(size, int) and size > MAX_CHART_ARCHIVE_BYTES:
            raise FetchError(f"the chart layer of {label} is larger than {MAX_CHART_ARCHIVE_BYTES // (1024 * 1024)} MB")
        hex_digest = digest.removeprefix("sha256:")
        if self._cache is not None and (cached := self._cache.get(hex_digest)) is not None:
            return cached
        url = artifact.url(f"blobs/{digest}")
        missing = f"does not hold the chart layer of {artifact.name} {version}"
        data = self._get(artifact, url, MAX_CHART_ARCHIVE_BYTES, credential, missing=missing).body
        if _sha256(data) != digest:
            raise FetchError(f"the chart layer of {label} does not match its digest ({digest[:19]}…)")
        if self._cache is not None:
            self._cache.put(hex_digest, data)
        return data

    # --- requests and authentication ----------------------------------------------------------

    def _get(
        self,
        artifact: _Artifact,
        url: str,
        limit: int,
        credential: Credential | None,
        *,
        missing: str,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        scope = f"repository:{artifact.name}:pull"
        authorization = self._known_authorization(artifact, scope, credential)
        response = self._client.request(url, limit, headers=headers, authorization=authorization)
        if response.status == 401:
            authorization = self._answer(artifact, scope, credential, response.headers.get("WWW-Authenticate", ""))
            response = self._client.request(url, limit, headers=headers, authorization=authorization)
            if response.status == 401:
                raise _unauthorized(artifact, credential)
        if response.status == 200:
            return response
        if response.status == 403:
            raise FetchError(f"{artifact.registry} refused access to {artifact.name} (HTTP 403)")
        if response.status == 404:
            raise _NotFound(f"{artifact.registry} {missing}")
        raise FetchError(f"{artifact.registry} answered HTTP {response.status} for {artifact.name}")

    def _known_authorization(self, artifact: _Artifact, scope: str, credential: Credential | None) -> str | None:
        with self._lock:
            token = self._tokens.get((artifact.registry, scope))
        if token is not None and token[0] > time.monotonic():
            return f"Bearer {token[1]}"
        if credential is not None and credential.token is not None:
            return credential.authorization  # a registry that takes a bearer token as it is
        return None

    def _answer(self, artifact: _Artifact, scope: str, credential: Credential | None, header: str) -> str:
        challenge = parse_challenge(header)
        if challenge is None:
            raise _unauthorized(artifact, credential)
        if challenge.scheme == "basic":
            if credential is None or credential.basic is None:
                raise _unauthorized(artifact, credential)
            return credential.basic
        if challenge.scheme != "bearer" or not challenge.params.get("realm"):
            raise _unauthorized(artifact, credential)
        return f"Bearer {self._token(artifact, scope, credential, challenge.params)}"

    def _token(self, artifact: _Artifact, scope: str, credential: Credential | None, params: dict[str, str]) -> str:
        realm = params["realm"]
        parsed = urllib.parse.urlsplit(realm)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise FetchError(f"{artifact.registry} names a token service that is not an http(s) URL")
        basic = credential.basic if credential is not None else None
        if basic is not None and parsed.scheme == "http" and artifact.scheme == "https":
            raise FetchError(
                f"{artifact.registry} names a token service over plain http; credentials are not sent there"
            )
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        separator = "&" if parsed.query else "?"
        url = f"{realm}{separator}{urllib.parse.urlencode(query)}"
        response = self._client.request(url, MAX_TOKEN_BYTES, authorization=basic)
        if response.status in (401, 403):
            raise _unauthorized(artifact, credential)
        if response.status != 200:
            raise FetchError(f"the token service of {artifact.registry} answered HTTP {response.status}")
        answer = _json(response.body, f"the token of {artifact.registry}")
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
            raise FetchError(f"the token service of {artifact.registry} gave no token")
        lifetime = answer.get("expires_in")
        seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else TOKEN_SECONDS
        with self._lock:
            self._tokens[(artifact.registry, scope)] = (time.monotonic() + max(0, seconds - 5), token)
            if len(self._tokens) > 1024:
                self._tokens.clear()
        return token


def _unauthorized(artifact: _Artifact, credential: Credential | None) -> FetchError:
    why = (
        "none are configured for it (CHARTIMPACT_REPOSITORY_CREDENTIALS)"
        if credential is None
        else "the configured ones were refused"
    )
    return FetchError(f"{artifact.registry} answered 401: credentials are needed for {artifact.name}, and {why}")


def _helm_manifest(body: bytes, label: str) -> dict[str, Any]:
    manifest = _json(body, f"the manifest of {label}")
    if not isinstance(manifest, dict):
        raise FetchError(f"the manifest of {label} is not a JSON object")
    media_type = manifest.get("mediaType", OCI_MANIFEST)
    if media_type not in (OCI_MANIFEST, DOCKER_MANIFEST):
        raise FetchError(
            f"{label} is not a Helm chart artifact: its manifest is of type '{brief(str(media_type), 80)}'"
        )
    config = manifest.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    if config_type != HELM_CONFIG:
        raise FetchError(f"{label} is not a Helm chart artifact: its config is of type '{brief(str(config_type), 80)}'")
    return manifest


def _json(body: bytes, label: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise FetchError(f"{label} is not valid JSON") from None


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _next_link(header: str, base: str) -> str | None:
    """The `rel="next"` target of a `Link` header, resolved against the page's URL."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        if re.search(r'rel\s*=\s*"?next"?', params):
            return urllib.parse.urljoin(base, target.strip().strip("<>"))
    return None
