"""YAML reading with libyaml, resolving plain scalars the way Kubernetes' Go YAML does.

PyYAML follows YAML 1.1 further than Go's parser: it turns `2024-01-01` into a date, `1:30` into
90 (base 60), `=` into a "value" tag it cannot construct (prometheus-operator's CRDs contain
`- =`), and `!!binary` into bytes. Go reads all of them as strings, and a report must serialize
to JSON, so here they stay strings.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """libyaml's safe loader with Go's idea of which plain scalars are not strings."""


_GO_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_GO_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_REPLACED = {"tag:yaml.org,2002:int": _GO_INT, "tag:yaml.org,2002:float": _GO_FLOAT}
KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, _REPLACED.get(tag, regexp)) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _finite_float(loader: yaml.SafeLoader, node: yaml.Node) -> float | str:
    """Floats; `.inf` and `.nan` stay text, since JSON has no way to write them."""
    value = loader.construct_yaml_float(node)  # type: ignore[arg-type]
    return value if math.isfinite(value) else str(loader.construct_scalar(node))  # type: ignore[arg-type]


KubeLoader.add_constructor("tag:yaml.org,2002:float", _finite_float)
KubeLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
KubeLoader.add_constructor("tag:yaml.org,2002:binary", _as_text)


def load_yaml(text: str | bytes) -> Any:
    """One YAML document; raises yaml.YAMLError on invalid input."""
    return yaml.load(text, Loader=KubeLoader)
