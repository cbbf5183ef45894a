"""`.chartimpact.yml`: load, validate against the JSON Schema, apply defaults.

Every problem is reported with its line, and unknown keys get a "did you mean" suggestion,
because a typo must never silently disable policy.
"""

from __future__ import annotations

import difflib
import json
import re
import reprlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

import yaml

from .config import (
    DEFAULT_THRESHOLDS,
    AnalysisConfig,
    CustomRule,
    Environment,
    IgnoreRules,
    ResourceFilter,
)
from .errors import ConfigError, brief
from .model import Category, Importance
from .normalize import NormalizeOptions
from .signals.custom import check_rules
from .yamlio import METADATA_LIMITS, YamlLimitError, compose_untrusted, load_config_yaml

if TYPE_CHECKING:
    from jsonschema import ValidationError

CONFIG_FILE = ".chartimpact.yml"


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    message: str


class InvalidConfig(ConfigError):
    """The file is invalid; `problems` lists each error with its line."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{file} line {first.line}: {first.message}{more}", file=file, line=first.line)
        self.problems = problems


@cache
def schema() -> dict[str, Any]:
    text = resources.files("chartimpact_bot").joinpath("schema/chartimpact.schema.json").read_text()
    return cast(dict[str, Any], json.loads(text))


def load_config(text: str | bytes | None, file: str = CONFIG_FILE) -> AnalysisConfig:
    """The configuration in `text` (None or empty means defaults); InvalidConfig on errors."""
    if text is None:
        return AnalysisConfig()
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        root = compose_untrusted(text, METADATA_LIMITS)
    except YamlLimitError as exc:
        raise InvalidConfig(file, [Problem(exc.line or 1, f"refused: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InvalidConfig(file, [Problem(line, f"not valid YAML: {brief(problem)}")]) from exc
    if root is None:
        return AnalysisConfig()
    data = load_config_yaml(text)
    problems = validate(data, root)
    if problems:
        raise InvalidConfig(file, problems)
    return _to_config(data)


def validate(data: Any, root: yaml.Node) -> list[Problem]:
    import jsonschema  # noqa: PLC0415 - 65 ms to import; only needed when a file exists

    validator = jsonschema.Draft202012Validator(schema())
    problems: list[Problem] = []
    for error in validator.iter_errors(data):
        problems.extend(_describe(error, root))
    if isinstance(data, dict):
        # What the schema cannot say: a rule's path and pattern are languages of their own.
        problems += [Problem(_value_line(root, list(p.location)), p.message) for p in check_rules(data.get("rules"))]
    unique = {(p.line, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.line, p.message))


def _describe(error: ValidationError, root: yaml.Node) -> list[Problem]:
    path = list(error.absolute_path)
    dotted = _dotted(path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(cast(dict[str, Any], error.schema).get("properties", {}))
        out = []
        for key in sorted(set(error.instance) - set(allowed)):
            suggestion = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean '{suggestion[0]}'?)" if suggestion else ""
            where = _dotted([*path, key])
            out.append(Problem(_key_line(root, [*path, key]), f"unknown key '{where}'{hint}"))
        return out
    line = _value_line(root, path)
    # Messages are built here rather than taken from jsonschema, whose messages repr the whole
    # offending value: an alias bomb expands to gigabytes of text.
    got = _shown(error.instance)
    if error.validator == "enum":
        options = ", ".join(str(o) for o in cast(list[Any], error.validator_value))
        return [Problem(line, f"'{dotted}' must be one of {options} (got {got})")]
    if error.validator == "type":
        return [Problem(line, f"'{dotted}' must be of type {error.validator_value} (got {got})")]
    if error.validator == "required":
        missing = [k for k in cast(list[str], error.validator_value) if k not in cast(dict[str, Any], error.instance)]
        return [Problem(line, f"'{dotted or 'the file'}': '{missing[0] if missing else '?'}' is a required property")]
    if error.validator in _AT_MOST:
        return [Problem(line, f"'{dotted}' has at most {error.validator_value} {_AT_MOST[error.validator]}")]
    if error.validator == "const":
        return [Problem(line, f"'{dotted}' must be {error.validator_value!r} (got {got})")]
    where = f"'{dotted}'" if dotted else "the file"
    return [Problem(line, f"{where}: {got} does not satisfy the schema ({_rule_text(error)})")]


_AT_MOST = {"maxLength": "characters", "maxItems": "items", "maxProperties": "keys"}


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxlevel, short.maxdict, short.maxlist, short.maxstring, short.maxother = 2, 4, 4, 60, 60
    return short


_SHORT = _short_repr()


def _shown(value: Any) -> str:
    """A value from the file as a short, single-line quotation."""
    return brief(_SHORT.repr(value), 100)


def _rule_text(error: ValidationError) -> str:
    return brief(f"{error.validator}: {_SHORT.repr(error.validator_value)}", 120)


def _dotted(path: list[Any]) -> str:
    out = ""
    for token in path:
        out += f"[{token}]" if isinstance(token, int) else (f".{token}" if out else str(token))
    return out


def _node_at(root: yaml.Node, path: list[Any]) -> tuple[yaml.Node, yaml.Node | None]:
    """The deepest node on `path`, and the key node that leads to it (for mappings)."""
    node: yaml.Node = root
    key_node: yaml.Node | None = None
    for token in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(token):
                    key_node, node = k, v
                    break
            else:
                return node, key_node
        elif isinstance(node, yaml.SequenceNode) and isinstance(token, int) and token < len(node.value):
            node, key_node = node.value[token], None
        else:
            break
    return node, key_node


def _value_line(root: yaml.Node, path: list[Any]) -> int:
    node, _ = _node_at(root, path)
    return int(node.start_mark.line) + 1


def _key_line(root: yaml.Node, path: list[Any]) -> int:
    node, key_node = _node_at(root, path)
    target = key_node if key_node is not None else node
    return int(target.start_mark.line) + 1


def _to_config(data: dict[str, Any]) -> AnalysisConfig:
    charts = data.get("charts") or {}
    thresholds = {k: dict(v) for k, v in DEFAULT_THRESHOLDS.items()}
    for category, levels in (data.get("thresholds") or {}).items():
        thresholds[cast(Category, category)].update(levels)
    ignore = data.get("ignore") or {}
    normalize = data.get("normalize") or {}
    comment = data.get("comment") or {}
    gitops = data.get("gitops") or {}
    return AnalysisConfig(
        include=tuple(charts.get("include") or ()),
        exclude=tuple(charts.get("exclude") or ()),
        environments=tuple(_environment(e) for e in data.get("environments") or ()),
        thresholds=thresholds,
        importance={str(k): cast(Importance, v) for k, v in (data.get("importance") or {}).items()},
        ignore=IgnoreRules(
            signals=tuple(ignore.get("signals") or ()),
            resources=tuple(
                ResourceFilter(
                    kind=r.get("kind", "*"),
                    namespace=r.get("namespace", "*"),
                    name=r.get("name", "*"),
                )
                for r in ignore.get("resources") or ()
            ),
            paths=tuple(ignore.get("paths") or ()),
        ),
        normalize=NormalizeOptions(
            drop_chart_labels=bool(normalize.get("chartLabels", True)),
            drop_checksum_annotations=bool(normalize.get("checksumAnnotations", False)),
        ),
        comment_mode=comment.get("mode", "changes"),
        comment_max_signals=int(comment.get("maxSignals", 30)),
        rules=tuple(_rule(r) for r in data.get("rules") or ()),
        manifests=tuple(gitops["manifests"]) if "manifests" in gitops else None,
        kube_versions=_kube_versions(data),
        raw=data,
    )


def _environment(raw: dict[str, Any]) -> Environment:
    return Environment(
        name=raw["name"],
        charts=tuple(raw.get("charts") or ()),
        values=tuple(raw.get("values") or ()),
        set_values=tuple(f"{k}={_set_literal(v)}" for k, v in (raw.get("set") or {}).items()),
        release_name=raw.get("releaseName", "release"),
        namespace=raw.get("namespace", "default"),
        kube_version=raw.get("kubeVersion"),
        api_versions=tuple(raw.get("apiVersions") or ()),
        kube_versions=_kube_versions(raw),
    )


def _kube_versions(raw: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(v).lstrip("v") for v in (raw.get("kubernetes") or {}).get("versions") or ())


def _set_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    # --set syntax treats commas as separators; escape them in literal values.
    return re.sub(r"([,\\])", r"\\\1", str(value))


def _rule(raw: dict[str, Any]) -> CustomRule:
    names = raw.get("names") or ()
    return CustomRule(
        type=raw["type"],
        category=raw.get("category", "other"),
        importance=raw.get("importance", "medium"),
        description=raw.get("description", raw["type"]),
        path=raw["path"],
        kinds=tuple(raw.get("kinds") or ()),
        matches=raw.get("matches"),
        explanation=raw.get("explanation"),
        names=(names,) if isinstance(names, str) else tuple(names),
        labels=tuple(sorted((str(k), str(v)) for k, v in (raw.get("labels") or {}).items())),
        on=raw.get("on"),
        equals=raw.get("equals"),
    )
