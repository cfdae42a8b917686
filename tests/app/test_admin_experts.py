"""/admin/experts: create, read, update, deactivate, each audited with its actor in one transaction."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib import runtime
from chalicelib.core import access as admin
from tests.app.conftest import ADMIN_TOKEN, STAFF_TOKEN

EXPERT = {
    "expert_id": "advisor-t1",
    "kind": "advisor",
    "display_name": "アドバイザーT",
    "categories": ["data", "technology"],
    "support_types": ["consultation"],
    "areas": [],
    "online_ok": True,
    "contact_emails": ["advisor-t1@example.com"],
    "capacity": 2,
    "conflict_notes": "サンプル商事の顧問",
    "conflicts": ["サンプル商事"],
}


def month_audit(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    month = runtime.now().strftime("%Y-%m")
    response = client.http.get(f"/admin/audit?month={month}", headers=headers)
    assert response.status_code == 200
    return list(response.json_body["records"])


def test_create_read_update_deactivate_with_audit(
    client: Any, admin_headers: dict[str, str]
) -> None:
    created = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(EXPERT))
    assert created.status_code == 201, created.body
    again = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(EXPERT))
    assert again.status_code == 409

    read = client.http.get("/admin/experts/advisor-t1", headers=admin_headers).json_body
    assert read["expert"]["display_name"] == "アドバイザーT"
    assert read["open_cases"] == 0

    updated = client.http.put(
        "/admin/experts/advisor-t1",
        headers=admin_headers,
        body=json.dumps({**EXPERT, "capacity": 4, "display_name": "アドバイザーT2"}),
    )
    assert updated.status_code == 200
    assert updated.json_body["changed"] == ["capacity", "display_name"]
    unchanged = client.http.put(
        "/admin/experts/advisor-t1",
        headers=admin_headers,
        body=json.dumps({**EXPERT, "capacity": 4, "display_name": "アドバイザーT2"}),
    )
    assert unchanged.json_body["changed"] == []

    off = client.http.post("/admin/experts/advisor-t1/deactivate", headers=admin_headers)
    assert off.status_code == 200
    assert off.json_body["expert"]["active"] is False
    active = client.http.get("/admin/experts?active=true", headers=admin_headers).json_body
    assert "advisor-t1" not in [row["expert"]["expert_id"] for row in active["experts"]]
    inactive = client.http.get("/admin/experts?active=false", headers=admin_headers).json_body
    assert [row["expert"]["expert_id"] for row in inactive["experts"]] == ["advisor-t1"]

    records = [r for r in month_audit(client, admin_headers) if r["target_id"] == "advisor-t1"]
    assert [r["action"] for r in reversed(records)] == [
        "expert.create",
        "expert.update",
        "expert.deactivate",
    ]
    assert {r["actor"] for r in records} == {"管理者A"}
    assert all(r["request_id"] for r in records)
    # Field names, never values: no address, name or note reaches the audit log.
    dumped = json.dumps(records, ensure_ascii=False)
    for value in ("advisor-t1@example.com", "アドバイザーT2", "サンプル商事"):
        assert value not in dumped
    per_target = client.http.get("/admin/audit/expert/advisor-t1", headers=admin_headers)
    assert len(per_target.json_body["records"]) == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"categories": ["astrology"]}, "categories"),
        ({"areas": ["not-a-town"]}, "areas"),
        ({"capacity": 0}, "capacity"),
        ({"contact_emails": []}, "contact_emails"),
        ({"unexpected": "x"}, "unexpected"),
        ({"expert_id": "Bad Id!"}, "expert_id"),
    ],
)
def test_invalid_expert_is_refused_by_field(
    client: Any, admin_headers: dict[str, str], change: dict[str, Any], field: str
) -> None:
    response = client.http.post(
        "/admin/experts", headers=admin_headers, body=json.dumps({**EXPERT, **change})
    )
    assert response.status_code == 422
    fields = [error["field"] for error in response.json_body["errors"]]
    assert any(name.split(".")[0] == field for name in fields), fields
    assert client.http.get("/admin/experts", headers=admin_headers).json_body["count"] == 0


def test_malformed_body_and_unknown_expert(client: Any, admin_headers: dict[str, str]) -> None:
    assert client.http.post("/admin/experts", headers=admin_headers, body=b"[1]").status_code == 400
    missing = client.http.put(
        "/admin/experts/advisor-t1", headers=admin_headers, body=json.dumps(EXPERT)
    )
    assert missing.status_code == 404
    assert (
        client.http.post("/admin/experts/nobody/deactivate", headers=admin_headers).status_code
        == 404
    )


def test_an_audit_failure_leaves_the_roster_unchanged(
    client: Any, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change and its audit record are one transaction: if the audit put fails, no change."""
    from chalicelib.storage import admin as admin_store

    real = admin_store.audit_put

    def failing(table: str, entry: dict[str, Any], expires: int) -> dict[str, Any]:
        element = real(table, entry, expires)
        element["Put"]["ConditionExpression"] = "attribute_exists(pk)"  # can never hold
        return element

    monkeypatch.setattr("chalicelib.storage.roster.audit_put", failing)
    response = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(EXPERT))
    assert response.status_code >= 400
    assert runtime.roster_store().get("advisor-t1") is None


def test_tokens_are_stored_only_as_digests(
    aws: dict[str, Any], admin_headers: dict[str, str], staff_headers: dict[str, str]
) -> None:
    table = aws["env"]["TABLE_NAME"]
    dynamodb = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    for token_id in ("0a0a0a0a", "0b0b0b0b"):
        found = dynamodb.query(
            TableName=table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :id",
            ExpressionAttributeValues={":pk": {"S": "TOKENS"}, ":id": {"S": token_id}},
        )["Items"]
        items.extend(found)
    assert len(items) == 2
    dumped = json.dumps(items)
    assert ADMIN_TOKEN not in dumped and STAFF_TOKEN not in dumped
    digests = {item["pk"]["S"].removeprefix("TOKEN#") for item in items}
    assert digests == {admin.token_digest(ADMIN_TOKEN), admin.token_digest(STAFF_TOKEN)}


def test_staff_read_the_roster_without_contact_addresses_admins_with_them(
    client: Any, admin_headers: dict[str, str], staff_headers: dict[str, str]
) -> None:
    """The addresses are why the roster CSV is admin-only; the JSON views must agree."""
    created = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(EXPERT))
    assert created.status_code == 201
    address = EXPERT["contact_emails"][0]

    for path in ("/admin/experts", "/admin/experts/advisor-t1", "/admin/experts?kind=advisor"):
        staff = client.http.get(path, headers=staff_headers)
        assert staff.status_code == 200, path
        assert address not in staff.body.decode(), path
        assert "contact_emails" not in staff.body.decode(), path
        full = client.http.get(path, headers=admin_headers)
        assert address in full.body.decode(), path

    staff_view = client.http.get("/admin/experts/advisor-t1", headers=staff_headers).json_body
    # Everything else staff need for matching is there: categories, areas, load, conflicts.
    assert staff_view["expert"] == {k: v for k, v in EXPERT.items() if k != "contact_emails"} | {
        "organization": None,
        "active": True,
    }
    assert staff_view["open_cases"] == 0
    listed = client.http.get("/admin/experts", headers=staff_headers).json_body
    assert listed["count"] == 1 and "contact_emails" not in listed["experts"][0]["expert"]
