"""The result cache's key (jobs/input_digest.py): what changes it and what does not."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from chartimpact_bot.core.config import AnalysisConfig
from chartimpact_bot.engine.remote import RepositoryAccess, RepositoryCredentials
from chartimpact_bot.engine.remote.credentials import Credential
from chartimpact_bot.engine.render import RenderLimits
from chartimpact_bot.engine.sources import FileEntry
from chartimpact_bot.jobs.analysis_process import WorkerOptions
from chartimpact_bot.jobs.input_digest import SideInputs, input_digest

LISTING = {
    "charts/web/Chart.yaml": FileEntry(40, "a" * 40),
    "charts/web/values.yaml": FileEntry(20, "b" * 40),
    "charts/web/templates/deploy.yaml": FileEntry(300, "c" * 40),
    "README.md": FileEntry(10, "d" * 40),
}
READ = {"charts/web/Chart.yaml", "charts/web/values.yaml", "charts/web/templates/deploy.yaml", "charts/gone.yaml"}
KEY = b"k" * 32


def _digest(**changes: Any) -> str | None:
    arguments: dict[str, Any] = {
        "repository": "acme/charts",
        "config": AnalysisConfig(),
        "options": WorkerOptions(fingerprint_key=KEY),
        "base": SideInputs(LISTING, READ, {}),
        "head": SideInputs(LISTING, READ, {}),
    }
    arguments.update(changes)
    return input_digest(**arguments)


def _head(
    listing: dict[str, FileEntry], read: Iterable[str] = READ, left_out: dict[str, str] | None = None
) -> SideInputs:
    return SideInputs(listing, read, left_out or {})


def test_the_same_inputs_give_the_same_hex_digest() -> None:
    digest = _digest()
    assert digest is not None and len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert _digest(repository="Acme/Charts") == digest  # GitHub's names ignore case
    assert _digest(head=_head(dict(reversed(LISTING.items())), sorted(READ, reverse=True))) == digest


def test_a_file_not_read_does_not_change_it() -> None:
    assert _digest(head=_head({**LISTING, "README.md": FileEntry(11, "e" * 40)})) == _digest()
    assert _digest(head=_head(LISTING, READ - {"charts/gone.yaml"})) == _digest()  # not in the listing anyway


def test_everything_a_report_depends_on_changes_it() -> None:
    values = {**LISTING, "charts/web/values.yaml": FileEntry(20, "f" * 40)}
    linked = {**LISTING, "charts/web/values.yaml": FileEntry(20, "b" * 40, link="charts/web/other.yaml")}
    variants = {
        "base": _digest(),
        "values file": _digest(head=_head(values)),
        "same file on the other side": _digest(base=_head(values)),
        "link target": _digest(head=_head(linked)),
        "a file more read": _digest(head=_head(LISTING, READ | {"README.md"})),
        "left-out link": _digest(head=_head(LISTING, READ, {"charts/web/x": "it leaves the commit"})),
        "repository": _digest(repository="acme/other"),
        "config": _digest(config=AnalysisConfig(exclude=("charts/legacy",))),
        "signals off": _digest(options=WorkerOptions(fingerprint_key=KEY, signals_enabled=False)),
        "render limits": _digest(options=WorkerOptions(fingerprint_key=KEY, render=RenderLimits(30.0, 1024))),
        "helm binary": _digest(options=WorkerOptions(fingerprint_key=KEY, helm_binary="/usr/bin/helm")),
        "fingerprint key": _digest(options=WorkerOptions(fingerprint_key=b"other key")),
        # A dependency that could not be fetched may be fetched now: the report would differ.
        "private repositories": _digest(
            options=WorkerOptions(fingerprint_key=KEY, repositories=RepositoryAccess(allow_private_networks=True))
        ),
        "repository credentials": _digest(
            options=WorkerOptions(
                fingerprint_key=KEY,
                repositories=RepositoryAccess(
                    credentials=RepositoryCredentials((Credential(url="oci://registry.example.com", token="t"),))
                ),
            )
        ),
    }
    assert None not in variants.values()
    assert len(set(variants.values())) == len(variants), variants


def test_the_fingerprint_key_keys_the_digest_and_an_empty_key_is_a_key_too() -> None:
    options = WorkerOptions(fingerprint_key=KEY)
    assert _digest(options=options) != _digest(options=dataclasses.replace(options, fingerprint_key=b""))


def test_inputs_that_cannot_be_named_exactly_are_not_cached() -> None:
    unknown = {**LISTING, "charts/web/values.yaml": FileEntry(20, None)}
    assert _digest(head=_head(unknown)) is None
    assert _digest(config=AnalysisConfig(raw={"huge": 2**80})) is None
