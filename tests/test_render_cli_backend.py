"""The `helm` CLI backend (HELM_BINARY): the command it runs and how it reads the output.

No `helm` binary can be installed on this machine, so these tests put a recording stand-in on
the path: it checks the arguments the backend passes and prints output in the exact format of
`helm template --include-crds`. Rendering itself is tested with the real engine elsewhere.
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderLimits, RenderRequest, ValuesFile
from chartimpact_bot.engine.render_worker import split_cli_output

HELM_TEMPLATE_OUTPUT = """\
---
# Source: web/crds/widgets.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
---
# Source: web/templates/configmaps.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: one
---
# Source: web/templates/configmaps.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: two
---
# Source: web/charts/redis/templates/svc.yaml
apiVersion: v1
kind: Service
metadata:
  name: redis
"""


def test_helm_template_output_is_grouped_by_source() -> None:
    split = split_cli_output(HELM_TEMPLATE_OUTPUT)
    assert sorted(split["crds"]) == ["web/crds/widgets.yaml"]
    assert sorted(split["templates"]) == [
        "web/charts/redis/templates/svc.yaml",
        "web/templates/configmaps.yaml",
    ]
    assert split["templates"]["web/templates/configmaps.yaml"].count("kind: ConfigMap") == 2


def _stand_in(tmp_path: Path, *, fail: bool = False) -> Path:
    record = tmp_path / "argv.json"
    script = tmp_path / "helm"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, sys
            args = sys.argv[1:]
            values = [open(args[i + 1]).read() for i, a in enumerate(args) if a == "--values"]
            json.dump({{"args": args, "values": values}}, open({str(record)!r}, "w"))
            if {fail!r}:
                sys.stderr.write("Error: template: web/templates/x.yaml:3:5: boom\\n")
                sys.exit(1)
            sys.stdout.write({HELM_TEMPLATE_OUTPUT!r})
            """
        )
    )
    script.chmod(0o755)
    return script


def test_backend_passes_every_render_option_and_parses_the_output(tmp_path: Path) -> None:
    helm = _stand_in(tmp_path)
    renderer = IsolatedHelmRenderer(helm_binary=str(helm))
    request = RenderRequest(
        chart_dir=tmp_path / "chart",
        release_name="shop",
        namespace="prod",
        values_files=(ValuesFile("prod.yaml", "replicas: 3\n"),),
        set_values=("image.tag=1.2.3",),
        kube_version="1.30.0",
        api_versions=("monitoring.coreos.com/v1",),
    )
    first, second = renderer.render(request, repeat=2)
    recorded = json.loads((tmp_path / "argv.json").read_text())
    args = recorded["args"]
    assert args[:4] == ["template", "shop", str(tmp_path / "chart"), "--namespace"]
    assert args[4] == "prod"
    assert "--include-crds" in args
    assert args[args.index("--set") + 1] == "image.tag=1.2.3"
    assert args[args.index("--kube-version") + 1] == "1.30.0"
    assert args[args.index("--api-versions") + 1] == "monitoring.coreos.com/v1"
    assert recorded["values"] == ["replicas: 3\n"]
    assert [doc[2]["metadata"]["name"] for doc in first.templates["web/templates/configmaps.yaml"]] == ["one", "two"]
    assert list(first.crds) == ["web/crds/widgets.yaml"]
    assert second.templates["web/templates/configmaps.yaml"] is first.templates["web/templates/configmaps.yaml"]


def test_backend_reports_helm_errors_as_one_sentence(tmp_path: Path) -> None:
    renderer = IsolatedHelmRenderer(helm_binary=str(_stand_in(tmp_path, fail=True)))
    with pytest.raises(RenderError) as caught:
        renderer.render(RenderRequest(chart_dir=tmp_path))
    assert str(caught.value) == "template: web/templates/x.yaml:3:5: boom"


def test_missing_helm_binary_is_named(tmp_path: Path) -> None:
    renderer = IsolatedHelmRenderer(helm_binary=str(tmp_path / "no-helm"))
    with pytest.raises(RenderError, match=r"cannot run .*no-helm"):
        renderer.render(RenderRequest(chart_dir=tmp_path))


def test_a_render_killed_for_its_time_leaves_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A render process killed at its timeout cannot clean up after itself (its values files, helm's
    own temporary files): its temporary directory is the parent's, removed once it has ended."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    record = tmp_path / "seen.json"
    helm = tmp_path / "helm"
    helm.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, os, sys, tempfile, time
            args = sys.argv[1:]
            own = tempfile.mkdtemp(prefix="helm-")  # as helm's own would be
            values = [args[i + 1] for i, a in enumerate(args) if a == "--values"]
            json.dump({{"tmpdir": os.environ["TMPDIR"], "values": values, "own": own}}, open({str(record)!r}, "w"))
            time.sleep(60)
            """
        )
    )
    helm.chmod(0o755)
    renderer = IsolatedHelmRenderer(RenderLimits(timeout_seconds=3), helm_binary=str(helm))
    with pytest.raises(RenderError, match="timed out"):
        renderer.render(RenderRequest(chart_dir=tmp_path, values_files=(ValuesFile("v.yaml", "a: 1\n"),)))
    seen = json.loads(record.read_text())
    assert Path(seen["tmpdir"]).parent == temporary
    assert [Path(seen["own"]).parent, *(Path(v).parent.parent for v in seen["values"])] == [Path(seen["tmpdir"])] * 2
    assert list(temporary.iterdir()) == []
