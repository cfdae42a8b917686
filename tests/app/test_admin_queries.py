"""Every admin route's query string: absurd, repeated or unknown parameters are a 422 naming them.

RELIABILITY.md fault 16: out-of-range or absurd query parameters (dates in
year 1 or 9999, huge page sizes) answer 422 naming the parameter, never 500.
The walk takes the routes from the admin registry, so a new route with a
query cannot go unchecked.
"""

from __future__ import annotations

import re
from typing import Any

import app as application
from chalicelib.admin.auth import ROUTES
from chalicelib.openapi import ErrorBody

# Concrete values for the registry's path parameters: the query is checked
# before the view looks anything up, so these need not exist.
PATH_VALUES = {
    "receipt_number": "DX-261126-482175",
    "action": "take",
    "month": "2026-11",
    "expert_id": "advisor-a",
    "token_id": "0a0a0a0a",
    "target_type": "case",
    "target_id": "DX-261126-482175",
    "staff_id": "staff-a",
}

# (path, method) → absurd queries and the parameter each must be refused for.
ABSURD: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("/admin/cases", "get"): [
        ("from=0001-01-01", "from"),
        ("to=9999-12-31", "to"),
        ("status=received&from=0001-01-01", "from"),
        ("status=received&to=9999-12-31", "to"),
        ("from=1999-12-31", "from"),
        ("to=2100-01-01", "to"),
        ("limit=99999999999999999999", "limit"),
        ("limit=-1", "limit"),
        ("order=sideways", "order"),
        ("next=" + "A" * 5000, "next"),
    ],
    ("/admin/cases/{receipt_number}/suggestions", "get"): [
        ("limit=1000000000", "limit"),
        ("limit=0", "limit"),
    ],
    ("/admin/audit", "get"): [
        ("month=0000-01", "month"),
        ("month=9999-12", "month"),
        ("month=2026-11&limit=1000000", "limit"),
        ("month=2026-11&start=%00", "start"),
        ("month=2026-11&start=zzzz", "start"),
    ],
    ("/admin/experts", "get"): [
        ("area=%00", "area"),
        ("category=" + "x" * 5000, "category"),
        ("support_type=%E2%80%AE", "support_type"),
        ("active=maybe", "active"),
    ],
    ("/admin/experts/import", "post"): [("dry_run=perhaps", "dry_run")],
}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


def call(client: Any, headers: dict[str, str], path: str, method: str, query: str) -> Any:
    url = f"{concrete(path)}?{query}"
    if method == "get":
        return client.http.get(url, headers=headers)
    return client.http.request(method.upper(), url, headers=headers, body="{}")


def refused_for(response: Any, parameter: str, code: str | None = None) -> list[str]:
    """What is wrong with `response` as a 422 naming `parameter`, in the documented body."""
    if response.status_code != 422:
        return [f"status {response.status_code}"]
    body = ErrorBody.model_validate(response.json_body)
    problems = []
    fields = [error.field for error in body.errors or []]
    if parameter not in fields:
        problems.append(f"names {fields}, not {parameter!r}")
    if code is not None and code not in [error.code for error in body.errors or []]:
        problems.append(f"no {code!r} error")
    if not body.message or not body.message_en:
        problems.append("no message")
    return problems


def test_the_table_covers_every_route_with_a_query() -> None:
    assert application.app.routes and ROUTES  # importing the app fills the registry
    with_query = {(route.path, route.method) for route in ROUTES if route.query is not None}
    assert set(ABSURD) == with_query


def test_absurd_query_parameters_are_422_naming_the_parameter(
    client: Any, admin_headers: dict[str, str]
) -> None:
    problems = []
    for (path, method), queries in ABSURD.items():
        for query, parameter in queries:
            response = call(client, admin_headers, path, method, query)
            problems += [
                f"{method} {path}?{query[:40]}: {p}" for p in refused_for(response, parameter)
            ]
    assert problems == []


def test_edge_dates_of_the_case_list_are_refused_in_japanese_with_the_range(
    client: Any, staff_headers: dict[str, str]
) -> None:
    response = client.http.get("/admin/cases?from=0001-01-01", headers=staff_headers)
    assert response.status_code == 422
    (error,) = response.json_body["errors"]
    assert error["field"] == "from"
    assert error["message"] == "「from」は2000-01-01以上で指定してください。"
    assert "0001" not in response.body.decode()  # the value is never echoed
    # The century's own edges are dates like any other.
    for query in ("from=2000-01-01&to=2001-12-31", "status=received&to=2099-12-31"):
        assert client.http.get(f"/admin/cases?{query}", headers=staff_headers).status_code == 200


def test_a_repeated_parameter_is_refused_by_name(
    client: Any, admin_headers: dict[str, str]
) -> None:
    problems = []
    for (path, method), queries in ABSURD.items():
        name = queries[0][1]
        response = call(client, admin_headers, path, method, f"{name}=1&{name}=2")
        problems += [f"{method} {path}: {p}" for p in refused_for(response, name, "repeated")]
    assert problems == []


def test_a_route_without_a_query_refuses_any_parameter_by_name(
    client: Any, admin_headers: dict[str, str]
) -> None:
    problems = []
    for route in ROUTES:
        if route.query is not None:
            continue
        response = call(client, admin_headers, route.path, route.method, "colour=blue")
        found = refused_for(response, "colour", "extra_forbidden")
        if "blue" in response.body.decode():
            found.append("echoes the value")
        problems += [f"{route.method} {route.path}: {p}" for p in found]
    assert problems == []
