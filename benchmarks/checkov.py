"""checkov (a second peer) scanning the head's rendered manifests: one side, as it is run on the
output of `helm template`, against our whole `diff` command (both sides, render included).

checkov's dependencies are heavy and would conflict with the project's, so it lives in a
virtualenv of its own under benchmarks/.work/, installed on first use from
benchmarks/requirements-peers.txt (pinned) and again whenever that file changes. Where it
cannot be installed or run, the reason is printed and the benchmarks go on.

The manifests are the head chart rendered by the engine (the Helm SDK in its child process) and
written one file per template, as `helm template --output-dir` does, into a temporary directory:
checkov skips every path under a hidden directory such as benchmarks/.work.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmarks.generate import Pair
from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderLimits, RenderRequest

REQUIREMENTS = Path(__file__).resolve().parent / "requirements-peers.txt"
# checkov as a user runs it (every framework it has: kubernetes, secrets, ...), and limited to
# the kubernetes checks. --skip-download: no guidelines fetched from Prisma Cloud.
OPTIONS = ("--skip-download", "--quiet", "--compact", "-o", "json")
RUNS = {
    "default frameworks": [],
    "--framework kubernetes": ["--framework", "kubernetes"],
}


@dataclass
class Scan:
    times: dict[str, float] = field(default_factory=dict)  # run label → seconds
    problem: str | None = None


def ensure_installed(work: Path) -> tuple[Path | None, str]:
    """The checkov executable (None if it could not be installed), and what was done."""
    home = work / "peers-venv"
    marker = home / ".requirements"
    wanted = REQUIREMENTS.read_text()
    executable = home / "bin" / "checkov"
    if marker.is_file() and marker.read_text() == wanted and executable.is_file():
        return executable, "already installed"
    started = time.perf_counter()
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"could not create its virtualenv: {exc}"
    done = subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not executable.is_file():
        lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
        return None, f"pip install failed: {lines[-1] if lines else f'exit {done.returncode}'}"
    marker.write_text(wanted)
    return executable, f"installed into benchmarks/.work/peers-venv in {time.perf_counter() - started:.0f} s"


def write_rendered(pair: Pair, limits: RenderLimits, target: Path) -> tuple[int, int]:
    """The head chart rendered, each template's documents in a file: (files, documents)."""
    (chart,) = IsolatedHelmRenderer(limits).render(RenderRequest(chart_dir=pair.head_dir))
    files = documents = 0
    for source, parsed in {**chart.templates, **chart.crds}.items():
        if not parsed:
            continue
        path = target / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "---\n".join(yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=False, width=4096) for _, _, obj in parsed)
        )
        files, documents = files + 1, documents + len(parsed)
    return files, documents


def _summary(stdout: str) -> str:
    try:
        answer = json.loads(stdout)
    except ValueError:
        return "no JSON report"
    reports = answer if isinstance(answer, list) else [answer]
    parts = []
    for report in reports:
        summary = report.get("summary", report)
        kind = report.get("check_type", "all")
        parts.append(
            f"{kind}: {summary.get('resource_count', 0)} resources, "
            f"{summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed"
        )
    return "; ".join(parts)


def bench(pair: Pair, limits: RenderLimits, work: Path) -> Scan:
    scan = Scan()
    version = REQUIREMENTS.read_text().split("checkov==", 1)[-1].split()[0]
    print(f"checkov {version} on the head's rendered manifests (~{pair.size} pair, one side):")
    executable, how = ensure_installed(work)
    print(f"  checkov: {how}")
    if executable is None:
        scan.problem = f"checkov not measured: {how}"
        return scan
    with tempfile.TemporaryDirectory(prefix="chartimpact-checkov-") as tmp:
        manifests = Path(tmp) / "manifests"
        try:
            files, documents = write_rendered(pair, limits, manifests)
        except RenderError as exc:
            scan.problem = f"checkov not measured: the head did not render ({exc})"
            print(f"  {scan.problem}")
            return scan
        print(f"  rendered by the engine into {files} files, {documents} documents")
        for label, extra in RUNS.items():
            started = time.perf_counter()
            done = subprocess.run(
                [str(executable), "-d", str(manifests), *OPTIONS, *extra],
                capture_output=True,
                text=True,
                check=False,
            )
            seconds = time.perf_counter() - started
            if done.returncode not in (0, 1):  # 1: some checks failed, which is its ordinary answer
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                scan.problem = f"checkov {label} failed (exit {done.returncode}): {lines[-1] if lines else ''}"
                print(f"  {scan.problem}")
                continue
            scan.times[label] = seconds
            print(f"  checkov {label:24s} {seconds:6.2f} s ({_summary(done.stdout)})")
    return scan
