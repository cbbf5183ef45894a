"""Chart discovery, dependencies, materialization and untrusted archives."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from chartimpact_bot.core.errors import ArchiveError, ChartError
from chartimpact_bot.engine.archive import read_chart_archive
from chartimpact_bot.engine.charts import (
    chart_dirs,
    dependency_dirs,
    discover_charts,
    load_chart_info,
    materialize,
)
from chartimpact_bot.engine.sources import MemorySource


def raw_archive(members: dict[str, bytes], *, symlink: tuple[str, str] | None = None) -> bytes:
    """A .tgz with exactly the given member names (no sanitizing: tests build hostile ones)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink is not None:
            info = tarfile.TarInfo(symlink[0])
            info.type = tarfile.SYMTYPE
            info.linkname = symlink[1]
            archive.addfile(info)
    return buffer.getvalue()


def chart_archive(name: str, files: dict[str, str]) -> bytes:
    members = {f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n".encode()}
    members.update({f"{name}/{path}": body.encode() for path, body in files.items()})
    return raw_archive(members)


CHART = b"apiVersion: v2\nname: {name}\nversion: 0.1.0\n"


def _chart_yaml(name: str, deps: str = "") -> bytes:
    return CHART.replace(b"{name}", name.encode()) + deps.encode()


def test_chart_dirs_skip_vendored_subcharts() -> None:
    listing = [
        "Chart.yaml",
        "charts/web/Chart.yaml",
        "charts/web/charts/redis/Chart.yaml",
        "apps/api/Chart.yaml",
        "apps/api/charts/sub/Chart.yaml",
        "docs/readme.md",
    ]
    assert chart_dirs(listing) == ["", "apps/api"]
    assert chart_dirs(listing[1:]) == ["apps/api", "charts/web"]


def test_discover_reads_names_and_dependencies() -> None:
    source = MemorySource(
        {
            "charts/web/Chart.yaml": _chart_yaml(
                "web",
                "dependencies:\n  - {name: common, version: 1.0.0, repository: 'file://../common'}\n",
            ),
            "charts/common/Chart.yaml": _chart_yaml("common"),
            "legacy/Chart.yaml": b"apiVersion: v1\nname: legacy\nversion: 1.0.0\n",
            "legacy/requirements.yaml": b"dependencies:\n  - {name: common, repository: 'file://../charts/common'}\n",
        }
    )
    charts = discover_charts(source)
    assert sorted(charts) == ["charts/common", "charts/web", "legacy"]
    assert charts["charts/web"].dependencies[0].local_path == "../common"
    assert dependency_dirs(source, charts["charts/web"]) == ["charts/common"]
    assert dependency_dirs(source, charts["legacy"]) == ["charts/common"]


def test_broken_chart_yaml_is_named() -> None:
    source = MemorySource({"web/Chart.yaml": b"name: [unclosed\n"})
    with pytest.raises(ChartError, match=r"web/Chart\.yaml is not valid YAML"):
        discover_charts(source)


def test_directory_without_chart_yaml() -> None:
    source = MemorySource({"web/values.yaml": b"a: 1\n"})
    with pytest.raises(ChartError, match=r"'web' is not a Helm chart: it has no Chart\.yaml"):
        load_chart_info(source, "web")


def test_materialize_copies_file_dependencies_and_maps_sources(tmp_path: Path) -> None:
    source = MemorySource(
        {
            "charts/web/Chart.yaml": _chart_yaml(
                "web",
                "dependencies:\n  - {name: common, version: 0.1.0, repository: 'file://../../lib/common'}\n",
            ),
            "charts/web/templates/svc.yaml": b"kind: Service\n",
            "lib/common/Chart.yaml": _chart_yaml("common"),
            "lib/common/templates/cm.yaml": b"kind: ConfigMap\n",
        }
    )
    chart = load_chart_info(source, "charts/web")
    out = materialize(source, chart, tmp_path)
    assert (out.directory / "charts" / "common" / "templates" / "cm.yaml").read_text() == "kind: ConfigMap\n"
    assert out.source_file("web/templates/svc.yaml") == "charts/web/templates/svc.yaml"
    assert out.source_file("web/charts/common/templates/cm.yaml") == "lib/common/templates/cm.yaml"
    assert out.warnings == []


def test_dependency_outside_the_source_or_in_a_cycle_is_a_warning(tmp_path: Path) -> None:
    source = MemorySource(
        {
            "a/Chart.yaml": _chart_yaml(
                "a",
                "dependencies:\n"
                "  - {name: b, repository: 'file://../b'}\n"
                "  - {name: outside, repository: 'file://../../../etc'}\n",
            ),
            "b/Chart.yaml": _chart_yaml("b", "dependencies:\n  - {name: a, repository: 'file://../a'}\n"),
        }
    )
    out = materialize(source, load_chart_info(source, "a"), tmp_path)
    assert sorted(out.warnings) == [
        "dependency 'a' of chart 'b' forms a cycle; rendered without it",
        "dependency 'outside' of chart 'a' points outside the repository (file://../../../etc); rendered without it",
    ]
    assert "outside" not in (out.directory / "Chart.yaml").read_text()


def test_archive_in_charts_is_unpacked_and_mapped_to_the_archive(tmp_path: Path) -> None:
    archive = chart_archive("redis", {"templates/svc.yaml": "kind: Service\n"})
    source = MemorySource({"app/Chart.yaml": _chart_yaml("app"), "app/charts/redis-17.0.0.tgz": archive})
    out = materialize(source, load_chart_info(source, "app"), tmp_path)
    assert (out.directory / "charts" / "redis" / "templates" / "svc.yaml").exists()
    assert not (out.directory / "charts" / "redis-17.0.0.tgz").exists()
    assert out.source_file("app/charts/redis/templates/svc.yaml") == "app/charts/redis-17.0.0.tgz"


@pytest.mark.parametrize(
    ("members", "symlink", "message"),
    [
        ({"x/../../etc/passwd": b"root"}, None, "escapes the archive"),
        ({"/etc/cron.d/x": b"* * * * *"}, None, "escapes the archive"),
        ({"x/Chart.yaml": b"name: x"}, ("x/link", "/etc/passwd"), "is a link"),
    ],
)
def test_hostile_archives_are_rejected(
    members: dict[str, bytes], symlink: tuple[str, str] | None, message: str
) -> None:
    with pytest.raises(ArchiveError, match=message):
        read_chart_archive(raw_archive(members, symlink=symlink), label="archive 'x.tgz'")


def test_archive_decompressed_size_is_bounded() -> None:
    # 64 MiB of zeros compresses to ~64 KiB: a bomb for a reader that trusts the archive.
    bomb = raw_archive({"x/Chart.yaml": b"name: x", "x/big": bytes(64 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    with pytest.raises(ArchiveError, match="expands to more than 16 MB"):
        read_chart_archive(bomb, label="archive 'x.tgz'", max_bytes=16 * 1024 * 1024)


def test_archive_entry_count_is_bounded() -> None:
    many = raw_archive({f"x/f{i}": b"" for i in range(50)})
    with pytest.raises(ArchiveError, match="more than 10 entries"):
        read_chart_archive(many, label="archive 'x.tgz'", max_entries=10)


def test_corrupt_archive_is_an_error() -> None:
    with pytest.raises(ArchiveError, match="not a readable chart archive"):
        read_chart_archive(gzip.compress(b"not a tar"), label="archive 'x.tgz'")
