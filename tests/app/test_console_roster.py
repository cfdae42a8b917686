"""The roster in the console: filters, an expert's page, edits audited as the person, roles."""

from __future__ import annotations

import html as _html
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import runtime
from tests.app.console_helpers import (
    EXPERT,
    html,
    post_form,
)


def form_of(expert: dict[str, Any], csrf: str, **changes: Any) -> dict[str, Any]:
    fields = {**expert, **changes}
    return {
        "csrf": csrf,
        "expert_id": fields["expert_id"],
        "kind": fields["kind"],
        "display_name": fields["display_name"],
        "organization": fields.get("organization") or "",
        "categories": fields["categories"],
        "support_types": fields["support_types"],
        "areas": fields["areas"],
        "online_ok": "1" if fields["online_ok"] else "",
        "contact_emails": "\n".join(fields["contact_emails"]),
        "capacity": str(fields["capacity"]),
        "conflict_notes": fields.get("conflict_notes") or "",
        "conflicts": "\n".join(fields["conflicts"]),
    }


def stored(expert_id: str) -> Any:
    expert = runtime.roster_store().get(expert_id)
    assert expert is not None
    return expert


def test_the_list_filters_as_the_api_does(client: Any, staff: tuple[str, str]) -> None:
    cookie, _ = staff
    everyone = html(client.http.get("/console/experts", headers={"Cookie": cookie}))
    assert "アドバイザーT" in everyone and "パートナーT" in everyone
    partners = html(client.http.get("/console/experts?kind=partner", headers={"Cookie": cookie}))
    assert "パートナーT" in partners and "アドバイザーT" not in partners
    bad = client.http.get("/console/experts?kind=robot", headers={"Cookie": cookie})
    assert bad.status_code == 422


def test_an_admin_edit_is_saved_and_audited_as_the_person(
    client: Any, admin: tuple[str, str]
) -> None:
    cookie, csrf = admin
    done = post_form(
        client,
        "/console/experts/advisor-t1",
        form_of(EXPERT, csrf, display_name="アドバイザーT（改）", capacity=4),
        cookie,
    )
    assert done.status_code == 303, html(done)
    assert done.headers["Location"] == "/console/experts/advisor-t1?done=saved"
    assert stored("advisor-t1").display_name == "アドバイザーT（改）"
    records = runtime.admin_store().audit_of("expert", "advisor-t1", int(runtime.now().timestamp()))
    last = records[-1]
    assert (last["action"], last["actor"], last["token_id"]) == (
        "expert.update",
        "管理者B",
        "console:console-admin",
    )
    assert last["fields"] == ["capacity", "display_name"]
    page = html(
        client.http.get("/console/experts/advisor-t1?done=saved", headers={"Cookie": cookie})
    )
    assert "管理者B" in page  # the history names the person
    assert "保存しました" in page


def test_an_edit_without_the_csrf_token_changes_nothing(
    client: Any, admin: tuple[str, str]
) -> None:
    cookie, _ = admin
    fields = form_of(EXPERT, "", display_name="書き換え")
    del fields["csrf"]
    refused = post_form(client, "/console/experts/advisor-t1", fields, cookie)
    assert refused.status_code == 403
    assert stored("advisor-t1").display_name == "アドバイザーT"


def test_a_staff_session_is_refused_the_roster_edit_with_a_japanese_page(
    client: Any, staff: tuple[str, str]
) -> None:
    cookie, csrf = staff
    page = client.http.get("/console/experts/advisor-t1/edit", headers={"Cookie": cookie})
    assert page.status_code == 403
    assert "権限がありません" in html(page)
    post = post_form(
        client, "/console/experts/advisor-t1", form_of(EXPERT, csrf, display_name="X"), cookie
    )
    assert post.status_code == 403
    assert stored("advisor-t1").display_name == "アドバイザーT"
    # Staff read the profile without the contact addresses (as the API's staff view).
    profile = html(client.http.get("/console/experts/advisor-t1", headers={"Cookie": cookie}))
    assert "アドバイザーT" in profile and "advisor-t1@example.com" not in profile


def test_adding_with_errors_names_the_fields_and_stores_nothing(
    client: Any, admin: tuple[str, str]
) -> None:
    cookie, csrf = admin
    bad = form_of(EXPERT, csrf, expert_id="Bad ID", capacity=0, categories=[])
    refused = post_form(client, "/console/experts", bad, cookie)
    assert refused.status_code == 422
    page = html(refused)
    assert "「専門家ID」" in page and "「同時対応件数」" in page
    assert runtime.roster_store().get("Bad ID") is None


def test_adding_then_deactivating_and_activating(client: Any, admin: tuple[str, str]) -> None:
    cookie, csrf = admin
    new = form_of(EXPERT, csrf, expert_id="advisor-t3", display_name="アドバイザーU")
    new["contact_emails"] = "advisor-t3@example.com"
    created = post_form(client, "/console/experts", new, cookie)
    assert created.status_code == 303, html(created)
    assert stored("advisor-t3").display_name == "アドバイザーU"
    off = post_form(
        client, "/console/experts/advisor-t3/active", {"csrf": csrf, "active": "0"}, cookie
    )
    assert off.status_code == 303
    assert stored("advisor-t3").active is False
    on = post_form(
        client, "/console/experts/advisor-t3/active", {"csrf": csrf, "active": "1"}, cookie
    )
    assert on.status_code == 303
    assert stored("advisor-t3").active is True
    actions = [
        r["action"]
        for r in runtime.admin_store().audit_of(
            "expert", "advisor-t3", int(runtime.now().timestamp())
        )
    ]
    assert actions == ["expert.create", "expert.deactivate", "expert.activate"]


def test_what_people_typed_is_shown_escaped(
    client: Any, admin: tuple[str, str], admin_headers: dict[str, str]
) -> None:
    import json

    cookie, _ = admin
    hostile = {
        **EXPERT,
        "expert_id": "advisor-x",
        "display_name": "<script>alert(1)</script>",
        "organization": '"><img src=x onerror=alert(1)>',
    }
    created = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(hostile))
    assert created.status_code == 201
    for path in ("/console/experts", "/console/experts/advisor-x"):
        page = html(client.http.get(path, headers={"Cookie": cookie}))
        assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_edit_sent_after_the_session_went_idle_changes_nothing_and_gives_back_what_was_typed(
    client: Any, admin: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie, csrf = admin
    later = runtime.now() + timedelta(minutes=45)  # the form left open over lunch
    monkeypatch.setattr(runtime, "now", lambda: later)
    note = "10月から木曜日は不在。\n連絡は事務局経由で。"
    sent = post_form(
        client,
        "/console/experts/advisor-t1",
        form_of(EXPERT, csrf, display_name="アドバイザーT（改）", conflict_notes=note),
        cookie,
    )
    assert sent.status_code == 401
    page = html(sent)
    assert "保存されていません" in page and "何も変更されていません" in page
    assert "アドバイザーT（改）" in page and _html.escape(note) in page
    assert csrf not in page  # the form's token is not shown back
    assert "Max-Age=0" in sent.headers["Set-Cookie"] and sent.headers["Cache-Control"] == "no-store"
    assert stored("advisor-t1").display_name == "アドバイザーT"
