"""Schema validation of the 300-resource benchmark pair (issue 14), as a fraction of its render.

    python -m benchmarks.validation            # make bench

Both sides are rendered as an analysis renders them (real Helm, twice each, normalized), then
every resource of both is validated against one target release and against two: the first run
with a cold process (definitions loaded, validators compiled), then the median of five warm runs
(a worker validates many pull requests with the same compiled validators). The peer, measured in
the same run on the same resources: `kubernetes_validate.validate()`, the package whose schemas
we read, which loads and builds its validator per resource (one release, strict).
Nothing is asserted.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import kubernetes_validate

from benchmarks.generate import generate
from chartimpact_bot.core.config import AnalysisConfig, Environment
from chartimpact_bot.core.model import Resource, ResourceId
from chartimpact_bot.core.validation import crds, schemas
from chartimpact_bot.core.validation.problems import validate_side
from chartimpact_bot.engine.pipeline import ChartTarget, PipelineOptions, chart_at, render_targets
from chartimpact_bot.engine.sources import DirectorySource

WORK = Path(__file__).resolve().parent / ".work"
VERSIONS = ("1.31", "1.33")
RUNS = 5


def _sides() -> tuple[dict[ResourceId, Resource], dict[ResourceId, Resource], float]:
    pair = generate(WORK, 300)
    target = ChartTarget(
        display_path="bench",
        base=chart_at(DirectorySource(pair.base_dir.parent), "bench"),
        head=chart_at(DirectorySource(pair.head_dir.parent), "bench"),
        environment=Environment(),
    )
    start = time.perf_counter()
    (sides,) = render_targets([target], PipelineOptions(), AnalysisConfig(kube_versions=VERSIONS))
    seconds = time.perf_counter() - start
    assert sides.base is not None, "the benchmark pair must render"
    assert sides.head is not None, "the benchmark pair must render"
    return sides.base.resources, sides.head.resources, seconds


def _validate(base: dict[ResourceId, Resource], head: dict[ResourceId, Resource], versions: tuple[str, ...]) -> int:
    """As signals/upgrade/schema.py does for a chart: each side's CRDs converted once."""
    found = 0
    for side in (base, head):
        converted = crds.crd_schemas(side.values())
        found += sum(len(validate_side(side, v, crds=converted).problems) for v in versions)
    return found


def _cold_caches() -> None:
    for cached in (
        schemas._document,
        schemas._kinds,
        schemas._registry,
        schemas.builtin_validator,
        crds.compiled,
        crds._converted,
    ):
        cached.cache_clear()


def _peer(resources: list[Resource]) -> float:
    start = time.perf_counter()
    for resource in resources:
        try:
            kubernetes_validate.validate(resource.body, VERSIONS[-1], strict=True)
        except Exception:  # invalid or unknown kinds count as checked
            continue
    return time.perf_counter() - start


def main() -> int:
    base, head, render_seconds = _sides()
    count = len(base) + len(head)
    print(f"Schema validation of the 300-resource pair ({len(base)} + {len(head)} resources)")
    print(f"  render of both sides (Helm twice each, parse, normalize): {render_seconds:.2f} s")
    for versions in (VERSIONS[-1:], VERSIONS):
        _cold_caches()
        start = time.perf_counter()
        problems = _validate(base, head, versions)
        cold = time.perf_counter() - start
        warm = []
        for _ in range(RUNS):
            start = time.perf_counter()
            _validate(base, head, versions)
            warm.append(time.perf_counter() - start)
        median = statistics.median(warm)
        label = " and ".join(versions)
        print(
            f"  against {label}: cold {cold * 1000:.0f} ms ({cold / render_seconds:.1%} of the render), "
            f"warm {median * 1000:.1f} ms ({median / render_seconds:.2%}); {problems} problems"
        )
    peer = _peer([*base.values(), *head.values()])
    _cold_caches()
    start = time.perf_counter()
    _validate(base, head, VERSIONS[-1:])
    ours = time.perf_counter() - start
    print(f"  peer, kubernetes_validate.validate() per resource against {VERSIONS[-1]}: {peer:.2f} s")
    print(f"  ratio ours (cold) / peer: {ours / peer:.3f} ({count} resources)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
