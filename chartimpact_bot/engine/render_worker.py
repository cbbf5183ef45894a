"""The child process that renders one chart: `python -m chartimpact_bot.engine.render_worker`.

It reads a JSON request on stdin, sets the address-space limits the parent chose before the
Go runtime inside `helm_python` starts (the parent bounds its resident memory, render.py),
renders the chart `repeat` times from the same input (so the parent can mask nondeterministic
fields), splits and parses the output the way Helm does, and prints one JSON object:
`{"ok": true, "renders": [{"templates": {path: [[index, line, object], ...]}, "crds": {...}}]}`
or `{"ok": false, "error": "one sentence"}` (with `"out_of_memory": true` when Python ran out).
In renders after the first, a template whose text is unchanged is `null`: the parent reuses the
first render's objects.

Parsing here, not in the parent, keeps a hostile template's output (an alias bomb, gigabytes of
YAML) under this process's limits (the parent watches its resident memory, parsing included),
and lets the two sides of a diff parse on two cores.
It imports only the standard library, PyYAML and `documents.py`, so it starts fast.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

from chartimpact_bot.core.documents import is_emitted, parse_template
from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.core.secret_values import given_secrets
from chartimpact_bot.core.sensitive import redact, set_expression_parts
from chartimpact_bot.engine.parent_death import die_with_parent, parent_from_environment

MAX_VALUES_BYTES = 8 * 1024 * 1024  # values.yaml files read for redaction, in all


class RenderFailure(Exception):
    """A failure to report as one sentence."""


def one_line(text: str) -> str:
    """Helm errors span lines; a report wants one sentence."""
    return " ".join(text.split())


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of `-f` files and `--set`: maps merge recursively, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge_values(current, value)
        else:
            merged[key] = value
    return merged


def invalid_set_message(expression: str, detail: str) -> str:
    """The error for an invalid `--set`: it names the keys, never the values (which may be
    secrets), and Helm's own message is redacted of them too."""
    keys, values = set_expression_parts(expression)
    shown = ",".join(f"{k}=…" if f"{k}=" in expression else k for k in keys)
    return f"--set '{shown}' is not valid: {redact(detail, values)}"


def request_secrets(request: dict[str, Any]) -> set[str]:
    """Every value the render's error text must not show: those under sensitive keys of the
    chart's (and subcharts') values.yaml, of the values files and of `--set`, and the secrets
    inside their strings (URL passwords, private keys); never the chart's own names, the release
    name or the namespace, which every error path shows anyway (see `given_secrets`)."""
    texts = [str(v["text"]) for v in request["values_files"]]
    public = {str(request.get("release_name", "")), str(request.get("namespace", ""))} - {""}
    budget = MAX_VALUES_BYTES
    for root, _dirs, files in os.walk(request["chart_dir"]):
        for name in files:
            if name in ("values.yaml", "Chart.yaml") and budget > 0:
                try:
                    with open(os.path.join(root, name), encoding="utf-8", errors="replace") as handle:
                        text = handle.read(budget)
                except OSError:
                    continue
                budget -= len(text)
                if name == "values.yaml":
                    texts.append(text)
                elif chart_name := _CHART_NAME.search(text):
                    public.add(chart_name.group(1))
    given = [
        *request["set_values"],
        *(request.get("set_string_values") or ()),
        *(request.get("set_literal_values") or ()),
    ]
    return given_secrets(texts, given, public)


_CHART_NAME = re.compile(r"^name:[ \t]*['\"]?([\w.-]+)", re.MULTILINE)


def render_with_sdk(request: dict[str, Any]) -> list[dict[str, Any]]:
    """`repeat` renders; or, for `repeat == 0`, `helm lint` of the same input: one empty render
    holding its errors. Lint re-renders the chart and decodes every document in Go, as costly as
    both renders put together, so the engine runs it in a process of its own beside the renders
    and the rest of the analysis (engine/sides.py LintJob, docs/adr/0008-render-critical-path.md)."""
    import helm_python  # noqa: PLC0415 - loaded only after the address-space limit is set
    from helm_python import _native  # noqa: PLC0415

    values: dict[str, Any] = {}
    for values_file in request["values_files"]:
        try:
            parsed = helm_python.values_from_yaml(values_file["text"])
        except helm_python.HelmError as exc:
            raise RenderFailure(f"values file {values_file['name']} is not valid: {one_line(str(exc))}") from exc
        values = merge_values(values, parsed or {})
    for expression in request["set_values"]:
        try:
            values = merge_values(values, helm_python.parse_set_string(expression))
        except helm_python.HelmError as exc:
            raise RenderFailure(invalid_set_message(expression, one_line(str(exc)))) from exc
    for expression in request.get("set_string_values") or ():
        try:
            values = merge_values(values, helm_python.parse_set_string_values(expression))
        except helm_python.HelmError as exc:
            raise RenderFailure(invalid_set_message(expression, one_line(str(exc)))) from exc
    for expression in request.get("set_literal_values") or ():
        try:
            values = merge_values(values, helm_python.parse_set_literal(expression))
        except helm_python.HelmError as exc:
            raise RenderFailure(invalid_set_message(expression, one_line(str(exc)))) from exc

    options: dict[str, Any] = {
        "name": request["release_name"],
        "namespace": request["namespace"],
        "is_install": True,
    }
    if request.get("kube_version"):
        options["kube_version"] = request["kube_version"]
    if request.get("api_versions"):
        options["api_versions"] = list(request["api_versions"])

    if request["repeat"] == 0:
        return [{"templates": {}, "crds": {}, "lint": lint_errors(helm_python, request, values)}]
    try:
        chart = helm_python.Chart.load(request["chart_dir"])
    except helm_python.HelmError as exc:
        raise RenderFailure(f"Helm cannot load the chart: {one_line(str(exc))}") from exc
    renders: list[dict[str, Any]] = []
    with chart:
        crds = {crd["filename"]: crd["data"] for crd in chart.crds}
        for _ in range(request["repeat"]):
            try:
                # Chart.render() does not pass kube_version/api_versions through; the native
                # call takes the same options object with those keys.
                raw = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(options))
            except helm_python.HelmError as exc:
                raise RenderFailure(one_line(str(exc))) from exc
            renders.append({"templates": json.loads(raw), "crds": crds})
    return renders


def lint_errors(helm_python: Any, request: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """`helm lint` errors (not warnings) for the same chart and values, paths relative to the chart."""
    chart_dir = request["chart_dir"]

    def relative(path: object) -> str:
        # Lint names files under the temporary chart directory: never show that path.
        text = str(path or "")
        if text.startswith(chart_dir):
            text = text[len(chart_dir) :].lstrip("/")
        return text or "Chart.yaml"

    try:
        report = helm_python.lint(
            chart_dir, values, namespace=request["namespace"], kube_version=request.get("kube_version")
        )
    except helm_python.HelmError as exc:
        return [one_line(str(exc)).replace(chart_dir, "chart")]
    messages = report.get("messages") or []
    found = {f"{relative(m.get('path'))}: {one_line(str(m.get('error')))}" for m in messages if m.get("severity") == 3}
    if not found:
        found = {one_line(str(e)).replace(chart_dir, "chart") for e in report.get("errors") or []}
    return sorted(found)


_SOURCE_LINE = re.compile(r"^# Source: (.+)$")


def split_cli_output(stream: str) -> dict[str, dict[str, str]]:
    """`helm template` output → the SDK's shape: documents grouped by their `# Source:`."""
    templates: dict[str, list[str]] = {}
    crds: dict[str, list[str]] = {}
    for document in re.split(r"(?m)^---\s*$", stream):
        lines = document.strip("\n").splitlines()
        if not lines:
            continue
        match = _SOURCE_LINE.match(lines[0])
        if match is None:
            continue
        source = match.group(1).strip()
        body = "\n".join(lines[1:]) + "\n"
        target = crds if "/crds/" in source else templates
        target.setdefault(source, []).append(body)
    return {
        "templates": {k: "---\n".join(v) for k, v in templates.items()},
        "crds": {k: "---\n".join(v) for k, v in crds.items()},
    }


def _helm_dies_with_us() -> Callable[[], object] | None:
    """The helm binary dies with this process. `preexec_fn` is safe here: on Linux this process
    has no thread (the Go runtime is never loaded in the CLI backend); elsewhere it is not used."""
    if not sys.platform.startswith("linux"):
        return None
    return functools.partial(die_with_parent, os.getpid())


def render_with_cli(request: dict[str, Any]) -> list[dict[str, Any]]:
    command = [
        request["helm_binary"],
        "template",
        request["release_name"],
        request["chart_dir"],
        "--namespace",
        request["namespace"],
        "--include-crds",
    ]
    with tempfile.TemporaryDirectory(prefix="chartimpact-values-") as workdir:
        for index, values_file in enumerate(request["values_files"]):
            path = os.path.join(workdir, f"values-{index}.yaml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(values_file["text"])
            command += ["--values", path]
        for expression in request["set_values"]:
            command += ["--set", expression]
        for expression in request.get("set_string_values") or ():
            command += ["--set-string", expression]
        for expression in request.get("set_literal_values") or ():
            command += ["--set-literal", expression]
        if request.get("kube_version"):
            command += ["--kube-version", request["kube_version"]]
        for api_version in request.get("api_versions") or []:
            command += ["--api-versions", api_version]
        renders: list[dict[str, Any]] = [{"templates": {}, "crds": {}}] if request["repeat"] == 0 else []  # no lint
        for _ in range(request["repeat"]):
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, check=False, preexec_fn=_helm_dies_with_us()
                )
            except OSError as exc:
                raise RenderFailure(f"cannot run {request['helm_binary']}: {exc}") from exc
            if done.returncode != 0:
                message = one_line(done.stderr.strip().removeprefix("Error: "))
                if "--set" in message:  # name no value of any --set (see invalid_set_message)
                    for expression in request["set_values"]:
                        message = redact(message, set_expression_parts(expression)[1])
                raise RenderFailure(message or f"helm exited with {done.returncode}")
            renders.append(split_cli_output(done.stdout))
    return renders


def parse_renders(renders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parse each render's emitted templates; later renders reuse unchanged templates."""
    first = renders[0]
    parsed = []
    for number, render in enumerate(renders):
        out: dict[str, Any] = {}
        for group in ("templates", "crds"):
            outputs: dict[str, Any] = {}
            for source, text in render[group].items():
                if not is_emitted(source, text):
                    continue
                if number > 0 and first[group].get(source) == text:
                    outputs[source] = None
                else:
                    outputs[source] = parse_template(source, text)
            out[group] = outputs
        parsed.append(out)
    return parsed


UNEXPECTED = "the render process failed unexpectedly; the operator's logs have the details"


def _success(parsed: list[dict[str, Any]], timings: dict[str, float]) -> str:
    try:
        return json.dumps({"ok": True, "renders": parsed, "timings": timings})
    except ValueError as exc:  # json refuses objects that contain themselves: YAML aliases that loop
        raise RenderFailure("the rendered YAML refers to itself (alias loop)") from exc


class _Redactor:
    """Redaction of error text, with the values to hide collected only once there is an error
    to redact: most renders have none, and collecting reads every values.yaml of the chart."""

    def __init__(self, request: dict[str, Any]) -> None:
        self._request = request
        self._secrets: set[str] | None = None

    def redact(self, text: str) -> str:
        if self._secrets is None:
            try:
                self._secrets = request_secrets(self._request)
            except MemoryError:
                return "the error text was withheld: the values it might quote could not be read"
        return redact(text, self._secrets)


def main() -> int:
    # Before anything else, the Go runtime above all: this process dies with the worker that
    # started it (it is in a session of its own, so the worker's process group is not enough).
    die_with_parent(parent_from_environment())
    # No cycle collection: this process lives for one render, and what it builds (the parsed
    # documents) is kept to the end and mostly free of cycles, so the collector's passes over
    # the growing heap are a quarter of the parse for nothing (0.51 → 0.38 s on the benchmark
    # pair). What cycles a hostile alias loop makes go with the process; its memory is watched.
    gc.disable()
    request = json.load(sys.stdin)
    # The render's limit, then the one of parsing and writing its output (at most the first as
    # high): the same far backstop where the parent watches the resident memory, RENDER_MEMORY_MB
    # and a little more where it cannot (render.address_space_mb).
    limit, ceiling = (int(mb) * 1024 * 1024 for mb in request["address_space_mb"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, ceiling))
    secrets = _Redactor(request)
    try:
        started = time.perf_counter()
        renders = render_with_cli(request) if request.get("helm_binary") else render_with_sdk(request)
        rendered = time.perf_counter()
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        parsed = parse_renders(renders)
        timings = {"render": rendered - started, "parse": time.perf_counter() - rendered}
        if renders[0].get("lint"):
            parsed[0]["lint"] = [secrets.redact(e) for e in renders[0]["lint"]]
        text = _success(parsed, timings)
    except (RenderFailure, RenderError) as exc:
        # Helm echoes values in its errors (schema violations quote them, `fail` prints what
        # the template gives it): never one that came from a sensitive key.
        text = json.dumps({"ok": False, "error": secrets.redact(str(exc))})
    except MemoryError:
        text = json.dumps({"ok": False, "error": "rendering ran out of memory", "out_of_memory": True})
    except RecursionError:
        # PyYAML composes and json writes nested collections recursively.
        text = json.dumps({"ok": False, "error": "the rendered YAML nests too deeply to be read"})
    except Exception:
        # A bug: its text may quote a rendered value, so the report gets a fixed sentence and
        # the traceback goes to stderr, redacted, which the parent logs (render.py).
        sys.stderr.write(secrets.redact(traceback.format_exc()))
        text = json.dumps({"ok": False, "error": UNEXPECTED, "unexpected": True})
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
