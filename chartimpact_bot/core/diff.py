"""The Kubernetes-aware structured diff.

Resources are matched by identity. Inside a resource, lists are matched the way Kubernetes
merges them, so a reorder yields nothing and an insertion yields one `add`:
- keyed lists, by the key Kubernetes' strategic merge patch uses for them (`patchMergeKey`):
  containers and env by `name`, volumeMounts by `mountPath`, a container's ports by
  `containerPort` and a Service's by `port` (each with its protocol, as server-side apply keys
  them), …; lists Kubernetes replaces whole (`tolerations`, `subjects`, Ingress `paths`…) but
  whose order means nothing, by their identifying fields; and, elsewhere, any list of objects
  sharing a unique key field;
- sets where order carries no meaning (RBAC verbs, capabilities, finalizers, …);
- sequences where it does (command, args, and every other list), aligned by longest common
  subsequence.

Every subtree that is equal on both sides is skipped with one C-level comparison, which is what
makes this fast on large manifests. The price: inside a mapping, Python's equality treats `1`,
`1.0` and `true` as equal. Kubernetes field schemas never accept both a boolean and a number for
one field, so a render cannot differ only that way and still be valid.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .model import ChangeOp, PathToken, Resource, ResourceDiff, ResourceId

KeyPart = tuple[str, Any]
ItemKey = tuple[KeyPart, ...]
KeyFn = Callable[[Any], ItemKey | None]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """A difference before classification."""

    op: ChangeOp
    path: tuple[PathToken, ...]
    display_path: str
    before: Any
    after: Any


def _field_key(*fields: str) -> KeyFn:
    """Key items by one or more top-level fields (missing ones left out of the key)."""

    def key(item: Any) -> ItemKey | None:
        if not isinstance(item, dict):
            return None
        parts = tuple((f, item[f]) for f in fields if _is_scalar(item.get(f)))
        return parts or None

    return key


def _nested_key(label: str, *path: str) -> KeyFn:
    def key(item: Any) -> ItemKey | None:
        value: Any = item
        for step in path:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return ((label, value),) if _is_scalar(value) else None

    return key


def _port_key(item: Any) -> ItemKey | None:
    if not isinstance(item, dict):
        return None
    for field in ("containerPort", "port"):
        if _is_scalar(item.get(field)):
            protocol = item.get("protocol", "TCP")
            parts: list[KeyPart] = [(field, item[field])]
            if protocol != "TCP":
                parts.append(("protocol", protocol))
            return tuple(parts)
    return None


_NAME = _field_key("name")

# Lists matched by key. Where Kubernetes' API types give a list a strategic-merge key
# (`patchMergeKey`, and the `listMapKeys` server-side apply uses), that key: checked against
# k8s.io/api for containers, initContainers, ephemeralContainers, env, volumes, imagePullSecrets,
# resourceClaims, schedulingGates (`name`), volumeMounts (`mountPath`), volumeDevices
# (`devicePath`), a container's ports (`containerPort`, protocol), a Service's ports (`port`,
# protocol), hostAliases (`ip`), topologySpreadConstraints (`topologyKey`, whenUnsatisfiable),
# readinessGates (`conditionType`), conditions (`type`). Ports used to be matched by `name`
# first, so a renamed port read as one port removed and another added, and two ports renamed
# into each other's names read as both renumbered.
# Lists without a merge key are replaced whole by a patch. Where their order carries no meaning
# (tolerations, RBAC subjects, webhooks, CRD versions, Ingress paths and TLS entries, metric
# specs, key-to-path items, projected sources) their items are matched by the fields that
# identify one, so a reorder is no change. `envFrom` is not among them: a later entry overrides
# an earlier one's keys, so its order is meaning and it is diffed as a sequence.
# Each entry is tried in order; the first that keys every item uniquely wins.
KEYED_LISTS: dict[str, tuple[KeyFn, ...]] = {
    "containers": (_NAME,),
    "initContainers": (_NAME,),
    "ephemeralContainers": (_NAME,),
    "env": (_NAME,),
    "volumes": (_NAME,),
    "imagePullSecrets": (_NAME,),
    "resourceClaims": (_NAME,),
    "schedulingGates": (_NAME,),
    "volumeMounts": (_field_key("mountPath"),),
    "volumeDevices": (_field_key("devicePath"),),
    "ports": (_port_key,),
    "volumeClaimTemplates": (_nested_key("name", "metadata", "name"),),
    "hostAliases": (_field_key("ip"),),
    "subjects": (_field_key("kind", "name", "namespace"),),
    "webhooks": (_NAME,),
    "versions": (_NAME,),
    "conditions": (_field_key("type"),),
    "readinessGates": (_field_key("conditionType"),),
    "tolerations": (_field_key("key", "operator", "value", "effect"),),
    "topologySpreadConstraints": (_field_key("topologyKey", "whenUnsatisfiable"),),
    "paths": (_field_key("path"),),
    "tls": (_field_key("secretName"),),
    "metrics": (_field_key("type"),),
    "items": (_field_key("key"),),
    "sources": (
        _nested_key("configMap", "configMap", "name"),
        _nested_key("secret", "secret", "name"),
    ),
}

# Lists of scalars whose order carries no meaning.
SET_LISTS = frozenset(
    {
        "verbs",
        "resources",
        "apiGroups",
        "resourceNames",
        "nonResourceURLs",
        "finalizers",
        "accessModes",
        "externalIPs",
        "loadBalancerSourceRanges",
        "hosts",
        "policyTypes",
        "clusterIPs",
        "ipFamilies",
        "mountOptions",
        "scopes",
        "dnsNames",
        "usages",
    }
)
# Set-like only under a given parent field.
SET_LISTS_UNDER = {("capabilities", "add"), ("capabilities", "drop")}

# Fields that identify list items when a list is not known above.
GENERIC_KEYS = (
    "name",
    "key",
    "id",
    "mountPath",
    "containerPort",
    "port",
    "ip",
    "host",
    "path",
    "uid",
    "type",
)

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_/$-]+$")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and value != ""


def display_key(key: Any) -> str:
    """A mapping key in a display path: `.name`; `["app.kubernetes.io/name"]` when it has dots."""
    text = str(key)
    if _PLAIN_KEY.match(text):
        return "." + text
    return "[" + json.dumps(text, ensure_ascii=False) + "]"


def display_item(key: ItemKey) -> str:
    parts = []
    for label, value in key:
        text = value if isinstance(value, str) else json.dumps(value)
        if not re.match(r"^[^\],=\"\s]+$", text):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{label}={text}")
    return "[" + ",".join(parts) + "]"


class _Keyed(tuple[KeyPart, ...]):
    """A keyed list item on the display stack, formatted only if a change is emitted."""

    __slots__ = ()


class _Index(int):
    """A list index on the display stack."""

    __slots__ = ()


def _segment(segment: Any) -> str:
    if isinstance(segment, _Keyed):
        return display_item(segment)
    if isinstance(segment, _Index):
        return f"[{int(segment)}]"
    return display_key(segment)


def join_display(segments: Iterable[Any]) -> str:
    return "".join(map(_segment, segments)).lstrip(".")


class _Differ:
    def __init__(self) -> None:
        self.changes: list[FieldChange] = []
        self._path: list[PathToken] = []
        # Segments are pushed raw (keys, _Keyed, _Index) and formatted only on emit.
        self._display: list[Any] = []

    def emit(self, op: ChangeOp, before: Any, after: Any) -> None:
        self.changes.append(FieldChange(op, tuple(self._path), join_display(self._display), before, after))

    def enter(self, token: PathToken, display: Any) -> None:
        self._path.append(token)
        self._display.append(display)

    def leave(self) -> None:
        self._path.pop()
        self._display.pop()

    def value(self, a: Any, b: Any, field: str | None, parent: str | None) -> None:
        if a == b and type(a) is type(b):
            return
        if isinstance(a, dict) and isinstance(b, dict):
            self.mapping(a, b, field)
        elif isinstance(a, list) and isinstance(b, list):
            self.sequence(a, b, field, parent)
        else:
            self.emit("replace", a, b)

    def mapping(self, a: dict[Any, Any], b: dict[Any, Any], field: str | None) -> None:
        for key, before in a.items():
            self.enter(key, key)
            if key in b:
                self.value(before, b[key], str(key), field)
            else:
                self.emit("remove", before, None)
            self.leave()
        for key, after in b.items():
            if key not in a:
                self.enter(key, key)
                self.emit("add", None, after)
                self.leave()

    def sequence(self, a: list[Any], b: list[Any], field: str | None, parent: str | None) -> None:
        if field is not None:
            is_set = field in SET_LISTS or (parent, field) in SET_LISTS_UNDER
            if is_set and all(map(_hashable, a)) and all(map(_hashable, b)):
                self.as_set(a, b)
                return
            for key_fn in KEYED_LISTS.get(field, ()):
                if self.keyed(a, b, key_fn, field):
                    return
        if a and b and all(isinstance(x, dict) for x in a) and all(isinstance(x, dict) for x in b):
            for name in GENERIC_KEYS:
                if self.keyed(a, b, _field_key(name), field):
                    return
        self.ordered(a, b, field)

    def keyed(self, a: list[Any], b: list[Any], key_fn: KeyFn, field: str | None) -> bool:
        """Diff by item key; False (and nothing emitted) when some item has no unique key."""
        a_keys = _unique_keys(a, key_fn)
        b_keys = _unique_keys(b, key_fn)
        if a_keys is None or b_keys is None:
            return False
        a_index = {k: i for i, k in enumerate(a_keys)}
        b_set = set(b_keys)
        for j, key in enumerate(b_keys):
            self.enter(j, _Keyed(key))
            i = a_index.get(key)
            if i is None:
                self.emit("add", None, b[j])
            else:
                self.value(a[i], b[j], None, field)
            self.leave()
        for i, key in enumerate(a_keys):
            if key not in b_set:
                self.enter(i, _Keyed(key))
                self.emit("remove", a[i], None)
                self.leave()
        return True

    def as_set(self, a: list[Any], b: list[Any]) -> None:
        a_set = set(map(_hash_token, a))
        b_set = set(map(_hash_token, b))
        for i, item in enumerate(a):
            if _hash_token(item) not in b_set:
                self.enter(i, _Index(i))
                self.emit("remove", item, None)
                self.leave()
        for j, item in enumerate(b):
            if _hash_token(item) not in a_set:
                self.enter(j, _Index(j))
                self.emit("add", None, item)
                self.leave()

    def ordered(self, a: list[Any], b: list[Any], field: str | None) -> None:
        a_tokens = [_canonical(x) for x in a]
        b_tokens = [_canonical(x) for x in b]
        matcher = difflib.SequenceMatcher(None, a_tokens, b_tokens, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
            for offset in range(paired):
                self.enter(j1 + offset, _Index(j1 + offset))
                self.value(a[i1 + offset], b[j1 + offset], None, field)
                self.leave()
            for i in range(i1 + paired, i2):
                self.enter(i, _Index(i))
                self.emit("remove", a[i], None)
                self.leave()
            for j in range(j1 + paired, j2):
                self.enter(j, _Index(j))
                self.emit("add", None, b[j])
                self.leave()


def _unique_keys(items: Sequence[Any], key_fn: KeyFn) -> list[ItemKey] | None:
    keys: list[ItemKey] = []
    for item in items:
        key = key_fn(item)
        if key is None:
            return None
        keys.append(key)
    if len(set(keys)) != len(keys):
        return None
    return keys


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _hash_token(value: Any) -> tuple[str, Any]:
    # Keeps 1, 1.0 and True apart, which Python's equality would merge.
    return (type(value).__name__, value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def diff_values(before: Any, after: Any, *, field: str | None = None) -> list[FieldChange]:
    """Field changes between two values (two resource bodies, usually)."""
    differ = _Differ()
    differ.value(before, after, field, None)
    return differ.changes


Classifier = Callable[[Resource, FieldChange], Any]


def diff_resources(
    base: Iterable[Resource], head: Iterable[Resource], classify: Classifier
) -> tuple[ResourceDiff, ...]:
    """Added, removed and modified resources, sorted by (kind, namespace, name)."""
    base_by_id = {r.id: r for r in base}
    head_by_id = {r.id: r for r in head}
    diffs: list[ResourceDiff] = []
    for rid in sorted(base_by_id.keys() | head_by_id.keys(), key=ResourceId.sort_key):
        old = base_by_id.get(rid)
        new = head_by_id.get(rid)
        if old is None and new is not None:
            whole = FieldChange("add", (), "", None, new.body)
            diffs.append(ResourceDiff(None, new, "added", (classify(new, whole),)))
        elif new is None and old is not None:
            whole = FieldChange("remove", (), "", old.body, None)
            diffs.append(ResourceDiff(old, None, "removed", (classify(old, whole),)))
        elif old is not None and new is not None:
            if old.body == new.body:
                continue
            changes = diff_values(old.body, new.body)
            if not changes:
                continue
            changes.sort(key=lambda c: path_sort_key(c.path))
            diffs.append(ResourceDiff(old, new, "modified", tuple(classify(new, c) for c in changes)))
    return tuple(diffs)


def path_sort_key(path: tuple[PathToken, ...]) -> tuple[tuple[int, int, str], ...]:
    """Natural order of JSON pointers: list indexes numerically, keys as text."""
    return tuple((0, t, "") if isinstance(t, int) else (1, 0, str(t)) for t in path)


def list_item_keys(field: str | None, a: list[Any], b: list[Any]) -> tuple[list[ItemKey], list[ItemKey]] | None:
    """The keys the diff pairs the items of two versions of a list by (the same choice
    `_Differ.sequence` makes), or None when it pairs them by value or by position."""
    if field is not None:
        for key_fn in KEYED_LISTS.get(field, ()):
            a_keys, b_keys = _unique_keys(a, key_fn), _unique_keys(b, key_fn)
            if a_keys is not None and b_keys is not None:
                return a_keys, b_keys
    if a and b and all(isinstance(x, dict) for x in a) and all(isinstance(x, dict) for x in b):
        for name in GENERIC_KEYS:
            a_keys, b_keys = _unique_keys(a, _field_key(name)), _unique_keys(b, _field_key(name))
            if a_keys is not None and b_keys is not None:
                return a_keys, b_keys
    return None
