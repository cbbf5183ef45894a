"""The command line (CONTRACT §1): `diff`, `analyze`, `serve`.

Exit codes: 0 the verdict is pass or warn; 1 it is fail; 2 usage error, unreadable input or a
render error. Errors are one sentence on stderr, never a traceback: an error raised on purpose
says what is wrong, a bug says only where its traceback was saved.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, TextIO

from . import __version__
from .core.chart_report import build_report
from .core.config import AnalysisConfig, Environment
from .core.config_file import CONFIG_FILE, load_config
from .core.errors import AnalysisError, ConfigError, brief
from .core.model import ChartReport, Report, Revision
from .core.report.json import dumps as render_json
from .core.report.markdown import render_markdown
from .core.report.safe_text import one_line
from .core.report.sarif import render_sarif
from .core.report.text import render_text
from .engine.charts import load_chart_info
from .engine.config_source import proposed_config, with_added_targets
from .engine.options import Progress
from .engine.pipeline import ChartAt, PipelineOptions, RenderOverrides, compare, compare_charts
from .engine.plan import NoSuchChart
from .engine.remote import RepositoryAccess, build_fetcher, load_credentials
from .engine.remote.cache import DEFAULT_MAX_BYTES
from .engine.render import IsolatedHelmRenderer, ValuesFile
from .engine.sources import DirectorySource, GitRefSource
from .envvars import env_int, render_limits
from .fingerprint_key import cli_key
from .progress import terminal_progress

PROG = "chartimpact"


KUBE_VERSION = re.compile(r"v?1\.[0-9]{1,3}(\.[0-9]{1,3})?")


class UsageError(Exception):
    """A command-line mistake: exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Render Helm charts at two revisions, diff the Kubernetes resources they "
        "produce, and report what matters.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    diff = commands.add_parser("diff", help="compare two chart directories")
    diff.add_argument("base", metavar="BASE_CHART_DIR")
    diff.add_argument("head", metavar="HEAD_CHART_DIR")
    _common_options(diff)

    analyze = commands.add_parser("analyze", help="compare every chart of a git repository between two refs")
    analyze.add_argument("--repo", required=True, help="path of a local git repository")
    analyze.add_argument("--base", required=True, help="base ref (branch, tag or commit)")
    analyze.add_argument("--head", required=True, help="head ref (branch, tag or commit)")
    analyze.add_argument(
        "--chart",
        action="append",
        default=[],
        metavar="PATH",
        help="analyze only this chart directory (repeatable)",
    )
    _common_options(analyze)

    commands.add_parser("serve", help="run the GitHub App web server")
    return parser


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("json", "markdown", "text", "sarif"),
        help="report format (default: text on a terminal, json otherwise)",
    )
    parser.add_argument(
        "--values",
        action="append",
        default=[],
        metavar="FILE",
        help="a values file, as for helm -f (repeatable)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        dest="set_values",
        metavar="KEY=VALUE",
        help="a value, as for helm --set (repeatable)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        dest="environments",
        metavar="NAME=FILE[,FILE…]",
        help="diff: also analyze the chart as environment NAME, with these values files (repeatable)",
    )
    parser.add_argument("--release-name", help="release name (default: release)")
    parser.add_argument("--namespace", help="release namespace (default: default)")
    parser.add_argument(
        "--kube-version",
        action="append",
        default=[],
        dest="kube_versions",
        metavar="VERSION",
        help="a Kubernetes release the charts must work on, e.g. 1.31 (repeatable; the diff is rendered"
        " for the newest, and every resource is validated against each)",
    )
    parser.add_argument("--api-versions", help="extra API versions for .Capabilities, comma-separated")
    parser.add_argument("--config", metavar="FILE", help=f"a {CONFIG_FILE} to apply")
    parser.add_argument("--no-color", action="store_true", help="never colour the text report")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--include-tests", action="store_true", help="also compare test hooks")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="do not download remote chart dependencies (they are left out, with a warning)",
    )
    parser.add_argument(
        "--allow-private-repositories",
        action="store_true",
        help="let dependencies come from repositories on private or loopback addresses",
    )


Emit = Callable[[Report, argparse.Namespace], None]


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    emit: Emit | None = None,
) -> int:
    """Run one command; `emit` replaces the writing of the report (the GitHub Action writes three
    from one analysis), with the same errors and exit codes."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if args.command == "serve":
            from .web.serve import serve  # noqa: PLC0415 - the server's imports are not needed for diff and analyze

            return serve()
        progress = terminal_progress(err, PROG)
        try:
            report = _run(args, progress)
        finally:
            if progress is not None:
                progress.clear()
        if emit is None:
            _emit(report, args, out)
        else:
            emit(report, args)
    except (UsageError, AnalysisError) as exc:
        # The sentence may quote a file name or a line of the repository: no control character
        # of it reaches the terminal.
        print(f"{PROG}: {one_line(brief(exc, 1000))}", file=err)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 2
    except Exception:  # a bug: one fixed sentence, never its text (it may quote a value) nor a traceback
        print(f"{PROG}: {_crashed()}", file=err)
        return 2
    failed = [chart for chart in report.charts if chart.status == "render_error"]
    if failed:
        print(f"{PROG}: {_not_rendered(failed)}", file=err)
        return 2
    return 1 if report.verdict == "fail" else 0


def _not_rendered(charts: list[ChartReport]) -> str:
    """Why the exit code is 2, in one line: the charts that could not be rendered and why, each
    reason as bounded and escaped as everywhere else (it quotes what the chart made Helm say)."""
    count = f"{len(charts)} chart{'s' if len(charts) != 1 else ''} could not be rendered"
    reasons = "; ".join(f"{one_line(c.path)} ({one_line(brief(c.error or 'no reason given', 300))})" for c in charts)
    return brief(f"{count}: {reasons}", 1000)


def _crashed() -> str:
    """Keep the traceback of the exception being handled in a file, and say where it is."""
    sentence = "the analysis failed unexpectedly (a bug in ChartImpact)"
    try:
        descriptor, path = tempfile.mkstemp(prefix="chartimpact-crash-", suffix=".txt")
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())
    except OSError:
        return f"{sentence}; its traceback could not be saved"
    return f"{sentence}; its traceback is in {path}"


def _run(args: argparse.Namespace, progress: Progress | None = None) -> Report:
    limits = render_limits(os.environ)
    options = PipelineOptions(
        renderer=IsolatedHelmRenderer(limits, helm_binary=os.environ.get("HELM_BINARY") or None),
        extra_set=tuple(args.set_values),
        overrides=RenderOverrides(
            release_name=args.release_name,
            namespace=args.namespace,
            kube_versions=_kube_versions(args.kube_versions),
            api_versions=_api_versions(args.api_versions),
        ),
        include_tests=args.include_tests,
        max_workers=max(2, os.cpu_count() or 2),
        fetcher=None if args.offline else build_fetcher(_repository_access(args)),
        fingerprint_key=cli_key(os.environ),
        progress=progress,
    )
    if args.command == "diff":
        return _diff(args, options)
    return _analyze(args, options)


def _diff(args: argparse.Namespace, options: PipelineOptions) -> Report:
    config = _config_file(args.config) if args.config else AnalysisConfig()
    sides: list[ChartAt] = []
    for given in (args.base, args.head):
        directory = Path(given)
        if not directory.is_dir():
            raise UsageError(f"'{given}' is not a directory")
        root = _source_root(directory.resolve())
        source = DirectorySource(root, Revision(ref=given))
        relative = directory.resolve().relative_to(root).as_posix()
        chart_path = "" if relative == "." else relative
        # Read here, so that a directory that is no chart is a usage error, not a chart report.
        sides.append(ChartAt(source, chart_path, info=load_chart_info(source, chart_path)))
    options = _with_values(options, [_read_values_file(v) for v in args.values])
    if not args.environments:
        return compare_charts(sides[0], sides[1], options, config=config, display_path=args.head)
    # One report of every environment: each signal is reported per environment it affects.
    charts: list[ChartReport] = []
    for name, files in _environments(args.environments):
        with_files = _with_values(options, [_read_values_file(f) for f in files])
        report = compare_charts(
            sides[0], sides[1], with_files, config=config, environment=Environment(name=name), display_path=args.head
        )
        charts += report.charts
    return build_report(charts, sides[0].source.revision, sides[1].source.revision)


def _environments(given: list[str]) -> list[tuple[str, list[str]]]:
    """`--env NAME=FILE[,FILE…]`, in the order given; UsageError for a malformed or repeated one."""
    out: list[tuple[str, list[str]]] = []
    for entry in given:
        name, sep, files = entry.partition("=")
        name = name.strip()
        if not sep or not name or not files.strip():
            raise UsageError(f"--env '{entry}': write NAME=FILE or NAME=FILE,FILE (for example prod=values-prod.yaml)")
        if any(name == seen for seen, _ in out):
            raise UsageError(f"--env '{name}' is given twice")
        out.append((name, [f.strip() for f in files.split(",") if f.strip()]))
    return out


def _analyze(args: argparse.Namespace, options: PipelineOptions) -> Report:
    if args.environments:
        raise UsageError(f"--env is an option of diff; analyze reads environments from {CONFIG_FILE}")
    base = GitRefSource(args.repo, args.base)
    head = GitRefSource(args.repo, args.head)
    if args.config:
        config = _config_file(args.config)
    else:
        listing = base.list_files(CONFIG_FILE)
        text = base.read_many([CONFIG_FILE])[CONFIG_FILE] if CONFIG_FILE in listing else None
        config = load_config(text, f"{CONFIG_FILE} at {args.base}")
        proposed = proposed_config(base, head)
        if proposed is not None:
            config = with_added_targets(config, proposed)
    in_repo = [v for v in args.values if _repo_path(v) in head.list_files() or _repo_path(v) in base.list_files()]
    on_disk = [_read_values_file(v) for v in args.values if v not in in_repo]
    if in_repo:
        config = _with_environment_values(config, tuple(_repo_path(v) for v in in_repo))
    options = _with_values(options, on_disk)
    only = [c.strip("/") or "" for c in args.chart] or None
    try:
        return compare(base, head, options, config=config, only=only)
    except NoSuchChart as exc:
        shown = ", ".join(f"'{p or '.'}'" for p in exc.paths)
        raise UsageError(
            f"--chart {shown}: no chart there at {args.base} or at {args.head} (a chart directory has a Chart.yaml)"
        ) from None


def _emit(report: Report, args: argparse.Namespace, out: TextIO) -> None:
    to_terminal = not args.output and out.isatty()
    fmt = args.format or ("text" if to_terminal else "json")
    if fmt == "json":
        text = render_json(report)
    elif fmt == "markdown":
        text = render_markdown(report)
    elif fmt == "sarif":
        text = render_sarif(report)
    else:
        colour = to_terminal and not args.no_color and not os.environ.get("NO_COLOR")
        text = render_text(report, colour=colour)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write '{args.output}': {exc.strerror}") from exc
    else:
        out.write(text)
        out.flush()


def _source_root(chart_dir: Path) -> Path:
    """Where a chart's `file://` dependencies may reach: its git work tree, else its parent."""
    for candidate in (chart_dir, *chart_dir.parents):
        if (candidate / ".git").exists():
            return candidate
    return chart_dir.parent


def _repository_access(args: argparse.Namespace) -> RepositoryAccess:
    """Credentials from CHARTIMPACT_REPOSITORY_CREDENTIALS (a malformed file is a usage error),
    the cache, and whether private addresses may be reached."""
    try:
        credentials = load_credentials(os.environ)
        cache_mb = env_int(os.environ, "CHARTIMPACT_CACHE_MAX_MB", DEFAULT_MAX_BYTES // (1024 * 1024), minimum=1)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return RepositoryAccess(
        credentials=credentials,
        allow_private_networks=args.allow_private_repositories,
        cache_dir=str(_cache_dir()),
        cache_max_bytes=cache_mb * 1024 * 1024,
    )


def _cache_dir() -> Path:
    """Downloaded dependency archives: CHARTIMPACT_CACHE_DIR, else the XDG cache directory."""
    explicit = os.environ.get("CHARTIMPACT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "chartimpact" / "charts"


def _read_values_file(path: str) -> ValuesFile:
    try:
        return ValuesFile(name=path, text=Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"values file '{path}' cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise UsageError(f"values file '{path}' is not UTF-8 text") from None


def _config_file(path: str) -> AnalysisConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"configuration file '{path}' cannot be read: {exc.strerror}") from exc
    return load_config(text, path)


def _kube_versions(given: list[str]) -> tuple[str, ...]:
    for version in given:
        if not KUBE_VERSION.fullmatch(version):
            raise UsageError(f"--kube-version '{version[:40]}': write a Kubernetes release such as 1.31 or 1.31.2")
    return tuple(dict.fromkeys(v.lstrip("v") for v in given))


def _api_versions(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    return tuple(v.strip() for v in raw.split(",") if v.strip())


def _repo_path(path: str) -> str:
    return Path(path).as_posix().removeprefix("./")


def _with_values(options: PipelineOptions, values: list[ValuesFile]) -> PipelineOptions:
    if not values:
        return options
    return replace(options, extra_values=(*options.extra_values, *values))


def _with_environment_values(config: AnalysisConfig, values: tuple[str, ...]) -> AnalysisConfig:
    """Repository values files given on the command line apply to every environment."""
    environments = config.environments or (Environment(),)
    return replace(
        config,
        environments=tuple(replace(env, values=(*env.values, *values)) for env in environments),
    )
