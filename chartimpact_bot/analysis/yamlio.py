"""YAML reading with libyaml, tuned to Kubernetes: values stay JSON-compatible.

PyYAML's safe loader turns `2024-01-01` into a date and `!!binary` into bytes; Kubernetes and
Helm see both as strings, and a report must serialize to JSON, so both stay strings here.
"""

from __future__ import annotations

from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """libyaml's safe loader with timestamps and binary values kept as their text."""


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


KubeLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
KubeLoader.add_constructor("tag:yaml.org,2002:binary", _as_text)


def load_yaml(text: str | bytes) -> Any:
    """One YAML document; raises yaml.YAMLError on invalid input."""
    return yaml.load(text, Loader=KubeLoader)
