"""A chart whose change touches every line of the report page's blast radius: a ConfigMap read
by a Deployment that a Service selects, the Deployment's pod template changed (its readiness
probe removed), the Service turned into a LoadBalancer, and a StatefulSet's volume claim
template resized (immutable: the upgrade fails) and a PersistentVolumeClaim dropped (its data
goes with it)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_chart

TEMPLATES = {
    "config.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {mode: "{{ .Values.mode }}"}
""",
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {checksum/config: "{{ .Values.mode | sha256sum }}"}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          envFrom: [{configMapRef: {name: web-config}}]
          {{- if .Values.readiness }}
          readinessProbe: {httpGet: {path: /ready, port: 80}}
          {{- end }}
""",
    "service.yaml": """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: {{ .Values.serviceType }}
  selector: {app: web}
  ports: [{port: 80}]
""",
    "statefulset.yaml": """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: {{ .Values.storage }}}}}
""",
    "uploads.yaml": """\
{{- if .Values.uploads }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: uploads}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 5Gi}}}
{{- end }}
""",
}
BASE_VALUES = "mode: a\nreadiness: true\nserviceType: ClusterIP\nstorage: 1Gi\nuploads: true\n"
HEAD_VALUES = "mode: b\nreadiness: false\nserviceType: LoadBalancer\nstorage: 2Gi\nuploads: false\n"


def blast_pair(root: Path) -> tuple[Path, Path]:
    base = make_chart(root / "base", "shop", TEMPLATES, BASE_VALUES)
    head = make_chart(root / "head", "shop", TEMPLATES, HEAD_VALUES)
    return base, head
