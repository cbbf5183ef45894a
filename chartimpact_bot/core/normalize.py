"""Normalization: what the diff should not see, and what no output may show.

- Nondeterminism: each side is rendered twice from the same input; fields (and resource names)
  that differ between the two renders come from `randAlphaNum`, `genCA`, `uuidv4`, `now` and are
  masked, so they never show as changes.
- Noise: chart-version labels (`helm.sh/chart`, `chart`, `app.kubernetes.io/version`) change on
  every release bump; they are dropped by default. `checksum/*` annotations are kept by default
  because they tell which pods restart.
- Secrets: Secret `data`/`stringData`, and in every object of every kind the values under
  credential-looking keys and the secrets inside strings (private keys, URL passwords, `--token=…`),
  are replaced by a keyed fingerprint before anything else sees them (`sensitive.py`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .manifests import ManifestSet
from .model import NormalizationRule, PathToken, Resource, ResourceId, json_pointer
from .sensitive import (
    SENSITIVE_PREFIX,
    fingerprint,
    holds_secrets,
    is_plain_setting,
    is_reference_key,
    is_sensitive_key,
    mask_argument,
    mask_text,
    names_secret_key,
    sensitive_flag,
)

GENERATED = "(generated: differs between renders)"
CHART_LABELS = ("helm.sh/chart", "chart", "app.kubernetes.io/version")
__all__ = ["SENSITIVE_PREFIX", "fingerprint", "is_sensitive_key"]


@dataclass(frozen=True, slots=True)
class NormalizeOptions:
    drop_chart_labels: bool = True
    drop_checksum_annotations: bool = False


def is_masked(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith(SENSITIVE_PREFIX) or value == GENERATED)


def normalize_side(
    first: ManifestSet,
    second: ManifestSet,
    options: NormalizeOptions,
    *,
    fingerprint_key: bytes,
    given_secrets: re.Pattern[str] | None = None,
) -> tuple[list[Resource], list[NormalizationRule]]:
    """Resources of one side from its two renders, masked (fingerprints keyed by
    `fingerprint_key`; `given_secrets` matches the secrets the render was given, masked
    wherever they appear) and stripped of noise."""
    rules: list[NormalizationRule] = []
    resources = _mask_nondeterminism(first, second, rules)
    out: list[Resource] = []
    for item in resources:
        body = item.body
        if options.drop_chart_labels:
            _drop_label_noise(body)
        if options.drop_checksum_annotations:
            _drop_checksum_annotations(body)
        mask_secrets(item.id, body, fingerprint_key, given_secrets)
        out.append(item)
    return out, rules


def standing_rules(options: NormalizeOptions) -> list[NormalizationRule]:
    """The rules that apply to every chart, whatever it renders."""
    rules = [
        NormalizationRule(
            "mask-secrets",
            "Secret data, stringData; credential-looking keys, private keys, URL passwords in every object",
            "values replaced by a keyed fingerprint",
        ),
        NormalizationRule("skip-test-hooks", "helm.sh/hook: test", "test hooks are not applied"),
    ]
    if options.drop_chart_labels:
        rules.append(NormalizationRule("ignore-chart-labels", "metadata.labels", ", ".join(CHART_LABELS)))
    if options.drop_checksum_annotations:
        rules.append(NormalizationRule("ignore-checksum-annotations", "metadata.annotations", "checksum/*"))
    return rules


# --- nondeterminism -------------------------------------------------------------------------


def _mask_nondeterminism(first: ManifestSet, second: ManifestSet, rules: list[NormalizationRule]) -> list[Resource]:
    """The first render with every field that the second render disagrees on masked.

    Rules name resources by their masked identity and never quote a generated value, so the
    report stays byte-identical from run to run.
    """
    partners = _pair_resources(first, second)
    out: list[Resource] = []
    for rid, item in first.resources.items():
        other = partners.get(rid)
        if other is None:
            scope = f"{rid.kind} from {item.source}"
            rules.append(NormalizationRule("nondeterministic", scope, "rendered only sometimes; left out"))
            continue
        if other.body == item.body and other.id == rid:
            out.append(item)
            continue
        if other.id.name != rid.name:
            pattern = _name_pattern(rid.name, other.id.name)
            item = dataclasses.replace(item, id=ResourceId(rid.group, rid.kind, rid.namespace, pattern))
            rules.append(NormalizationRule("nondeterministic-name", str(item.id), "name differs between renders"))
        body = copy.deepcopy(item.body)
        for path in _differing_paths(item.body, other.body, ()):
            _set_path(body, path, GENERATED)
            rules.append(NormalizationRule("nondeterministic", str(item.id), json_pointer(path)))
        out.append(dataclasses.replace(item, body=body))
    return out


def _pair_resources(first: ManifestSet, second: ManifestSet) -> dict[ResourceId, Resource]:
    """Each resource of the first render with its twin in the second: by identity, else (for
    random names) by kind, namespace and position in the same template."""
    pairs: dict[ResourceId, Resource] = {}
    unmatched: dict[tuple[str, str, str, str, int], Resource] = {}
    for rid, item in second.resources.items():
        if rid in first.resources:
            pairs[rid] = item
        else:
            unmatched[_position(item)] = item
    for rid, item in first.resources.items():
        if rid not in pairs:
            twin = unmatched.get(_position(item))
            if twin is not None:
                pairs[rid] = twin
    return pairs


def _position(item: Resource) -> tuple[str, str, str, str, int]:
    return (item.id.group, item.id.kind, item.id.namespace, item.source, item.document)


def _name_pattern(one: str, other: str) -> str:
    """`release-test-*` from `release-test-ab12c` and `release-test-x9z8q`.

    The shared prefix and suffix are cut back to a separator so that random characters that
    happen to match in this pair of renders never leak into the pattern.
    """
    limit = min(len(one), len(other))
    prefix = 0
    while prefix < limit and one[prefix] == other[prefix]:
        prefix += 1
    while prefix > 0 and one[prefix - 1].isalnum():
        prefix -= 1
    suffix = 0
    while suffix < limit - prefix and one[-1 - suffix] == other[-1 - suffix]:
        suffix += 1
    while suffix > 0 and one[len(one) - suffix].isalnum():
        suffix -= 1
    return one[:prefix] + "*" + (one[len(one) - suffix :] if suffix else "")


def _differing_paths(a: Any, b: Any, path: tuple[PathToken, ...]) -> Iterator[tuple[PathToken, ...]]:
    """The smallest subtrees where two renders differ; a mapping whose keys differ is one."""
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for key in a:
            yield from _differing_paths(a[key], b[key], (*path, key))
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differing_paths(x, y, (*path, index))
        return
    yield path


def _set_path(body: Any, path: tuple[PathToken, ...], value: Any) -> None:
    if not path:
        return  # the two renders share nothing; the resource is compared as rendered
    target = body
    for token in path[:-1]:
        target = target[token]
    target[path[-1]] = value


# --- noise ----------------------------------------------------------------------------------


def _metadata_blocks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The object's metadata and that of the pod and claim templates it carries."""
    if isinstance(body.get("metadata"), dict):
        yield body["metadata"]
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return
    templates: list[Any] = [spec.get("template")]
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        templates.append(job_template)
        job_spec = job_template.get("spec")
        if isinstance(job_spec, dict):
            templates.append(job_spec.get("template"))
    claims = spec.get("volumeClaimTemplates")
    if isinstance(claims, list):
        templates.extend(claims)
    for template in templates:
        if isinstance(template, dict) and isinstance(template.get("metadata"), dict):
            yield template["metadata"]


def _drop_label_noise(body: dict[str, Any]) -> None:
    for metadata in _metadata_blocks(body):
        labels = metadata.get("labels")
        if isinstance(labels, dict):
            for key in CHART_LABELS:
                labels.pop(key, None)


def _drop_checksum_annotations(body: dict[str, Any]) -> None:
    for metadata in _metadata_blocks(body):
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            for key in [k for k in annotations if str(k).startswith("checksum/")]:
                del annotations[key]


# --- secrets ---------------------------------------------------------------------------------


def mask_secrets(
    rid: ResourceId, body: dict[str, Any], key: bytes, given_secrets: re.Pattern[str] | None = None
) -> None:
    """Replace secret material in place by fingerprints under `key` (contract §2).

    Secret `data`/`stringData` entirely; in every object of every kind, values under sensitive
    keys (see `sensitive.py`), the value of a `{name: DB_PASSWORD, value: …}` pair, the argument
    after a sensitive flag (`--db-password`, `…`), and the secrets inside any string (PEM private
    keys, URL passwords, `--token=…`, `password: …` lines of an embedded config file).

    Booleans and nulls are never masked, even under a sensitive key: one bit is not a credential,
    and `automountServiceAccountToken: true` or `auth.enabled: false` is a security signal the
    diff must show. Empty strings are shown too (a password becoming empty is worth seeing), and
    so are the switch words `true`/`false`/`yes`/`no`/`on`/`off` (annotations such as
    `vault.hashicorp.com/agent-inject-token` are switches, Bitnami's `ALLOW_EMPTY_PASSWORD` is
    `no`). Numbers under sensitive keys are masked: a numeric PIN is still a secret.
    """
    masker = _Masker(key, given_secrets)
    skip: set[str] = set()
    if rid.group == "" and rid.kind == "Secret":
        for field_name in ("data", "stringData"):
            skip.add(field_name)
            values = body.get(field_name)
            if isinstance(values, dict):
                for name, value in values.items():
                    values[name] = masker.whole(value, base64_encoded=field_name == "data")
            elif values is not None:
                body[field_name] = masker.whole(values, base64_encoded=False)
    elif rid.group == "" and rid.kind == "ConfigMap":
        skip.add("binaryData")
        values = body.get("binaryData")
        if isinstance(values, dict):
            for name, value in values.items():
                if is_sensitive_key(str(name)) or _decodes_to_private_key(value):
                    values[name] = masker.whole(value, base64_encoded=True)
    schemas = _crd_schemas(rid, body)
    for name, value in body.items():
        if name not in skip:
            body[name] = masker.walk(value, str(name), secret=is_sensitive_key(str(name)))
    _restore(schemas)


def _crd_schemas(rid: ResourceId, body: dict[str, Any]) -> list[tuple[dict[str, Any], str, Any]]:
    """A CustomResourceDefinition's schemas, taken out of the body while it is masked: they
    describe fields (`credentials`, `secrets`, `passwordSecretRef`), they hold no values, and
    masking their descriptions and enums would hide every change of a CRD."""
    if rid.group != "apiextensions.k8s.io" or rid.kind != "CustomResourceDefinition":
        return []
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return []
    holders: list[dict[str, Any]] = [spec]  # v1beta1: spec.validation
    holders += [v for v in spec.get("versions") or () if isinstance(v, dict)]
    taken: list[tuple[dict[str, Any], str, Any]] = []
    for holder in holders:
        for field_name in ("schema", "validation"):
            if field_name in holder:
                taken.append((holder, field_name, holder[field_name]))
                holder[field_name] = None  # keeps the key's place; nothing masks a null
    return taken


def _restore(taken: list[tuple[dict[str, Any], str, Any]]) -> None:
    for holder, field_name, value in taken:
        holder[field_name] = value


class _Masker:
    def __init__(self, key: bytes, given_secrets: re.Pattern[str] | None = None) -> None:
        self.key = key
        self.given = given_secrets

    def text(self, secret: str) -> str:
        return fingerprint(secret.encode(), self.key)

    def whole(self, value: Any, *, base64_encoded: bool) -> Any:
        """The value's fingerprint; a base64 value is fingerprinted decoded, so `data` and
        `stringData` holding the same secret look alike."""
        if value is None or is_masked(value):
            return value
        raw = value if isinstance(value, str) else repr(value)
        data = raw.encode()
        if base64_encoded:
            with contextlib.suppress(binascii.Error, ValueError):
                data = base64.b64decode(raw, validate=True)
        return fingerprint(data, self.key)

    def walk(self, node: Any, key: str, *, secret: bool) -> Any:
        """The node with its secrets masked; `secret`: the node is (inside) a sensitive key's value."""
        if isinstance(node, dict):
            return self._walk_map(node, key, secret=secret)
        if isinstance(node, list):
            return self._walk_list(node, key, secret=secret)
        if secret:
            return self._scalar(node)
        if isinstance(node, str):
            return self.string(node)
        return node

    def string(self, text: str) -> str:
        """Free text: the secrets it carries (see sensitive.mask_text), and any secret the
        render was given, wherever a template put it."""
        masked = mask_text(text, self.text)
        if self.given is not None and not is_masked(masked):
            masked = self.given.sub(lambda m: self.text(m.group(0)), masked)
        return masked

    def _scalar(self, value: Any) -> Any:
        # Booleans, nulls, empty strings and switch words ("true", "no", "off") stay readable
        # (see mask_secrets): `ALLOW_EMPTY_PASSWORD: "no"` is a setting, not a password.
        if value is None or isinstance(value, bool) or is_masked(value):
            return value
        if isinstance(value, str) and is_plain_setting(value):
            return value  # `$(DB_PASSWORD)`: Kubernetes expands it from the env; a reference
        return self.whole(value, base64_encoded=False)

    def _walk_map(self, node: dict[str, Any], key: str, *, secret: bool) -> dict[str, Any]:
        # Inside a sensitive key's map: everything is secret, unless the key itself says it is
        # not (`credentials.secretName`), or the map merely groups settings (`auth: {…}`).
        inherited = (secret and holds_secrets(key)) or (secret and not is_sensitive_key(key))
        pair_name = node.get("name")
        pair_secret = (
            isinstance(pair_name, str)
            and "value" in node
            and is_sensitive_key(pair_name)
            and not names_secret_key(pair_name, node["value"])
        )
        kept = _REFERENCE_FIELDS.get(key, ())
        for name, value in node.items():
            child = str(name)
            if (child in kept or child == "secretName") and isinstance(value, str):
                continue  # which Secret or ConfigMap, which key of it: a name, never a secret
            if key in _VOLUME_SOURCES and child == "items" and isinstance(value, list):
                node[name] = self._walk_items(value)
                continue
            if name == "value" and pair_secret:
                child_secret = True
            elif is_reference_key(child) or names_secret_key(child, value):
                child_secret = False
            else:
                child_secret = inherited or is_sensitive_key(child)
            node[name] = self.walk(value, child, secret=child_secret)
        return node

    def _walk_items(self, items: list[Any]) -> list[Any]:
        """A Secret or ConfigMap volume's `items`: each `key` of it and the `path` it is
        mounted at are names, kept as they are (`{key: private-key.pem, path: private-key.pem}`)."""
        for index, entry in enumerate(items):
            if not isinstance(entry, dict):
                items[index] = self.walk(entry, "items", secret=False)
                continue
            for name, value in entry.items():
                if not (name in ("key", "path") and isinstance(value, str)):
                    entry[name] = self.walk(value, str(name), secret=is_sensitive_key(str(name)))
        return items

    def _walk_list(self, node: list[Any], key: str, *, secret: bool) -> list[Any]:
        masked_next = False
        for index, item in enumerate(node):
            if masked_next and isinstance(item, str) and not item.startswith("-"):
                node[index] = self._scalar(item)
                masked_next = False
                continue
            if isinstance(item, str) and not secret and key in _ARGUMENT_LISTS:
                node[index] = self.string(mask_argument(item, self.text))
            else:
                node[index] = self.walk(item, key, secret=secret)
            masked_next = isinstance(item, str) and sensitive_flag(item)
        return node


# Maps that say which Secret or ConfigMap (and which key of it) to read: env
# `valueFrom.secretKeyRef`, `envFrom[].secretRef`. Their names, and every `secretName` (of a
# volume, an Ingress's TLS, a Certificate), are kept as they are, even when one equals a secret
# the chart was given (`webhookSecretKey: webhook-secret`; Bitnami PostgreSQL's
# `tls.certificatesSecret: pg-tls` is a sensitive-looking key holding a Secret's name).
_REFERENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "secretKeyRef": ("name", "key"),
    "configMapKeyRef": ("name", "key"),
    "secretRef": ("name",),
    "configMapRef": ("name",),
}
# Volume sources (and projected volume sources) whose `items` map keys to file names.
_VOLUME_SOURCES = frozenset({"secret", "configMap"})

# Lists whose items are single command-line arguments (containers' `args` and `command`).
_ARGUMENT_LISTS = frozenset({"args", "command"})


def _decodes_to_private_key(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return b"PRIVATE KEY-----" in decoded
