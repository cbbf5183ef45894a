"""The package layout is the architecture (docs/architecture.md): each layer imports only the
layers below it, the core does no I/O, and the render worker loads only what it needs."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "chartimpact_bot"

# Lowest first. A unit may import its own rank or a lower one, never a higher one: the core
# cannot reach the engine, the engine cannot reach the job queue, and nothing below the App's
# adapter knows GitHub.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__init__", "timestamps"}),
    frozenset({"core"}),
    frozenset({"engine"}),
    frozenset({"logs", "envvars", "fingerprint_key", "report_links", "settings", "variables", "reference"}),
    frozenset({"jobs"}),
    frozenset({"github"}),
    frozenset({"web"}),
    frozenset({"cli", "progress"}),
    frozenset({"integrations"}),
    frozenset({"__main__"}),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}

# What the pure core may not import: anything that starts processes, opens sockets or files,
# speaks HTTP or runs threads. Those belong to the engine, which hands the core plain values.
CORE_FORBIDDEN = frozenset(
    {
        "asyncio",
        "aiohttp",
        "concurrent",
        "ctypes",
        "gidgethub",
        "http",
        "httpx",
        "multiprocessing",
        "os",
        "requests",
        "select",
        "shutil",
        "signal",
        "socket",
        "ssl",
        "subprocess",
        "tempfile",
        "threading",
        "urllib",
    }
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Absolute names of everything `path` imports (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            yield target
            if not node.module:  # `from . import x`: x may be a module of that package
                yield from (f"{target}.{alias.name}" for alias in node.names if _is_module(f"{target}.{alias.name}"))


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _unit(name: str) -> str:
    """The layer unit of a module of ours: its top-level package or module below chartimpact_bot."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_unit_has_a_layer() -> None:
    units = {_unit(_module_name(path)) for path in _sources()}
    assert units <= set(RANK), units - set(RANK)


def test_layers_import_only_downwards() -> None:
    upward = sorted(
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _sources()
        for name in _imports(path)
        if name.split(".")[0] == "chartimpact_bot" and RANK[_unit(name)] > RANK[_unit(_module_name(path))]
    )
    assert upward == []


def test_core_does_no_io() -> None:
    offenders = sorted(
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in (PACKAGE / "core").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in CORE_FORBIDDEN
    )
    assert offenders == []


def test_core_opens_no_files() -> None:
    """Not through the builtin either: the core is handed text and bytes."""
    offenders = sorted(
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in (PACKAGE / "core").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "open")
            or (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in {"open", "write_text", "write_bytes", "mkdir", "unlink", "rmdir"}
            )
        )
    )
    assert offenders == []


def test_import_resolver_resolves_relative_imports() -> None:
    """The checks above see relative imports, or every one of them would pass vacuously."""
    names = set(_imports(PACKAGE / "engine" / "pipeline.py"))
    assert "chartimpact_bot.core.chart_report" in names
    assert any(name.startswith("chartimpact_bot.engine.") for name in names)


def test_render_worker_loads_only_light_modules() -> None:
    """The worker starts once per render: it may load the standard library, PyYAML, the Helm
    engine and the small modules that parse documents, nothing more."""
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
        "chartimpact_bot",
        "chartimpact_bot.core",
        "chartimpact_bot.engine",
        "chartimpact_bot.core.documents",
        "chartimpact_bot.core.errors",
        "chartimpact_bot.core.yamlio",
        # how Helm's reader types what libyaml composes (binascii, math, re, PyYAML)
        "chartimpact_bot.core.go_yaml",
        "chartimpact_bot.core.secret_values",
        # the secret vocabulary, to redact error text; it needs only these
        "chartimpact_bot.core.sensitive",
        "base64",
        "binascii",
        "hashlib",
        "hmac",
        "functools",
        # the cycle collector switched off for the process's one render
        "gc",
        # dying with the worker that started it (prctl through ctypes)
        "chartimpact_bot.engine.parent_death",
        "ctypes",
        "signal",
        "threading",
        # a bug's traceback, written to stderr for the parent to log
        "traceback",
    }
    reached: set[str] = set()
    pending = [PACKAGE / "engine" / "render_worker.py"]
    while pending:
        path = pending.pop()
        for name in _imports(path):
            if name in reached:
                continue
            reached.add(name)
            module_file = PACKAGE.parent / (name.replace(".", "/") + ".py")
            if name.startswith("chartimpact_bot.") and module_file.exists():
                pending.append(module_file)
    roots = {n if n.startswith("chartimpact_bot") else n.split(".")[0] for n in reached}
    assert roots <= allowed, roots - allowed


def _runtime_imports(path: Path) -> set[str]:
    """Our modules `path` imports when it runs (imports under `if TYPE_CHECKING:` left out)."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for child in block.body
        for node in ast.walk(child)
    }
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom | ast.Import):
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.level == 0:
            names = [node.module or ""]
        else:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            names = [target, *(f"{target}.{a.name}" for a in node.names)]
        found.update(name for name in names if name.startswith("chartimpact_bot") and _is_module(name))
    return found


def test_no_module_imports_itself_through_others() -> None:
    """Import cycles make the layout lie about what depends on what (the core once had
    signals/context → sourcemap → signals/registry)."""
    graph = {_module_name(path): _runtime_imports(path) - {_module_name(path)} for path in _sources()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            # A package's __init__ is imported on the way to its modules: not a dependency edge.
            if module.startswith(imported + "."):
                continue
            if state.get(imported) == 1:
                cycles.append([*trail[trail.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
