"""Splitting and parsing rendered output the way Helm does."""

from __future__ import annotations

import random
import re

import pytest

from chartimpact_bot.core.documents import RenderedChart, is_emitted, parse_template, split_documents
from chartimpact_bot.core.errors import RenderError
from chartimpact_bot.core.manifests import parse_rendered, share_scopes
from chartimpact_bot.core.model import ResourceId


def _parse(templates: dict[str, str], namespace: str = "default", **kwargs: bool):
    """What the render process does with Helm's output, then identities."""
    parsed = {path: parse_template(path, text) for path, text in templates.items() if is_emitted(path, text)}
    return parse_rendered(RenderedChart(templates=parsed), namespace=namespace, **kwargs)


def test_separator_followed_by_a_comment_splits_documents() -> None:
    # cert-manager's rbac.yaml has `---# Permission to approve…`: Helm treats it as a separator.
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---# Permission\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
    parsed = _parse({"c/templates/rbac.yaml": text})
    assert sorted(r.name for r in parsed.resources) == ["a", "b"]


def test_document_line_numbers() -> None:
    chunks = list(split_documents("a: 1\n---\n\nb: 2\n--- \nc: 3\n"))
    assert [line for line, _ in chunks] == [1, 4, 6]


# Helm's splitter (pkg/releaseutil), which split_documents finds without a regular expression.
HELM_SEPARATOR = re.compile(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*")


def test_documents_split_where_helms_expression_splits() -> None:
    rng = random.Random(11)
    pieces = ["-", "-", "---", "\n---", "\n", " ", "\t", "\r", "\f", "a", "# c"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        expected, position = [], 0
        for match in HELM_SEPARATOR.finditer(text):
            expected.append(text[position : match.start()])
            position = match.end()
        expected.append(text[position:])
        assert [chunk for _, chunk in split_documents(text)] == expected, repr(text)


def test_empty_documents_notes_and_partials_are_skipped() -> None:
    parsed = _parse(
        {
            "c/templates/NOTES.txt": "Thanks for installing\n",
            "c/templates/_helpers.tpl": "anything",
            "c/templates/empty.yaml": "\n\n",
            "c/templates/comments.yaml": "# only a comment\n---\n---\n",
            "c/templates/cm.yaml": "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n",
        }
    )
    assert list(parsed.resources) == [ResourceId("", "ConfigMap", "default", "a")]


def test_list_kinds_are_flattened() -> None:
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: one}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: two}
"""
    parsed = _parse({"c/templates/list.yaml": text})
    assert sorted(r.name for r in parsed.resources) == ["one", "two"]


def test_identity_uses_group_and_defaults_namespace_for_namespaced_kinds() -> None:
    text = """\
apiVersion: apps/v1beta2
kind: Deployment
metadata: {name: api}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader, namespace: ignored}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: explicit}
"""
    parsed = _parse({"c/templates/x.yaml": text}, namespace="shop")
    assert set(parsed.resources) == {
        ResourceId("apps", "Deployment", "shop", "api"),
        ResourceId("rbac.authorization.k8s.io", "ClusterRole", "", "reader"),
        ResourceId("", "Service", "explicit", "api"),
    }


def test_custom_kinds_declared_cluster_scoped_by_a_crd_get_no_namespace() -> None:
    text = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusterthings.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: ClusterThing, plural: clusterthings}
---
apiVersion: example.com/v1
kind: ClusterThing
metadata: {name: one}
---
apiVersion: example.com/v1
kind: Thing
metadata: {name: two}
"""
    parsed = _parse({"c/templates/x.yaml": text})
    assert ResourceId("example.com", "ClusterThing", "", "one") in parsed.resources
    assert ResourceId("example.com", "Thing", "default", "two") in parsed.resources


def test_well_known_cluster_scoped_custom_kinds_get_no_namespace_without_their_crd() -> None:
    # kyverno-policies renders ClusterPolicies and ValidatingPolicies; kyverno's own chart
    # ships their CRDs. A kind of the same name in another API group is not affected.
    text = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: disallow-privileged}
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: disallow-privileged}
---
apiVersion: example.com/v1
kind: ClusterPolicy
metadata: {name: other}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: unknown}
"""
    parsed = _parse({"c/templates/x.yaml": text})
    assert set(parsed.resources) == {
        ResourceId("kyverno.io", "ClusterPolicy", "", "disallow-privileged"),
        ResourceId("policies.kyverno.io", "ValidatingPolicy", "", "disallow-privileged"),
        ResourceId("example.com", "ClusterPolicy", "default", "other"),
        ResourceId("example.com", "Widget", "default", "unknown"),
    }


def test_the_charts_own_crd_overrides_the_list_of_well_known_scopes() -> None:
    text = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusterissuers.cert-manager.io}
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: ClusterIssuer, plural: clusterissuers}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: letsencrypt}
"""
    parsed = _parse({"c/templates/x.yaml": text})
    assert ResourceId("cert-manager.io", "ClusterIssuer", "default", "letsencrypt") in parsed.resources


def test_a_crd_on_one_side_scopes_its_kind_on_both() -> None:
    crd = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
---
"""
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    base = _parse({"c/templates/x.yaml": widget}).resources
    head = _parse({"c/templates/x.yaml": crd + widget}).resources
    shared = share_scopes(base, head)
    assert [set(side) for side in shared] == [
        {ResourceId("example.com", "Widget", "", "w")},
        {
            ResourceId("example.com", "Widget", "", "w"),
            ResourceId("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com"),
        },
    ]
    assert share_scopes(base, base)[0] is base


def test_duplicate_identities_are_reported() -> None:
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\n"
    parsed = _parse({"c/templates/a.yaml": doc, "c/templates/b.yaml": doc})
    assert len(parsed.resources) == 1
    assert parsed.warnings == [
        "ConfigMap default/same is rendered twice (c/templates/a.yaml and c/templates/b.yaml); "
        "only the first is compared"
    ]


def test_source_and_document_index_are_kept() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
    parsed = _parse({"web/templates/cms.yaml": text})
    b = parsed.resources[ResourceId("", "ConfigMap", "default", "b")]
    assert (b.source, b.document) == ("web/templates/cms.yaml", 1)


def test_invalid_yaml_output_names_template_document_and_line() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n   bad: indent\n"
    with pytest.raises(RenderError) as caught:
        _parse({"web/templates/broken.yaml": text})
    assert str(caught.value).startswith("web/templates/broken.yaml renders invalid YAML (document 2, line 9)")


def test_non_object_document_is_an_error() -> None:
    with pytest.raises(RenderError, match="not a Kubernetes object"):
        _parse({"web/templates/list.yaml": "- a\n- b\n"})


def test_objects_without_kind_or_name_are_skipped_with_a_warning() -> None:
    parsed = _parse({"c/templates/x.yaml": "foo: bar\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"})
    assert not parsed.resources
    assert len(parsed.warnings) == 2


def test_test_hooks_are_left_out_and_other_hooks_flagged() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata:
  name: test-connection
  annotations: {"helm.sh/hook": test}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {"helm.sh/hook": "pre-upgrade,pre-install"}
"""
    parsed = _parse({"c/templates/hooks.yaml": text})
    assert [(r.name, item.hook) for r, item in parsed.resources.items()] == [("migrate", "pre-upgrade,pre-install")]
    with_tests = _parse({"c/templates/hooks.yaml": text}, include_tests=True)
    assert len(with_tests.resources) == 2


def test_dates_stay_strings() -> None:
    parsed = _parse(
        {"c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  since: 2024-01-01\n"}
    )
    (item,) = parsed.resources.values()
    assert item.body["data"]["since"] == "2024-01-01"


def test_plain_scalars_resolve_as_kubernetes_go_yaml_does() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nvalues: [=, 1:30, 0x1F, 1_000, 0755, 1.5, .inf, yes, ~]\n"
    (item,) = _parse({"c/templates/cm.yaml": text}).resources.values()
    assert item.body["values"] == ["=", "1:30", 31, 1000, 493, 1.5, ".inf", True, None]
