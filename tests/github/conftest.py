"""Fixtures for driving whole deliveries through the App against one fake GitHub."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chartimpact_bot.jobs.analysis_process import AnalysisPool
from chartimpact_bot.jobs.durable import DurableJobQueue
from chartimpact_bot.jobs.model import Job
from chartimpact_bot.jobs.params import PullRequestParams
from chartimpact_bot.settings import Settings
from chartimpact_bot.web.app import create_app
from chartimpact_bot.web.keys import QUEUE
from tests.conftest import chart_yaml, commit_all, git, init_repo, write_files
from tests.github.fake_github import FakeGitHub
from tests.github.material import rest_description, webhook_examples
from tests.github.openapi import RestDescription

APP_ID = "12345"
SECRET = "It's a Secret to Everybody"
REPOSITORY = "acme/charts"
INSTALLATION = 4242


@pytest.fixture(scope="session")
def rest() -> RestDescription:
    return RestDescription(rest_description())


@pytest.fixture(scope="session")
def app_keys() -> tuple[str, str]:
    return generate_app_keys()


def generate_app_keys() -> tuple[str, str]:
    """A fresh App key pair: (private PEM for the App, public PEM for the fake GitHub)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def fake(rest: RestDescription, app_keys: tuple[str, str]) -> FakeGitHub:
    return FakeGitHub(rest, app_id=APP_ID, public_key=app_keys[1])


async def _noop_sleep(seconds: float) -> None:
    SLEEPS.append(seconds)


SLEEPS: list[float] = []


@dataclass
class AppUnderTest:
    client: TestClient[Any, Any]
    fake: FakeGitHub
    settings: Settings

    @property
    def queue(self) -> DurableJobQueue:
        queue = self.client.app[QUEUE]
        assert isinstance(queue, DurableJobQueue)
        return queue

    async def deliver(
        self, event: str, payload: dict[str, Any], *, delivery_id: str | None = None, secret: str = SECRET
    ) -> tuple[int, dict[str, Any]]:
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(body, secret),
        }
        response = await self.client.post("/api/webhooks/github", data=body, headers=headers)
        return response.status, await response.json()

    async def settle(self) -> None:
        await self.queue.drain()
        assert self.fake.violations == []


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


MakeApp = Callable[..., Awaitable[AppUnderTest]]


@pytest.fixture(scope="session")
def analysis_pool() -> Iterator[AnalysisPool]:
    """Real worker processes, started once: each test's application shares them."""
    pool = AnalysisPool(2, memory_mb=4096)
    yield pool
    pool.close()


@pytest.fixture
def make_app(
    aiohttp_client: Any,
    aiohttp_server: Any,
    fake: FakeGitHub,
    app_keys: tuple[str, str],
    analysis_pool: AnalysisPool,
    tmp_path: Path,
) -> MakeApp:
    """Each App runs on the durable queue, on a real sqlite file in tmp_path (one per test,
    shared by the Apps a test makes, as a restarted instance would find it)."""

    async def make(
        base_path: str = "",
        *,
        clock: Callable[[], float] = time.time,
        sleep: Any = None,
        pool: AnalysisPool | None = None,
        **overrides: Any,
    ) -> AppUnderTest:
        """`pool`: the analysis workers to use instead of the session's (a wrapper that counts)."""
        overrides.setdefault("queue_url", f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
        fake.base_path = base_path
        server: TestServer = await aiohttp_server(fake.app())
        settings = Settings(
            app_id=APP_ID,
            private_key=overrides.pop("private_key", app_keys[0]),
            webhook_secret=SECRET,
            api_url=str(server.make_url(base_path or "/")).rstrip("/"),
            log_format="console",
            **overrides,
        )
        app: web.Application = create_app(
            settings, sleep=sleep or _noop_sleep, configure_logs=False, analysis_pool=pool or analysis_pool, clock=clock
        )
        client = await aiohttp_client(app)
        return AppUnderTest(client, fake, settings)

    return make


# --- repositories ---------------------------------------------------------------------------

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: '{{ .Chart.Name }}'}}
  template:
    metadata: {labels: {app: '{{ .Chart.Name }}'}}
    spec:
      containers:
        - name: app
          image: "nginx:{{ .Values.tag }}"
          {{- if .Values.readiness }}
          readinessProbe: {httpGet: {path: /ready, port: 80}}
          {{- end }}
"""


def chart_files(name: str, *, replicas: int = 3, tag: str = "1.25", readiness: bool = True) -> dict[str, str]:
    return {
        f"charts/{name}/Chart.yaml": chart_yaml(name),
        f"charts/{name}/values.yaml": f"replicas: {replicas}\ntag: '{tag}'\nreadiness: {str(readiness).lower()}\n",
        f"charts/{name}/templates/deployment.yaml": DEPLOYMENT,
    }


@dataclass
class Repo:
    path: Path

    def commit(self, files: dict[str, str], message: str = "change", delete: tuple[str, ...] = ()) -> str:
        write_files(self.path, files)
        for name in delete:
            (self.path / name).unlink()
        return commit_all(self.path, message)

    def tag(self, name: str) -> None:
        git(self.path, "tag", name)


@pytest.fixture
def repo(tmp_path: Path, fake: FakeGitHub) -> Repo:
    """acme/charts with three charts (api, web, worker), one commit on main."""
    path = init_repo(tmp_path / "charts-repo")
    repository = Repo(path)
    repository.commit(
        {**chart_files("api"), **chart_files("web"), **chart_files("worker"), "README.md": "charts\n"}, "three charts"
    )
    fake.add_repo(REPOSITORY, path, installation_id=INSTALLATION)
    return repository


# --- payloads (real examples, pointed at the test repository) --------------------------------


def example(event: str, action: str | None = None) -> dict[str, Any]:
    for payload in webhook_examples()[event]:
        if action is None or payload.get("action") == action:
            return copy.deepcopy(payload)
    raise LookupError(f"no {event} {action} example")


def point_at_repository(payload: dict[str, Any]) -> dict[str, Any]:
    owner, name = REPOSITORY.split("/")
    repository = payload["repository"]
    repository.update({"full_name": REPOSITORY, "name": name, "default_branch": "main"})
    repository["owner"]["login"] = owner
    payload["installation"] = {"id": INSTALLATION, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
    return payload


def pull_request(action: str, *, number: int, base_sha: str, head_sha: str) -> dict[str, Any]:
    payload = example("pull_request", "opened" if action in ("synchronize", "edited") else action)
    payload["action"] = action
    payload["number"] = number
    pull = payload["pull_request"]
    pull.update({"number": number, "state": "open"})
    pull["base"].update({"sha": base_sha, "ref": "main"})
    pull["head"].update({"sha": head_sha, "ref": "feature"})
    return point_at_repository(payload)


def push(*, before: str, after: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    payload = example("push")
    payload.update({"ref": ref, "before": before, "after": after, "created": False, "deleted": False})
    return point_at_repository(payload)


def release_published(*, tag: str, release_id: int) -> dict[str, Any]:
    payload = example("release", "published")
    payload["release"].update({"tag_name": tag, "id": release_id})
    return point_at_repository(payload)


def pull_request_job(key: str, number: int = 1) -> Job:
    """A job of pull request `number` of the test repository, as the App would store one."""
    params = PullRequestParams("a" * 40, "b" * 40, "main", "feature", number=number)
    return Job(str(uuid.uuid4()), "pull_request", "opened", REPOSITORY, INSTALLATION, "pull_request", params, key)


def check_run_rerequested(run: dict[str, Any], *, number: int, base_sha: str) -> dict[str, Any]:
    payload = example("check_run", "rerequested")
    payload["check_run"].update(
        {
            "id": run["id"],
            "name": run["name"],
            "head_sha": run["head_sha"],
            "external_id": run["external_id"],
            "pull_requests": [
                {
                    "number": number,
                    "base": {"ref": "main", "sha": base_sha},
                    "head": {"ref": "feature", "sha": run["head_sha"]},
                }
            ],
        }
    )
    return point_at_repository(payload)
