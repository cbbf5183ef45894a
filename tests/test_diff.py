"""The Kubernetes-aware structured diff, on values (pipeline-level cases are in test_pipeline)."""

from __future__ import annotations

import copy
from typing import Any

from chartimpact_bot.core.classify import classify
from chartimpact_bot.core.diff import diff_resources, diff_values
from chartimpact_bot.core.model import Resource, ResourceId, json_pointer


def _pod(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": containers}}}}


def _changes(before: Any, after: Any) -> list[tuple[str, str, Any, Any]]:
    return [(c.op, c.display_path, c.before, c.after) for c in diff_values(before, after)]


API: dict[str, Any] = {
    "name": "api",
    "image": "api:1",
    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
}
SIDECAR = {"name": "sidecar", "image": "proxy:1"}


def test_equal_values_give_nothing() -> None:
    assert diff_values(_pod([API, SIDECAR]), copy.deepcopy(_pod([API, SIDECAR]))) == []


def test_reordered_containers_give_nothing() -> None:
    assert diff_values(_pod([API, SIDECAR]), _pod([SIDECAR, API])) == []


def test_env_var_inserted_in_the_middle_is_one_add() -> None:
    head_api = copy.deepcopy(API)
    head_api["env"].insert(1, {"name": "NEW", "value": "x"})
    changes = diff_values(_pod([API]), _pod([head_api]))
    assert [(c.op, json_pointer(c.path), c.display_path, c.after) for c in changes] == [
        (
            "add",
            "/spec/template/spec/containers/0/env/1",
            "spec.template.spec.containers[name=api].env[name=NEW]",
            {"name": "NEW", "value": "x"},
        )
    ]


def test_renamed_container_is_removed_and_added() -> None:
    renamed = dict(API, name="backend")
    assert _changes(_pod([API, SIDECAR]), _pod([renamed, SIDECAR])) == [
        ("add", "spec.template.spec.containers[name=backend]", None, renamed),
        ("remove", "spec.template.spec.containers[name=api]", API, None),
    ]


def test_field_change_inside_keyed_item_uses_head_index_and_key() -> None:
    changed = dict(API, image="api:2")
    changes = diff_values(_pod([SIDECAR, API]), _pod([changed, SIDECAR]))
    assert [(json_pointer(c.path), c.display_path, c.before, c.after) for c in changes] == [
        (
            "/spec/template/spec/containers/0/image",
            "spec.template.spec.containers[name=api].image",
            "api:1",
            "api:2",
        )
    ]
    assert changes[0].path == ("spec", "template", "spec", "containers", 0, "image")


def test_rbac_verbs_are_a_set() -> None:
    base = {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}
    reordered = {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "get"]}]}
    widened = {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete", "get"]}]}
    assert diff_values(base, reordered) == []
    assert _changes(base, widened) == [("add", "rules[0].verbs[1]", None, "delete")]


def test_capabilities_are_sets_only_under_capabilities() -> None:
    base = {"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}}
    head = {"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["CHOWN", "NET_BIND_SERVICE"]}}}
    assert diff_values(base, head) == []


def test_args_are_a_sequence_and_an_insertion_is_one_add() -> None:
    base = {"args": ["--port=80", "--verbose"]}
    head = {"args": ["--port=80", "--tls", "--verbose"]}
    assert _changes(base, head) == [("add", "args[1]", None, "--tls")]
    assert _changes(base, {"args": ["--verbose", "--port=80"]}) != []


def test_container_ports_keyed_by_container_port_and_protocol() -> None:
    named = {
        "ports": [
            {"name": "http", "containerPort": 80},
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
        ]
    }
    reordered = {"ports": list(reversed(named["ports"]))}
    assert diff_values(named, reordered) == []
    unnamed = {"ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53}]}
    changed = {"ports": [{"containerPort": 53}, {"containerPort": 53, "protocol": "UDP", "hostPort": 53}]}
    assert _changes(unnamed, changed) == [("add", "ports[containerPort=53,protocol=UDP].hostPort", None, 53)]


def test_a_renamed_container_port_is_the_same_port_renamed() -> None:
    # Kubernetes' merge key for a container's ports is containerPort: a new name is an edit of
    # that port, not one port removed and another added.
    base = {"ports": [{"name": "http", "containerPort": 8080}]}
    head = {"ports": [{"name": "web", "containerPort": 8080}]}
    assert _changes(base, head) == [("replace", "ports[containerPort=8080].name", "http", "web")]


def test_service_ports_keyed_by_port() -> None:
    base = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "metrics", "port": 9090}]}
    swapped = {"ports": [{"name": "metrics", "port": 80, "targetPort": 8080}, {"name": "http", "port": 9090}]}
    assert _changes(base, swapped) == [
        ("replace", "ports[port=80].name", "http", "metrics"),
        ("replace", "ports[port=9090].name", "metrics", "http"),
    ]


def test_env_from_is_a_sequence_because_later_entries_win() -> None:
    base = {"envFrom": [{"configMapRef": {"name": "defaults"}}, {"secretRef": {"name": "overrides"}}]}
    reordered = {"envFrom": list(reversed(base["envFrom"]))}
    assert _changes(base, reordered) != []


def test_volume_mounts_keyed_by_mount_path() -> None:
    base = {
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "tmp", "mountPath": "/tmp"},
        ]
    }
    head = {
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "data", "mountPath": "/data", "readOnly": True},
        ]
    }
    assert _changes(base, head) == [("add", "volumeMounts[mountPath=/data].readOnly", None, True)]


def test_generic_unique_key_heuristic() -> None:
    base = {"widgets": [{"id": "a", "size": 1}, {"id": "b", "size": 2}]}
    head = {"widgets": [{"id": "c", "size": 3}, {"id": "b", "size": 2}, {"id": "a", "size": 5}]}
    assert _changes(base, head) == [
        ("add", "widgets[id=c]", None, {"id": "c", "size": 3}),
        ("replace", "widgets[id=a].size", 1, 5),
    ]


def test_unkeyed_list_of_objects_aligns_by_content() -> None:
    base = {"rules": [{"a": 1}, {"a": 2}, {"a": 3}]}
    head = {"rules": [{"a": 1}, {"a": 9}, {"a": 2}, {"a": 3}]}
    assert _changes(base, head) == [("add", "rules[1]", None, {"a": 9})]


def test_types_are_not_confused() -> None:
    assert _changes({"a": "80"}, {"a": 80}) == [("replace", "a", "80", 80)]
    assert _changes(1, True) == [("replace", "", 1, True)]


def test_display_paths_quote_dotted_keys_and_pointers_escape() -> None:
    changes = diff_values(
        {"metadata": {"labels": {"app.kubernetes.io/name": "a"}}},
        {"metadata": {"labels": {"app.kubernetes.io/name": "b"}}},
    )
    assert changes[0].display_path == 'metadata.labels["app.kubernetes.io/name"]'
    assert json_pointer(changes[0].path) == "/metadata/labels/app.kubernetes.io~1name"
    assert json_pointer(("a~b", 0)) == "/a~0b/0"


def test_api_version_bump_is_a_modification_not_remove_and_add() -> None:
    def deployment(api_version: str) -> Resource:
        body = {"apiVersion": api_version, "kind": "Deployment", "metadata": {"name": "api"}}
        return Resource(
            ResourceId("apps", "Deployment", "default", "api"),
            api_version,
            body,
            "c/templates/d.yaml",
            0,
        )

    (diff,) = diff_resources([deployment("apps/v1beta2")], [deployment("apps/v1")], classify)
    assert diff.change_type == "modified"
    assert [(c.op, c.display_path, c.before, c.after) for c in diff.changes] == [
        ("replace", "apiVersion", "apps/v1beta2", "apps/v1")
    ]


def test_resources_are_sorted_by_kind_namespace_name_and_changes_by_path() -> None:
    def res(kind: str, name: str, body: dict[str, Any]) -> Resource:
        return Resource(ResourceId("", kind, "default", name), "v1", body, "c/t.yaml", 0)

    base = [res("Service", "b", {"spec": {"x": 1}}), res("ConfigMap", "z", {"data": {"k": "1"}})]
    head = [
        res("Service", "b", {"spec": {"x": 2, "items": list(range(12))}}),
        res("ConfigMap", "a", {"data": {}}),
    ]
    diffs = diff_resources(base, head, classify)
    assert [(d.id.kind, d.id.name, d.change_type) for d in diffs] == [
        ("ConfigMap", "a", "added"),
        ("ConfigMap", "z", "removed"),
        ("Service", "b", "modified"),
    ]
    assert [c.path for c in diffs[2].changes] == ["/spec/items", "/spec/x"]


def test_whole_resource_add_and_remove_carry_the_body() -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    added = Resource(ResourceId("", "ConfigMap", "default", "a"), "v1", body, "c/t.yaml", 0)
    (diff,) = diff_resources([], [added], classify)
    (change,) = diff.changes
    assert (change.op, change.path, change.after, change.semantic_type) == (
        "add",
        "",
        body,
        "resource",
    )
