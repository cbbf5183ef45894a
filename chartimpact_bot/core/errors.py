"""One small exception hierarchy for the analysis library.

Every message is one sentence meant for a user: it names the file, template or option at fault.
"""


class AnalysisError(Exception):
    """Base class of every error the analysis library raises on purpose."""


class SourceError(AnalysisError):
    """A chart source cannot be read (missing directory, unknown git ref, unreadable file)."""


class ChartError(AnalysisError):
    """A chart is unusable before rendering (no Chart.yaml, bad Chart.yaml, unsafe archive)."""


class ArchiveError(ChartError):
    """A chart archive is unsafe or corrupt (path traversal, links, too large)."""


class RenderError(AnalysisError):
    """Helm could not render a chart, or its output is not valid Kubernetes YAML."""


class RenderOutOfMemory(RenderError):
    """The render used more memory than it may (RENDER_MEMORY_MB), or the system had none left.
    The engine renders such a side once more before the failure counts (engine/sides.py)."""


class BudgetExhausted(RenderError):
    """The analysis ran out of its total time before (or while) this chart was rendered."""


class ConfigError(AnalysisError):
    """A configuration file or option is invalid."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line


def brief(problem: BaseException | str, limit: int = 300) -> str:
    """A library's error text as one bounded line: parsers quote the input that failed, and that
    input was written by whoever opened the pull request."""
    text = " ".join(str(problem).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unexpected_failure(job_id: str | None = None) -> str:
    """The one sentence shown for an exception nobody raised on purpose (a bug).

    Its text is never shown: it may quote anything the code held (a value, a path, a token),
    and it would not help whoever reads the pull request. The traceback goes to the log."""
    where = f" (job {job_id})" if job_id else ""
    return f"ChartImpact failed unexpectedly while analyzing this change; the operator's logs have the details{where}"
