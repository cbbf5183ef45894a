"""Source lines: each signal names the template line that caused it, rendered with the real Helm
engine. The documents of one `range`, containers written by a named template, RBAC rules, the
hardening pattern, and render errors with and without a line."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

from chartimpact_bot.core.model import ChartReport, SignalSource
from chartimpact_bot.core.report.json import dumps
from chartimpact_bot.core.report.markdown import render_markdown
from chartimpact_bot.core.report.text import render_text
from chartimpact_bot.core.template_lines import ChartTemplates, Place, Rendered, locate_in_template
from chartimpact_bot.engine.pipeline import PipelineOptions
from chartimpact_bot.github.checks import build_output
from tests.conftest import chart_yaml, diff_dirs, only_chart, write_files


def _charts(tmp_path: Path, base: dict[str, str], head: dict[str, str], values: str = "") -> tuple[Path, Path]:
    dirs = []
    for side, files in (("base", base), ("head", head)):
        dirs.append(
            write_files(tmp_path / side / "app", {"Chart.yaml": chart_yaml("app"), "values.yaml": values, **files})
        )
    return dirs[0], dirs[1]


def _where(chart: ChartReport, type_: str) -> dict[str, tuple[str, int | None]]:
    """Resource name → (file, line) of every signal of one type."""
    return {s.resource.name: (s.source.file, s.source.line) for s in chart.signals if s.type == type_ and s.source}


def _line_of(path: Path, text: str, after: int = 0) -> int:
    """The 1-based number of the first line after line `after` that contains `text`."""
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, start=1) if n > after and text in line)


# The separator ends the loop body, and a static part follows the loop: the second and third
# documents of the range used to point at the `---` (or at the static part).
RANGE = """\
{{- range .Values.apps }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ . }}
spec:
  selector:
    matchLabels: {app: {{ . }}}
  template:
    metadata:
      labels: {app: {{ . }}}
    spec:
      hostNetwork: HOST
      containers:
        - name: main
          image: nginx:1.25
---
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: static
spec:
  selector:
    matchLabels: {app: static}
  template:
    metadata:
      labels: {app: static}
    spec:
      hostNetwork: HOST
      containers:
        - name: main
          image: nginx:1.25
"""


def test_every_document_of_a_range_points_inside_the_loop(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _charts(
        tmp_path,
        {"templates/apps.yaml": RANGE.replace("HOST", "false")},
        {"templates/apps.yaml": RANGE.replace("HOST", "true")},
        values="apps: [one, two, three]\n",
    )
    chart = only_chart(diff_dirs(base, head, options))
    template = head / "templates" / "apps.yaml"
    in_loop = _line_of(template, "hostNetwork")
    static = _line_of(template, "hostNetwork", after=in_loop)
    assert (in_loop, static) == (13, 30)
    assert _where(chart, "security.hostAccess.network") == {
        "one": ("app/templates/apps.yaml", in_loop),
        "two": ("app/templates/apps.yaml", in_loop),
        "three": ("app/templates/apps.yaml", in_loop),
        "static": ("app/templates/apps.yaml", static),
    }


HELPERS = """\
{{- define "app.container" -}}
- name: helper
  image: nginx:1.25
  securityContext:
    privileged: PRIVILEGED
{{- end }}

{{- define "app.podSpec" -}}
serviceAccountName: default
containers:
  - name: pod
    image: nginx:1.25
    securityContext:
      privileged: PRIVILEGED
{{- end }}

{{- define "app.computed" -}}
- name: computed
  image: nginx:1.25
  securityContext: {privileged: PRIVILEGED}
{{- end }}
"""

INCLUDING = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: container
spec:
  selector: {matchLabels: {app: container}}
  template:
    metadata: {labels: {app: container}}
    spec:
      containers:
        {{- include "app.container" . | nindent 8 }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podspec
spec:
  selector: {matchLabels: {app: podspec}}
  template:
    metadata: {labels: {app: podspec}}
    spec:
      {{- include "app.podSpec" . | nindent 6 }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: computed
spec:
  selector: {matchLabels: {app: computed}}
  template:
    metadata: {labels: {app: computed}}
    spec:
      containers:
        {{- include (printf "%s.computed" .Chart.Name) . | nindent 8 }}
"""


def test_a_field_written_by_an_included_helper_points_at_the_helper(tmp_path: Path, options: PipelineOptions) -> None:
    base, head = _charts(
        tmp_path,
        {"templates/_helpers.tpl": HELPERS.replace("PRIVILEGED", "false"), "templates/deploy.yaml": INCLUDING},
        {"templates/_helpers.tpl": HELPERS.replace("PRIVILEGED", "true"), "templates/deploy.yaml": INCLUDING},
    )
    chart = only_chart(diff_dirs(base, head, options))
    helpers = head / "templates" / "_helpers.tpl"
    assert _where(chart, "security.context.privileged") == {
        # in the define of the included container, and of the included pod spec
        "container": ("app/templates/_helpers.tpl", _line_of(helpers, "privileged: true")),
        "podspec": ("app/templates/_helpers.tpl", _line_of(helpers, "privileged: true", after=6)),
        # a template name computed at render time: the include line, not the Deployment's `spec:`
        "computed": (
            "app/templates/deploy.yaml",
            _line_of(head / "templates" / "deploy.yaml", '(printf "%s.computed"'),
        ),
    }
    assert _line_of(helpers, "privileged: true", after=6) == 14


ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
rules:
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: operator
rules:
  - apiGroups: ["apps"]
    resources: ["deployments"]
    verbs: ["get", "list"]
EXTRA"""


def test_an_rbac_signal_points_at_the_rule_that_grants_it(tmp_path: Path, options: PipelineOptions) -> None:
    extra = """\
  - apiGroups:
      - ""
    resources:
      - secrets
    verbs:
      - get
  - apiGroups: ["batch"]
    resources: ["jobs"]
    verbs: ["create"]
"""
    base, head = _charts(
        tmp_path,
        {"templates/rbac.yaml": ROLE.replace("EXTRA", "")},
        {"templates/rbac.yaml": ROLE.replace("EXTRA", extra)},
    )
    chart = only_chart(diff_dirs(base, head, options))
    template = head / "templates" / "rbac.yaml"
    secrets_rule = _line_of(template, "- apiGroups:", after=_line_of(template, '["deployments"]'))
    jobs_rule = _line_of(template, '["batch"]')
    assert (secrets_rule, jobs_rule) == (18, 24)
    assert _where(chart, "security.rbac.secrets") == {"operator": ("app/templates/rbac.yaml", secrets_rule)}
    assert _where(chart, "security.rbac.clusterRole") == {"operator": ("app/templates/rbac.yaml", jobs_rule)}


HARDENED = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: first}
data: {a: b}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          securityContext:
CONTEXT"""


def test_the_hardening_pattern_points_at_the_first_control_lost(tmp_path: Path, options: PipelineOptions) -> None:
    hardened = (
        "            runAsNonRoot: true\n            allowPrivilegeEscalation: false\n            privileged: false\n"
    )
    loosened = "            privileged: true\n            allowPrivilegeEscalation: true\n"
    base, head = _charts(
        tmp_path,
        {"templates/deploy.yaml": HARDENED.replace("CONTEXT", hardened)},
        {"templates/deploy.yaml": HARDENED.replace("CONTEXT", loosened)},
    )
    chart = only_chart(diff_dirs(base, head, options))
    context = _line_of(head / "templates" / "deploy.yaml", "securityContext:")
    # runAsNonRoot is gone from the head: its signal (the first in the file) is at the
    # securityContext that lost it, and so is the pattern: not at the template's line 1.
    assert context == 18
    assert _where(chart, "security.context.runAsNonRoot") == {"web": ("app/templates/deploy.yaml", context)}
    assert _where(chart, "pattern.security.hardeningRemoved") == {"web": ("app/templates/deploy.yaml", context)}


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {a: b}\n"


def test_a_render_error_points_at_the_line_helm_names(tmp_path: Path, options: PipelineOptions) -> None:
    broken = CONFIGMAP + 'extra: {{ required "extra is required" .Values.extra }}\n'
    base, head = _charts(tmp_path, {"templates/cm.yaml": CONFIGMAP}, {"templates/cm.yaml": broken})
    chart = only_chart(diff_dirs(base, head, options))
    assert _where(chart, "chart.render") == {"app": ("app/templates/cm.yaml", 5)}


def test_a_render_error_without_a_line_shows_the_file_alone_and_line_1_in_json(
    tmp_path: Path, options: PipelineOptions
) -> None:
    # The output is not YAML: the line Helm's output has is not a line of the template.
    base, head = _charts(tmp_path, {"templates/cm.yaml": CONFIGMAP}, {"templates/cm.yaml": CONFIGMAP + "  : [\n"})
    report = diff_dirs(base, head, options)
    chart = only_chart(report)
    assert _where(chart, "chart.render") == {"app": ("app/templates/cm.yaml", None)}
    (signal,) = json.loads(dumps(report))["charts"][0]["signals"]
    # The contract's line is an integer: the file as a whole, at its top, in the JSON alone.
    assert signal["source"] == {"file": "app/templates/cm.yaml", "line": 1}
    assert "| <code>app/templates/cm.yaml</code> |" in render_markdown(report)
    assert "[chart.render]  app/templates/cm.yaml\n" in render_text(report)
    # GitHub needs a line: the annotation is about the whole file, at its top.
    output = build_output(report, head_paths={"app/templates/cm.yaml"}, problems=[])
    assert [(a["path"], a["start_line"]) for a in output.annotations] == [("app/templates/cm.yaml", 1)]


def test_an_error_naming_no_template_points_at_chart_yaml_without_a_line(
    tmp_path: Path, options: PipelineOptions
) -> None:
    schema = '{"type": "object", "properties": {"replicas": {"type": "integer"}}}'
    base, head = _charts(tmp_path, {"templates/cm.yaml": CONFIGMAP}, {"templates/cm.yaml": CONFIGMAP})
    (head / "values.yaml").write_text("replicas: many\n")
    (head / "values.schema.json").write_text(schema)
    (signal,) = only_chart(diff_dirs(base, head, options)).signals
    assert "schema" in signal.description
    assert (signal.type, signal.source) == ("chart.render", SignalSource("app/Chart.yaml", None))


def _locate(text: str, path: str, document: int = 0, kind: str = "Deployment", name: str = "x") -> Place:
    templates = ChartTemplates({"c/templates/t.yaml": textwrap.dedent(text)})
    return locate_in_template(templates, "c/templates/t.yaml", Rendered(document, kind, name), (), path)


def test_a_list_written_out_literally_is_searched_by_position() -> None:
    text = """\
    kind: Pod
    spec:
      containers:
        - name: a
          args:
            - --one
            - --two
    """
    assert _locate(text, "spec.containers[name=a].args[1]").line == 7


def test_an_item_named_after_its_first_key_is_found_by_its_key() -> None:
    text = """\
    kind: Pod
    spec:
      containers:
        - image: nginx
          name: first
        - image: envoy
          name: second
          ports:
            - containerPort: 80
    """
    assert _locate(text, "spec.containers[name=second].ports").line == 8
    # a key the item does not write: the item, not a key of another container
    assert _locate(text, "spec.containers[name=first].ports").line == 5


def test_parts_are_matched_by_kind_and_name_before_their_index() -> None:
    text = """\
    {{- if .Values.first }}
    kind: Service
    metadata:
      name: svc
    spec: {}
    ---
    {{- end }}
    kind: Deployment
    metadata:
      name: {{ .Release.Name }}-web
    spec:
      replicas: 1
    """
    # The Service part rendered nothing: the Deployment is the template's first document.
    assert _locate(text, "spec.replicas", document=0, name="release-web").line == 12


def test_hostile_template_text_is_searched_in_linear_time() -> None:
    # A name of many actions is a glob of many stars, which a backtracking pattern takes
    # exponential time to refuse; and a long line of unclosed actions is quadratic to scan.
    text = (
        "kind: Deployment\nmetadata:\n  name: "
        + "{{ . }}x" * 200
        + "y\n"
        + "  labels: "
        + "{{" * 200_000
        + "\nspec:\n  replicas: 1\n---\nkind: Deployment\nmetadata:\n  name: '{{ .Release.Name }}z'\nspec:\n  replicas: 2\n"
    )
    started = time.monotonic()
    place = _locate(text, "spec.replicas", name="x" * 300 + "z")
    assert time.monotonic() - started < 2
    assert place.line == 12  # in the part whose name can be "xxx…z": the second


SECRET_VOLUMES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Chart.Name }}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
      volumes:
        - name: credentials
          secret:
            secretName: {{ include "web.secret" . }}
        {{- if .Values.tls.enabled }}
        - name: certs
          secret:
            secretName: {{ .Values.tls.secretName }}
        {{- end }}
"""


def test_a_value_that_only_appears_in_a_field_is_not_its_source(tmp_path: Path, options: PipelineOptions) -> None:
    """deploy/chart's Secret volume signal pointed at `image.repository`: its value is the
    chart's name, so it appears in every resource name, and the template reads it (for the
    image). A values line is the source only when it is read where the field is written."""
    base = write_files(tmp_path / "base" / "web", {"Chart.yaml": chart_yaml("web")})
    values = "image:\n  repository: web\n  tag: '1.27'\ntls:\n  enabled: true\n  secretName: web-certs\n"
    head = write_files(
        tmp_path / "head" / "web",
        {
            "Chart.yaml": chart_yaml("web"),
            "values.yaml": values,
            "templates/_helpers.tpl": '{{- define "web.secret" -}}{{ .Chart.Name }}-credentials{{- end }}\n',
            "templates/deploy.yaml": SECRET_VOLUMES,
        },
    )
    chart = only_chart(diff_dirs(base, head, options))
    volumes = {
        s.affected_path.rsplit("=", 1)[-1].rstrip("]"): (s.source.file, s.source.line)
        for s in chart.signals
        if s.type == "security.secrets.volume" and s.source
    }
    template = head / "templates" / "deploy.yaml"
    assert volumes == {
        # the Secret's name comes from a helper (the chart's name): the template's volume line
        "credentials": ("web/templates/deploy.yaml", _line_of(template, "- name: credentials")),
        # read where the volume is written, and its value is the Secret's name: the values line
        "certs": ("web/values.yaml", _line_of(head / "values.yaml", "secretName: web-certs")),
    }
    assert _line_of(template, "- name: credentials") == 16
