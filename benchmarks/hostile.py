"""Hostile inputs: peak memory of the whole CLI process tree, and the cost of the checks.

    python -m benchmarks.hostile         # also run by `make bench`

1. A chart vendoring a tar header bomb (a GNU long-name header claiming 700 MB, all zeros, so
   the archive is 0.7 MB): peak resident memory of `chartimpact diff` and every process it
   starts, sampled from /proc, against a peer in the same run: Python's `tarfile` listing the
   same archive (what reading it without a decompression bound costs).
2. The bounded YAML loader against plain libyaml on the benchmark chart's values file and on a
   large generated document: what the event pre-scan adds.

Nothing is asserted: the figures are for people.
"""

from __future__ import annotations

import statistics
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

import yaml

from benchmarks.proctree import run_watched
from chartimpact_bot.core.yamlio import YamlLimits, load_untrusted, load_yaml

ROOT = Path(__file__).resolve().parent.parent
CLAIMED = 700 * 1024 * 1024


def header_bomb(claimed: int = CLAIMED) -> bytes:
    """A gzip'd tar whose first member is a GNU long-name header claiming `claimed` bytes of
    name: all zeros, so the archive is a thousandth of that."""
    info = tarfile.TarInfo("././@LongLink")
    info.size, info.type = claimed, tarfile.GNUTYPE_LONGNAME
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(info.tobuf(format=tarfile.GNU_FORMAT))]
    zeros = b"\0" * (1 << 20)
    parts += [packer.compress(zeros) for _ in range(claimed >> 20)]
    parts.append(packer.flush())
    return b"".join(parts)


def peak_tree_mb(argv: list[str]) -> tuple[float, float, int]:
    """(peak MB of the process tree, seconds, exit code) of one command."""
    watched = run_watched(argv, cwd=ROOT)
    return watched.peak_mb, watched.seconds, watched.returncode


def archive_bomb() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for side in ("base", "head"):
            chart = work / side / "app"
            (chart / "templates").mkdir(parents=True)
            (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 0.1.0\n")
            (chart / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n")
        bomb = header_bomb()
        (work / "head" / "app" / "charts").mkdir()
        (work / "head" / "app" / "charts" / "bomb.tgz").write_bytes(bomb)
        ours = [sys.executable, "-m", "chartimpact_bot", "diff", str(work / "base" / "app"), str(work / "head" / "app")]
        peer_code = (
            "import sys, tarfile\n"
            "try:\n    list(tarfile.open(sys.argv[1], 'r:*'))\nexcept tarfile.TarError:\n    pass\n"
        )
        peer = [sys.executable, "-c", peer_code, str(work / "head" / "app" / "charts" / "bomb.tgz")]
        our_mb, our_s, code = peak_tree_mb(ours)
        peer_mb, peer_s, _ = peak_tree_mb(peer)
    print(f"tar header bomb ({len(bomb) / 1e6:.1f} MB archive, header claims {CLAIMED >> 20} MB):")
    print(f"  chartimpact diff, whole process tree: peak {our_mb:.0f} MB, {our_s:.2f} s, exit {code}")
    print(f"  peer, tarfile listing the archive:     peak {peer_mb:.0f} MB, {peer_s:.2f} s")
    print(f"  ratio ours/peer: {our_mb / peer_mb:.2f} (memory), {our_s / peer_s:.2f} (time)")


def _median(fn: object, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def yaml_checks() -> None:
    values = (ROOT / "examples" / "charts" / "head" / "storefront" / "values.yaml").read_text()
    big = "".join(
        f"service{i}:\n  image: {{repository: nginx, tag: '1.{i}'}}\n  env: [{{name: A, value: '{i}'}}]\n"
        f"  resources: {{limits: {{cpu: 1, memory: 1Gi}}}}\n"
        for i in range(20_000)
    )
    limits = YamlLimits(max_bytes=64 * 1024 * 1024, max_nodes=10_000_000)
    print("bounded YAML loader vs plain libyaml (median of 7):")
    for label, text in (("example values.yaml", values), (f"generated {len(big) / 1e6:.1f} MB document", big)):
        plain = _median(lambda t=text: load_yaml(t))
        bounded = _median(lambda t=text: load_untrusted(t, limits))
        print(f"  {label}: libyaml {plain * 1000:.2f} ms, bounded {bounded * 1000:.2f} ms, ratio {bounded / plain:.2f}")
    assert yaml.__with_libyaml__


if __name__ == "__main__":
    archive_bomb()
    yaml_checks()
