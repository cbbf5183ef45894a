"""The deployment files (docs/deployment.md): Dockerfile, compose.yaml, the Helm chart of the App
itself (rendered with the real engine and analyzed by the project's own command line), and the
systemd unit. No docker daemon is needed: the files are parsed and checked for what they promise."""

from __future__ import annotations

import configparser
import fnmatch
import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from chartimpact_bot.cli import main
from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderRequest
from chartimpact_bot.settings import Settings
from tests.conftest import REPO_ROOT, chart_yaml, write_files

CHART = REPO_ROOT / "deploy" / "chart"
UID = 10001
DEFAULT_GRACE = Settings(app_id=None).shutdown_grace_seconds


def known_env_names() -> set[str]:
    """Every quoted upper-case name in the package: the variables the code can read."""
    names: set[str] = set()
    for source in (REPO_ROOT / "chartimpact_bot").rglob("*.py"):
        names.update(re.findall(r"[\"']([A-Z][A-Z0-9_]{2,})[\"']", source.read_text(encoding="utf-8")))
    return names


def test_known_env_names_are_read_from_the_code() -> None:
    names = known_env_names()
    assert {"GITHUB_APP_ID", "GITHUB_WEBHOOK_SECRET", "CHARTIMPACT_QUEUE_URL", "WORKER_CONCURRENCY"} <= names
    assert "PORT" in names
    assert "GITHUB_WEBHOOK_SECRET_FILE" not in names  # so a made-up name would be caught


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (INSTRUCTION, arguments), one list per stage."""
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        assert stages, f"instruction before FROM: {line}"
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def args_of(stage: list[tuple[str, str]], instruction: str) -> list[str]:
    return [arguments for name, arguments in stage if name == instruction]


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    for stage in stages:
        image = args_of(stage, "FROM")[0].split()[0]
        assert image == "python:3.11-slim"
    builder = " ".join(args_of(stages[0], "RUN"))
    assert "python -m venv /opt/venv" in builder
    assert "pip install -r /tmp/requirements.txt" in builder
    assert any(a.startswith("--from=") and "/opt/venv" in a for a in args_of(stages[-1], "COPY"))


def test_dockerfile_final_stage_runs_unprivileged_with_its_data_volume() -> None:
    final = dockerfile_stages()[-1]
    (user,) = args_of(final, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) == UID and (not gid or int(gid) == UID)
    assert args_of(final, "WORKDIR") == ["/app"]
    assert args_of(final, "VOLUME") == ["/app/data"]
    assert args_of(final, "EXPOSE") == ["8080"]
    # The data directory exists and belongs to that user before the volume is declared.
    run = " ".join(args_of(final, "RUN"))
    assert f"chown {UID}:{UID} /app/data" in run
    # Compilers stay in the builder.
    for command in args_of(final, "RUN"):
        if "apt-get install" in command:
            assert not re.search(r"\b(build-essential|gcc|g\+\+|make)\b", command), command
    assert "curl" not in " ".join(a for _, a in final)


def test_dockerfile_healthcheck_asks_readyz_with_python() -> None:
    (healthcheck,) = args_of(dockerfile_stages()[-1], "HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--timeout=" in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "urllib.request" in argv[2] and "/readyz" in argv[2]


def test_dockerfile_copies_files_that_exist_and_runs_app_py() -> None:
    stages = dockerfile_stages()
    for stage in stages:
        for arguments in args_of(stage, "COPY"):
            if arguments.startswith("--from="):
                continue
            *sources, _destination = shlex.split(arguments)
            for source in sources:
                assert (REPO_ROOT / source).exists(), source
                assert not dockerignored(source), f"{source} is excluded by .dockerignore"
    (cmd,) = args_of(stages[-1], "CMD")
    argv = json.loads(cmd)
    assert argv == ["python", "app.py"]
    assert (REPO_ROOT / argv[1]).is_file()
    # The package data the server reads at run time comes with the package directory.
    assert (REPO_ROOT / "chartimpact_bot" / "app-manifest.yml").is_file()
    assert "helm-python-sdk" in (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8")


def test_dockerignore_keeps_local_state_out() -> None:
    for path in (".git", ".venv", "data", "benchmarks/.work", ".mypy_cache", "tests", "x.pem"):
        assert dockerignored(path), path
    for path in ("app.py", "requirements.txt", "chartimpact_bot"):
        assert not dockerignored(path), path


# --- compose.yaml ----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_the_app_on_a_persistent_redis() -> None:
    services = compose()["services"]
    app, redis = services["app"], services["redis"]
    assert redis["image"] == "redis:7"
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert redis["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    assert app["environment"]["CHARTIMPACT_QUEUE_URL"] == "redis://redis:6379/0"
    assert app["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert "./data:/app/data" in app["volumes"]
    assert int(app["stop_grace_period"].rstrip("s")) > DEFAULT_GRACE


def test_compose_secrets_and_env_use_names_the_code_reads() -> None:
    document = compose()
    app = document["services"]["app"]
    key_path = app["environment"]["GITHUB_PRIVATE_KEY_PATH"]
    (secret,) = app["secrets"]
    assert key_path == f"/run/secrets/{secret}"
    assert document["secrets"][secret]["file"].startswith("./secrets/")
    (env_file,) = app["env_file"]
    assert env_file["path"] == "chartimpact.env"
    example = (REPO_ROOT / "deploy" / "chartimpact.env.example").read_text(encoding="utf-8")
    example_names = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE)
    assert {"GITHUB_APP_ID", "GITHUB_WEBHOOK_SECRET"} <= set(example_names)
    unknown = (set(app["environment"]) | set(example_names)) - known_env_names()
    assert not unknown
    # The files holding real secrets are never committed.
    ignored = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "/chartimpact.env" in ignored and "/secrets/" in ignored


# --- the Helm chart --------------------------------------------------------------------------


def render(*set_values: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The chart's objects by (kind, name), rendered with the project's own renderer."""
    renderer = IsolatedHelmRenderer()
    (rendered,) = renderer.render(RenderRequest(chart_dir=CHART, release_name="ci", set_values=set_values))
    objects = {}
    for documents in rendered.templates.values():
        for _index, _line, obj in documents:
            objects[(obj["kind"], obj["metadata"]["name"])] = obj
    return objects


def only(objects: dict[tuple[str, str], dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [obj for (k, _), obj in objects.items() if k == kind]
    return found


def pod_of(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = only(objects, "Deployment")["spec"]["template"]["spec"]
    return spec


def env_of(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in pod["containers"][0]["env"]}


def test_chart_default_render() -> None:
    objects = render()
    assert sorted(kind for kind, _ in objects) == ["Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"]
    deployment = only(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    pdb = only(objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["maxUnavailable"] == 1  # one replica: a drain may still evict it
    service = only(objects, "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_chart_probes_point_at_the_apps_endpoints() -> None:
    (container,) = pod_of(render())["containers"]
    assert [p["name"] for p in container["ports"]] == ["http"]
    assert container["ports"][0]["containerPort"] == 8080
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # /readyz answers within 2 s (READY_TIMEOUT_SECONDS); the probe waits longer than that.
    assert container["readinessProbe"]["timeoutSeconds"] > 2


def test_chart_security_context_is_restricted() -> None:
    pod = pod_of(render())
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == UID
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsNonRoot"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/tmp"]]["emptyDir"] == {}
    assert volumes[mounts["/app/data"]]["emptyDir"] == {}
    account = only(render(), "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_chart_data_volume_can_be_a_claim() -> None:
    objects = render("persistence.enabled=true")
    claim = only(objects, "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    pod = pod_of(objects)
    (data,) = [v for v in pod["volumes"] if v["name"] == "data"]
    assert data["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    # One sqlite file on a ReadWriteOnce claim: the old pod goes before the new one starts.
    assert only(objects, "Deployment")["spec"]["strategy"]["type"] == "Recreate"
    existing = render("persistence.enabled=true", "persistence.existingClaim=mine")
    assert not [kind for kind, _ in existing if kind == "PersistentVolumeClaim"]
    (data,) = [v for v in pod_of(existing)["volumes"] if v["name"] == "data"]
    assert data["persistentVolumeClaim"]["claimName"] == "mine"


@pytest.mark.parametrize(("workers", "memory"), [(None, "2348Mi"), (3, "3372Mi")])
def test_chart_memory_follows_the_readme_sizing(workers: int | None, memory: str) -> None:
    pod = pod_of(render(*([f"workers={workers}"] if workers else [])))
    (container,) = pod["containers"]
    assert container["resources"]["requests"]["memory"] == memory
    assert container["resources"]["limits"]["memory"] == memory
    assert env_of(pod)["WORKER_CONCURRENCY"]["value"] == str(workers or 2)


def test_chart_gives_the_shutdown_drain_time_to_finish() -> None:
    pod = pod_of(render())
    env = env_of(pod)
    grace = float(env["SHUTDOWN_GRACE_SECONDS"]["value"])
    assert grace == DEFAULT_GRACE
    (container,) = pod["containers"]
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "python" and "time.sleep(5)" in sleep[-1]
    # preStop, then the grace, then about a second to return jobs and exit.
    assert pod["terminationGracePeriodSeconds"] >= 5 + grace + 5
    longer = pod_of(render("shutdownGraceSeconds=100", "preStopSleepSeconds=0"))
    assert "lifecycle" not in longer["containers"][0]
    assert longer["terminationGracePeriodSeconds"] > 100


def test_chart_refers_to_the_credentials_secret() -> None:
    pod = pod_of(render())
    env = env_of(pod)
    secret = "ci-chartimpact-bot-github"
    assert env["GITHUB_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "webhook-secret"}
    assert env["GITHUB_APP_ID"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "app-id"}
    assert env["CHARTIMPACT_API_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "github"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "github"]
    assert volume["secret"]["secretName"] == secret
    (item,) = volume["secret"]["items"]
    assert item["key"] == "private-key.pem"
    assert env["GITHUB_PRIVATE_KEY_PATH"]["value"] == f"{mount['mountPath']}/{item['path']}"
    assert mount["readOnly"] is True
    # Every variable the chart sets is one the server reads.
    assert not set(env) - known_env_names()
    assert "CHARTIMPACT_QUEUE_URL" not in env  # sqlite, the server's default


def test_chart_existing_secret_and_chart_created_secret() -> None:
    objects = render("github.existingSecret=mine", "github.appId=42")
    assert not [kind for kind, _ in objects if kind == "Secret"]
    env = env_of(pod_of(objects))
    assert env["GITHUB_APP_ID"] == {"name": "GITHUB_APP_ID", "value": "42"}
    assert env["GITHUB_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "mine"

    objects = render("github.appId=42", "github.privateKey=PEM", "github.webhookSecret=hook")
    secret = only(objects, "Secret")
    assert secret["stringData"] == {"private-key.pem": "PEM", "webhook-secret": "hook"}
    template = only(objects, "Deployment")["spec"]["template"]
    assert template["metadata"]["annotations"]["checksum/secret"]  # a rotated secret rolls the pods
    assert template["spec"]["volumes"][0]["secret"]["secretName"] == secret["metadata"]["name"]
    with pytest.raises(RenderError, match=r"github\.appId is needed"):
        render("github.privateKey=PEM", "github.webhookSecret=hook")
    with pytest.raises(RenderError, match="go together"):
        render("github.privateKey=PEM")


def test_chart_ingress_only_when_enabled() -> None:
    assert not [kind for kind, _ in render() if kind == "Ingress"]
    objects = render("ingress.enabled=true", "ingress.hosts={ci.example.com}", "ingress.className=nginx")
    ingress = only(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "ci.example.com"
    paths = [p["path"] for p in rule["http"]["paths"]]
    assert "/api/" in paths and "/reports/" in paths
    assert not {"/metrics", "/healthz", "/readyz", "/"} & set(paths)  # unauthenticated ones stay inside
    backends = {p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert backends == {only(objects, "Service")["metadata"]["name"]}


def test_chart_runs_one_replica_unless_redis_is_set() -> None:
    with pytest.raises(RenderError, match="replicaCount > 1 needs Redis"):
        render("replicaCount=2")
    objects = render("replicaCount=3", "queue.redisUrl=redis://redis:6379/0")
    deployment = only(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert env_of(pod_of(objects))["CHARTIMPACT_QUEUE_URL"]["value"] == "redis://redis:6379/0"
    objects = render("replicaCount=2", "queue.existingSecret=redis")
    reference = env_of(pod_of(objects))["CHARTIMPACT_QUEUE_URL"]["valueFrom"]["secretKeyRef"]
    assert reference == {"name": "redis", "key": "redis-url"}


def test_chart_values_schema_refuses_bad_values() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert set(schema["properties"]) == set(yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8")))
    with pytest.raises(RenderError):
        render("workers=0")
    with pytest.raises(RenderError):
        render("queue.redisUrl=postgres://db")


def analyze_chart(tmp_path: Path, *set_values: str) -> dict[str, Any]:
    """`chartimpact diff` of a chart with no templates (everything is added) against deploy/chart."""
    base = write_files(tmp_path / "base" / "chartimpact-bot", {"Chart.yaml": chart_yaml("chartimpact-bot", "0.0.0")})
    out, err = io.StringIO(), io.StringIO()
    argv = ["diff", str(base), str(CHART), "--format", "json"]
    for value in set_values:
        argv += ["--set", value]
    code = main(argv, stdout=out, stderr=err)
    assert code in (0, 1), err.getvalue()
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


@pytest.mark.parametrize(
    "values",
    [
        (),
        ("replicaCount=2", "queue.redisUrl=redis://redis:6379/0", "publicUrl=https://ci.example.com"),
        ("persistence.enabled=true", "github.appId=1", "github.privateKey=PEM", "github.webhookSecret=s"),
    ],
    ids=["defaults", "redis", "persistence-and-secret"],
)
def test_chart_passes_its_own_analysis(tmp_path: Path, values: tuple[str, ...]) -> None:
    report = analyze_chart(tmp_path, *values)
    (chart,) = report["charts"]
    assert chart["status"] == "analyzed" and chart["error"] is None, chart["error"]
    assert chart["diff"]["stats"]["resources"]["added"] >= 4
    high = [(s["type"], s["description"]) for s in chart["signals"] if s["importance"] == "high"]
    assert not high
    assert report["verdict"] != "fail"


def test_chart_analysis_shows_secret_references_not_fingerprints(tmp_path: Path) -> None:
    """The names of the Secret's keys (github.*Key) and the private key's path are no secrets:
    they once showed as fingerprints, since `privateKeyKey: private-key.pem` looked like a key."""
    report = analyze_chart(tmp_path)
    (chart,) = report["charts"]
    (deployment,) = [r for r in chart["diff"]["resources"] if r["identity"]["kind"] == "Deployment"]
    text = json.dumps(deployment)
    assert "(sensitive value changed" not in text
    for shown in ('"key": "webhook-secret"', '"key": "app-id"', '"key": "api-token"', '"path": "private-key.pem"'):
        assert shown in text
    assert "/etc/chartimpact-bot/github/private-key.pem" in text
    # the Secret volume's signal points at the volume in the template, not at values.yaml's
    # image.repository (the chart's name, which is in the Secret's name)
    (volume,) = [s for s in chart["signals"] if s["type"] == "security.secrets.volume"]
    lines = (CHART / "templates" / "deployment.yaml").read_text(encoding="utf-8").splitlines()
    assert volume["source"]["file"].endswith("templates/deployment.yaml")
    assert lines[volume["source"]["line"] - 1].strip() == "- name: github"


def test_chart_analysis_sees_an_exposure(tmp_path: Path) -> None:
    """The check above can fail: an enabled Ingress is exposure the analysis reports as high."""
    report = analyze_chart(tmp_path, "ingress.enabled=true", "ingress.hosts={ci.example.com}")
    (chart,) = report["charts"]
    assert [s["type"] for s in chart["signals"] if s["importance"] == "high"] == ["security.exposure.ingress"]


# --- systemd ---------------------------------------------------------------------------------


def test_systemd_unit() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO_ROOT / "deploy" / "systemd" / "chartimpact-bot.service", encoding="utf-8")
    service = unit["Service"]
    assert service["User"] == "chartimpact"
    assert service["WorkingDirectory"] == "/opt/chartimpact-bot"
    assert service["EnvironmentFile"] == "/etc/chartimpact-bot/env"
    interpreter, script = shlex.split(service["ExecStart"])
    assert interpreter == "/opt/chartimpact-bot/.venv/bin/python"
    assert (REPO_ROOT / script).is_file()
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["KillMode"] == "mixed"  # SIGTERM to the server only: it drains its workers
    assert int(service["TimeoutStopSec"]) > DEFAULT_GRACE + 1
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/opt/chartimpact-bot/data"
    assert service["PrivateTmp"] == "true"
    assert service["ProtectHome"] == "true"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
