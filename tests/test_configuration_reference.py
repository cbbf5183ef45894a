"""docs/configuration-reference.md says only what the code does: it is generated from the variables
catalogue and the JSON Schema, the catalogue names exactly what the server and the command line
read, and a default written there is the default the code applies."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from chartimpact_bot import cli, reference
from chartimpact_bot.settings import load_settings
from chartimpact_bot.variables import SECTIONS, VARIABLES, by_name
from tests.github.conftest import generate_app_keys

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "configuration-reference.md"
EXAMPLE = ROOT / "examples" / "charts"
CREDENTIALS = {"GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": generate_app_keys()[0], "GITHUB_WEBHOOK_SECRET": "s"}
# Read by the command line only on a terminal (the text report's colour), which a test is not.
TERMINAL_ONLY = {"NO_COLOR"}
# Looked up by Python's standard library, not by ChartImpact: argparse's terminal size, gettext's
# language, ssl's key log, tempfile's directory.
STANDARD_LIBRARY = {
    "COLUMNS",
    "LINES",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_MESSAGES",
    "SSLKEYLOGFILE",
    "TMPDIR",
    "TEMP",
    "TMP",
}


class RecordingEnvironment(dict[str, str]):
    """An environment that remembers every variable looked up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return super().get(name, default)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.add(name)
        return super().__contains__(name)


def _named(reader: str) -> set[str]:
    return {v.name for v in VARIABLES if reader in v.readers}


def test_the_committed_reference_is_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == reference.render(), (
        "docs/configuration-reference.md is stale: python -m chartimpact_bot.reference > docs/configuration-reference.md"
    )


def test_the_server_reads_exactly_the_catalogued_variables(tmp_path: Path) -> None:
    read: set[str] = set()
    # With credentials, and without them (then the stored-credentials file is consulted).
    for given in (CREDENTIALS, {"CHARTIMPACT_CREDENTIALS_FILE": str(tmp_path / "none.env")}):
        env = RecordingEnvironment(given)
        load_settings(env)
        read |= env.read
    assert read == _named("server")


def test_the_command_line_reads_only_catalogued_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = {v.name for v in VARIABLES}
    system = {name: value for name, value in os.environ.items() if name not in ours}
    env = RecordingEnvironment(
        system | {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    )
    monkeypatch.setattr(os, "environ", env)
    code = cli.main(["diff", str(EXAMPLE / "base" / "storefront"), str(EXAMPLE / "head" / "storefront")])
    capsys.readouterr()
    assert code in (0, 1)
    # A variable the program looks up that this environment does not set is configuration it offers
    # (the system's own, HOME or PATH, are set); it must be in the catalogue.
    offered = env.read - set(system) - STANDARD_LIBRARY
    read_of_ours = env.read & ours
    cli_variables = _named("cli")
    assert offered <= cli_variables, f"read but not catalogued for the CLI: {offered - cli_variables}"
    assert cli_variables - TERMINAL_ONLY <= read_of_ours, (
        f"catalogued for the CLI but never read: {cli_variables - TERMINAL_ONLY - read_of_ours}"
    )


@pytest.mark.parametrize(
    "variable",
    [v for v in VARIABLES if "server" in v.readers and v.default is not None],
    ids=lambda v: v.name,
)
def test_setting_a_server_variable_to_its_documented_default_changes_nothing(variable: Any, tmp_path: Path) -> None:
    base = CREDENTIALS | {"CHARTIMPACT_FINGERPRINT_KEY": "k" * 32}
    assert load_settings(base | {variable.name: variable.default}) == load_settings(base)


def test_a_different_value_does_change_the_settings() -> None:
    # The equality above would hold vacuously if Settings compared equal whatever their fields.
    base = CREDENTIALS | {"CHARTIMPACT_FINGERPRINT_KEY": "k" * 32}
    assert load_settings(base | {"WORKER_CONCURRENCY": "7"}) != load_settings(base)


def test_every_variable_has_a_known_section_and_a_single_entry() -> None:
    assert len(by_name()) == len(VARIABLES)
    assert {v.section for v in VARIABLES} == set(SECTIONS)
    assert all(v.meaning.strip() for v in VARIABLES)


def _properties(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(node, dict):
        return
    for name, child in node.get("properties", {}).items():
        yield f"{path}.{name}", child
        yield from _properties(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        yield from _properties(node.get(key), f"{path}[]")
    for choice in node.get("anyOf", []):
        yield from _properties(choice, path)
    for name, definition in node.get("$defs", {}).items():
        yield from _properties(definition, f"#{name}")


def test_every_configuration_key_is_described() -> None:
    schema = json.loads((ROOT / "chartimpact_bot" / "schema" / "chartimpact.schema.json").read_text("utf-8"))
    undescribed = [path for path, node in _properties(schema, "") if not node.get("description", "").strip()]
    assert undescribed == []
