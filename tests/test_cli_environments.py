"""`diff --env NAME=FILE[,FILE…]` (issue 13 point 6): one chart analyzed per environment, each
with its own values files, in one report."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import make_chart
from tests.test_cli import run

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: {{ .Values.type }}
  selector: {app: web}
  ports: [{port: {{ .Values.port }}}]
"""


def test_each_environment_is_analyzed_with_its_values(tmp_path: Path) -> None:
    base = make_chart(tmp_path / "base", "web", {"service.yaml": SERVICE}, "type: ClusterIP\nport: 80\n")
    head = make_chart(tmp_path / "head", "web", {"service.yaml": SERVICE}, "type: ClusterIP\nport: 8080\n")
    (tmp_path / "prod.yaml").write_text("type: LoadBalancer\n")
    (tmp_path / "one.yaml").write_text("port: 1\n")
    (tmp_path / "two.yaml").write_text("port: 2\n")
    code, out, err = run(
        "diff", str(base), str(head), "--format", "json",
        "--env", f"prod={tmp_path / 'prod.yaml'}",
        "--env", f"fixed={tmp_path / 'one.yaml'},{tmp_path / 'two.yaml'}",
    )  # fmt: skip
    assert code in (0, 1), err
    charts = {c["environment"]: c for c in json.loads(out)["charts"]}
    assert set(charts) == {"prod", "fixed"}
    prod = [
        (c["displayPath"], c["before"], c["after"]) for r in charts["prod"]["diff"]["resources"] for c in r["changes"]
    ]
    # prod is a LoadBalancer on both sides (its values file): only the port changes.
    assert prod == [("spec.ports[port=8080]", None, {"port": 8080}), ("spec.ports[port=80]", {"port": 80}, None)]
    # The last file wins within an environment, on both sides: nothing changes for `fixed`.
    assert charts["fixed"]["diff"]["resources"] == []


def test_a_malformed_or_repeated_env_is_a_usage_error(tmp_path: Path) -> None:
    chart = make_chart(tmp_path, "web", {"service.yaml": SERVICE}, "type: ClusterIP\nport: 80\n")
    code, _, err = run("diff", str(chart), str(chart), "--env", "prod")
    assert code == 2 and "--env 'prod': write NAME=FILE" in err
    code, _, err = run("diff", str(chart), str(chart), "--env", "a=x.yaml", "--env", "a=y.yaml")
    assert code == 2 and "--env 'a' is given twice" in err
