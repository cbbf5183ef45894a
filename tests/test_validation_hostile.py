"""Schema validation meets hostile input (issue 14): a pull request writes the CRDs its custom
resources are checked against, so their schemas are bounded, compiled with linear-time regular
expressions, never fetch a `$ref`, and one that cannot compile checks nothing rather than crash.
Messages never show a resource's values."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from chartimpact_bot.core.model import Resource, ResourceId
from chartimpact_bot.core.validation.problems import MAX_PROBLEMS, validate_side


def _resource(kind: str, api_version: str, body: dict[str, Any], name: str = "x") -> Resource:
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **body}
    return Resource(ResourceId(group, kind, "default", name), api_version, body, "c/templates/x.yaml", 0)


def _crd(schema: dict[str, Any]) -> Resource:
    spec = {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets"},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
    }
    return _resource("CustomResourceDefinition", "apiextensions.k8s.io/v1", {"spec": spec}, "widgets.example.com")


def _validate(*resources: Resource) -> list[tuple[str, str, str]]:
    found = validate_side({r.id: r for r in resources}, "1.33")
    return [(str(p.path), p.kind, p.message) for p in found.problems]


def test_a_catastrophic_pattern_is_matched_in_linear_time() -> None:
    crd = _crd({"type": "object", "properties": {"spec": {"type": "string", "pattern": "^(a+)+$"}}})
    widget = _resource("Widget", "example.com/v1", {"spec": "a" * 50_000 + "!"})
    start = time.perf_counter()
    problems = _validate(crd, widget)
    assert time.perf_counter() - start < 2  # a backtracking engine takes longer than the universe
    assert problems == [("('spec',)", "invalid", "breaks the schema's pattern rule (pattern ^(a+)+$)")]


def test_a_pattern_the_engine_refuses_leaves_the_rest_checked() -> None:
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string", "pattern": "(?=x)x"}}}},
    }
    widget = _resource("Widget", "example.com/v1", {"spec": {"a": "x", "b": 1}})
    assert _validate(_crd(schema), widget) == [
        ("('spec', 'b')", "unknownField", "unknown field 'b' (the API server drops it)")
    ]


def test_a_ref_is_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a schema reached for the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    schema = {"type": "object", "properties": {"spec": {"$ref": "http://169.254.169.254/latest/meta-data"}}}
    widget = _resource("Widget", "example.com/v1", {"spec": {"anything": 1}, "other": 2})
    # `$ref` is no keyword of a structural schema: dropped, so `spec` is unconstrained.
    assert _validate(_crd(schema), widget) == [
        ("('other',)", "unknownField", "unknown field 'other' (the API server drops it)")
    ]


def test_deep_and_wide_schemas_are_bounded() -> None:
    deep: dict[str, Any] = {"type": "object"}
    node = deep
    for _ in range(5_000):
        child: dict[str, Any] = {"type": "object"}
        node["properties"] = {"a": child}
        node = child
    wide = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(50_000)}}
    for schema in (deep, wide):
        start = time.perf_counter()
        _validate(_crd(schema), _resource("Widget", "example.com/v1", {"spec": {"p1": "x"}}))
        assert time.perf_counter() - start < 10


def test_problems_are_bounded_and_show_no_values() -> None:
    secret_looking = "hunter2-do-not-show"
    many = {f"field{i}": secret_looking for i in range(300)}
    resources = [_resource("ConfigMap", "v1", {"data": {"a": 1}, **many}, name=f"cm{i}") for i in range(100)]
    found = validate_side({r.id: r for r in resources}, "1.33").problems
    assert len(found) == MAX_PROBLEMS
    assert all(secret_looking not in p.message for p in found)
    typed = validate_side({r.id: r for r in [_resource("ConfigMap", "v1", {"data": {"a": 12345}})]}, "1.33")
    (problem,) = typed.problems
    assert problem.message == "an integer where the schema wants a string" and "12345" not in problem.message


def test_nulls_are_fields_not_set_as_the_api_server_reads_them() -> None:
    deployment = _resource(
        "Deployment",
        "apps/v1",
        {
            "spec": {
                "replicas": None,
                "selector": {"matchLabels": {"app": "x"}},
                "strategy": {"rollingUpdate": {"maxSurge": None, "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {"labels": {"app": "x"}, "annotations": None},
                    "spec": {"containers": [{"name": "x", "image": "nginx", "resources": None, "ports": None}]},
                },
            }
        },
    )
    assert _validate(deployment) == []


def test_custom_resources_without_their_crd_are_counted_not_guessed() -> None:
    found = validate_side(
        {r.id: r for r in [_resource("ServiceMonitor", "monitoring.coreos.com/v1", {"x": 1})]}, "1.33"
    )
    assert found.problems == () and found.unchecked == 1


def test_a_resource_nested_deeper_than_the_validator_goes_is_counted() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(900):
        node["a"] = {}
        node = node["a"]
    found = validate_side({r.id: r for r in [_resource("ConfigMap", "v1", {"data": deep})]}, "1.33")
    assert found.problems == () and found.too_deep == 1
