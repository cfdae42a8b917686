"""Every /admin route needs a valid token, and a role that may use it."""

from __future__ import annotations

import json
import re
from typing import Any

import app as application
from tests.app.conftest import bearer

SAMPLE = {
    "expert_id": "advisor-x1",
    "target_type": "expert",
    "target_id": "advisor-x1",
    "token_id": "0a0a0a0a",
    "receipt_number": "DX-261102-000012",
    "action": "take",
    "month": "2026-11",
}


def admin_routes() -> list[tuple[str, str]]:
    found = []
    for path, methods in application.app.routes.items():
        if path.startswith("/admin"):
            for method in methods:
                found.append((method, path))
    return sorted(found)


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


def test_every_admin_route_declares_the_authorizer() -> None:
    routes = admin_routes()
    assert len(routes) >= 8
    for method, path in routes:
        entry = application.app.routes[path][method]
        assert entry.authorizer is not None, f"{method} {path} has no authorizer"
        assert entry.authorizer.name == "admin_auth"


def test_without_a_valid_token_every_admin_route_is_refused(client: Any) -> None:
    for method, path in admin_routes():
        for headers in (
            {},
            {"Authorization": "Bearer nonsense-token-that-was-never-issued"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            bearer("dxd_0a0a0a0a_" + "Z" * 43),
        ):
            response = client.http.request(
                method,
                concrete(path),
                headers={**headers, "Content-Type": "application/json"},
                body=b"{}",
            )
            assert response.status_code in (401, 403), (method, path, headers)


def test_staff_token_reads_but_cannot_edit_the_roster(
    client: Any, staff_headers: dict[str, str]
) -> None:
    assert client.http.get("/admin/me", headers=staff_headers).json_body["role"] == "staff"
    assert client.http.get("/admin/experts", headers=staff_headers).status_code == 200
    created = client.http.post(
        "/admin/experts", headers=staff_headers, body=json.dumps({"expert_id": "advisor-x1"})
    )
    assert created.status_code == 403
    assert client.http.get("/admin/tokens", headers=staff_headers).status_code == 403
    assert client.http.get("/admin/audit?month=2026-11", headers=staff_headers).status_code == 403


def test_revoked_token_stops_working(client: Any, admin_headers: dict[str, str]) -> None:
    issued = client.http.post(
        "/admin/tokens",
        headers=admin_headers,
        body=json.dumps({"role": "staff", "actor": "職員B"}),
    )
    assert issued.status_code == 201
    token = issued.json_body["token"]
    assert client.http.get("/admin/me", headers=bearer(token)).json_body["actor"] == "職員B"
    listed = client.http.get("/admin/tokens", headers=admin_headers).json_body["tokens"]
    assert token not in json.dumps(listed)  # only ids and digests' owners, never the token
    revoked = client.http.post(
        f"/admin/tokens/{issued.json_body['token_id']}/revoke", headers=admin_headers
    )
    assert revoked.status_code == 200
    assert client.http.get("/admin/me", headers=bearer(token)).status_code == 403
