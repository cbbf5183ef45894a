"""The memory bound of a render (RENDER_MEMORY_MB; docs/adr/0003-render-memory-bound.md): the
resident memory of the render process and of what it started, watched by its parent and killed
before it passes the limit; an address-space limit only as a far backstop, or at the limit
itself where /proc cannot be read."""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chartimpact_bot.core.documents import RenderedChart
from chartimpact_bot.core.errors import RenderError, RenderOutOfMemory
from chartimpact_bot.core.manifests import parse_rendered
from chartimpact_bot.engine import memory_watch
from chartimpact_bot.engine.memory_watch import GROWTH_BYTES_PER_SECOND, ResidentLimit
from chartimpact_bot.engine.render import (
    IsolatedHelmRenderer,
    RenderLimits,
    RenderRequest,
    ValuesFile,
    address_space_mb,
)
from tests.conftest import REPO_ROOT, make_chart, write_files
from tests.process_tree import left_after

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"
OUT_OF_MEMORY = r"^rendering ran out of memory \(limit 1024 MB, RENDER_MEMORY_MB\)$"

# Renders one chart in a fresh interpreter whose only children are that render's process, so
# the kernel's high-water mark of its children is the render's peak resident memory: measured
# by the kernel, not by the watcher under test.
MEASURED_RENDER = """
import json, resource, sys
from pathlib import Path
from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.engine.render import IsolatedHelmRenderer, RenderLimits, RenderRequest
renderer = IsolatedHelmRenderer(RenderLimits(timeout_seconds=60, memory_mb=int(sys.argv[2])))
try:
    renderer.render(RenderRequest(chart_dir=Path(sys.argv[1])))
    error = None
except RenderError as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"error": error, "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def _measured_render(chart: Path, memory_mb: int = 1024) -> tuple[str | None, float]:
    """(the render's error, its peak resident memory in MB)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_RENDER, str(chart), str(memory_mb)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    answer = json.loads(done.stdout)
    return answer["error"], answer["peak_mb"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "template",
    [
        # Three lines of `range`: a list of 10^8 integers, then output without end.
        pytest.param("{{ range until 100000000 }}{{ range until 100000000 }}x{{ end }}{{ end }}\n", id="bomb"),
        # One 2 GB string: within the address-space backstop, so only the watcher stops it.
        pytest.param('{{ $x := repeat 2147483648 "x" }}{{ len $x }}\n', id="2GB-allocation"),
    ],
)
def test_template_that_eats_memory_is_stopped(tmp_path: Path, template: str) -> None:
    chart = make_chart(tmp_path, "bomb", {"bomb.yaml": template})
    started = time.monotonic()
    error, peak_mb = _measured_render(chart)
    assert error is not None and error.startswith("RenderOutOfMemory: ")
    assert error.removeprefix("RenderOutOfMemory: ") == "rendering ran out of memory (limit 1024 MB, RENDER_MEMORY_MB)"
    assert peak_mb <= 1024, f"the render reached {peak_mb:.0f} MB resident"
    assert time.monotonic() - started < 30  # well before the render timeout


def test_an_allocation_beyond_the_backstop_fails_at_once(tmp_path: Path) -> None:
    """3 GB at once: the address-space backstop refuses it before a page is touched."""
    chart = make_chart(tmp_path, "huge", {"huge.yaml": '{{ $x := repeat 3221225472 "x" }}{{ len $x }}\n'})
    error, peak_mb = _measured_render(chart)
    assert error == "RenderOutOfMemory: rendering ran out of memory (limit 1024 MB, RENDER_MEMORY_MB)"
    assert peak_mb < 512


def _stand_in_helm(tmp_path: Path, body: str) -> Path:
    """A `helm` binary for the CLI backend: runs `body`, then prints one ConfigMap."""
    helm = tmp_path / "helm"
    helm.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(body)
        + '\nprint("---\\n# Source: app/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: x}")\n'
    )
    helm.chmod(0o755)
    return helm


def _zombie_children() -> set[int]:
    """Children of this process that ended and were never reaped."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == os.getpid():
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not memory_watch.available(), reason="no /proc: renders are bounded by RLIMIT_AS")
def test_what_the_render_process_starts_is_watched_and_killed_with_it(tmp_path: Path) -> None:
    """The CLI backend's `helm` is the render's too: a 2 GB allocation there is stopped, the whole
    process group is gone, the render process is reaped, and no thread is left behind."""
    record = tmp_path / "pids.json"
    helm = _stand_in_helm(
        tmp_path,
        f"""\
        import json, os, time
        json.dump({{"helm": os.getpid(), "worker": os.getppid()}}, open({str(record)!r}, "w"))
        hog = b"x" * (2 << 30)
        time.sleep(30)
        """,
    )
    chart = make_chart(tmp_path, "app", {"cm.yaml": CM})
    threads = threading.active_count()
    zombies = _zombie_children()
    started = time.monotonic()
    with pytest.raises(RenderOutOfMemory, match=OUT_OF_MEMORY):
        IsolatedHelmRenderer(RenderLimits(timeout_seconds=60), helm_binary=str(helm)).render(
            RenderRequest(chart_dir=chart)
        )
    assert time.monotonic() - started < 20
    pids = json.loads(record.read_text())
    # The render process's group, helm included, once the kernel has freed what they held.
    assert left_after({pids["helm"], pids["worker"]}, pgid=pids["worker"]) == {}
    assert _zombie_children() == zombies
    assert threading.active_count() == threads


def _recorded_limits(tmp_path: Path, renderer: IsolatedHelmRenderer) -> dict[str, object]:
    """What a process the render started saw: its RLIMIT_AS and Go's heap limit."""
    record = tmp_path / "limits.json"
    helm = _stand_in_helm(
        tmp_path,
        f"""\
        import json, os, resource
        json.dump({{"as": resource.getrlimit(resource.RLIMIT_AS), "gomemlimit": os.environ.get("GOMEMLIMIT")}},
                  open({str(record)!r}, "w"))
        """,
    )
    chart = make_chart(tmp_path, "app", {"cm.yaml": CM})
    renderer.helm_binary = str(helm)
    (render,) = renderer.render(RenderRequest(chart_dir=chart))
    assert list(render.templates) == ["app/templates/cm.yaml"]
    seen: dict[str, object] = json.loads(record.read_text())
    return seen


@pytest.mark.skipif(not memory_watch.available(), reason="no /proc: renders are bounded by RLIMIT_AS")
def test_a_watched_render_has_a_far_address_space_backstop_and_a_go_heap_limit(tmp_path: Path) -> None:
    seen = _recorded_limits(tmp_path, IsolatedHelmRenderer(RenderLimits(memory_mb=1024)))
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    backstop = (2 * 1024 + 2048) << 20 if hard == resource.RLIM_INFINITY else min((2 * 1024 + 2048) << 20, hard)
    assert seen == {"as": [backstop, backstop], "gomemlimit": "768MiB"}


def test_without_proc_the_limit_is_the_address_space_as_before_and_the_log_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(memory_watch, "available", lambda: False)
    monkeypatch.setattr("chartimpact_bot.engine.render._warned", set())
    with caplog.at_level(logging.WARNING, logger="chartimpact_bot.engine.render"):
        seen = _recorded_limits(tmp_path, IsolatedHelmRenderer(RenderLimits(memory_mb=1024)))
    assert seen["as"] == [1024 << 20, (1024 + 256) << 20]
    assert [r.getMessage() for r in caplog.records] == [
        "no /proc on this system: render processes are bounded by an address-space limit of "
        "RENDER_MEMORY_MB instead of their resident memory, and some charts fail well below it"
    ]


def test_a_render_whose_memory_cannot_be_read_still_renders_and_the_log_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(memory_watch, "available", lambda: True)
    monkeypatch.setattr(memory_watch, "tree_resident_bytes", lambda _pid: None)
    monkeypatch.setattr("chartimpact_bot.engine.render._warned", set())
    slow = "{{- range $i := until 300000 }}{{- end }}\n" + CM  # long enough to be looked at
    chart = make_chart(tmp_path, "app", {"cm.yaml": slow})
    with caplog.at_level(logging.WARNING, logger="chartimpact_bot.engine.render"):
        (render,) = IsolatedHelmRenderer().render(RenderRequest(chart_dir=chart))
    assert list(render.templates) == ["app/templates/cm.yaml"]
    assert "cannot read the resident memory of render processes: only RLIMIT_AS bounds them" in caplog.text


def test_the_backstop_never_exceeds_what_this_process_may_have(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An analysis worker runs under WORKER_MEMORY_MB, and a child cannot raise its hard limit."""
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (3000 << 20, 3000 << 20))
    monkeypatch.setattr("chartimpact_bot.engine.render._warned", set())
    with caplog.at_level(logging.WARNING, logger="chartimpact_bot.engine.render"):
        assert address_space_mb(1024, watched=True) == (3000, 3000)
        assert address_space_mb(1024, watched=False) == (1024, 1280)
    assert "render processes get 3000 MB of address space" in caplog.text
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert address_space_mb(1024, watched=True) == (4096, 4096)
    assert address_space_mb(2048, watched=True) == (6144, 6144)


@pytest.mark.parametrize("start_mb", [0, 500, 1000])
def test_memory_growing_at_the_fastest_rate_is_caught_before_the_limit(start_mb: int) -> None:
    """The watcher's schedule: looking when `next_look` says, memory growing at
    GROWTH_BYTES_PER_SECOND is found over the limit before it passes it."""
    limit = ResidentLimit(1024 << 20)
    resident = start_mb << 20
    while not limit.exceeded(resident):
        resident += int(GROWTH_BYTES_PER_SECOND * limit.next_look(resident))
        assert resident <= limit.limit_bytes
    assert resident > limit.limit_bytes - (16 << 20)  # and not long before


def test_a_render_that_is_nowhere_near_its_limit_is_looked_at_rarely() -> None:
    limit = ResidentLimit(1024 << 20)
    assert limit.next_look(100 << 20) == memory_watch.SLOWEST_POLL_SECONDS
    assert limit.next_look(1020 << 20) == memory_watch.FASTEST_POLL_SECONDS


def test_the_resident_memory_of_a_process_tree_is_read_from_proc() -> None:
    if not memory_watch.available():
        pytest.skip("no /proc")
    hog = "x = b'x' * (200 << 20); import sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.read()"
    outer = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {hog!r}])"
    with subprocess.Popen([sys.executable, "-c", outer], stdin=subprocess.PIPE, stdout=subprocess.PIPE) as child:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        resident = memory_watch.tree_resident_bytes(child.pid)
        child.communicate(b"")
    assert resident is not None and resident > 200 << 20  # the grandchild's 200 MB counts


MANY_HELPERS = """\
{{- define "many.labels" -}}
app.kubernetes.io/name: {{ .svc.name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | trunc 63 | trimSuffix "-" }}
team: {{ .root.Values.team }}
{{- end }}
{{- define "many.config" -}}
{{- $merged := mustMergeOverwrite (dict "defaults" (dict "port" 80)) (deepCopy .svc) -}}
{{ toYaml $merged }}
{{- end }}
{{- define "many.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .svc.name }}
  labels: {{- include "many.labels" . | nindent 4 }}
spec:
  replicas: {{ .svc.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/name: {{ .svc.name }}}
  template:
    metadata:
      labels: {{- include "many.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include "many.config" . | sha256sum }}
    spec:
      containers:
        - name: app
          image: {{ printf "%s:%s" .root.Values.image.repository .root.Values.image.tag }}
          ports: [{containerPort: {{ .svc.port }}}]
          env:
          {{- range $k, $v := .svc.settings }}
            - {name: {{ upper $k | quote }}, value: {{ $v | quote }}}
          {{- end }}
{{- end }}
{{- define "many.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .svc.name }}-config
  labels: {{- include "many.labels" . | nindent 4 }}
data:
  config.yaml: |
    {{- include "many.config" . | nindent 4 }}
{{- end }}
"""
# Ten services per List document: `helm lint` costs ~2 ms per document, which at 2,000
# documents would make this test take minutes; the resources (flattened Lists) are the same.
MANY_SERVICES = """\
{{- range $group := chunk 10 .Values.services }}
---
apiVersion: v1
kind: List
items:
{{- range $svc := $group }}
{{- $ctx := dict "svc" $svc "root" $ }}
  - {{- include "many.deployment" $ctx | nindent 4 }}
  - {{- include "many.configmap" $ctx | nindent 4 }}
{{- end }}
{{- end }}
"""
# Like kyverno's, large CRDs rendered as templates (~900 KB each, an annotation through `tpl`).
MANY_CRD = """\
{{{{- if .Values.crds }}}}
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: things{n}.example.com
  annotations:
    {{{{- with .Values.crds.annotations }}}}
    {{{{- tpl (toYaml .) $ | nindent 4 }}}}
    {{{{- end }}}}
spec:
  group: example.com
  scope: Namespaced
  names: {{kind: Thing{n}, plural: things{n}}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
{properties}
{{{{- end }}}}
"""


def _many_resources_chart(root: Path, services: int = 1000, settings: int = 15, crd_fields: int = 3000) -> Path:
    """A chart of 2 x `services` + 4 resources, heavily templated: helpers, deepCopy and merges
    per service, 4 MB of templates, 5 MB of output; it peaks at ~180 MB resident, as kyverno does."""
    entries = [
        f"  - name: svc-{k:04d}\n    port: {8000 + k % 100}\n    replicas: {1 + k % 3}\n    settings:"
        + "".join(f"\n      key{j}: value-{k}-{j}-lorem-ipsum-dolor-sit-amet" for j in range(settings))
        for k in range(services)
    ]
    values = "image: {repository: registry.example.com/app, tag: '1.2.3'}\nteam: platform\n"
    values += "crds: {annotations: {owner: '{{ .Release.Name }}'}}\nservices:\n" + "\n".join(entries) + "\n"
    properties = "\n".join(
        f"                  field{k}:\n                    type: string\n"
        f"                    description: {'lorem ipsum dolor sit amet ' * 8}"
        for k in range(crd_fields)
    )
    files = {
        "Chart.yaml": "apiVersion: v2\nname: many\nversion: 0.1.0\n",
        "values.yaml": values,
        "templates/_helpers.tpl": MANY_HELPERS,
        "templates/services.yaml": MANY_SERVICES,
    }
    files.update({f"templates/crd{n}.yaml": MANY_CRD.format(n=n, properties=properties) for n in range(4)})
    return write_files(root / "many", files)


@pytest.mark.slow
def test_a_chart_of_thousands_of_resources_renders_every_time_at_the_default_limits(tmp_path: Path) -> None:
    """The kyverno flake of issue 10: under RLIMIT_AS = RENDER_MEMORY_MB this test failed 12 of its
    20 renders with "out of memory" while each peaked at ~180 MB resident. Two at a time, as a
    pull request's base and head render: ~95 s of CPU, about 50 s on two idle cores."""
    chart = _many_resources_chart(tmp_path)
    renderer = IsolatedHelmRenderer()
    assert renderer.limits == RenderLimits()  # the defaults: 1024 MB, 60 s
    request = RenderRequest(chart_dir=chart)

    def render(_: int) -> RenderedChart | str:
        try:
            first, _second = renderer.render(request, repeat=2)
        except RenderError as exc:
            return str(exc)
        return first

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(render, range(20)))
    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert failures == []
    first = outcomes[0]
    assert isinstance(first, RenderedChart)
    assert len(parse_rendered(first, namespace="default").resources) == 2004


def test_a_large_request_reaches_the_render_process_whole(tmp_path: Path) -> None:
    """The request (values files, --set) goes to the child whole, however large and however
    busy the machine: it once went through `communicate`, which with the watch's millisecond
    timeouts sent only what fit before the first one, and the child waited for the rest until
    the render timed out."""
    chart = make_chart(tmp_path, "big", {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
    values = ValuesFile("big.yaml", "blob: " + "a" * 1_000_000 + "\n")
    renderer = IsolatedHelmRenderer(RenderLimits(timeout_seconds=30))
    started = time.monotonic()
    (rendered,) = renderer.render(RenderRequest(chart, values_files=(values,)))
    assert list(rendered.templates) == ["big/templates/cm.yaml"]
    assert time.monotonic() - started < 20, "the render waited for its request"
