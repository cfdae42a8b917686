"""Personal-data requests in the console: export as a file, erase only after confirming;
staff lists and the taxonomy are readable; staff may not reach personal-data requests."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import runtime
from tests.app.console_helpers import html, post_form
from tests.app.test_action_links import submit


def test_export_is_a_file_of_the_requesters_cases_and_is_audited(
    client: Any, admin: tuple[str, str]
) -> None:
    cookie, csrf = admin
    receipt = submit(client)
    answer = post_form(
        client,
        "/console/privacy/export",
        {"csrf": csrf, "email": "requester-a@example.com"},
        cookie,
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    assert answer.headers["Cache-Control"] == "no-store"
    exported = json.loads(html(answer))
    assert [c["case"]["receipt_number"] for c in exported["cases"]] == [receipt]
    records, _ = runtime.admin_store().audit_log(
        runtime.now().strftime("%Y-%m"), limit=50, start=None, now_epoch=0
    )
    assert any(r["action"] == "requester.export" and r["actor"] == "管理者B" for r in records)


def test_erase_asks_first_and_only_the_confirmed_post_erases(
    client: Any, admin: tuple[str, str]
) -> None:
    cookie, csrf = admin
    receipt = submit(client)
    asked = post_form(
        client, "/console/privacy/erase", {"csrf": csrf, "receipt_number": receipt}, cookie
    )
    assert asked.status_code == 200
    assert "元に戻せません" in html(asked)
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case.get("email") == "requester-a@example.com"

    done = post_form(
        client,
        "/console/privacy/erase",
        {"csrf": csrf, "receipt_number": receipt, "confirm": "1"},
        cookie,
    )
    assert done.status_code == 200
    assert "消去しました" in html(done)
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case.get("email") != "requester-a@example.com"


def test_both_or_neither_identifier_is_a_clear_error(client: Any, admin: tuple[str, str]) -> None:
    cookie, csrf = admin
    for fields in ({}, {"receipt_number": "DX-261126-000010", "email": "a@example.com"}):
        answer = post_form(client, "/console/privacy/export", {"csrf": csrf, **fields}, cookie)
        assert answer.status_code == 422
        assert "どちらか一方" in html(answer)


def test_staff_read_the_staff_list_and_taxonomy_but_not_personal_data_requests(
    client: Any, staff: tuple[str, str]
) -> None:
    cookie, csrf = staff
    listed = html(client.http.get("/console/staff", headers={"Cookie": cookie}))
    assert "管理者B" in listed and "職員C" in listed and "管理者 / admin" in listed
    taxonomy = html(client.http.get("/console/taxonomy", headers={"Cookie": cookie}))
    assert "データ利活用" in taxonomy
    assert client.http.get("/console/privacy", headers={"Cookie": cookie}).status_code == 403
    refused = post_form(
        client, "/console/privacy/export", {"csrf": csrf, "email": "a@example.com"}, cookie
    )
    assert refused.status_code == 403
