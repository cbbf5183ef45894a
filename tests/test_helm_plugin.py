"""The Helm plugin, run the way Helm runs one (no helm binary here): plugin.yaml read from the
plugin's directory under $HELM_PLUGINS, $HELM_PLUGIN_DIR and the other variables set, the command
expanded with them and split on spaces, the user's arguments appended; hooks through `sh -c`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chartimpact_bot import __version__
from tests.conftest import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent
BASE, HEAD = str(EXAMPLES / "base" / "storefront"), str(EXAMPLES / "head" / "storefront")


def _installed(plugins: Path, *, with_venv: bool = True) -> Path:
    """The plugin as `helm plugin install <this repository>` leaves it: a copy of the repository."""
    directory = plugins / "chartimpact-bot"
    directory.mkdir(parents=True)
    for name in ("plugin.yaml", "requirements.txt"):
        shutil.copy2(ROOT / name, directory / name)
    for name in ("scripts", "chartimpact_bot"):
        shutil.copytree(ROOT / name, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
    if with_venv:
        # What the install hook builds, here the test's own virtualenv (the requirements are installed).
        (directory / ".venv").symlink_to(Path(sys.prefix))
    return directory


def _helm_env(directory: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HELM_PLUGINS": str(directory.parent),
        "HELM_PLUGIN_DIR": str(directory),
        "HELM_PLUGIN_NAME": "chartimpact",
        "HELM_BIN": "helm",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def helm_plugin(directory: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    spec = yaml.safe_load((directory / "plugin.yaml").read_text())
    env = _helm_env(directory, tmp_path)
    command = spec["command"].replace("$HELM_PLUGIN_DIR", env["HELM_PLUGIN_DIR"]).split(" ")
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path
    )


def test_helm_chartimpact_diff_works_like_the_command_line(tmp_path: Path) -> None:
    directory = _installed(tmp_path / "plugins")
    done = helm_plugin(directory, tmp_path, "diff", BASE, HEAD, "--format", "json")
    assert done.returncode == 1, done.stderr  # the example's verdict is fail
    report = json.loads(done.stdout)
    assert report["verdict"] == "fail" and report["summary"]["signals"]["total"] > 0
    same = helm_plugin(directory, tmp_path, "diff", BASE, BASE, "--format", "text")
    assert same.returncode == 0, same.stderr


def test_usage_errors_keep_their_exit_code_and_sentence(tmp_path: Path) -> None:
    directory = _installed(tmp_path / "plugins")
    done = helm_plugin(directory, tmp_path, "diff", str(tmp_path / "nowhere"), HEAD)
    assert done.returncode == 2
    assert "is not a directory" in done.stderr and "Traceback" not in done.stderr


def test_the_install_hook_sets_up_the_virtualenv_it_runs_from(tmp_path: Path) -> None:
    directory = _installed(tmp_path / "plugins")
    hook = yaml.safe_load((directory / "plugin.yaml").read_text())["hooks"]["install"]
    done = subprocess.run(
        ["sh", "-c", hook], env=_helm_env(directory, tmp_path), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "helm chartimpact diff" in done.stdout


def test_before_the_hook_ran_the_plugin_says_what_to_do(tmp_path: Path) -> None:
    directory = _installed(tmp_path / "plugins", with_venv=False)
    done = helm_plugin(directory, tmp_path, "diff", BASE, HEAD)
    assert done.returncode == 2
    assert "helm plugin update chartimpact" in done.stderr


@pytest.mark.parametrize("field", ["name", "version", "usage", "description", "command"])
def test_plugin_yaml_has_what_helm_reads(field: str) -> None:
    spec = yaml.safe_load((ROOT / "plugin.yaml").read_text())
    assert spec[field]
    assert spec["version"] == __version__
    assert spec["name"] == "chartimpact"
