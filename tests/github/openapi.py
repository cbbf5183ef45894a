"""GitHub's REST description (OpenAPI 3.0) as a request checker for the fake GitHub."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

BASE = "urn:github-rest"


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    method: str
    template: str
    pointer: str  # JSON pointer of the operation in the description
    has_body: bool


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` is JSON Schema's `type: [T, "null"]`."""
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True:
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            elif "type" not in out:
                out = {"anyOf": [out, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class RestDescription:
    def __init__(self, description: dict[str, Any]) -> None:
        self.document = _nullable(copy.deepcopy(description))
        self._registry: Registry[Any] = Registry().with_resource(
            BASE, Resource.from_contents(self.document, default_specification=DRAFT7)
        )
        routes = []
        for template, item in self.document["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            for method, operation in item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                pointer = f"/paths/{_escape(template)}/{method}"
                has_body = "requestBody" in operation
                routes.append(
                    (
                        template.count("{"),
                        method.upper(),
                        re.compile(pattern),
                        Operation(operation["operationId"], method.upper(), template, pointer, has_body),
                    )
                )
        # Literal segments beat parameters: /releases/latest before /releases/{release_id}.
        routes.sort(key=lambda r: r[0])
        self._routes = routes

    def find(self, method: str, path: str) -> Operation | None:
        for _, route_method, pattern, operation in self._routes:
            if route_method == method and pattern.match(path):
                return operation
        return None

    def operation(self, operation_id: str) -> Operation:
        return next(op for _, _, _, op in self._routes if op.id == operation_id)

    def body_errors(self, operation: Operation, body: Any) -> list[str]:
        if not operation.has_body:
            return [] if body in (None, b"", {}) else [f"{operation.id} takes no request body"]
        schema_pointer = f"{operation.pointer}/requestBody/content/application~1json/schema"
        validator = jsonschema.Draft7Validator({"$ref": f"{BASE}#{schema_pointer}"}, registry=self._registry)
        return [
            f"{operation.id}: {'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
            for e in validator.iter_errors(body)
        ]

    def example(self, name: str) -> Any:
        """A copy of one of the description's own examples (`components/examples/<name>`)."""
        return copy.deepcopy(self.document["components"]["examples"][name]["value"])

    def response_errors(self, operation: Operation, status: int, body: Any) -> list[str]:
        """What is wrong with an answer the fake gives, against the operation's response schema."""
        response = self.document
        for token in [*operation.pointer.strip("/").split("/"), "responses", str(status)]:
            response = response[token.replace("~1", "/").replace("~0", "~")]
        if "application/json" not in response.get("content", {}):
            return [f"{operation.id} answers {status} without a JSON body"]
        schema_pointer = f"{operation.pointer}/responses/{status}/content/application~1json/schema"
        validator = jsonschema.Draft7Validator({"$ref": f"{BASE}#{schema_pointer}"}, registry=self._registry)
        return [
            f"{operation.id} answer {status}: {'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
            for e in validator.iter_errors(body)
        ]
