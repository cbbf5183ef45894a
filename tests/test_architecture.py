"""The analysis library knows nothing of GitHub or of the web server (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ANALYSIS = Path(__file__).resolve().parent.parent / "chartimpact_bot" / "analysis"
FORBIDDEN = (
    "gidgethub",
    "aiohttp",
    "chartimpact_bot.github",
    "chartimpact_bot.web",
    "chartimpact_bot.jobs",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level == 1 and path.parent == ANALYSIS:
            names.add("chartimpact_bot.analysis." + (node.module or ""))
        elif isinstance(node, ast.ImportFrom) and node.level >= 2:
            names.add("chartimpact_bot." + (node.module or ""))
    return names


def test_analysis_imports_no_github_or_web_code() -> None:
    offenders = {
        f"{path.relative_to(ANALYSIS)}: {name}"
        for path in ANALYSIS.rglob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN) or name.split(".")[0] in ("gidgethub", "aiohttp")
    }
    assert offenders == set()


def test_render_worker_loads_only_light_modules() -> None:
    """The worker starts once per render: it may load the standard library, PyYAML, the Helm
    engine and the two small modules that parse documents, nothing more."""
    allowed = {
        "json",
        "os",
        "re",
        "resource",
        "subprocess",
        "sys",
        "tempfile",
        "time",
        "typing",
        "__future__",
        "helm_python",
        "yaml",
        "posixpath",
        "collections",
        "math",
        "dataclasses",
        "chartimpact_bot.analysis.documents",
        "chartimpact_bot.analysis.errors",
        "chartimpact_bot.analysis.yamlio",
        "chartimpact_bot.analysis.secret_values",
        # the secret vocabulary, to redact error text; it needs only these
        "chartimpact_bot.analysis.sensitive",
        "base64",
        "binascii",
        "hashlib",
        "hmac",
        "functools",
        # dying with the worker that started it (prctl through ctypes)
        "chartimpact_bot.analysis.parent_death",
        "ctypes",
        "signal",
        "threading",
        # a bug's traceback, written to stderr for the parent to log
        "traceback",
    }
    reached = set()
    pending = ["render_worker.py"]
    while pending:
        module = pending.pop()
        for name in _imports(ANALYSIS / module):
            reached.add(name)
            if name.startswith("chartimpact_bot.analysis."):
                pending.append(name.rsplit(".", 1)[1] + ".py")
    roots = {n if n.startswith("chartimpact_bot") else n.split(".")[0] for n in reached}
    assert roots <= allowed, roots - allowed
