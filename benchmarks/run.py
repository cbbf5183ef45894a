"""Run every benchmark on the generated chart pair and print figures and ratios.

    python -m benchmarks.run            # or: make bench

Nothing is asserted: the figures are for people (and for the issue notes). Peers are measured
in the same run on the same inputs.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks.generate import generate
from chartimpact_bot.core.chart_report import build_report, chart_signals
from chartimpact_bot.core.classify import classify
from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.core.diff import diff_resources
from chartimpact_bot.core.documents import RenderedChart, is_emitted, parse_template
from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.core.manifests import parse_rendered
from chartimpact_bot.core.model import Revision
from chartimpact_bot.core.normalize import NormalizeOptions, normalize_side
from chartimpact_bot.core.report.json import dumps
from chartimpact_bot.core.signals.engine import detectors
from chartimpact_bot.engine import memory_watch
from chartimpact_bot.engine.pipeline import ChartTarget, PipelineOptions, chart_at, render_targets, report_sides
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


def bench_pipeline(base_dir: Path, head_dir: Path, deepdiff_seconds: float) -> None:
    """The pipeline's own public stages on the generated pair: render both sides (their stage
    times recorded by the engine), then the core's diff, signals and report."""
    options = PipelineOptions(renderer=IsolatedHelmRenderer(), fingerprint_key=b"bench")
    config = AnalysisConfig()
    base_at, head_at = (chart_at(DirectorySource(d.parent), d.name) for d in (base_dir, head_dir))
    target = ChartTarget("bench", base_at, head_at, Environment())
    start = time.perf_counter()
    (sides,) = list(render_targets([target], options, config))
    sides_wall = time.perf_counter() - start
    base, head = sides.base, sides.head
    if base is None or head is None or base.error or head.error:
        raise SystemExit(f"the generated charts did not render: {base and base.error} / {head and head.error}")
    diff_time, diffs = timed(
        lambda: diff_resources(base.resources.values(), head.resources.values(), classify), repeat=3
    )

    def signals() -> int:
        found, failures = chart_signals(base, head, diffs, config, name="bench", display_path="bench")
        assert not failures, failures
        return len(found)

    signals_time, signal_count = timed(signals, repeat=3)

    def report() -> str:
        chart = report_sides(sides, options, config)
        return dumps(build_report([chart], Revision("base"), Revision("head")))

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
    for name in base.timings:
        print(f"    {name:34s} {base.timings[name]:6.3f} s / {head.timings.get(name, 0):6.3f} s")
    print(f"  diff + classify             {diff_time:6.3f} s")
    print(
        f"  signals ({len(DETECTORS)} detectors)       {signals_time:6.3f} s: {signal_count} signals, "
        f"{signals_time / max(len(head.resources), 1) * 1000:.2f} ms per resource over {len(head.resources)} resources"
    )
    print(f"  chart report (diff, signals, policy) + JSON {report_time:6.3f} s")
    print(
        f"  → {total / deepdiff_seconds:.2f} of deepdiff's time on the diff alone "
        f"({deepdiff_seconds:.2f} s; target ≤ 0.33)"
    )
    print(f"  → whole pipeline with signals on {len(head.resources)} resources: {total:.2f} s (target < 2 s)")


@contextmanager
def address_space_bound() -> Iterator[None]:
    """Renders bounded as before the resident-set watch: RLIMIT_AS at RENDER_MEMORY_MB (+256 MB
    to parse the output), nobody looking at the child, no Go heap limit."""
    saved = os.environ.get("GOMEMLIMIT")
    os.environ["GOMEMLIMIT"] = "off"
    try:
        with mock.patch.object(memory_watch, "available", return_value=False):
            yield
    finally:
        if saved is None:
            del os.environ["GOMEMLIMIT"]
        else:
            os.environ["GOMEMLIMIT"] = saved


def bench_memory_bound(chart_dir: Path, rounds: int = 5) -> None:
    """What the memory bound costs a render of the generated chart: the resident-set watch
    (this process looks at the child every 2-50 ms) against the address-space limit it replaced,
    interleaved so both see the same load. The render is the pipeline's: two renders and lint."""
    renderer = IsolatedHelmRenderer()
    request = RenderRequest(chart_dir=chart_dir)
    figures: dict[str, list[tuple[float, float, float]]] = {"before": [], "after": []}
    failures = {"before": 0, "after": 0}
    logging_off = mock.patch.object(logging.getLogger("chartimpact_bot.engine.render"), "disabled", True)
    with logging_off:
        for _ in range(rounds):
            for label in ("before", "after"):
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu, start = time.process_time(), time.perf_counter()
                try:
                    if label == "before":
                        with address_space_bound():
                            renderer.render(request, repeat=2)
                    else:
                        renderer.render(request, repeat=2)
                except RenderError:  # the flake the watch removes; its time still counts
                    failures[label] += 1
                wall, own = time.perf_counter() - start, time.process_time() - cpu
                done = resource.getrusage(resource.RUSAGE_CHILDREN)
                child = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
                figures[label].append((wall, own, child))
    medians = {label: [statistics.median(f[i] for f in rows) for i in range(3)] for label, rows in figures.items()}
    names = {"before": "before: RLIMIT_AS at the limit", "after": "after: resident-set watch"}
    print()
    print(f"Memory bound of a render (RENDER_MEMORY_MB), {chart_dir.name}: medians of {rounds}, interleaved")
    for label, (wall, own, child) in medians.items():
        print(
            f"  {names[label]:32s} {wall:6.3f} s wall, this process {own * 1000:6.1f} ms CPU, "
            f"render process {child:6.3f} s CPU, {failures[label]} of {rounds} failed"
        )
    before, after = medians["before"], medians["after"]
    print(
        f"  → {after[0] / before[0]:.2f}× the wall time, {after[2] / before[2]:.2f}× the render process's CPU; "
        f"the watch costs this process {(after[1] - before[1]) * 1000:+.1f} ms of CPU per render"
    )


def main() -> None:
    WORK.mkdir(exist_ok=True)
    base_dir, head_dir, _, _ = generate(WORK)
    deepdiff_seconds = bench_diff(base_dir, head_dir)
    bench_pipeline(base_dir, head_dir, deepdiff_seconds)
    bench_memory_bound(head_dir)


if __name__ == "__main__":
    main()
