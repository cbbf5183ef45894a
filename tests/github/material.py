"""Test material nobody on the team wrote, fetched from the npm registry at test time.

`@octokit/openapi` (GitHub's REST description) and `@octokit/webhooks-examples` (real
payloads) are packed with `npm pack` into .cache/npm (ignored by git) once; only the two files
the tests use are extracted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "npm"
OPENAPI = ("@octokit/openapi", "23.0.2", "package/generated/api.github.com.json")
EXAMPLES = ("@octokit/webhooks-examples", "7.6.1", "package/api.github.com/index.json")
# The OASIS SARIF 2.1.0 schema (its final text, "rtm.5", as schemastore publishes it), shipped by
# Microsoft's SARIF tooling.
SARIF_SCHEMA = ("@microsoft/jest-sarif", "1.0.0-beta.0", "package/lib/schemas/sarif-2.1.0-rtm.5.json")


def _file(package: str, version: str, member: str) -> Path:
    target = CACHE / f"{package.replace('/', '+')}-{version}" / Path(member).name
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch the GitHub test material (Node.js and npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "pack", f"{package}@{version}", "--silent"],
        cwd=CACHE,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm pack {package}@{version} failed: {done.stderr.strip()[-500:]}")
    archive = CACHE / done.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        source = tar.extractfile(member)
        if source is None:
            raise RuntimeError(f"{package}@{version} has no {member}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(source.read())
        partial.replace(target)
    archive.unlink()
    return target


@cache
def rest_description() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_file(*OPENAPI).read_text())
    return data


@cache
def webhook_examples() -> dict[str, list[dict[str, Any]]]:
    """Example payloads by event name."""
    entries = json.loads(_file(*EXAMPLES).read_text())
    return {entry["name"]: entry["examples"] for entry in entries}


@cache
def sarif_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_file(*SARIF_SCHEMA).read_text())
    return data
