"""Cases in the console: the list, a case with its timeline, an action as the mail links do
it (core/acting.py perform), audited as the person; a post without CSRF changes nothing."""

from __future__ import annotations

from typing import Any

from chalicelib import runtime
from tests.app.console_helpers import html, post_form
from tests.app.test_action_links import submit


def test_the_list_shows_a_new_case_and_filters_by_status(
    client: Any, staff: tuple[str, str]
) -> None:
    cookie, _ = staff
    receipt = submit(client)
    listed = html(client.http.get("/console/cases", headers={"Cookie": cookie}))
    assert receipt in listed
    hearing = client.http.get("/console/cases?status=hearing", headers={"Cookie": cookie})
    assert receipt not in html(hearing)
    bad = client.http.get("/console/cases?status=nonsense", headers={"Cookie": cookie})
    assert bad.status_code == 422


def test_an_action_from_the_case_page_is_applied_once_and_audited(
    client: Any, staff: tuple[str, str]
) -> None:
    cookie, csrf = staff
    receipt = submit(client)
    page = html(client.http.get(f"/console/cases/{receipt}", headers={"Cookie": cookie}))
    assert "ヒアリングを開始する" in page
    version = runtime.case_store().get_case(receipt)["version"]  # type: ignore[index]
    fields = {"csrf": csrf, "version": str(version), "note": "電話で確認"}
    done = post_form(client, f"/console/cases/{receipt}/actions/start_hearing", fields, cookie)
    assert done.status_code == 303, html(done)
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["status"] == "hearing"
    # The same form again: the version moved on, so nothing changes twice.
    again = post_form(client, f"/console/cases/{receipt}/actions/start_hearing", fields, cookie)
    assert again.status_code == 409
    records = runtime.admin_store().audit_of("case", receipt, 0)
    assert [(r["action"], r["actor"]) for r in records] == [("case.start_hearing", "職員C")]
    timeline = html(client.http.get(f"/console/cases/{receipt}", headers={"Cookie": cookie}))
    assert "電話で確認" in timeline


def test_a_case_action_without_csrf_changes_nothing(client: Any, staff: tuple[str, str]) -> None:
    cookie, _ = staff
    receipt = submit(client)
    version = runtime.case_store().get_case(receipt)["version"]  # type: ignore[index]
    refused = post_form(
        client, f"/console/cases/{receipt}/actions/start_hearing", {"version": version}, cookie
    )
    assert refused.status_code == 403
    case = runtime.case_store().get_case(receipt)
    assert case is not None and case["status"] == "received"


def test_an_unknown_case_is_a_404_page(client: Any, staff: tuple[str, str]) -> None:
    cookie, _ = staff
    page = client.http.get("/console/cases/DX-261102-000012", headers={"Cookie": cookie})
    assert page.status_code == 404
    assert "案件が見つかりません" in html(page)
