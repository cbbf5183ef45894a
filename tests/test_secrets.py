"""Secrets never reach any output (CONTRACT §2): masking by key in every object, secrets inside
strings, keyed fingerprints, redacted render and `--set` errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from chartimpact_bot.core.model import ResourceId
from chartimpact_bot.core.normalize import mask_secrets
from chartimpact_bot.core.secret_values import given_secrets, literal_pattern
from chartimpact_bot.core.sensitive import (
    SENSITIVE_PREFIX,
    fingerprint,
    is_sensitive_key,
    mask_text,
    redact,
    sensitive_values,
)
from chartimpact_bot.engine.render_worker import invalid_set_message
from chartimpact_bot.fingerprint_key import cli_key, derive_app_key, load_or_create_key_file
from chartimpact_bot.settings import Settings
from tests.conftest import REPO_ROOT, chart_yaml, write_files

KEY = b"unit-test-key"
FINGERPRINT = re.compile(re.escape(SENSITIVE_PREFIX) + r"[0-9a-f]{12}\)")

# --- the key vocabulary ---------------------------------------------------------------------

SENSITIVE_KEYS = [
    "password",
    "DB_PASSWORD",
    "adminPassword",
    "passwd",
    "htpasswd",
    "passphrase",
    "secret",
    "client_secret",
    "cookieSecret",
    "token",
    "apiToken",
    "GITHUB_TOKEN",
    "vault.hashicorp.com/token",
    "apiKey",
    "api-key",
    "tls.key",
    "tlsKey",
    "ca.key",
    "cert.key",
    "certKey",
    "ssh-key",
    "sshKey",
    "ssh_private_key",
    "id_rsa",
    "session_key",
    "secretKey",
    "accessKey",
    "privateKey",
    "private-key",
    "encryptionKey",
    "auth",
    "basicAuth",
    "Authorization",
    "credentials",
    "credential",
    "dsn",
    "SENTRY_DSN",
    "connectionString",
    "CONNECTION_STRING",
    "keystore",
    "DB_PWD",
    "webhookSecretKey",  # by its key alone still a key (`awsSecretKey`); its value decides
    "accountKey",  # an Azure storage account key
]

# Keys that name, point at or switch a secret: masking them would make the diff useless.
REFERENCE_KEYS = [
    "key",  # env valueFrom.secretKeyRef.key, tolerations
    "keyRef",
    "secretKeyRef",
    "configMapKeyRef",
    "secretRef",
    "secretName",
    "tlsSecretName",
    "passwordSecretName",
    "passwordSecretRef",
    "existingSecret",
    "existingSecretPasswordKey",
    "imagePullSecrets",
    "serviceAccountName",
    "automountServiceAccountToken",
    "PASSWORD_FILE",
    "tokenPath",
    "tokenTTL",
    "accessKeyId",
    "DATABASE_URL",
    "tls",
    "tls.crt",
    "ca.crt",
    "publicKey",
    "id_rsa.pub",
    "authorized_keys",
    "topologyKey",
    "matchLabelKeys",
    "labelKey",
    "PWD",
    "LOG_LEVEL",
    "name",
    "hosts",
    "sessionAffinity",
    "resources",
    "nginx.ingress.kubernetes.io/auth-realm",
    "nginx.ingress.kubernetes.io/auth-url",
    "nginx.ingress.kubernetes.io/auth-type",
    "allowPrivilegeEscalation",
    "ssl-passthrough",
    # which key of a Secret to read (deploy/chart's github.*Key)
    "privateKeyKey",
    "appIdKey",
    "clientIdKey",
    # paths to files that hold a secret
    "GITHUB_PRIVATE_KEY_PATH",
    "TLS_KEY_FILE",
    "SSL_KEY_DIR",
    "DB_PASSWORD_FILE",
    "passwordfile",
    "keyfile",
]


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_keys_that_hold_credentials_are_sensitive(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", REFERENCE_KEYS)
def test_keys_that_name_or_point_at_secrets_are_not_sensitive(key: str) -> None:
    assert not is_sensitive_key(key)


# --- masking rendered objects ---------------------------------------------------------------

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcanary\n-----END PRIVATE KEY-----\n"


def _masked(kind: str, body: dict[str, Any], group: str = "") -> dict[str, Any]:
    mask_secrets(ResourceId(group, kind, "default", "x"), body, KEY)
    return body


def test_a_custom_resource_is_masked_by_key() -> None:
    body = _masked(
        "Database",
        {
            "metadata": {"name": "db", "annotations": {"vault.hashicorp.com/token": "s.vaulttoken", "team": "a"}},
            "spec": {
                "adminPassword": "adm1n",
                "apiToken": "tok",
                "credentials": {"username": "app", "password": "pw", "secretName": "db-creds"},
                "port": 5432,
                "replicas": 3,
            },
        },
        group="example.com",
    )
    spec = body["spec"]
    for value in (spec["adminPassword"], spec["apiToken"], spec["credentials"]["password"]):
        assert FINGERPRINT.fullmatch(value)
    assert FINGERPRINT.fullmatch(spec["credentials"]["username"])  # a map of credentials is secret throughout
    assert spec["credentials"]["secretName"] == "db-creds"
    assert (spec["port"], spec["replicas"]) == (5432, 3)
    assert FINGERPRINT.fullmatch(body["metadata"]["annotations"]["vault.hashicorp.com/token"])
    assert body["metadata"]["annotations"]["team"] == "a"


def test_config_map_keys_and_private_keys_are_masked_but_certificates_are_not() -> None:
    data = _masked(
        "ConfigMap",
        {
            "data": {
                "tls.key": PEM,
                "tls.crt": "-----BEGIN CERTIFICATE-----\nMIIpublic\n-----END CERTIFICATE-----\n",
                "ssh-key": "ssh-private-material",
                "session_key": "0123456789abcdef",
                "anything": "prefix\n" + PEM,
                "level": "info",
            }
        },
    )["data"]
    assert FINGERPRINT.fullmatch(data["tls.key"])
    assert FINGERPRINT.fullmatch(data["ssh-key"])
    assert FINGERPRINT.fullmatch(data["session_key"])
    assert "MIIpublic" in data["tls.crt"]
    assert data["anything"].startswith("prefix\n" + SENSITIVE_PREFIX)
    assert "canary" not in data["anything"]
    assert data["level"] == "info"


def test_urls_keep_everything_but_their_password() -> None:
    masked = mask_text("postgres://app:pw@db:5432/app?sslmode=require", lambda s: "<hidden>")
    assert masked == "postgres://app:<hidden>@db:5432/app?sslmode=require"
    assert mask_text("https://example.com/a:b@c", lambda s: "<hidden>") == "https://example.com/a:b@c"
    assert mask_text("git@github.com:org/repo.git", lambda s: "<hidden>") == "git@github.com:org/repo.git"


def test_secrets_inside_strings_are_masked() -> None:
    hide = lambda s: "<hidden>"  # noqa: E731
    assert mask_text("--db-password=hunter2", hide) == "--db-password=<hidden>"
    # a URL under a sensitive flag keeps its host: only the password is hidden, once
    dsn = mask_text("--dsn=postgres://u:pw@db.internal/app", lambda s: f"(sensitive value changed, sha256:{s})")
    assert dsn == "--dsn=postgres://u:(sensitive value changed, sha256:pw)@db.internal/app"
    assert mask_text("Server=db;User Id=sa;Password=Pa55;", hide) == "Server=db;User Id=sa;Password=<hidden>;"
    assert mask_text("a: 1\npassword: pw\nmode: fast\n", hide) == "a: 1\npassword: <hidden>\nmode: fast\n"
    assert mask_text('{"token": "abc", "user": "u"}', hide) == '{"token": "<hidden>", "user": "u"}'
    # references and switches are not secrets
    assert (
        mask_text("DB_PASSWORD=${DB_PASSWORD} ./run --auth=true", hide)
        == "DB_PASSWORD=${DB_PASSWORD} ./run --auth=true"
    )
    assert mask_text("--token-file=/var/run/token", hide) == "--token-file=/var/run/token"


def test_env_values_args_and_references_in_a_workload() -> None:
    pod = _masked(
        "Deployment",
        {
            "spec": {
                "template": {
                    "spec": {
                        "automountServiceAccountToken": True,
                        "serviceAccountName": "api",
                        "imagePullSecrets": [{"name": "regcred"}],
                        "containers": [
                            {
                                "name": "api",
                                "args": [
                                    "--db-password=pw1",
                                    "--api-token",
                                    "pw2",
                                    "--verbose",
                                    "--url=postgres://u:pw3@h/db",
                                ],
                                "command": ["run", "--token", "$(API_TOKEN)"],
                                "env": [
                                    {"name": "DB_PASSWORD", "value": "pw4"},
                                    {"name": "DATABASE_URL", "value": "postgres://app:pw5@db/app"},
                                    {"name": "LOG_LEVEL", "value": "debug"},
                                    {"name": "ALLOW_EMPTY_PASSWORD", "value": "no"},
                                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
                                ],
                            }
                        ],
                    }
                }
            }
        },
        group="apps",
    )["spec"]["template"]["spec"]
    text = json.dumps(pod)
    for secret in ("pw1", "pw2", "pw3", "pw4", "pw5"):
        assert secret not in text
    container = pod["containers"][0]
    assert container["args"][0].startswith("--db-password=" + SENSITIVE_PREFIX)
    assert container["args"][1:4:2] == ["--api-token", "--verbose"]
    assert container["command"] == ["run", "--token", "$(API_TOKEN)"]  # a reference, not a secret
    assert container["env"][1]["value"].startswith("postgres://app:" + SENSITIVE_PREFIX)
    assert container["env"][1]["value"].endswith("@db/app")
    assert container["env"][2]["value"] == "debug"
    assert container["env"][3]["value"] == "no"  # a switch (Bitnami images), not a password
    assert container["env"][4]["valueFrom"] == {"secretKeyRef": {"name": "api", "key": "token"}}
    # booleans stay readable: automountServiceAccountToken is a security signal, not a secret
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == "api"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]


def test_references_inside_credential_maps_stay_readable() -> None:
    # a ServiceMonitor endpoint's credentials point at a Secret key; a Certificate's privateKey
    # block only describes the key to generate
    endpoint = {
        "authorization": {"type": "Bearer", "credentials": {"name": "prom-token", "key": "token"}},
        "basicAuth": {"username": {"name": "auth", "key": "user"}, "password": {"name": "auth", "key": "pass"}},
    }
    body = _masked(
        "ServiceMonitor", {"spec": {"endpoints": [json.loads(json.dumps(endpoint))]}}, "monitoring.coreos.com"
    )
    assert body["spec"]["endpoints"] == [endpoint]
    key = {"algorithm": "RSA", "size": 2048, "rotationPolicy": "Always"}
    certificate = _masked(
        "Certificate", {"spec": {"secretName": "web-tls", "privateKey": dict(key)}}, "cert-manager.io"
    )
    assert certificate["spec"] == {"secretName": "web-tls", "privateKey": key}


def test_an_ingress_stays_readable() -> None:
    spec = {
        "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
        "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix"}]}}],
    }
    body = _masked("Ingress", {"spec": json.loads(json.dumps(spec))}, group="networking.k8s.io")
    assert body["spec"] == spec


# --- fingerprints ---------------------------------------------------------------------------


def test_fingerprints_are_keyed() -> None:
    assert fingerprint(b"hunter2", KEY) == fingerprint(b"hunter2", KEY)
    assert fingerprint(b"hunter2", KEY) != fingerprint(b"hunter2", b"another key")
    assert hashlib.sha256(b"hunter2").hexdigest()[:12] not in fingerprint(b"hunter2", KEY)
    assert FINGERPRINT.fullmatch(fingerprint(b"hunter2", KEY))


def test_the_cli_key_comes_from_the_environment_else_a_private_key_file(tmp_path: Path) -> None:
    assert cli_key({"CHARTIMPACT_FINGERPRINT_KEY": "from-env", "XDG_CONFIG_HOME": str(tmp_path)}) == b"from-env"
    assert not (tmp_path / "chartimpact").exists()

    first = cli_key({"XDG_CONFIG_HOME": str(tmp_path)})
    path = tmp_path / "chartimpact" / "fingerprint-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert cli_key({"XDG_CONFIG_HOME": str(tmp_path)}) == first  # created once, then reused
    assert [p.name for p in path.parent.iterdir()] == ["fingerprint-key"]  # no temporary left behind
    # the file's text is the key: the same fingerprints through the variable
    assert cli_key({"CHARTIMPACT_FINGERPRINT_KEY": path.read_text()}) == first
    assert load_or_create_key_file(tmp_path / "other" / "key") != first


def test_the_app_key_is_derived_from_its_own_secrets() -> None:
    one = Settings(app_id="1", private_key="-----BEGIN RSA PRIVATE KEY-----\nA\n", webhook_secret="w")
    other = Settings(app_id="1", private_key="-----BEGIN RSA PRIVATE KEY-----\nB\n", webhook_secret="w")
    assert one.fingerprint_key() == one.fingerprint_key() == derive_app_key(one.private_key, "w")
    assert one.fingerprint_key() != other.fingerprint_key()
    assert one.private_key is not None and one.private_key.encode() not in one.fingerprint_key()
    pinned = Settings(app_id="1", private_key="k", webhook_secret="w", fingerprint_secret="pinned")
    assert pinned.fingerprint_key() == b"pinned"


# --- redacting error text -------------------------------------------------------------------


def test_values_under_sensitive_keys_are_redacted_from_error_text() -> None:
    values = {"db": {"password": "Hunter2x", "host": "db"}, "url": "postgres://u:UrlPw@h/x", "pin": {"token": 4242}}
    secrets = sensitive_values(values)
    assert {"Hunter2x", "UrlPw", "4242"} <= secrets
    assert "db" not in secrets
    error = "at '/db/password': 'Hunter2x' does not match pattern; at '/pin/token': 4242; host db"
    assert (
        redact(error, secrets)
        == "at '/db/password': '(redacted)' does not match pattern; at '/pin/token': (redacted); host db"
    )
    # a schema error names a sensitive field: its quoted value is hidden even if unknown
    assert "Other1" not in redact("at '/auth/apiKey': 'Other1' is too short", set())


def test_an_invalid_set_names_its_keys_not_its_values() -> None:
    message = invalid_set_message("db.password=Cnry-Pw,oops", 'key "oops" has no value')
    assert "db.password" in message
    assert "Cnry-Pw" not in message and "oops" not in message


# --- the command line, end to end -----------------------------------------------------------

CANARIES = {
    "crd": "Cnry-Crd-AdminPw",
    "crd-token": "Cnry-Crd-ApiToken",
    "crd-nested": "Cnry-Crd-NestedPw",
    "annotation": "Cnry-Vault-Token",
    "pem": "MIIEvCnryPemBody",
    "ssh": "Cnry-Ssh-Key",
    "session": "Cnry-Session-Key",
    "cm-url": "Cnry-CmUrl-Pw",
    "env-url": "Cnry-EnvUrl-Pw",
    "args-url": "Cnry-ArgsUrl-Pw",
    "arg-flag": "Cnry-Arg-DbPw",
    "arg-separate": "Cnry-Arg-Token",
    "properties": "Cnry-Props-Pw",
    "schema-chart": "Cnry-Schema-Chart",
    "schema-file": "Cnry-Schema-File",
    "schema-set": "Cnry-Schema-Set",
    "invalid-set": "Cnry-Invalid-Set",
}
WELL_KNOWN_PASSWORD = "password123"

TEMPLATES = """\
apiVersion: example.com/v1
kind: Database
metadata:
  name: db
  annotations:
    vault.hashicorp.com/token: {{ .Values.vaultToken | quote }}
spec:
  adminPassword: {{ .Values.adminPassword | quote }}
  apiToken: {{ .Values.apiToken | quote }}
  credentials:
    username: app
    password: {{ .Values.nestedPassword | quote }}
  secretName: db-credentials
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  tls.key: |
{{ .Values.pem | indent 4 }}
  tls.crt: {{ .Values.cert | quote }}
  ssh-key: {{ .Values.sshKey | quote }}
  session_key: {{ .Values.sessionKey | quote }}
  database: "postgres://app:{{ .Values.cmUrlPassword }}@db.internal:5432/app"
  app.properties: |
    db.user=app
    db.password={{ .Values.propsPassword }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      automountServiceAccountToken: true
      containers:
        - name: api
          image: {{ .Values.image | quote }}
          args:
            - "--db-password={{ .Values.argPassword }}"
            - "--api-token"
            - {{ .Values.argToken | quote }}
            - "--dsn=postgres://u:{{ .Values.argsUrlPassword }}@db.internal/app"
          env:
            - name: DATABASE_URL
              value: "postgres://app:{{ .Values.envUrlPassword }}@db.internal/app"
            - name: ADMIN_PASSWORD
              value: {{ .Values.wellKnown | quote }}
"""


def _values(side: str) -> str:
    c = {k: f"{v}-{side}" for k, v in CANARIES.items()}
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{c['pem']}\n-----END RSA PRIVATE KEY-----"
    return textwrap.dedent(f"""\
        image: nginx:1.{25 if side == "base" else 27}
        cert: public-cert-{side}
        vaultToken: {c["annotation"]}
        adminPassword: {c["crd"]}
        apiToken: {c["crd-token"]}
        nestedPassword: {c["crd-nested"]}
        pem: {json.dumps(pem)}
        sshKey: {c["ssh"]}
        sessionKey: {c["session"]}
        cmUrlPassword: {c["cm-url"]}
        propsPassword: {c["properties"]}
        argPassword: {c["arg-flag"]}
        argToken: {c["arg-separate"]}
        argsUrlPassword: {c["args-url"]}
        envUrlPassword: {c["env-url"]}
        wellKnown: {WELL_KNOWN_PASSWORD if side == "head" else "letmein-base"}
        db:
          password: {c["schema-chart"]}
        other:
          token: ok
        third:
          apiKey: ok
        """)


SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {
            name: {"type": "object", "properties": {key: {"type": "string", "pattern": "^[a-z]+$"}}}
            for name, key in (("db", "password"), ("other", "token"), ("third", "apiKey"))
        },
    }
)


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("secret-charts")
    out = {}
    for side in ("base", "head"):
        out[side] = write_files(
            root / side / "app",
            {"Chart.yaml": chart_yaml("app"), "values.yaml": _values(side), "templates/all.yaml": TEMPLATES},
        )
    # the head also validates its values: Helm's schema errors quote the values they reject
    out["strict"] = write_files(
        root / "strict" / "app",
        {
            "Chart.yaml": chart_yaml("app"),
            "values.yaml": _values("head"),
            "values.schema.json": SCHEMA,
            "templates/all.yaml": TEMPLATES,
        },
    )
    out["values"] = root / "override.yaml"
    out["values"].write_text(f"other:\n  token: {CANARIES['schema-file']}\n")
    return out


def _cli(*argv: str, key: str = "cli-test-key") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHARTIMPACT_FINGERPRINT_KEY": key}
    return subprocess.run(
        [sys.executable, "-m", "chartimpact_bot", *argv],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        check=False,
        timeout=300,
    )


def _assert_no_canary(done: subprocess.CompletedProcess[str]) -> None:
    for name, canary in CANARIES.items():
        for where, text in (("stdout", done.stdout), ("stderr", done.stderr)):
            assert canary not in text, f"{name} canary in {where}"
    assert WELL_KNOWN_PASSWORD not in done.stdout + done.stderr
    assert hashlib.sha256(WELL_KNOWN_PASSWORD.encode()).hexdigest()[:12] not in done.stdout + done.stderr


@pytest.mark.parametrize("fmt", ["json", "text", "markdown"])
def test_no_canary_secret_reaches_any_output(charts: dict[str, Path], fmt: str) -> None:
    diff = _cli("diff", str(charts["base"]), str(charts["head"]), "--format", fmt, "--no-color")
    assert diff.returncode in (0, 1), diff.stderr
    _assert_no_canary(diff)
    assert SENSITIVE_PREFIX in diff.stdout
    assert "public-cert-head" in diff.stdout  # tls.crt is public: shown
    if fmt == "json":
        assert "@db.internal" in diff.stdout  # URLs are kept, their passwords are not

    schema = _cli(
        "diff",
        str(charts["base"]),
        str(charts["strict"]),
        "--format",
        fmt,
        "--values",
        str(charts["values"]),
        "--set",
        f"third.apiKey={CANARIES['schema-set']}",
    )
    assert schema.returncode == 2
    assert "pattern" in schema.stdout  # the schema error itself is reported
    _assert_no_canary(schema)

    invalid = _cli(
        "diff",
        str(charts["base"]),
        str(charts["head"]),
        "--format",
        fmt,
        "--set",
        f"db.password={CANARIES['invalid-set']},x",
    )
    assert invalid.returncode == 2
    assert "db.password" in invalid.stdout + invalid.stderr  # the error names the key
    _assert_no_canary(invalid)


def test_fingerprints_depend_on_the_key_and_are_stable_under_it(charts: dict[str, Path]) -> None:
    def fingerprints(key: str) -> list[str]:
        done = _cli("diff", str(charts["base"]), str(charts["head"]), "--format", "json", key=key)
        assert done.returncode in (0, 1), done.stderr
        return FINGERPRINT.findall(done.stdout)

    first, again, other = fingerprints("key-one"), fingerprints("key-one"), fingerprints("key-two")
    assert first and first == again
    assert len(other) == len(first)
    assert set(first).isdisjoint(other)


def test_warnings_do_not_show_repository_passwords(tmp_path: Path) -> None:
    from chartimpact_bot.cli import main  # noqa: PLC0415

    dependency = """\
        dependencies:
          - name: redis
            version: 1.0.0
            repository: https://robot:Cnry-Repo-Pw@charts.example.invalid/stable
        """
    for side in ("base", "head"):
        write_files(
            tmp_path / side / "app",
            {
                "Chart.yaml": chart_yaml("app", extra=dependency),
                "templates/cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {side}}}\n",
            },
        )
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["diff", str(tmp_path / "base" / "app"), str(tmp_path / "head" / "app"), "--offline", "--format", "json"],
        stdout=out,
        stderr=err,
    )
    assert code in (0, 1), err.getvalue()
    warnings = json.loads(out.getvalue())["charts"][0]["warnings"]
    assert any("charts.example.invalid" in w for w in warnings), warnings
    assert "Cnry-Repo-Pw" not in out.getvalue() + err.getvalue()


# --- found on real charts (bitnami, grafana, argo-cd, traefik, kyverno, cert-manager) ----------


def test_a_crd_schema_describes_fields_and_is_never_masked() -> None:
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "credentials": {"type": "object", "description": "Credentials to access the registry."},
                "imageRegistryCredentials": {"type": "string", "enum": ["default", "amazon", "azure"]},
                "passwordSecretRef": {"type": "string"},
            },
        }
    }
    body = _masked(
        "CustomResourceDefinition",
        {
            "metadata": {"name": "probes.example.com", "annotations": {"example.com/api-token": "s3cr3t"}},
            "spec": {"versions": [{"name": "v1", "schema": json.loads(json.dumps(schema))}]},
        },
        group="apiextensions.k8s.io",
    )
    assert body["spec"]["versions"][0]["schema"] == schema
    assert list(body["spec"]["versions"][0]) == ["name", "schema"]
    assert FINGERPRINT.fullmatch(body["metadata"]["annotations"]["example.com/api-token"])  # the rest is masked


@pytest.mark.parametrize(
    "text",
    [
        'export REDIS_PASSWORD="$(< "${REDIS_PASSWORD_FILE}")"',  # bitnami start scripts
        "client_secret = $__file{/etc/secrets/auth_generic_oauth/client_secret}",  # grafana.ini
        "clientSecret: $dex.github.clientSecret",  # argo-cd dex and oidc configuration
        "token: $slack-token",  # argo-cd notifications
        "--registryCredentialHelpers=default,google,amazon,azure,github",  # kyverno
        "--accesslog.fields.headers.names.Authorization=drop",  # traefik
        "sslkey=/opt/bitnami/postgresql/certs/tls.key",  # postgresql TLS probe
        "ALLOW_EMPTY_PASSWORD=no",
    ],
)
def test_settings_references_and_paths_in_text_stay_readable(text: str) -> None:
    assert mask_text(text, lambda s: "MASKED") == text


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cert-manager.io/inject-ca-from-secret", "cert-manager/cert-manager-webhook-ca"),
        ("passwordKey", "password"),
        ("adminPasswordKey", "admin-password"),
        ("userKey", "admin-user"),
    ],
)
def test_keys_that_name_a_secret_or_a_key_of_one_stay_readable(key: str, value: str) -> None:
    body = _masked("ValidatingWebhookConfiguration", {"metadata": {"annotations": {key: value}}, "spec": {key: value}})
    assert body["metadata"]["annotations"][key] == value
    assert body["spec"][key] == value


@pytest.mark.parametrize(
    "argument",
    [
        "--tracing.otlp.http.headers.Authorization=Basic MTIzNDU2OmdsY19zZWNyZXQ=",
        "--api-token=Bearer eyJhbGciOi.payload.sig",
        "--db-password=correct horse battery staple",
    ],
)
def test_a_sensitive_flag_argument_is_masked_whole_spaces_and_all(argument: str) -> None:
    body = _masked("Deployment", {"spec": {"containers": [{"name": "app", "args": [argument], "command": [argument]}]}})
    container = body["spec"]["containers"][0]
    flag = argument.split("=", 1)[0]
    secret = argument.split("=", 1)[1].rsplit(maxsplit=1)[-1]
    for masked in (container["args"][0], container["command"][0]):
        assert masked.startswith(flag + "=(sensitive value changed, sha256:")
        assert secret not in masked


def test_an_authorization_scheme_does_not_hide_the_credential_after_it_in_text() -> None:
    masked = mask_text("curl -H x Authorization=Bearer abc.def.ghi -v", lambda s: "MASKED")
    assert "abc.def.ghi" not in masked


@pytest.mark.parametrize(
    "text",
    [
        "ghcr.io/external-secrets/external-secrets:v0.10.0",  # external-secrets chart images
        "docker.io/bitnami/sealed-secrets-controller:0.26.0",
        "registry.k8s.io/csi-secrets-store/driver:v1.4.0",
        "vault-secrets.vault.svc:8200",  # an address, not `key: value`
        "external-secrets-webhook.default.svc:443",
    ],
)
def test_image_references_and_addresses_named_after_secrets_stay_readable(text: str) -> None:
    assert mask_text(text, lambda s: "MASKED") == text
    body = _masked(
        "Deployment",
        {"spec": {"containers": [{"name": "app", "image": text, "env": [{"name": "ADDR", "value": text}]}]}},
    )
    assert body["spec"]["containers"][0]["image"] == text
    assert body["spec"]["containers"][0]["env"][0]["value"] == text


def test_a_password_line_of_a_config_file_is_still_masked_after_the_colon_fix() -> None:
    masked = mask_text("auth:\n  password: hunter2\nsecret=xyz", lambda s: "MASKED")
    assert "hunter2" not in masked and "xyz" not in masked


def test_secrets_the_chart_was_given_are_masked_wherever_a_template_puts_them(tmp_path: Path) -> None:
    script = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: setup}\ndata:\n  setup.sh: |\n"
        "    {{- range .Values.users }}\n    createUser {{ .accessKey }} {{ .secretKey }}\n    {{- end }}\n"
        "  note: 'copied {{ .Values.db.password }} here'\n"
        '  env.json: \'{"name": "AWS_SECRET_ACCESS_KEY", "value": "{{ .Values.aws.secretAccessKey }}"}\'\n'
    )
    for side, user in (("base", "console-secret-base1"), ("head", "console-secret-head2")):
        write_files(
            tmp_path / side / "app",
            {
                "Chart.yaml": chart_yaml("app"),
                "values.yaml": f"users:\n  - {{accessKey: console, secretKey: {user}}}\n"
                f"db: {{password: Cnry-Values-{side}}}\naws: {{secretAccessKey: Cnry-Aws-{side}-x}}\n",
                "templates/cm.yaml": script,
            },
        )
    done = _cli("diff", str(tmp_path / "base" / "app"), str(tmp_path / "head" / "app"), "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    for canary in ("console-secret-base1", "console-secret-head2", "Cnry-Values-", "Cnry-Aws-"):
        assert canary not in done.stdout
    assert "createUser (sensitive value changed, sha256:" in done.stdout
    given = _cli(
        "diff",
        str(tmp_path / "base" / "app"),
        str(tmp_path / "head" / "app"),
        "--format",
        "markdown",
        "--set",
        "db.password=CiOperatorSecret9",
    )
    assert "CiOperatorSecret9" not in given.stdout + given.stderr


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVB", "MSUlFb3dJQkFBS0NBUUVB"),
        ("slack_api_url: https://hooks.slack.com/services/T0001/B0002/XXXXsecretXXXX", "XXXXsecretXXXX"),
        ("url: https://discord.com/api/webhooks/123/abcDEFsecret", "abcDEFsecret"),
        ("routing_key: R0utingIntegrationKey", "R0utingIntegrationKey"),  # PagerDuty
        ("ENCRYPTION_KEY_BASE64=c2VjcmV0LWtleQ==", "c2VjcmV0LWtleQ=="),
        ("RABBITMQ_ERLANG_COOKIE=Cookie-Monster-1", "Cookie-Monster-1"),
        ("LDAP_BIND_PW=LdapS3cret", "LdapS3cret"),
    ],
)
def test_secrets_found_in_real_charts_configuration_text_are_masked(text: str, secret: str) -> None:
    masked = mask_text(text, lambda s: "MASKED")
    assert secret not in masked
    assert "MASKED" in masked


@pytest.mark.parametrize(
    "text",
    [
        "sql_alchemy_conn: postgresql+psycopg2://${db_user}:${db_password}@db:5432/airflow",
        "redis://:$(REDIS_PASSWORD)@redis-master:6379/0",
        "AIRFLOW__API__SECRET_KEY_CMD=cat /opt/bitnami/airflow/secrets/airflow-secret-key",
        'FAB_PASSWORD_HASH_METHOD = "pbkdf2:sha256"',
        "SECRET_STORE_BACKEND=kubernetes",
    ],
)
def test_references_and_settings_found_in_real_charts_stay_readable(text: str) -> None:
    assert mask_text(text, lambda s: "MASKED") == text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("sh -c \"curl -H 'Authorization: Bearer tok3nValue' https://api\"", "tok3nValue"),
        ("curl -sf -u admin:Adm1nPassw0rd http://localhost:9200/_cluster/health", "Adm1nPassw0rd"),
        ("mysql -h db -u root -pR00tPassword -e 'select 1'", "R00tPassword"),
        ("redis-cli -h redis -a R3disPass ping", "R3disPass"),
        ("sshpass -p 'SshPa55' ssh user@host", "SshPa55"),
    ],
)
def test_credentials_in_script_command_lines_are_masked(text: str, secret: str) -> None:
    masked = mask_text(text, lambda s: "MASKED")
    assert secret not in masked
    assert "MASKED" in masked


@pytest.mark.parametrize(
    "text",
    [
        'curl -u "$USER:$PASSWORD" http://localhost',
        "mysql -h db -p${MYSQL_ROOT_PASSWORD} -e 'select 1'",
        "redis-cli -a $(cat /run/secrets/redis) ping",
        "ls -a /tmp && kubectl port-forward -p 8080",
    ],
)
def test_command_lines_with_references_stay_readable(text: str) -> None:
    assert mask_text(text, lambda s: "MASKED") == text


def test_a_given_secret_equal_to_the_charts_own_name_does_not_blank_the_report(tmp_path: Path) -> None:
    """MinIO's default `accessKey: <chart name>` (Grafana's enterprise-logs) once masked the
    chart's name in every resource name and in the render error's template paths."""
    values = "minio: {accessKey: billing-api, secretKey: Cnry-MinIO-9}\n"
    templates = {
        "base": "kind: ConfigMap\napiVersion: v1\nmetadata: {name: billing-api}\ndata: {a: '1'}\n",
        "head": "kind: ConfigMap\napiVersion: v1\nmetadata: {name: billing-api}\ndata: {a: '2'}\n",
        "broken": '{{ fail (printf "needs %s" .Values.minio.secretKey) }}\n',
    }
    for side, template in templates.items():
        write_files(
            tmp_path / side / "billing-api",
            {"Chart.yaml": chart_yaml("billing-api"), "values.yaml": values, "templates/cm.yaml": template},
        )

    def diff(head: str) -> tuple[str, dict[str, Any]]:
        done = _cli(
            "diff", str(tmp_path / "base" / "billing-api"), str(tmp_path / head / "billing-api"), "--format", "json"
        )
        assert "Cnry-MinIO-9" not in done.stdout + done.stderr
        return done.stdout, json.loads(done.stdout)["charts"][0]

    text, changed = diff("head")
    assert [r["identity"]["name"] for r in changed["diff"]["resources"]] == ["billing-api"], text
    text, failed = diff("broken")
    assert "billing-api/templates/cm.yaml" in failed["error"], text


# --- names and paths of secrets are not secrets (deploy/chart, found by analyzing it) -------

# A chart's settings naming the keys of its Secret, and the secrets themselves.
KEY_NAME_VALUES = """\
github:
  privateKeyKey: private-key.pem
  webhookSecretKey: webhook-secret
  appIdKey: app-id
  apiTokenKey: api-token
  tokenKey: token
  webhookSecret: Cnry-Webhook-Value
  apiToken: Cnry-ApiToken-Value
"""


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("privateKeyKey", "private-key.pem"),
        ("webhookSecretKey", "webhook-secret"),
        ("webhookSecretKey", "webhooksecret"),
        ("apiTokenKey", "api-token"),
        ("appIdKey", "app-id"),
        ("tokenKey", "token"),
        ("GITHUB_WEBHOOK_SECRET_KEY", "webhook-secret"),
        ("secretKey", "secret-key"),
    ],
)
def test_a_key_of_a_secret_named_under_a_key_setting_stays_readable(key: str, value: str) -> None:
    body = _masked("Widget", {"spec": {key: value, "env": [{"name": key, "value": value}]}}, "example.com")
    assert body["spec"] == {key: value, "env": [{"name": key, "value": value}]}
    assert mask_text(f"{key}: {value}\n{key}={value}", lambda s: "MASKED") == f"{key}: {value}\n{key}={value}"
    assert not sensitive_values({"chart": {key: value}})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("webhookSecretKey", "gh-Hook-S3cret"),  # not spelled from the key: may be the secret
        ("secretKey", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("awsSecretKey", "Cnry-Aws-Secret"),
        ("apiKey", "abcd1234efgh5678"),
        ("accessKey", "AKIAIOSFODNN7EXAMPLE"),
        ("privateKey", "not-a-file-name"),
    ],
)
def test_a_secret_under_a_key_setting_is_still_masked(key: str, value: str) -> None:
    body = _masked("Widget", {"spec": {key: value, "env": [{"name": key, "value": value}]}}, "example.com")
    assert FINGERPRINT.fullmatch(body["spec"][key])
    assert FINGERPRINT.fullmatch(body["spec"]["env"][0]["value"])
    assert value in sensitive_values({"chart": {key: value}})


def test_the_secrets_a_chart_is_given_are_not_the_names_of_their_keys() -> None:
    found = given_secrets([KEY_NAME_VALUES], ["github.webhookSecretKey=Gh-Hook-9x", "github.apiTokenKey=api-token"])
    assert {"Cnry-Webhook-Value", "Cnry-ApiToken-Value", "Gh-Hook-9x"} <= found
    assert found.isdisjoint({"private-key.pem", "webhook-secret", "app-id", "api-token", "token"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GITHUB_PRIVATE_KEY_PATH", "/etc/chartimpact-bot/github/private-key.pem"),
        ("GOOGLE_APPLICATION_CREDENTIALS", "/var/secrets/google/key.json"),
        ("SSL_KEY", "/etc/ssl/private/tls.key"),
        ("VAULT_TOKEN", "/var/run/secrets/vault/token"),
        ("CLIENT_SECRET", "/etc/Secrets/OAuth/client.json"),  # a file of another kind: any case
        ("PRIVATE_KEY", "private-key.pem"),
        ("DB_PASSWORD", "~/.config/app/db-password"),
    ],
)
def test_an_env_value_that_is_a_file_path_stays_readable(name: str, value: str) -> None:
    env = [{"name": name, "value": value}]
    body = _masked("Deployment", {"spec": {"containers": [{"name": "app", "env": env}]}}, "apps")
    assert body["spec"]["containers"][0]["env"] == [{"name": name, "value": value}]
    assert mask_text(f"{name}={value}", lambda s: "MASKED") == f"{name}={value}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASSWORD", "hunter2"),
        ("API_KEY", "abcd1234efgh5678"),
        ("GITHUB_WEBHOOK_SECRET", "s3cr3t-w3bh00k"),
        ("API_TOKEN", "/9j/4AAQSkZJRgABAQEASABIAAD"),  # base64 that starts with `/` is no path
        ("CLIENT_SECRET", "/Ab+cd/EfGh/IjKl"),
        ("SESSION_KEY", "/0123456789abcdef"),  # one segment: not clearly a path
    ],
)
def test_a_secret_env_value_is_still_masked(name: str, value: str) -> None:
    env = [{"name": name, "value": value}]
    body = _masked("Deployment", {"spec": {"containers": [{"name": "app", "env": env}]}}, "apps")
    assert FINGERPRINT.fullmatch(body["spec"]["containers"][0]["env"][0]["value"])
    assert value not in mask_text(f"{name}={value}", lambda s: "MASKED")


def test_secret_references_stay_readable_even_when_they_equal_a_given_secret() -> None:
    """`secretKeyRef`/`configMapKeyRef` name and key, `secretRef`, a Secret volume's items: names
    of a Secret and of its keys, kept even when the literal pass would match them."""
    container = {
        "name": "app",
        "env": [
            {"name": "GITHUB_WEBHOOK_SECRET", "valueFrom": {"secretKeyRef": {"name": "gh", "key": "webhook-secret"}}},
            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "gh", "key": "api-token", "optional": True}}},
            {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "webhook-secret"}}},
        ],
        "envFrom": [{"secretRef": {"name": "webhook-secret"}}],
    }
    volumes = [
        {"name": "github", "secret": {"secretName": "gh", "items": [{"key": "webhook-secret", "path": "hook.txt"}]}},
        {"name": "certs", "secret": {"secretName": "pg-tls-certs"}},  # `tls.certificatesSecret: pg-tls-certs`
        {
            "name": "all",
            "projected": {"sources": [{"secret": {"name": "gh", "items": [{"key": "api-token", "path": "t"}]}}]},
        },
    ]
    spec = {"containers": [container], "volumes": volumes}
    expected = json.loads(json.dumps(spec))
    given = literal_pattern({"webhook-secret", "api-token", "pg-tls-certs"})
    body = {"spec": {"template": {"spec": spec}}}
    mask_secrets(ResourceId("apps", "Deployment", "default", "x"), body, KEY, given)
    assert body["spec"]["template"]["spec"] == expected
    # anywhere else, a given secret is still masked
    other = {"data": {"note": "copied webhook-secret here"}}
    mask_secrets(ResourceId("", "ConfigMap", "default", "y"), other, KEY, given)
    assert "webhook-secret" not in other["data"]["note"]


SECRET_REFERENCES_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
        - name: app
          image: nginx:{{ .Values.tag }}
          env:
            - name: GITHUB_PRIVATE_KEY_PATH
              value: /etc/app/github/{{ .Values.github.privateKeyKey }}
            - name: GITHUB_WEBHOOK_SECRET
              valueFrom:
                secretKeyRef:
                  name: app-github
                  key: {{ .Values.github.webhookSecretKey }}
            - name: GITHUB_APP_ID
              valueFrom:
                secretKeyRef:
                  name: app-github
                  key: {{ .Values.github.appIdKey }}
            - name: DB_PASSWORD
              value: {{ .Values.dbPassword | quote }}
            - name: API_KEY
              value: {{ .Values.apiKey | quote }}
          volumeMounts:
            - name: github
              mountPath: /etc/app/github
      volumes:
        - name: github
          secret:
            secretName: app-github
            items:
              - key: {{ .Values.github.privateKeyKey }}
                path: {{ .Values.github.privateKeyKey }}
---
apiVersion: v1
kind: Secret
metadata:
  name: app-github
stringData:
  {{ .Values.github.webhookSecretKey }}: {{ .Values.github.webhookSecret | quote }}
  {{ .Values.github.apiTokenKey }}: {{ .Values.github.apiToken | quote }}
"""


@pytest.mark.parametrize("fmt", ["json", "markdown", "text", "sarif"])
def test_secret_key_names_and_paths_are_readable_and_secrets_masked_end_to_end(tmp_path: Path, fmt: str) -> None:
    """deploy/chart's shape: `…Key` settings name the keys of its Secret; the report showed
    them, the mount path and `secretKeyRef.key` as fingerprints."""
    base = write_files(tmp_path / "base" / "app", {"Chart.yaml": chart_yaml("app")})
    values = KEY_NAME_VALUES + "tag: '1.27'\ndbPassword: hunter2\napiKey: abcd1234efgh5678\n"
    head = write_files(
        tmp_path / "head" / "app",
        {"Chart.yaml": chart_yaml("app"), "values.yaml": values, "templates/all.yaml": SECRET_REFERENCES_TEMPLATE},
    )
    done = _cli("diff", str(base), str(head), "--format", fmt, "--no-color")
    assert done.returncode in (0, 1), done.stderr
    for secret in ("Cnry-Webhook-Value", "Cnry-ApiToken-Value", "hunter2", "abcd1234efgh5678"):
        assert secret not in done.stdout + done.stderr
    if fmt == "json":
        report = json.loads(done.stdout)
        (resource,) = [r for r in report["charts"][0]["diff"]["resources"] if r["identity"]["kind"] == "Deployment"]
        text = json.dumps(resource)
        for shown in ("/etc/app/github/private-key.pem", '"key": "webhook-secret"', '"key": "app-id"'):
            assert shown in text
        assert '"path": "private-key.pem"' in text
        assert len(FINGERPRINT.findall(text)) == 2  # DB_PASSWORD and API_KEY, nothing else
        signal = next(s for s in report["charts"][0]["signals"] if s["type"] == "security.secrets.env")
        assert "app-github/webhook-secret" in signal["description"]
