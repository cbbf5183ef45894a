"""Run every benchmark on the generated chart pair and print figures and ratios.

    python -m benchmarks.run            # or: make bench

Nothing is asserted: the figures are for people (and for the issue notes). Peers are measured
in the same run on the same inputs.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.generate import generate
from chartimpact_bot.core.chart import MaterializedChart
from chartimpact_bot.core.classify import classify
from chartimpact_bot.core.diff import diff_resources
from chartimpact_bot.core.documents import RenderedChart, is_emitted, parse_template
from chartimpact_bot.core.manifests import parse_rendered
from chartimpact_bot.core.model import ChartReport, Resource, Revision, StructuredDiff
from chartimpact_bot.core.normalize import NormalizeOptions, normalize_side
from chartimpact_bot.core.report.json import dumps
from chartimpact_bot.core.side import ChartSide
from chartimpact_bot.core.signals.context import SignalContext
from chartimpact_bot.core.signals.engine import detect_signals, detectors
from chartimpact_bot.core.sourcemap import SourceLocator
from chartimpact_bot.engine.charts import load_chart_info, materialize
from chartimpact_bot.engine.pipeline import ChartOutcome, build_report
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderRequest
from chartimpact_bot.engine.sources import DirectorySource

DETECTORS = detectors()

WORK = Path(__file__).resolve().parent / ".work"
ROOT = Path(__file__).resolve().parent.parent


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall time of `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def static_render(chart_dir: Path) -> RenderedChart:
    """The chart's templates parsed as Helm would emit them (they hold no template actions)."""
    templates = {}
    for path in sorted((chart_dir / "templates").iterdir()):
        source, text = f"bench/templates/{path.name}", path.read_text()
        if is_emitted(source, text):
            templates[source] = parse_template(source, text)
    return RenderedChart(templates=templates)


def bench_diff(base_dir: Path, head_dir: Path) -> float:
    from deepdiff import DeepDiff  # noqa: PLC0415 - benchmark peer only

    options = NormalizeOptions()
    base_set = parse_rendered(static_render(base_dir), namespace="default")
    head_set = parse_rendered(static_render(head_dir), namespace="default")
    base, _ = normalize_side(base_set, base_set, options, fingerprint_key=b"bench")
    head, _ = normalize_side(head_set, head_set, options, fingerprint_key=b"bench")
    head_by_id = {r.id: r for r in head}
    pairs = [(r.body, head_by_id[r.id].body) for r in base if r.id in head_by_id]
    size_mb = sum(len(json.dumps(r.body)) for r in base) / 2**20

    def ours() -> int:
        return sum(len(d.changes) for d in diff_resources(base, head, classify))

    def peer() -> int:
        return sum(len(DeepDiff(b, h, ignore_order=True)) for b, h in pairs)

    our_time, changes = timed(ours, repeat=5)
    peer_time, _ = timed(peer, repeat=1)
    our_peak, peer_peak = peak_mb(ours), peak_mb(peer)
    print(
        f"Diff engine: {len(base)} → {len(head)} resources ({len(pairs)} in both), "
        f"{size_mb:.1f} MB of base manifests as JSON, {changes} field changes found"
    )
    for label, seconds, peak in (
        ("chartimpact diff_resources", our_time, our_peak),
        ("deepdiff ignore_order=True, paired", peer_time, peer_peak),
    ):
        print(f"  {label:36s}{seconds * 1000:8.1f} ms  peak {peak:6.1f} MB")
    print(
        f"  → {peer_time / our_time:.1f}× faster, {peer_peak / our_peak:.1f}× less peak memory "
        "(target: ≥ 5× faster, lower peak)"
    )
    return float(peer_time)


def _side(
    chart_dir: Path, renderer: IsolatedHelmRenderer
) -> tuple[list[Resource], dict[str, float], MaterializedChart]:
    """One side as the pipeline runs it, with the time of each stage."""
    source = DirectorySource(chart_dir.parent)
    times: dict[str, float] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        materialized = materialize(source, load_chart_info(source, chart_dir.name), Path(tmp))
        times["materialize"] = time.perf_counter() - start
        start = time.perf_counter()
        first, second = renderer.render(RenderRequest(materialized.directory), repeat=2)
        child = time.perf_counter() - start
    times["render ×2 + helm lint (child)"] = first.timings["render"]
    times["parse (child)"] = first.timings["parse"]
    times["process start + transfer"] = child - first.timings["render"] - first.timings["parse"]
    start = time.perf_counter()
    sets = [parse_rendered(r, namespace="default") for r in (first, second)]
    times["identities (parent)"] = time.perf_counter() - start
    start = time.perf_counter()
    resources, _ = normalize_side(sets[0], sets[1], NormalizeOptions(), fingerprint_key=b"bench")
    times["normalize (parent)"] = time.perf_counter() - start
    return resources, times, materialized


def bench_pipeline(base_dir: Path, head_dir: Path, deepdiff_seconds: float) -> None:
    renderer = IsolatedHelmRenderer()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        base_future = pool.submit(_side, base_dir, renderer)
        head_future = pool.submit(_side, head_dir, renderer)
        (base, base_times, base_chart), (head, head_times, head_chart) = base_future.result(), head_future.result()
    sides_wall = time.perf_counter() - start
    diff_time, diffs = timed(lambda: diff_resources(base, head, classify))

    def signals() -> int:
        sides = [
            ChartSide({r.id: r for r in resources}, chart, ())
            for resources, chart in ((base, base_chart), (head, head_chart))
        ]
        ctx = SignalContext("bench", "bench", sides[0], sides[1], diffs)
        locator = SourceLocator(sides[0], sides[1])
        found, failures = detect_signals(ctx, locator)
        assert not failures, failures
        return len(found)

    signals_time, signal_count = timed(signals, repeat=3)

    def report() -> str:
        outcome = ChartOutcome(
            ChartReport(path="bench", name="bench", status="analyzed", diff=StructuredDiff("x", (), diffs))
        )
        return dumps(build_report([outcome], Revision("base"), Revision("head")))

    report_time, text = timed(report)
    command = [
        sys.executable,
        "-m",
        "chartimpact_bot",
        "diff",
        str(base_dir),
        str(head_dir),
        "--format",
        "json",
        "--output",
        str(WORK / "report.json"),
        "--offline",
    ]
    total, _ = timed(lambda: subprocess.run(command, cwd=ROOT, check=False), repeat=3)
    print()
    report_mb = len(text) / 2**20
    print(f"Whole `diff` command, end to end: {total:.2f} s (median of 3; report {report_mb:.1f} MB)")
    print(f"  both sides in parallel: {sides_wall:.2f} s wall; per side (base / head):")
    for name in base_times:
        print(f"    {name:28s} {base_times[name]:6.3f} s / {head_times[name]:6.3f} s")
    print(f"  diff + classify             {diff_time:6.3f} s")
    print(
        f"  signals ({len(DETECTORS)} detectors)       {signals_time:6.3f} s: {signal_count} signals, "
        f"{signals_time / max(len(head), 1) * 1000:.2f} ms per resource over {len(head)} resources"
    )
    print(f"  report (JSON)               {report_time:6.3f} s")
    print(
        f"  → {total / deepdiff_seconds:.2f} of deepdiff's time on the diff alone "
        f"({deepdiff_seconds:.2f} s; target ≤ 0.33)"
    )
    print(f"  → whole pipeline with signals on {len(head)} resources: {total:.2f} s (target < 2 s)")


def main() -> None:
    WORK.mkdir(exist_ok=True)
    base_dir, head_dir, _, _ = generate(WORK)
    deepdiff_seconds = bench_diff(base_dir, head_dir)
    bench_pipeline(base_dir, head_dir, deepdiff_seconds)


if __name__ == "__main__":
    main()
