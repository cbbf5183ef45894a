"""What counts as secret material, and how it is hidden (CONTRACT §2).

One vocabulary for the whole program: normalization masks rendered objects with it, the render
process redacts error text with it. Standard library only, because `render_worker.py` imports it.

A key is *sensitive* when it looks like it holds a credential (`password`, `apiToken`,
`tls.key`, `vault.hashicorp.com/token`), not when it names or points at one (`secretName`,
`secretKeyRef`, `existingSecret`, `passwordFile`, `key` alone): masking references would make
the diff useless without hiding anything. Whatever the key, a string is searched for secrets in
its text: private-key PEM blocks, the password of a URL's userinfo, `--flag=value` /
`KEY=value` assignments, `key: value` lines and JSON pairs under sensitive keys.

Fingerprints are keyed (HMAC-SHA256), so a public report cannot be used to confirm a guessed
password; the key comes from the deployment (see `fingerprint_key.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from functools import lru_cache

SENSITIVE_PREFIX = "(sensitive value changed, sha256:"
REDACTED = "(redacted)"
FINGERPRINT_HEX = 12

Mask = Callable[[str], str]


def fingerprint(value: bytes, key: bytes) -> str:
    """`(sensitive value changed, sha256:<12 hex>)`: a truncated HMAC-SHA256 under the key.

    The display prefix says sha256 for compatibility; the digest is keyed, so it can only be
    compared with other fingerprints made under the same key.
    """
    digest = hmac.new(key, value, hashlib.sha256).hexdigest()[:FINGERPRINT_HEX]
    return f"{SENSITIVE_PREFIX}{digest})"


def is_masked_text(text: str) -> bool:
    return text.startswith((SENSITIVE_PREFIX, REDACTED))


# --- the key vocabulary ---------------------------------------------------------------------

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Stems that make a word hold a credential wherever they appear in it (`htpasswd`, `apitoken`).
_SECRET_STEMS = ("password", "passwd", "passphrase", "secret", "token", "credential", "privkey", "apikey")
# Whole words that do, anywhere in the key.
_SECRET_WORDS = frozenset({"dsn", "keystore", "connstr"})
# Words that do only as the last word: `basicAuth`, `DB_PWD`, `ssh.private`, but not the
# settings around them (`nginx.ingress.kubernetes.io/auth-realm`, `auth-signin`, the shell's `PWD`).
_SECRET_LAST_WORDS = frozenset({"pwd", "pw", "pass", "auth", "authorization", "private"})
# An encoding named after the key (`ENCRYPTION_KEY_BASE64`, `tokenHex`): the value is still the secret.
_ENCODING_WORDS = frozenset({"base64", "b64", "hex", "encoded", "enc"})
# A last word that makes the key name, point at or describe a secret rather than hold one.
_QUALIFIERS = frozenset(
    {
        "name",
        "names",
        "ref",
        "refs",
        "reference",
        "path",
        "paths",
        "file",
        "files",
        "filename",
        "filepath",
        "dir",
        "directory",
        "mount",
        "mountpath",
        "location",
        "url",
        "uri",
        "urls",
        "endpoint",
        "host",
        "hostname",
        "port",
        "id",
        "ids",
        "type",
        "kind",
        "class",
        "enabled",
        "enable",
        "disabled",
        "required",
        "optional",
        "length",
        "size",
        "ttl",
        "expiry",
        "expiration",
        "expires",
        "seconds",
        "lifetime",
        "duration",
        "timeout",
        "interval",
        "period",
        "policy",
        "mode",
        "format",
        "algorithm",
        "header",
        "prefix",
        "suffix",
        "field",
        "provider",
        "store",
        "audience",
        "audiences",
        "issuer",
        "count",
        "version",
        "rotation",
        "template",
        "selector",
        "annotations",
        "annotation",
        "labels",
        "label",
        "env",
        "var",
        "pub",
        "public",
        "hash",
        "secretname",
        "keyref",
        "secretref",
        "strategy",
        "source",
        "sources",
        "volume",
        "mounts",
        "cmd",
        "command",
        "method",
        "backend",
        "helper",
        "helpers",
    }
)
# Words anywhere in the key that make it a reference or a switch (`existingSecret`,
# `automountServiceAccountToken`, `imagePullSecrets`).
# `cert-manager.io/inject-ca-from-secret: ns/name` names the Secret to read from.
_REFERENCE_WORDS = frozenset({"existing", "automount", "pull", "public", "from"})
# `passwordKey: password`, `userKey`, `appIdKey`, `privateKeyKey`: the name of a key inside a
# Secret, not a key (`…KeyKey` names the key of a Secret that holds a key). Not `host` (an SSH
# host key) nor `account` (an Azure storage account key): those are keys.
_KEY_NAME_WORDS = frozenset(
    {
        "password",
        "passwords",
        "passwd",
        "user",
        "username",
        "usernames",
        "key",
        "id",
        "ids",
        "url",
        "uri",
        "email",
        "endpoint",
        "region",
        "bucket",
        "port",
    }
)
# `…key` keys that are not keys in the cryptographic sense.
_NON_SECRET_KEY_PREFIXES = frozenset(
    {
        "topology",
        "label",
        "labels",
        "sort",
        "partition",
        "cache",
        "primary",
        "hash",
        "shard",
        "foreign",
        "idempotency",
        "lookup",
        "group",
        "match",
        "node",
        "annotation",
        "selector",
        "field",
        "metric",
        "header",
        "query",
        "public",
        "pub",
        "data",
        "item",
        "object",
        "value",
        "config",
        "map",
        "configmap",
        "kube",
        "host",
        "index",
        "sharding",
        "dedup",
        "deduplication",
        "grouping",
        "authorized",
        "known",
        "ssh_known",
        "mismatch",
        "unique",
        "api_version",
        "tracking",
        "lock",
    }
)
# Keys whose whole value (a map or list) is secret material: `credentials: {user: …, pass: …}`.
_COLLECTION_WORDS = frozenset({"secrets", "credentials", "credential", "passwords", "tokens", "apikeys", "keys"})


def key_words(key: str) -> list[str]:
    """`passwordSecretName` → password, secret, name; `tls.key` → tls, key."""
    return [w.lower() for w in _WORD.findall(key)]


def _word_is_secret(word: str) -> bool:
    return word in _SECRET_WORDS or any(stem in word for stem in _SECRET_STEMS)


# A qualifier written as one word with what it qualifies: `passwordfile`, `keyfile`, `tokenpath`.
_JOINED_QUALIFIERS = ("filename", "filepath", "file", "files", "path", "paths", "dir")


def _is_qualifier(word: str) -> bool:
    if word in _QUALIFIERS:
        return True
    for suffix in _JOINED_QUALIFIERS:
        if word.endswith(suffix) and len(word) > len(suffix):
            stem = word[: -len(suffix)]
            return _word_is_secret(stem) or stem.endswith(("key", "cert"))
    return False


def _names_a_key(words: list[str]) -> bool:
    """`passwordKey`, `adminPasswordKey`, `userkey`: which key of a Secret to read."""
    last = words[-1]
    if last in ("key", "keys"):
        return len(words) > 1 and words[-2] in _KEY_NAME_WORDS
    return last.endswith("key") and last[:-3] in _KEY_NAME_WORDS


def _ends_in_key(words: list[str]) -> bool:
    """`tls.key`, `ssh-key`, `session_key`, `apiKey`, `sshkey`; not `key`, `topologyKey`."""
    last = words[-1]
    if last in ("key", "keys"):
        return len(words) > 1 and words[-2] not in _NON_SECRET_KEY_PREFIXES
    for suffix in ("keys", "key"):
        if last.endswith(suffix) and len(last) > len(suffix):
            return last[: -len(suffix)] not in _NON_SECRET_KEY_PREFIXES
    return False


@lru_cache(maxsize=8192)
def is_sensitive_key(key: str) -> bool:
    """Whether a key (a field, env var name, ConfigMap key, annotation, flag) holds a credential."""
    words = key_words(key)
    while len(words) > 1 and words[-1] in _ENCODING_WORDS:
        words = words[:-1]
    if len(words) > 2 and words[-2:] in (["base", "64"], ["b", "64"]):  # `KEY_BASE64` splits in two
        words = words[:-2]
    if not words:
        return False
    if _is_qualifier(words[-1]) or _REFERENCE_WORDS.intersection(words) or _names_a_key(words):
        return False
    if words[-2:] == ["erlang", "cookie"]:  # RabbitMQ's cluster secret
        return True
    if words in (["pwd"], ["oldpwd"]):  # the shell's working directory
        return False
    if _ends_in_key(words) or words[-1] in _SECRET_LAST_WORDS:
        return True
    if words[0] == "id" and len(words) > 1 and words[1] in ("rsa", "dsa", "ecdsa", "ed25519"):
        return True  # id_rsa, id_ed25519 (id_rsa.pub ends in a qualifier)
    if "connection" in words and "string" in words:
        return True
    return any(_word_is_secret(w) for w in words)


@lru_cache(maxsize=8192)
def is_reference_key(key: str) -> bool:
    """A key that names, points at or describes a secret (`secretName`, `existingSecret`,
    `passwordFile`, `tokenTTL`): never masked, even inside a map of credentials."""
    words = key_words(key)
    if words == ["key"]:  # `secretKeyRef.key`, `credentials: {name, key}`: a key of a Secret
        return True
    return bool(words) and (
        _is_qualifier(words[-1]) or bool(_REFERENCE_WORDS.intersection(words)) or _names_a_key(words)
    )


# A Secret's data key, as `secretKeyRef.key` and a chart's `…Key` settings hold it.
_DATA_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,252}")
# Extensions a key of a Secret is often named with (`private-key.pem`, `credentials.json`).
_KEY_NAME_EXTENSIONS = frozenset(
    {"pem", "key", "crt", "cer", "der", "p12", "pfx", "jks", "json", "yaml", "yml", "txt", "conf", "env", "properties"}
)


def names_secret_key(key: str, value: object) -> bool:
    """`webhookSecretKey: webhook-secret`, `apiTokenKey: api-token`, `tokenKey: token`: under a
    key that ends in `key`, a value spelled from the key's own words (a file extension allowed)
    is the name of a key inside a Secret, which the chart reads it from. It says nothing the key
    does not, so masking it hides nothing, and it would blank every `secretKeyRef.key` and mount
    path built from it (and, as a secret the chart was given, every other place it appears)."""
    return isinstance(value, str) and _names_secret_key(key, value)


@lru_cache(maxsize=8192)
def _names_secret_key(key: str, value: str) -> bool:
    words = key_words(key)
    if not words or not words[-1].endswith(("key", "keys")):
        return False
    inner = value.strip()
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
        inner = inner[1:-1]
    if not _DATA_KEY.fullmatch(inner):
        return False
    joined = "".join(words)
    spelled = [w for w in key_words(inner) if w not in _KEY_NAME_EXTENSIONS]
    together = "".join(spelled)  # `webhooksecret` under `webhookSecretKey`
    return bool(spelled) and (all(w in words for w in spelled) or (len(together) >= 3 and together in joined))


@lru_cache(maxsize=8192)
def holds_secrets(key: str) -> bool:
    """A sensitive key whose map or list value is secret throughout (`credentials`, `apiKeys`),
    as opposed to one that merely groups settings (`auth: {enabled, existingSecret}`)."""
    if not is_sensitive_key(key):
        return False
    words = key_words(key)
    return words[-1] in _COLLECTION_WORDS or words[-1].endswith(("secrets", "credentials", "passwords", "tokens"))


def is_sensitive_path(path: tuple[str, ...] | list[str]) -> bool:
    """A dotted values path (`db.credentials.user`) whose leaf holds secret material: a
    sensitive last key, or a leaf inside a map of credentials that is no reference itself."""
    keys = [k for k in path if not k.isdigit()]
    if not keys or is_reference_key(keys[-1]):
        return False
    return is_sensitive_key(keys[-1]) or any(holds_secrets(k) for k in keys[:-1])


def is_secret_value(key: str, value: str) -> bool:
    """Whether a value under this (sensitive) key can be a secret: not a setting, a reference, a
    path (`is_plain_setting`) or the name of a key of a Secret (`names_secret_key`)."""
    return not is_plain_setting(value) and not names_secret_key(key, value)


def mask_leaf(path: tuple[str, ...] | list[str], value: str, mask: Mask) -> str:
    """A scalar of a values file, as text, masked for display (booleans shown, see normalize)."""
    if is_sensitive_path(path) and is_secret_value(path[-1], value):
        return mask(value)
    return mask_text(value, mask)


# --- secrets inside text --------------------------------------------------------------------

_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END (?P=label)-----|\Z)",
    re.DOTALL,
)
# base64("-----BEGIN "): a PEM block stored base64-encoded outside a Secret.
_BASE64_PEM = "LS0tLS1CRUdJTi"
_BASE64_RUN = re.compile(_BASE64_PEM + r"[A-Za-z0-9+/=]+")
# Credentials in the command lines of scripts, where no key names them: an HTTP Authorization
# header anywhere, `curl -u user:password`, `mysql -pPASSWORD`, `redis-cli -a PASSWORD`,
# `sshpass -p PASSWORD`. Each pattern's group `secret` is masked.
_COMMAND_SECRETS = (
    re.compile(r"(?i)\bauthorization\s*[:=]\s*(?:basic|bearer|token|digest)\s+(?P<secret>[^\s'\"]+)"),
    re.compile(r"\bcurl\b[^|;&\n]*?\s(?:-u|--user)\s*['\"]?[^\s:'\"]+:(?P<secret>[^\s'\"]+)"),
    re.compile(r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^|;&\n]*?\s-p(?P<secret>[^\s'\"]+)"),
    re.compile(r"\bredis-cli\b[^|;&\n]*?\s(?:-a|--pass)\s+['\"]?(?P<secret>[^\s'\"]+)"),
    re.compile(r"\bsshpass\b[^|;&\n]*?\s-p\s*['\"]?(?P<secret>[^\s'\"]+)"),
)
# Webhook URLs whose path is the credential (anyone holding it can post): Slack, Discord,
# Microsoft Teams / Office 365 connectors, Mattermost-style `/hooks/<token>`.
_WEBHOOK_URL = re.compile(
    r"(?P<head>https://(?:hooks\.slack\.com/(?:services|workflows|triggers)/|(?:[\w-]+\.)?discord(?:app)?\.com/api/webhooks/"
    r"|[\w.-]+\.webhook\.office\.com/webhookb2/|[\w.-]+/hooks/))(?P<token>[\w\-/@.%]+)"
)
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@'\"]*:)(?P<password>[^\s/?#'\"]*)(?=@[^\s@/?#'\"]*(?:[/?#\s'\"]|$))"
)
# An HTTP authorization scheme keeps its credential: `Authorization=Basic dXNlcjpwdw==`.
_SCHEME = r"(?:(?i:basic|bearer|token|digest|negotiate|apikey)[ \t]+)?"
_ASSIGNMENT = re.compile(
    r"(?<![\w.\-])(?P<key>-{0,2}[A-Za-z_][\w.\-]*)=(?P<value>\"[^\"\n]*\"|'[^'\n]*'|" + _SCHEME + r"[^\s&;,\"'<>]+)"
)
# One argument of a command line: after a sensitive flag's `=`, everything is its value.
_FLAG_ARGUMENT = re.compile(r"(?P<flag>-{1,2}[A-Za-z][\w.\-]*)=(?P<value>.+)", re.DOTALL)
_JSON_PAIR = re.compile(r"\"(?P<key>[^\"\\\n]{1,200})\"[ \t]*:[ \t]*\"(?P<value>(?:[^\"\\\n]|\\.)*)\"")
_LINE = re.compile(
    r"^(?P<pre>[ \t]*(?:-[ \t]+)?[\"']?)(?P<key>[A-Za-z_][\w.\-/]*)(?P<mid>[\"']?[ \t]*(?:=|:(?=[ \t]|$))[ \t]*)"
    r"(?P<value>[^\n]*?)[ \t]*$",
    re.MULTILINE,
)
# `password = "x"` on a line of its own (HCL, TOML, INI): a `key = value` line without a newline.
_SPACED_ASSIGNMENT = re.compile(r"[ \t]=|=[ \t]")
# References to a secret kept elsewhere: `$(DB_PASSWORD)` and `${TOKEN}` (Kubernetes, shells),
# Argo CD's `$dex.github.clientSecret` and `$slack-token`, Helm-style `{{ … }}`.
_PLACEHOLDER = re.compile(r"\$(\{[\w.\-]+\}|\([\w.\-]+\)|[A-Za-z_]\w*(?:[.:\-]\w+)*)|\{\{.*\}\}")
# The start of something a shell or a configuration loader computes: `$(< "$FILE")`, `${VAR:-x}`,
# `$__file{/etc/secrets/pw}` (Grafana), a backtick command substitution.
_EXPANSION_STARTS = ("$(", "${", "$__", "`")
# A path to a file (`sslkey=/opt/tls/tls.key`, `GOOGLE_APPLICATION_CREDENTIALS=/var/secrets/google/
# key.json`), not the secret in it: a key or certificate file, by path or by name
# (`private-key.pem`); a path to a file of another kind (`.json`, `.conf`, …; base64 has no `.`);
# a path of two segments or more whose directories are lower-case, as directories are (random
# base64 that happens to start with `/` has upper-case letters or `+`).
_KEY_FILE = r"\.(?:key|pem|crt|cer|p12|pfx|jks|keystore)"
_FILE_PATH = re.compile(
    r"(?:~|\.{1,2})?/[\w.\-/]+"
    + _KEY_FILE
    + r"|[\w\-]+(?:\.[\w\-]+)*"
    + _KEY_FILE
    + r"|(?:~|\.{1,2})?(?:/[\w@.\-]+)+\.(?:json|ya?ml|txt|conf|cfg|cnf|ini|toml|properties|env|xml|asc|gpg|der|b64)"
    + r"|(?:~|\.{1,2})?(?:/[a-z0-9_@.\-]+){2,}/?"
)
# Switch and mode words (`ALLOW_EMPTY_PASSWORD: "no"`, Traefik's `headers.names.Authorization=drop`).
NOT_SECRETS = frozenset({"", "true", "false", "null", "~", "yes", "no", "on", "off", "none", "drop", "keep", "redact"})


def is_plain_setting(value: str) -> bool:
    """A value under a sensitive key that is a setting, a reference or a path, not a secret."""
    inner = value.strip()
    return (
        inner.lower() in NOT_SECRETS
        or _PLACEHOLDER.fullmatch(inner) is not None
        or inner.startswith(_EXPANSION_STARTS)
        or _FILE_PATH.fullmatch(inner) is not None
    )


def looks_like_private_key(text: str) -> bool:
    """A PEM private key block, as text or base64-encoded text."""
    if _PEM_BLOCK.search(text):
        return True
    stripped = text.strip()
    if stripped.startswith(_BASE64_PEM):
        try:
            decoded = base64.b64decode(stripped, validate=False)
        except (binascii.Error, ValueError):
            return False
        return b"PRIVATE KEY" in decoded
    return False


def _secret_value(value: str) -> bool:
    """Whether an assigned value could be a credential (not a switch, a reference, a mask)."""
    inner = value.strip()
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
        inner = inner[1:-1]
    return (
        not is_plain_setting(inner)
        and "(sensitive" not in inner  # masked already (a URL password, a PEM block)
        and REDACTED[:-1] not in inner
        and inner[:1] not in ("|", ">", "{", "[", "&", "*", "!", "#")
    )


def _masked_value(value: str, mask: Mask) -> str:
    """The value masked, its quotes kept."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0] + mask(value[1:-1]) + value[0]
    return mask(value)


def mask_text(text: str, mask: Mask) -> str:
    """The text with every secret it carries replaced by `mask(secret)`; otherwise unchanged."""
    if is_masked_text(text):
        return text
    if text.strip().startswith(_BASE64_PEM) and looks_like_private_key(text):
        return mask(text)
    out = text
    if "-----BEGIN" in out:
        out = _PEM_BLOCK.sub(lambda m: mask(m.group(0)), out)
    if _BASE64_PEM in out:  # `client-key-data: LS0tLS1CRUdJTi…` in an embedded kubeconfig
        out = _BASE64_RUN.sub(lambda m: mask(m.group(0)) if looks_like_private_key(m.group(0)) else m.group(0), out)
    if "://" in out:
        out = _URL_PASSWORD.sub(_url_replacement(mask), out)
        out = _WEBHOOK_URL.sub(lambda m: m.group("head") + mask(m.group("token")), out)
    if "\n" in out or ":" in out or _SPACED_ASSIGNMENT.search(out):
        out = _LINE.sub(_line_replacement(mask), out)
    if '"' in out:
        out = _JSON_PAIR.sub(_pair_replacement(mask), out)
    if "=" in out:
        out = _ASSIGNMENT.sub(_assignment_replacement(mask), out)
    for pattern in _COMMAND_SECRETS:
        out = pattern.sub(_group_replacement(mask), out)
    return out


def _group_replacement(mask: Mask) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        secret = m.group("secret")
        if not _secret_value(secret):
            return m.group(0)
        start, end = m.span("secret")
        return m.group(0)[: start - m.start()] + mask(secret) + m.group(0)[end - m.start() :]

    return replace


def _url_replacement(mask: Mask) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        password = m.group("password")
        if not password or is_plain_setting(password):  # `:${DB_PASSWORD}@`, `:$(REDIS_PASSWORD)@`
            return m.group(0)
        return m.group("head") + mask(password)

    return replace


def _line_replacement(mask: Mask) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        value = m.group("value")
        if not is_sensitive_key(m.group("key")) or not _secret_value(value) or names_secret_key(m.group("key"), value):
            return m.group(0)
        trailer = ""
        if value.endswith(",") and value[:1] in "\"'":
            value, trailer = value[:-1], ","
        quote = m.group("pre")[-1:] if m.group("pre")[-1:] in "\"'" else ""
        if quote and value.startswith(quote):  # JSON: handled with its quotes by _JSON_PAIR
            return m.group(0)
        return m.group("pre") + m.group("key") + m.group("mid") + _masked_value(value, mask) + trailer

    return replace


def _pair_replacement(mask: Mask) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        key, value = m.group("key"), m.group("value")
        if not is_sensitive_key(key) or not _secret_value(value) or names_secret_key(key, value):
            return m.group(0)
        start, end = m.span("value")
        whole = m.group(0)
        offset = m.start()
        return whole[: start - offset] + mask(m.group("value")) + whole[end - offset :]

    return replace


def _assignment_replacement(mask: Mask) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        value, key = m.group("value"), m.group("key").lstrip("-")
        if not is_sensitive_key(key) or not _secret_value(value) or names_secret_key(key, value):
            return m.group(0)
        return m.group("key") + "=" + _masked_value(value, mask)

    return replace


def mask_argument(arg: str, mask: Mask) -> str:
    """One command-line argument: `--db-password=a b c` masked whole after the `=` (an argument
    is one value, spaces and all), anything else as text."""
    m = _FLAG_ARGUMENT.fullmatch(arg)
    flag = m.group("flag").lstrip("-") if m is not None else ""
    if (
        m is not None
        and is_sensitive_key(flag)
        and _secret_value(m.group("value"))
        and not names_secret_key(flag, m.group("value"))
    ):
        return m.group("flag") + "=" + _masked_value(m.group("value"), mask)
    return mask_text(arg, mask)


def sensitive_flag(arg: str) -> bool:
    """`--db-password`, `-token`: a flag whose next argument is its (secret) value."""
    return (
        arg.startswith("-")
        and "=" not in arg
        and re.fullmatch(r"-{1,2}[A-Za-z][\w.\-]*", arg) is not None
        and is_sensitive_key(arg.lstrip("-"))
    )


# --- redacting error text -------------------------------------------------------------------

# Helm's schema errors name the field and quote its value: `at '/db/password': 'hunter2' …`.
_SCHEMA_AT = re.compile(r"(?P<head>\bat '(?P<pointer>/[^']*)': ')(?P<value>(?:[^'\\]|\\.)*)'")
_SHORT = 6  # shorter values are replaced only where they stand alone, not inside other words


def redact(text: str, secrets: set[str] | frozenset[str]) -> str:
    """Error text with the given values, and any secret it carries itself, replaced by `(redacted)`."""
    out = text
    for secret in sorted(secrets, key=len, reverse=True):
        if not secret or secret not in out:
            continue
        if len(secret) >= _SHORT:
            out = out.replace(secret, REDACTED)
        else:
            out = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", REDACTED, out)
    out = _SCHEMA_AT.sub(_schema_replacement, out)
    return mask_text(out, lambda _secret: REDACTED)


def _schema_replacement(m: re.Match[str]) -> str:
    if any(is_sensitive_key(segment) for segment in m.group("pointer").split("/") if segment):
        return m.group("head") + REDACTED + "'"
    return m.group(0)


def sensitive_values(tree: object, *, secret: bool = False, key: str = "", depth: int = 0) -> set[str]:
    """The scalar values under sensitive keys of a values tree (as text), and the secrets
    inside its strings; for redacting error text that may echo them."""
    found: set[str] = set()
    _collect(tree, key, secret, found=found, depth=depth, seen=set())
    return found


def _collect(node: object, key: str, secret: bool, *, found: set[str], depth: int, seen: set[int]) -> None:
    if depth > 64 or id(node) in seen:
        return  # YAML aliases share nodes: visit each once
    if isinstance(node, dict):
        seen.add(id(node))
        inherited = secret and (holds_secrets(key) or not is_sensitive_key(key))
        for name, value in node.items():
            child = str(name)
            child_secret = (
                not is_reference_key(child)
                and not names_secret_key(child, value)
                and (inherited or is_sensitive_key(child))
            )
            _collect(value, child, child_secret, found=found, depth=depth + 1, seen=seen)
    elif isinstance(node, list):
        seen.add(id(node))
        for item in node:
            _collect(item, key, secret, found=found, depth=depth + 1, seen=seen)
    elif isinstance(node, bool) or node is None:
        return
    elif secret:
        found.add(str(node))
    elif isinstance(node, str):

        def remember(secret: str) -> str:
            found.add(secret)
            return REDACTED

        mask_text(node, remember)


def set_expression_parts(expression: str) -> tuple[list[str], set[str]]:
    """The keys of a `--set a=1,b.password=x` expression, and every value fragment it holds
    (whole right-hand sides and their comma-separated pieces). A piece without `=` is a key
    before the first assignment (Helm says it has no value) and part of a value after one
    (`password=a,b`: the `b` may be the rest of a password with a comma)."""
    keys: list[str] = []
    values: set[str] = set()
    assigned = False
    for piece in re.split(r"(?<!\\),", expression):
        name, sep, value = piece.partition("=")
        if sep:
            assigned = True
            keys.append(name.strip())
            values.update(v for v in (value, value.strip("{}")) if v)
        elif piece and assigned:
            values.add(piece)
        elif piece:
            keys.append(piece.strip())
    _, sep, rest = expression.partition("=")
    if sep and rest:
        values.add(rest)
    return keys, values
