"""Remote dependencies from an HTTP Helm repository served on loopback for the test."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chartimpact_bot.analysis.pipeline import PipelineOptions
from chartimpact_bot.analysis.remote import FetchError, HttpRepositoryFetcher
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
    fetcher._check_url("https://charts.example.com/index.yaml")
    with pytest.raises(FetchError, match=r"sneaky\.example\.com is on a private network"):
        fetcher._check_url("https://sneaky.example.com/index.yaml")
    with pytest.raises(FetchError, match="'file' URLs are not fetched"):
        fetcher._check_url("file:///etc/passwd")


def test_oci_and_alias_repositories_are_warnings(tmp_path: Path, options: PipelineOptions) -> None:
    chart_dir = _app(tmp_path / "a", "oci://registry.example.com/charts", "1.0.0")
    chart = only_chart(diff_dirs(chart_dir, chart_dir, _options(options)))
    assert chart.warnings == (
        "dependency 'redis' of chart 'app' (oci://registry.example.com/charts) could not be "
        "fetched: OCI registries are not fetched yet; rendered without it",
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
