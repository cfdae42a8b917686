"""/openapi.json: every route described, a valid OpenAPI 3.1 document, bodies as the API answers them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

import app as application
from chalicelib.admin.auth import ROUTES
from chalicelib.core.errors import FieldError, InvalidAdminInput, MalformedBody, RoleForbidden
from chalicelib.http.errors import error_response
from chalicelib.openapi import ErrorBody, document
from chalicelib.runtime import get_deployment
from tests.conftest import valid_payload

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def doc(stage_env: dict[str, str]) -> dict[str, Any]:
    return document(application.app.routes, get_deployment())


def conforms(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    """Errors of `instance` against `schema`, references resolved in the document."""
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    return [error.message for error in validator.iter_errors(instance)]


def response_schema(doc: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    content = doc["paths"][path][method]["responses"][str(status)]["content"]
    return dict(content["application/json"]["schema"])


def test_every_route_of_the_app_is_described_and_nothing_else(doc: dict[str, Any]) -> None:
    routes = {
        (path, method.lower())
        for path, methods in application.app.routes.items()
        for method in methods
    }
    described = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert routes - described == set(), "routes missing from /openapi.json"
    assert described - routes == set(), "described routes the app does not have"
    assert len(routes) >= 30


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_admin_operations_need_a_bearer_token_and_name_their_role(doc: dict[str, Any]) -> None:
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert ROUTES, "the admin registry is empty"
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method]
        assert operation["security"] == [{"bearerAuth": []}]
        assert operation["x-role"] == route.role
        assert {"401", "403", "404", "409", "422"} <= set(operation["responses"])
        if route.body is not None:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith(f"/{route.body.__name__}")
        if route.response is not None and route.staff_response is not None:
            # Admins get the full view, staff the smaller one: the document names both.
            refs = [
                ref["$ref"].rsplit("/", 1)[1]
                for ref in response_schema(doc, route.path, route.method, 200)["anyOf"]
            ]
            assert refs == [route.response.__name__, route.staff_response.__name__]
        elif route.response is not None:
            assert response_schema(doc, route.path, route.method, 200)["$ref"].endswith(
                f"/{route.response.__name__}"
            )
        if route.query is not None:
            names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            fields = route.query.model_fields
            assert names == {field.alias or name for name, field in fields.items()}
    for path, item in doc["paths"].items():
        if not path.startswith("/admin"):
            assert all("security" not in operation for operation in item.values()), path


def test_the_intake_contract_lists_the_deployments_choices(doc: dict[str, Any]) -> None:
    deployment = get_deployment()
    schema = doc["components"]["schemas"]["ConsultationCreate"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["municipality"]["enum"] == list(deployment.municipalities)
    assert schema["properties"]["category"]["enum"] == list(deployment.active_categories())
    assert set(schema["required"]) >= {"name", "email", "message", "privacy_consent"}
    body = doc["paths"]["/consultations"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/ConsultationCreate"}


def test_error_body_is_what_error_response_writes() -> None:
    invalid = InvalidAdminInput(
        [
            FieldError(
                field="email", code="invalid_email", message="…", message_en="…", loc=("email",)
            )
        ]
    )
    for exc in (invalid, MalformedBody(), RoleForbidden()):
        body = json.loads(error_response(exc).body)
        parsed = ErrorBody.model_validate(body)
        assert parsed.model_dump(exclude_none=True) == body


def test_served_without_a_token_and_equal_to_the_document(client: Any, doc: dict[str, Any]) -> None:
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json_body == doc


def test_real_answers_conform_to_the_document(
    client: Any, doc: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    created = client.http.post(
        "/consultations", headers=JSON, body=json.dumps(valid_payload()).encode("utf-8")
    )
    assert created.status_code == 201
    assert (
        conforms(doc, response_schema(doc, "/consultations", "post", 201), created.json_body) == []
    )

    invalid = client.http.post(
        "/consultations",
        headers=JSON,
        body=json.dumps(valid_payload(email="no-at-sign")).encode("utf-8"),
    )
    assert invalid.status_code == 422
    schema = response_schema(doc, "/consultations", "post", 422)
    assert conforms(doc, schema, invalid.json_body) == []
    assert conforms(doc, schema, {"error": "x"})  # the check itself bites

    health = client.http.get("/health")
    assert conforms(doc, response_schema(doc, "/health", "get", 200), health.json_body) == []

    me = client.http.get("/admin/me", headers=admin_headers)
    assert conforms(doc, response_schema(doc, "/admin/me", "get", 200), me.json_body) == []

    export = client.http.post(
        "/admin/requesters/export",
        headers=admin_headers,
        body=json.dumps({"receipt_number": created.json_body["receipt_number"]}).encode("utf-8"),
    )
    assert export.status_code == 200
    schema = response_schema(doc, "/admin/requesters/export", "post", 200)
    assert conforms(doc, schema, export.json_body) == []


def test_the_staff_view_of_the_roster_documents_no_contact_addresses(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert "contact_emails" in schemas["Expert"]["properties"]
    assert "contact_emails" not in schemas["ExpertProfile"]["properties"]
    staff_routes = [route for route in ROUTES if route.staff_response is not None]
    assert {(r.path, r.method) for r in staff_routes} == {
        ("/admin/experts", "get"),
        ("/admin/experts/{expert_id}", "get"),
    }
