"""YAML reading with libyaml, with the values Helm's own reader gives (see `go_yaml`).

`load_yaml` reads rendered manifests (in the render process, `documents.py`), values files and
chart metadata. libyaml parses and composes in C, as for PyYAML's CSafeLoader; what differs is
the step after: go-yaml v2 and sigs.k8s.io/yaml's rules, not PyYAML's YAML 1.1 ones, decide
what a plain scalar is, and a mapping key is always text. So `y` and `on` are booleans, `0o755`,
`08` and `1e3` are numbers, `1.0` is 1, integers beyond 2^53 are rounded as a float64 is, `1: a`
is {"1": "a"}, `!!binary` is decoded, and timestamps, `1:30` and `=` stay text, as in Helm
(tests/test_yaml_go_semantics.py checks each against Helm's reader; ADR 7 says why). The
exceptions, where Go fails: `.inf` and `.nan` stay text, null keys are "null".

`.chartimpact.yml` is read otherwise, on purpose (ConfigLoader): booleans as YAML 1.2 writes
them, so a rule's `on:` key is the word it looks like.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import yaml

from .go_yaml import GoResolver, build


class _PythonComposer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer):
    """PyYAML's own composer, where PyYAML was built without libyaml: the same nodes, slower."""

    def __init__(self, stream: str | bytes) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)


if TYPE_CHECKING:
    _Composer = _PythonComposer
    _BaseLoader = yaml.SafeLoader
else:  # libyaml's parser and composer where PyYAML was built with it: much faster
    _Composer = getattr(getattr(yaml, "cyaml", None), "CParser", _PythonComposer)
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeLoader(_Composer, GoResolver):
    """libyaml's composer with GoResolver: nodes for `go_yaml.build`, or for line numbers."""


def load_yaml(text: str | bytes) -> Any:
    """One YAML document as Helm reads it; raises yaml.YAMLError on invalid input."""
    node = _compose(text)
    return None if node is None else build(node)


def _compose(text: str | bytes) -> yaml.Node | None:
    loader = KubeLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


class ConfigLoader(_BaseLoader):
    """`.chartimpact.yml`: PyYAML's safe loader, with booleans as YAML 1.2 writes them (`true`,
    `false`), so a rule's `on:` key is the word it looks like rather than YAML 1.1's boolean
    `True` (GitHub Actions workflows read `on:` the same way). Like Kubernetes, it keeps
    timestamps, base-60 numbers, `=` and `!!binary` as text, and `.inf` and `.nan` too."""


_CONFIG_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_CONFIG_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_CONFIG_REPLACED = {
    "tag:yaml.org,2002:int": _CONFIG_INT,
    "tag:yaml.org,2002:float": _CONFIG_FLOAT,
    "tag:yaml.org,2002:bool": _YAML12_BOOL,
}
ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, _CONFIG_REPLACED.get(tag, regexp)) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    # A hostile `!!binary {a: 1}` reaches here with a mapping: construct_scalar then raises the
    # YAMLError every caller handles, so the node is only cast for the type checker.
    return str(loader.construct_scalar(cast(yaml.ScalarNode, node)))


def _finite_float(loader: yaml.SafeLoader, node: yaml.Node) -> float | str:
    """Floats; `.inf` and `.nan` stay text, since JSON has no way to write them."""
    scalar = cast(yaml.ScalarNode, node)  # a non-scalar raises the usual YAMLError, as above
    value = loader.construct_yaml_float(scalar)
    return value if math.isfinite(value) else str(loader.construct_scalar(scalar))


ConfigLoader.add_constructor("tag:yaml.org,2002:float", _finite_float)
ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
ConfigLoader.add_constructor("tag:yaml.org,2002:binary", _as_text)


def load_config_yaml(text: str | bytes) -> Any:
    """A `.chartimpact.yml` document (see ConfigLoader); raises yaml.YAMLError on invalid input."""
    return yaml.load(text, Loader=ConfigLoader)


# --- YAML written by a pull request author -------------------------------------------------
#
# libyaml's composer recurses once per nesting level in C: 50,000 nested `[` overflow its stack
# and kill the process (no exception to catch). Its scanner is quadratic in the nesting depth,
# and aliases let 400 bytes stand for a billion nodes, which anything that walks the result
# (a schema validator, `repr`, a JSON encoder) then expands. So an untrusted document is first
# streamed as events, which libyaml produces without recursion, and refused as soon as it is
# too large, too deep or expands to too many nodes; only then is it composed or loaded.


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """Bounds on one untrusted YAML document."""

    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 128
    # Nodes counted as if every alias were expanded where it is used.
    max_nodes: int = 1_000_000


# Chart.yaml, Chart.lock, requirements, `.chartimpact.yml`: small files written by people.
METADATA_LIMITS = YamlLimits(max_bytes=1024 * 1024, max_depth=64, max_nodes=200_000)
# A values file: real ones reach a few hundred kB (kube-prometheus-stack: 200 kB).
VALUES_LIMITS = YamlLimits(max_bytes=8 * 1024 * 1024, max_depth=128, max_nodes=1_000_000)


class YamlLimitError(yaml.YAMLError):
    """An untrusted document exceeds its YamlLimits; the message says which bound and where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.problem = message
        self.line = line

    def __str__(self) -> str:
        return str(self.problem) if self.line is None else f"{self.problem} (line {self.line})"


_OPENERS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSERS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_EventParser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_untrusted(text: str | bytes, limits: YamlLimits = YamlLimits()) -> None:
    """Raise YamlLimitError (a yaml.YAMLError) unless `text` is within `limits`; raise the
    parser's own YAMLError when it is not YAML at all."""
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > limits.max_bytes:
        raise YamlLimitError(f"the file is larger than {limits.max_bytes // 1024} kB")
    parser = _EventParser(text)
    # One frame per open collection: [expanded node count so far, anchor name or None].
    stack: list[list[Any]] = []
    anchors: dict[str, int] = {}
    total = 0
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, yaml.AliasEvent):
                weight = anchors.get(str(event.anchor), 1)
            elif isinstance(event, _OPENERS):
                if len(stack) >= limits.max_depth:
                    raise YamlLimitError(f"the document nests deeper than {limits.max_depth} levels", _line(event))
                stack.append([1, event.anchor])
                continue
            elif isinstance(event, _CLOSERS):
                weight, anchor = stack.pop()
                if anchor is not None:
                    anchors[str(anchor)] = weight
            elif isinstance(event, yaml.ScalarEvent):
                weight = 1
                if event.anchor is not None:
                    anchors[str(event.anchor)] = 1
            else:
                continue
            total += weight
            if total > limits.max_nodes:
                raise YamlLimitError(
                    f"the document expands to more than {limits.max_nodes:,} nodes (aliases counted where used)",
                    _line(event),
                )
            if stack:
                stack[-1][0] += weight
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()


def _line(event: yaml.Event) -> int | None:
    mark = event.start_mark
    return None if mark is None else int(mark.line) + 1


def load_untrusted(text: str | bytes, limits: YamlLimits = YamlLimits()) -> Any:
    """One YAML document written by someone we do not trust, loaded like `load_yaml`."""
    check_untrusted(text, limits)
    return load_yaml(text)


def compose_untrusted(text: str | bytes, limits: YamlLimits = YamlLimits()) -> yaml.Node | None:
    """The node graph of an untrusted document (for line numbers), within `limits`."""
    check_untrusted(text, limits)
    return _compose(text)
