"""/admin/staff: the staff list as data decides who is told of new cases and who may act by mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core.timefmt import iso
from chalicelib.outbox.handler import sweep_once
from chalicelib.scheduled.handler import run_daily
from tests.app.test_action_links import links_in_staff_mail, submit
from tests.integration.test_inbound import PASS, deliver, reply

STAFF_A = "staff-a@dx-desk.example.jp"  # STAFF_NOTIFY_TO of the local stage
STAFF_C = "staff-c@dx-desk.example.jp"
STAFF_D = "staff-d@dx-desk.example.jp"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def member(staff_id: str, email: str, **overrides: Any) -> dict[str, Any]:
    return {
        "staff_id": staff_id,
        "display_name": f"職員{staff_id[-1].upper()}",
        "email": email,
        **overrides,
    }


def add(client: Any, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = client.http.post("/admin/staff", headers=headers, body=json.dumps(body))
    assert response.status_code == 201, response.body
    return response


def intake_recipients(mailbox: Any, receipt: str) -> list[str]:
    return sorted(
        str(m["To"])
        for m in mailbox()
        if receipt in m["Subject"] and str(m["To"]).endswith("@dx-desk.example.jp")
    )


def test_before_anyone_is_stored_the_list_is_staff_notify_to(
    client: Any, staff_headers: dict[str, str]
) -> None:
    body = client.http.get("/admin/staff", headers=staff_headers).json_body
    assert body["source"] == "environment"
    assert body["staff"] == []
    assert body["environment_addresses"] == [STAFF_A, "staff-b@dx-desk.example.jp"]


def test_a_member_added_through_the_api_gets_the_next_new_case_mail(
    client: Any, admin_headers: dict[str, str], mailbox: Any
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C))
    listed = client.http.get("/admin/staff", headers=admin_headers).json_body
    assert listed["source"] == "stored"
    assert [m["staff_id"] for m in listed["staff"]] == ["staff-c"]

    receipt = submit(client)
    sweep_once()
    # The stored list replaces STAFF_NOTIFY_TO: staff-a and staff-b are no longer told.
    assert intake_recipients(mailbox, receipt) == [STAFF_C]


def test_a_deactivated_member_gets_no_new_case_mail(
    client: Any, admin_headers: dict[str, str], mailbox: Any
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C))
    add(client, admin_headers, member("staff-d", STAFF_D))
    first = submit(client)
    sweep_once()
    assert intake_recipients(mailbox, first) == [STAFF_C, STAFF_D]

    done = client.http.post("/admin/staff/staff-d/deactivate", headers=admin_headers)
    assert done.status_code == 200
    assert done.json_body["staff"]["active"] is False
    second = submit(client, email="requester-b@example.com")
    sweep_once()
    assert intake_recipients(mailbox, second) == [STAFF_C]


def test_the_last_member_told_of_new_cases_cannot_be_deactivated(
    client: Any, admin_headers: dict[str, str]
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C))
    refused = client.http.post("/admin/staff/staff-c/deactivate", headers=admin_headers)
    assert refused.status_code == 422
    assert refused.json_body["errors"][0]["code"] == "nobody_notified"
    still = client.http.get("/admin/staff", headers=admin_headers).json_body["staff"]
    assert still[0]["active"] is True


def test_a_member_without_may_act_by_email_replying_is_quarantined(
    client: Any, admin_headers: dict[str, str], mailbox: Any
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C, may_act_by_email=False))
    add(client, admin_headers, member("staff-d", STAFF_D))
    receipt = submit(client)
    sweep_once()
    told = {str(m["To"]): m for m in mailbox() if receipt in m["Subject"]}
    # The notify-only member is told, but gets neither links nor a reply address.
    assert "Reply-To" not in told[STAFF_C]
    assert "/actions/" not in told[STAFF_C].get_body(("plain",)).get_content()
    acting = told[STAFF_D]
    case_address = str(acting["Reply-To"])

    raw = reply(acting, "担当", sender=STAFF_C, to=case_address)
    assert deliver(raw, recipients=[case_address]) == {"quarantined": 1}
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["status"] == "received" and "owner" not in case

    # The same reply from a member who may act moves the case.
    raw = reply(acting, "担当", sender=STAFF_D, to=case_address)
    assert deliver(raw, recipients=[case_address], verdicts=PASS) == {"applied": 1}
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["owner"] == STAFF_D


def test_links_of_a_member_who_may_no_longer_act_are_refused(
    client: Any, admin_headers: dict[str, str], mailbox: Any
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C))
    add(client, admin_headers, member("staff-d", STAFF_D))
    receipt = submit(client)
    sweep_once()
    take = links_in_staff_mail(mailbox, receipt, staff=STAFF_D)["担当する"]
    assert client.http.get(take).status_code == 200

    changed = client.http.put(
        "/admin/staff/staff-d",
        headers=admin_headers,
        body=json.dumps(member("staff-d", STAFF_D, may_act_by_email=False)),
    )
    assert changed.json_body == {"changed": ["may_act_by_email"]}
    assert client.http.get(take).status_code == 404
    assert client.http.post(take, headers=FORM, body="").status_code == 404
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["status"] == "received"


def test_the_daily_digest_goes_to_the_stored_members_who_are_notified(
    client: Any, admin_headers: dict[str, str]
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C))
    add(client, admin_headers, member("staff-d", STAFF_D, notify=False))
    submit(client)
    # Thursday 2026-11-26, 08:00 in Japan: a business day.
    morning = datetime(2026, 11, 25, 23, tzinfo=UTC)
    assert run_daily(runtime.desk().at(morning))["digest_enqueued"] == 1
    digests = [
        item
        for item in runtime.outbox_store().due(iso(morning + timedelta(minutes=1)))
        if item["template"] == "daily_digest"
    ]
    assert [item["to"] for item in digests] == [[STAFF_C]]


def test_every_change_is_audited_by_field_name_without_the_address(
    client: Any, admin_headers: dict[str, str]
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C))
    add(client, admin_headers, member("staff-d", STAFF_D))
    client.http.put(
        "/admin/staff/staff-d",
        headers=admin_headers,
        body=json.dumps(member("staff-d", "staff-d2@dx-desk.example.jp", notify=False)),
    )
    client.http.post("/admin/staff/staff-d/deactivate", headers=admin_headers)
    records = client.http.get("/admin/audit/staff/staff-d", headers=admin_headers).json_body[
        "records"
    ]
    assert [(r["action"], r["fields"]) for r in records] == [
        (
            "staff.create",
            ["active", "display_name", "email", "may_act_by_email", "notify", "role", "staff_id"],
        ),
        ("staff.update", ["email", "notify"]),
        ("staff.deactivate", ["active"]),
    ]
    assert all(r["actor"] == "管理者A" and r["target_type"] == "staff" for r in records)
    assert "@" not in json.dumps(records, ensure_ascii=False)


def test_a_staff_token_reads_the_list_but_cannot_change_it(
    client: Any, staff_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C))
    assert client.http.get("/admin/staff", headers=staff_headers).status_code == 200
    body = json.dumps(member("staff-e", "staff-e@dx-desk.example.jp"))
    assert client.http.post("/admin/staff", headers=staff_headers, body=body).status_code == 403
    assert (
        client.http.put("/admin/staff/staff-c", headers=staff_headers, body=body).status_code == 403
    )
    assert (
        client.http.post("/admin/staff/staff-c/deactivate", headers=staff_headers).status_code
        == 403
    )
    assert len(client.http.get("/admin/staff", headers=admin_headers).json_body["staff"]) == 1


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (member("staff-x", "not an address <script>"), "email", "invalid_email"),
        (member("Staff X", "staff-x@dx-desk.example.jp"), "staff_id", "string_pattern_mismatch"),
        (
            {**member("staff-x", "staff-x@dx-desk.example.jp"), "display_name": "職員\nX"},
            "display_name",
            "value_error",
        ),
        (
            {**member("staff-x", "staff-x@dx-desk.example.jp"), "password": "x"},
            "password",
            "extra_forbidden",
        ),
        (
            {**member("staff-x", "staff-x@dx-desk.example.jp"), "role": "owner"},
            "role",
            "literal_error",
        ),
    ],
)
def test_bad_input_is_a_field_error_that_never_echoes_the_value(
    client: Any, admin_headers: dict[str, str], body: dict[str, Any], field: str, code: str
) -> None:
    response = client.http.post("/admin/staff", headers=admin_headers, body=json.dumps(body))
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json_body["errors"]] == [(field, code)]
    assert "<script>" not in response.body.decode("utf-8")
    assert client.http.get("/admin/staff", headers=admin_headers).json_body["staff"] == []


def test_ids_and_addresses_are_unique_and_ids_never_change(
    client: Any, admin_headers: dict[str, str]
) -> None:
    add(client, admin_headers, member("staff-c", STAFF_C))
    again = client.http.post(
        "/admin/staff", headers=admin_headers, body=json.dumps(member("staff-c", STAFF_D))
    )
    assert again.status_code == 409
    taken = client.http.post(
        "/admin/staff",
        headers=admin_headers,
        body=json.dumps(member("staff-d", STAFF_C.upper())),
    )
    assert taken.status_code == 422
    assert taken.json_body["errors"][0]["code"] == "email_taken"
    renamed = client.http.put(
        "/admin/staff/staff-c", headers=admin_headers, body=json.dumps(member("staff-z", STAFF_C))
    )
    assert renamed.status_code == 422
    missing = client.http.put(
        "/admin/staff/staff-q", headers=admin_headers, body=json.dumps(member("staff-q", STAFF_D))
    )
    assert missing.status_code == 404
    listed = client.http.get("/admin/staff", headers=admin_headers).json_body["staff"]
    assert [(m["staff_id"], m["email"]) for m in listed] == [("staff-c", STAFF_C)]


def test_intake_never_reads_the_directory_and_only_writes(
    client: Any, admin_headers: dict[str, str]
) -> None:
    from collections import Counter

    from tests.app.test_intake_routes import count_aws_calls

    add(client, admin_headers, member("staff-c", STAFF_C))
    runtime.forget_directory()  # as after a cold start
    calls = count_aws_calls()
    submit(client)
    # The staff are addressed when the mail is sent (docs/design.md "One DynamoDB call").
    assert calls == Counter({"dynamodb.TransactWriteItems": 1})
    calls.clear()
    submit(client, email="requester-b@example.com")
    assert calls == Counter({"dynamodb.TransactWriteItems": 1})
