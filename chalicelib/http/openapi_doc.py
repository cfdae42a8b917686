"""An OpenAPI 3.1 document from operation descriptions and pydantic models (pure).

The models are the one source of the schemas: every request, query and
response model is turned into JSON Schema in one pass (pydantic's
`models_json_schema`, which names a model used both as input and output
apart when the two differ) with `#/components/schemas/{model}` references,
and the definitions become the document's components. Pydantic writes JSON
Schema 2020-12, which is what OpenAPI 3.1 uses.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{(\w+)\}")

Mode = Literal["validation", "serialization"]
# (model, mode) → its `$ref` (pydantic's models_json_schema key map).
Refs = Mapping[tuple[Any, JsonSchemaMode], Any]


@dataclass(frozen=True)
class Body:
    """A request or response body of one media type: a model, or a plain JSON Schema."""

    content_type: str
    model: type[BaseModel] | None = None
    schema: dict[str, Any] | None = None
    # Several models: the body is any one of them.
    any_of: tuple[type[BaseModel], ...] = ()


@dataclass(frozen=True)
class Reply:
    status: int
    description: str
    bodies: tuple[Body, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # name → description


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    tags: tuple[str, ...]
    replies: tuple[Reply, ...]
    request: tuple[Body, ...] = ()
    request_required: bool = True
    query: type[BaseModel] | None = None
    query_schema: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # no model
    headers: tuple[Header, ...] = ()
    path_params: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    secured: bool = False
    extensions: Mapping[str, Any] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        words = re.sub(r"[^A-Za-z0-9]+", "_", self.path).strip("_") or "root"
        return f"{self.method.lower()}_{words}"


def _models(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []

    def add(model: type[BaseModel] | None, mode: JsonSchemaMode) -> None:
        if model is not None and (model, mode) not in wanted:
            wanted.append((model, mode))

    for operation in operations:
        for body in operation.request:
            for model in (body.model, *body.any_of):
                add(model, "validation")
        add(operation.query, "validation")
        for reply in operation.replies:
            for body in reply.bodies:
                for model in (body.model, *body.any_of):
                    add(model, "serialization")
    return wanted


def _ref_name(ref: Mapping[str, Any]) -> str:
    return str(ref["$ref"]).rsplit("/", 1)[-1]


def _content(bodies: Iterable[Body], refs: Refs, mode: Mode) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for body in bodies:
        if body.model is not None:
            schema = dict(refs[(body.model, mode)])
        elif body.any_of:
            schema = {"anyOf": [dict(refs[(model, mode)]) for model in body.any_of]}
        else:
            schema = copy.deepcopy(body.schema) if body.schema is not None else {}
        content[body.content_type] = {"schema": schema}
    return content


def _parameters(
    operation: Operation,
    refs: Refs,
    schemas: Mapping[str, Any],
) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for name in _PATH_PARAM.findall(operation.path):
        schema = operation.path_params.get(name, {"type": "string", "minLength": 1})
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    query: dict[str, dict[str, Any]] = dict(operation.query_schema)
    required: set[str] = set()
    if operation.query is not None:
        definition = schemas[_ref_name(refs[(operation.query, "validation")])]
        query.update(definition.get("properties", {}))
        required = set(definition.get("required", []))
    for name, schema in query.items():
        parameter = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if "description" in schema:
            parameter["description"] = schema["description"]
        parameters.append(parameter)
    for header in operation.headers:
        parameters.append(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": header.schema,
            }
        )
    return parameters


def build_document(
    operations: list[Operation],
    *,
    title: str,
    version: str,
    description: str,
    security_schemes: Mapping[str, dict[str, Any]],
    extra_schemas: Mapping[str, dict[str, Any]] | None = None,
    property_extras: Mapping[type[BaseModel], Mapping[str, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The document. `property_extras` adds keywords (e.g. an `enum` of the deployment's
    ids) to properties of a model's schema, in every form the model takes."""
    wanted = _models(operations)
    refs, definitions = (
        models_json_schema(wanted, ref_template=REF_TEMPLATE) if wanted else ({}, {})
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    for model, extras in (property_extras or {}).items():
        for (found, _mode), ref in refs.items():
            if found is not model:
                continue
            properties = schemas[_ref_name(ref)].get("properties", {})
            for name, keywords in extras.items():
                if name in properties:
                    properties[name] = {**properties[name], **keywords}
    schemas.update(extra_schemas or {})

    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        entry: dict[str, Any] = {
            "operationId": operation.operation_id,
            "summary": operation.summary,
            "tags": list(operation.tags),
        }
        parameters = _parameters(operation, refs, schemas)
        if parameters:
            entry["parameters"] = parameters
        if operation.request:
            entry["requestBody"] = {
                "required": operation.request_required,
                "content": _content(operation.request, refs, "validation"),
            }
        responses: dict[str, Any] = {}
        for reply in operation.replies:
            response: dict[str, Any] = {"description": reply.description}
            if reply.bodies:
                response["content"] = _content(reply.bodies, refs, "serialization")
            if reply.headers:
                response["headers"] = {
                    name: {"description": text, "schema": {"type": "string"}}
                    for name, text in reply.headers.items()
                }
            responses[str(reply.status)] = response
        entry["responses"] = responses
        if operation.secured:
            entry["security"] = [{name: []} for name in security_schemes]
        entry.update(operation.extensions)
        paths.setdefault(operation.path, {})[operation.method.lower()] = entry

    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": dict(security_schemes),
        },
    }
