"""One side of one chart, rendered: materialize it with its dependencies, render it twice with
the real Helm engine (in a child process), parse, and normalize. What goes wrong becomes the
side's error, one sentence, and never stops the other charts.

A render that runs out of memory is tried once more before that becomes the side's error: the
memory a render takes varies from run to run (the Go collector's timing, two renders sharing
the machine), and a head that fails for lack of memory is reported as the pull request breaking
the chart (`chart.render`) only when it failed twice while the base rendered under the same
limit (docs/adr/0003-render-memory-bound.md).

A test template (`helm.sh/hook: test`) that fails to render while tests are not compared does
not fail the side: it is rendered again without its test templates, with a warning
(helm_tests.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..core.chart import MaterializedChart
from ..core.config import AnalysisConfig, Environment
from ..core.documents import RenderedChart
from ..core.errors import AnalysisError, BudgetExhausted, RenderError, RenderOutOfMemory, brief
from ..core.gitops.remote_chart import RemoteChart
from ..core.kubernetes.lifecycle import Minor, minor, served_api_versions, shown
from ..core.manifests import parse_rendered
from ..core.normalize import normalize_side
from ..core.secret_values import given_secrets, literal_pattern
from ..core.sensitive import REDACTED, mask_text
from ..core.side import ChartSide, ValuesSource
from ..core.validation.targets import render_version, targets
from .charts import materialize
from .helm_tests import is_test_template, named_template, remove_test_templates
from .options import PipelineOptions
from .plan import ChartAt
from .remote_chart_source import fetch_remote_chart
from .render import Renderer, RenderRequest, ValuesFile
from .sources import ChartSource, under

log = logging.getLogger(__name__)

# At most two lint processes at once in this process. The renders are bounded by the pipeline's
# pool (`max_workers`), but a head's lint goes on after its renders, beside those of the next
# charts, so a repository of many charts would otherwise start a lint per chart faster than the
# reports consume them: each a Go process of up to RENDER_MEMORY_MB. A lint waiting here holds
# no process.
_LINT_SLOTS = threading.BoundedSemaphore(2)


def render_side(
    where: ChartAt | None,
    environment: Environment,
    options: PipelineOptions,
    config: AnalysisConfig,
    deadline: float | None = None,
    *,
    lint: bool = True,
) -> ChartSide | None:
    """One side (None where the chart does not exist), its error and warnings scrubbed of any
    secret they carry (a repository URL with a password, a private key quoted in a message):
    the render process redacts values already, this covers every other message.

    `deadline` (time.monotonic()) is when the analysis' time budget ends. With `lint`, `helm lint`
    runs beside the renders and its errors are the side's `lint_errors`."""
    side = _render(where, environment, options, config, deadline, lint=lint)
    if side is not None:
        if side.error is not None:
            side.error = _scrubbed(side.error)
        side.warnings = [_scrubbed(w) for w in side.warnings]
    return side


def _scrubbed(text: str) -> str:
    return mask_text(text, lambda _secret: REDACTED)


def _render(
    where: ChartAt | None,
    environment: Environment,
    options: PipelineOptions,
    config: AnalysisConfig,
    deadline: float | None,
    *,
    lint: bool,
) -> ChartSide | None:
    if where is None:
        return None
    if deadline is not None and time.monotonic() >= deadline:
        return ChartSide(out_of_time=True)
    remote = where.remote
    remote_ref = (remote.manifest, remote.line) if remote is not None and remote.manifest else None
    try:
        where = resolved(where, options)
    except AnalysisError as exc:
        return ChartSide(error=str(exc), chart_ref=remote_ref)
    if where.info is None:
        return ChartSide(error=where.error or "the chart could not be read")
    source, chart = where.source, where.info
    values, warnings = _environment_values(source, environment)
    literals, missing_files = file_literals(source, environment)
    warnings += missing_files
    notes = [f"{environment.name}: {note}" for note in environment.notes]
    if warnings and environment.missing_values == "fail":
        return ChartSide(error="; ".join(warnings) + ": it cannot be deployed as written")
    values += options.extra_values
    timings: dict[str, float] = {}
    workdir = Path(tempfile.mkdtemp(prefix="chartimpact-"))
    lint_job: LintJob | None = None

    def stop_lint() -> None:  # the chart is about to change under it (helm_tests.py)
        nonlocal lint_job
        if lint_job is not None:
            lint_job.result()
            lint_job = None

    try:
        start = time.perf_counter()
        try:
            materialized = materialize(source, chart, workdir, fetcher=options.fetcher)
            _replace_chart_values(materialized, environment)
            if remote is not None:
                _name_by_repository(materialized, remote)
        except AnalysisError as exc:
            return ChartSide(error=str(exc), values=_values_sources(values, None))
        timings["materialize"] = time.perf_counter() - start
        side = ChartSide(
            chart=materialized,
            values=_values_sources(values, materialized),
            warnings=[*materialized.warnings, *warnings, *notes],
            timings=timings,
            chart_ref=remote_ref,
        )
        request = _request(
            materialized, values, environment, options, config=config, deadline=deadline, literals=literals
        )
        lint = lint and options.renderer.lints
        if lint:
            lint_job = LintJob(options.renderer, request, timings)
        start = time.perf_counter()
        try:
            first, second = _render_without_failing_tests(
                options, request, materialized, side.warnings, before_change=stop_lint
            )
        except BudgetExhausted:
            return ChartSide(out_of_time=True)
        except AnalysisError as exc:
            side.error = str(exc)
            return side
        timings["render process"] = time.perf_counter() - start
        timings.update({f"{stage} (render process)": seconds for stage, seconds in first.timings.items()})
        start = time.perf_counter()
        target_renders = _target_renders(
            options, config=config, environment=environment, request=request, chart=materialized, warnings=side.warnings
        )
        if target_renders:
            timings["renders for other target releases"] = time.perf_counter() - start
        if lint and lint_job is None:  # stopped while test templates were removed
            lint_job = LintJob(options.renderer, request, timings)
        side.pending_lint = lint_job.result if lint_job is not None else None
    finally:
        if lint_job is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:  # lint still reads the chart
            lint_job.then_remove(workdir)
    start = time.perf_counter()
    sets = [
        parse_rendered(r, namespace=request.namespace, include_tests=options.include_tests) for r in (first, second)
    ]
    timings["identities"] = time.perf_counter() - start
    start = time.perf_counter()
    given_secrets = literal_pattern(_given_secrets(materialized, request))
    resources, side.rules = normalize_side(
        sets[0],
        sets[1],
        config.normalize,
        fingerprint_key=options.fingerprint_key,
        given_secrets=given_secrets,
    )
    timings["normalize"] = time.perf_counter() - start
    side.resources = {r.id: r for r in resources}
    side.warnings.extend(sets[0].warnings)
    for version, rendered in target_renders.items():
        parsed = parse_rendered(rendered, namespace=request.namespace, include_tests=options.include_tests)
        at_target, _ = normalize_side(
            parsed, parsed, config.normalize, fingerprint_key=options.fingerprint_key, given_secrets=given_secrets
        )
        side.by_target[version] = {r.id: r for r in at_target}
    side.fingerprint = _fingerprint(materialized, request, options.fingerprint_key)
    return side


class LintJob:
    """`helm lint` of a materialized side in a render process of its own (a lint-only request),
    waited for in a thread, so that it runs beside the side's renders and everything this process
    does until the report needs its errors (ADR 8). Lint that fails is no errors (logged)."""

    def __init__(self, renderer: Renderer, request: RenderRequest, timings: dict[str, float]) -> None:
        self._errors: tuple[str, ...] = ()
        self._remove: Path | None = None
        self._lock = threading.Lock()
        self._done = False
        # Not a daemon: the working directory is removed when lint ends, even at exit.
        self._thread = threading.Thread(target=self._run, args=(renderer, request, timings), name="helm-lint")
        self._thread.start()

    def _run(self, renderer: Renderer, request: RenderRequest, timings: dict[str, float]) -> None:
        start = time.perf_counter()
        try:
            with _LINT_SLOTS:
                (linted,) = renderer.render(request, repeat=0)
            self._errors = linted.lint_errors
        except AnalysisError as exc:
            log.warning("helm lint of %s did not finish: %s", request.chart_dir.name, _scrubbed(str(exc)))
        except Exception:  # a bug must not hang or kill the analysis: no lint errors, logged
            log.exception("helm lint failed unexpectedly")
        timings["lint process, beside the rest"] = time.perf_counter() - start
        with self._lock:
            self._done = True
            remove = self._remove
        if remove is not None:
            shutil.rmtree(remove, ignore_errors=True)

    def then_remove(self, directory: Path) -> None:
        """Remove `directory` once lint no longer reads it (now, if it has finished)."""
        with self._lock:
            done = self._done
            if not done:
                self._remove = directory
        if done:
            shutil.rmtree(directory, ignore_errors=True)

    def result(self) -> tuple[str, ...]:
        self._thread.join()
        return self._errors


def _name_by_repository(chart: MaterializedChart, remote: RemoteChart) -> None:
    """A chart repository's chart's files are named by its repository and name in reports
    (`https://charts.example.com/web/templates/x.yaml:7`), not by where they were mounted: they
    are no files of the repository, and nothing annotates them."""
    chart.origins = [
        dataclasses.replace(o, source_path=remote.display + o.source_path[len(remote.mount) :])
        if under(o.source_path, remote.mount)
        else o
        for o in chart.origins
    ]


def _replace_chart_values(chart: MaterializedChart, environment: Environment) -> None:
    """Values files that replace the chart's values.yaml (Flux's `valuesFiles`): Helm gets an
    empty one, then the files (which list the chart's own when it still counts)."""
    if environment.chart_values_replaced:
        (chart.directory / "values.yaml").write_bytes(b"{}\n")
        chart.files[f"{chart.info.name}/values.yaml"] = b"{}\n"


def resolved(where: ChartAt, options: PipelineOptions) -> ChartAt:
    """A remote chart fetched and mounted beside the repository; any other as it is."""
    if where.remote is None:
        return where
    source, info = fetch_remote_chart(where.source, where.remote, options.fetcher)
    return ChartAt(source, info.path, info=info)


def lint_side(
    where: ChartAt,
    environment: Environment,
    options: PipelineOptions,
    config: AnalysisConfig,
    deadline: float | None = None,
) -> tuple[str, ...]:
    """`helm lint` errors of a side rendered without lint: the base, once the head turns out to
    have lint errors, since only those the base lacks are reported (`chart.render`). Nothing is
    rendered. A side that cannot be linted now has no errors, so the head's all count as new."""
    if not options.renderer.lints:
        return ()
    try:
        where = resolved(where, options)
    except AnalysisError:
        return ()
    if where.info is None:
        return ()
    values, _warnings = _environment_values(where.source, environment)
    literals, _missing = file_literals(where.source, environment)
    values += options.extra_values
    workdir = Path(tempfile.mkdtemp(prefix="chartimpact-"))
    try:
        materialized = materialize(where.source, where.info, workdir, fetcher=options.fetcher)
        _replace_chart_values(materialized, environment)
    except AnalysisError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        log.warning("the base of %s could not be linted: %s", where.info.name, _scrubbed(str(exc)))
        return ()
    job = LintJob(
        options.renderer,
        _request(materialized, values, environment, options, config=config, deadline=deadline, literals=literals),
        {},
    )
    job.then_remove(workdir)
    return job.result()


def _request(
    chart: MaterializedChart,
    values: tuple[ValuesFile, ...],
    environment: Environment,
    options: PipelineOptions,
    *,
    config: AnalysisConfig,
    deadline: float | None,
    literals: tuple[str, ...] = (),
) -> RenderRequest:
    """The render of a materialized side, with the environment's settings and the run's overrides
    (`helm lint` runs in a process of its own: LintJob)."""
    overrides = options.overrides
    kube_version = render_version(environment, config, overrides.kube_versions)
    return RenderRequest(
        chart_dir=chart.directory,
        release_name=overrides.release_name or environment.release_name,
        namespace=overrides.namespace or environment.namespace,
        values_files=values,
        set_values=(*environment.set_values, *options.extra_set),
        set_string_values=environment.set_string_values,
        set_literal_values=literals,
        kube_version=kube_version,
        api_versions=_api_versions(options, environment, minor(kube_version)),
        deadline=deadline,
    )


def _target_renders(
    options: PipelineOptions,
    *,
    config: AnalysisConfig,
    environment: Environment,
    request: RenderRequest,
    chart: MaterializedChart,
    warnings: list[str],
) -> dict[Minor, RenderedChart]:
    """The chart rendered for each target release other than the one its diff was rendered for,
    so that `.Capabilities` follows the target (a chart choosing `policy/v1beta1` below 1.21);
    only where a template reads `.Capabilities`: otherwise every release renders the same."""
    primary = minor(request.kube_version or "")
    others = [t.version for t in targets(environment, config, options.overrides.kube_versions) if t.version != primary]
    if not others or not _reads_capabilities(chart):
        return {}
    found: dict[Minor, RenderedChart] = {}
    for version in others:
        try:
            at_target = dataclasses.replace(
                request, kube_version=f"{shown(version)}.0", api_versions=_api_versions(options, environment, version)
            )
            (found[version],) = options.renderer.render(at_target, repeat=1)
        except AnalysisError as exc:
            warnings.append(
                f"rendering for Kubernetes {shown(version)} failed ({brief(str(exc))}): its resources are"
                f" validated as rendered for {shown(primary)}"
            )
    return found


def _api_versions(options: PipelineOptions, environment: Environment, release: Minor) -> tuple[str, ...]:
    """`.Capabilities.APIVersions` as a cluster of `release` lists them (Helm's defaults lack
    some, such as apiregistration.k8s.io/v1, and a chart then falls back to a removed version),
    with the ones the command line or else the environment adds."""
    overridden = options.overrides.api_versions
    given = overridden if overridden is not None else environment.api_versions
    return (*given, *(v for v in served_api_versions(release) if v not in given))


def _reads_capabilities(chart: MaterializedChart) -> bool:
    return any(b"Capabilities" in text for path, text in chart.files.items() if "/templates/" in path)


def _render_without_failing_tests(
    options: PipelineOptions,
    request: RenderRequest,
    chart: MaterializedChart,
    warnings: list[str],
    *,
    before_change: Callable[[], None],
) -> list[RenderedChart]:
    """The side's renders, as Helm renders the chart (test templates included). When a test
    template is what fails and tests are not compared, the chart is rendered again without its
    test templates (`before_change` is called before they are removed), and the side says so
    (engine/helm_tests.py)."""
    try:
        return render_twice_on_lack_of_memory(options.renderer, request)
    except RenderError as exc:
        if isinstance(exc, RenderOutOfMemory | BudgetExhausted) or options.include_tests:
            raise
        named = named_template(str(exc))
        if named is None or not is_test_template(request.chart_dir, chart.info.name, named):
            raise
        before_change()
        removed = remove_test_templates(request.chart_dir)
        log.info("test template %s failed to render; rendering without %d test templates", named, len(removed))
        warnings.append(
            f"test template '{chart.source_file(named)}' does not render ({brief(exc, 300)}); "
            "the chart was rendered without its test templates, which are not compared"
        )
    return render_twice_on_lack_of_memory(options.renderer, request)


def render_twice_on_lack_of_memory(renderer: Renderer, request: RenderRequest) -> list[RenderedChart]:
    """The side's two renders; when they run out of memory, once more (within the time budget:
    the renderer refuses to start past the deadline), and that second failure is the side's."""
    try:
        return renderer.render(request, repeat=2)
    except RenderOutOfMemory as exc:
        log.warning("rendering %s ran out of memory (%s); rendering it once more", request.chart_dir.name, exc)
    return renderer.render(request, repeat=2)


def _given_secrets(chart: MaterializedChart, request: RenderRequest) -> set[str]:
    """What the render was given under sensitive keys: the chart's and its subcharts' values.yaml,
    the values files and `--set` (see secret_values.py)."""
    texts = [
        content.decode("utf-8", "replace") for path, content in chart.files.items() if path.endswith("/values.yaml")
    ]
    texts += [v.text for v in request.values_files]
    # The names every resource and template path shows (see `given_secrets`): the chart's, its
    # subcharts' (`web/charts/db/` → web, db), the release's and the namespace.
    public = {part for origin in chart.origins for part in origin.helm_prefix.split("/") if part not in ("", "charts")}
    public |= {chart.info.name, request.release_name, request.namespace}
    return given_secrets(texts, (*request.set_values, *request.set_string_values, *request.set_literal_values), public)


def file_literals(source: ChartSource, environment: Environment) -> tuple[tuple[str, ...], list[str]]:
    """`--set-file` of the environment as `--set-literal` expressions (name=the file's text, as
    Helm reads it), the files read from the source; and a warning per file that does not exist."""
    literals: list[str] = []
    warnings: list[str] = []
    for name, path in environment.set_file_values:
        if path not in source.list_files(path):
            warnings.append(f"file '{path}' of parameter '{name}' of environment '{environment.name}' does not exist")
            continue
        literals.append(f"{name}={source.read_many([path])[path].decode('utf-8', 'replace')}")
    return tuple(literals), warnings


def _environment_values(source: ChartSource, environment: Environment) -> tuple[tuple[ValuesFile, ...], list[str]]:
    """The environment's values files, read from the source, by repository path."""
    files: list[ValuesFile] = []
    warnings: list[str] = []
    for path in environment.values:
        if path not in source.list_files(path):
            if environment.missing_values != "ignore":
                warnings.append(f"values file '{path}' of environment '{environment.name}' does not exist")
            continue
        content = source.read_many([path])[path]
        files.append(ValuesFile(name=path, text=content.decode("utf-8", "replace")))
    files += [
        ValuesFile(
            name=inline.name,
            text=inline.text,
            origin=inline.file or None,
            line_offset=max(0, inline.line - 1),
            pinned_line=inline.line if inline.pinned else None,
        )
        for inline in environment.inline_values
    ]
    return tuple(files), warnings


def _values_sources(values: tuple[ValuesFile, ...], chart: MaterializedChart | None) -> tuple[ValuesSource, ...]:
    """What the side was rendered with, for signals: the chart's own values.yaml (Helm reads it
    from the chart, so it is not among the values files) keyed by its Helm path, then the values
    files passed to Helm."""
    out = [
        ValuesSource(
            key=v.name, path=v.origin or v.name, text=v.text, line_offset=v.line_offset, pinned_line=v.pinned_line
        )
        for v in values
    ]
    if chart is not None:
        helm_path = f"{chart.info.name}/values.yaml"
        content = chart.files.get(helm_path)
        if content is not None:
            text = content.decode("utf-8", "replace")
            out.insert(0, ValuesSource(key=helm_path, path=chart.source_file(helm_path), text=text))
    return tuple(out)


def _fingerprint(chart: MaterializedChart, request: RenderRequest, key: bytes) -> str:
    """A digest of every render input. Values files and `--set` may hold secrets and the
    compareId derived from this is public, so they enter it keyed."""
    digest = hashlib.sha256()
    for path in sorted(chart.files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(chart.files[path]).digest())
    inputs = {
        "release": request.release_name,
        "namespace": request.namespace,
        "values": [[v.name, hmac.new(key, v.text.encode(), hashlib.sha256).hexdigest()] for v in request.values_files],
        "set": [hmac.new(key, s.encode(), hashlib.sha256).hexdigest() for s in request.set_values],
        "kube": request.kube_version,
        "apis": list(request.api_versions),
    }
    if request.set_literal_values:
        inputs["set_literal"] = [
            hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in request.set_literal_values
        ]
    if request.set_string_values:  # only when given: every other side keeps its fingerprint
        inputs["set_string"] = [
            hmac.new(key, s.encode(), hashlib.sha256).hexdigest() for s in request.set_string_values
        ]
    digest.update(json.dumps(inputs, sort_keys=True).encode())
    return digest.hexdigest()
