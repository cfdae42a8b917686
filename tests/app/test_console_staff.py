"""The staff list in the console: admins add members and give them a role (audited, the
rules of /admin/staff); the new member signs in with that role; staff may only read."""

from __future__ import annotations

from typing import Any

from chalicelib import runtime
from tests.app.console_helpers import html, post_form, sign_in

NEW = "console-new@dx-desk.example.jp"


def member_form(csrf: str, **overrides: str) -> dict[str, str]:
    fields = {
        "csrf": csrf,
        "staff_id": "console-new",
        "display_name": "職員D",
        "email": NEW,
        "role": "admin",
        "notify": "1",
        "may_act_by_email": "1",
        "active": "1",
    }
    fields.update(overrides)
    return fields


def test_an_admin_adds_a_member_who_then_signs_in_with_that_role(
    client: Any, admin: tuple[str, str], mailbox: Any
) -> None:
    cookie, csrf = admin
    added = post_form(client, "/console/staff", member_form(csrf), cookie)
    assert added.status_code == 303, html(added)
    records = runtime.admin_store().audit_of("staff", "console-new", 0)
    assert [(r["action"], r["actor"]) for r in records] == [("staff.create", "管理者B")]
    new_cookie, _ = sign_in(client, mailbox, NEW)
    assert client.http.get("/console/audit", headers={"Cookie": new_cookie}).status_code == 200


def test_a_role_change_applies_to_the_next_request(
    client: Any, admin: tuple[str, str], staff: tuple[str, str]
) -> None:
    cookie, csrf = admin
    staff_cookie, _ = staff
    assert client.http.get("/console/audit", headers={"Cookie": staff_cookie}).status_code == 403
    fields = member_form(
        csrf,
        staff_id="console-staff",
        display_name="職員C",
        email="console-staff@dx-desk.example.jp",
    )
    done = post_form(client, "/console/staff/console-staff", fields, cookie)
    assert done.status_code == 303, html(done)
    assert client.http.get("/console/audit", headers={"Cookie": staff_cookie}).status_code == 200


def test_bad_input_names_the_field_and_stores_nothing(client: Any, admin: tuple[str, str]) -> None:
    cookie, csrf = admin
    refused = post_form(client, "/console/staff", member_form(csrf, email="not an address"), cookie)
    assert refused.status_code == 422
    assert "「メールアドレス」" in html(refused)
    taken = post_form(
        client,
        "/console/staff",
        member_form(csrf, email="console-staff@dx-desk.example.jp"),
        cookie,
    )
    assert taken.status_code == 422
    assert "別の職員に登録されています" in html(taken)
    assert runtime.admin_store().audit_of("staff", "console-new", 0) == []


def test_staff_may_not_add_members(client: Any, staff: tuple[str, str]) -> None:
    cookie, csrf = staff
    assert client.http.get("/console/staff/new", headers={"Cookie": cookie}).status_code == 403
    refused = post_form(client, "/console/staff", member_form(csrf), cookie)
    assert refused.status_code == 403
    assert runtime.admin_store().audit_of("staff", "console-new", 0) == []
