"""The console's sign-in by mail: identical answers, one-time short-lived links, sessions, CSRF."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import runtime
from tests.app.console_helpers import (
    ADMIN_ADDRESS,
    STAFF_ADDRESS,
    add_members,
    ask_link,
    cookie_of,
    html,
    mailed_links,
    post_form,
    sign_in,
    start,
    use_link,
)

UNLISTED = "nobody@dx-desk.example.jp"


@pytest.fixture
def members(client: Any, admin_headers: dict[str, str]) -> None:
    add_members(client, admin_headers)


def _comparable(page: str) -> str:
    # The form token differs per visitor by design; everything else must be equal.
    return re.sub(r'name="csrf" value="[^"]*"', "", page)


def test_listed_and_unlisted_addresses_get_the_same_answer(
    client: Any, members: None, mailbox: Any
) -> None:
    listed = ask_link(client, STAFF_ADDRESS)
    unlisted = ask_link(client, UNLISTED)
    assert listed.status_code == unlisted.status_code == 200
    assert _comparable(html(listed)) == _comparable(html(unlisted))
    assert {k.lower() for k in listed.headers} == {k.lower() for k in unlisted.headers}
    # Only the listed person gets mail.
    assert len(mailed_links(mailbox, STAFF_ADDRESS)) == 1
    assert mailed_links(mailbox, UNLISTED) == []


def test_a_mailed_link_shows_a_button_and_signs_in_once(
    client: Any, members: None, mailbox: Any
) -> None:
    ask_link(client, ADMIN_ADDRESS)
    secret = mailed_links(mailbox, ADMIN_ADDRESS)[0]
    cookie, _ = start(client)
    # Opening the link (a scanner, a preview) changes nothing: the page has a button.
    for _ in range(2):
        page = client.http.get(f"/console/signin/{secret}", headers={"Cookie": cookie})
        assert page.status_code == 200
        assert "サインインする" in html(page)
        assert page.headers["Referrer-Policy"] == "no-referrer"
    first = use_link(client, secret)
    assert first.status_code == 303
    set_cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert "Path=/console" in set_cookie
    assert "Secure" not in set_cookie  # plain http locally; https stages add it
    again = use_link(client, secret)
    assert again.status_code == 410
    assert cookie_of(again, "dxd_console") is None


def test_an_expired_link_signs_nobody_in(
    client: Any, members: None, mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask_link(client, ADMIN_ADDRESS)
    secret = mailed_links(mailbox, ADMIN_ADDRESS)[0]
    later = runtime.now() + timedelta(minutes=16)
    monkeypatch.setattr(runtime, "now", lambda: later)
    refused = use_link(client, secret)
    assert refused.status_code == 410
    assert cookie_of(refused, "dxd_console") is None


def test_a_made_up_link_signs_nobody_in(client: Any, members: None) -> None:
    refused = use_link(client, "A" * 43)
    assert refused.status_code == 410
    assert cookie_of(refused, "dxd_console") is None


def test_a_link_post_without_the_form_token_changes_nothing(
    client: Any, members: None, mailbox: Any
) -> None:
    ask_link(client, ADMIN_ADDRESS)
    secret = mailed_links(mailbox, ADMIN_ADDRESS)[0]
    cookie, _ = start(client)
    refused = post_form(client, f"/console/signin/{secret}", {}, cookie)
    assert refused.status_code == 403
    # The link is still unused: the real button works.
    assert use_link(client, secret).status_code == 303


def test_sign_in_requests_are_rate_limited_per_address_listed_or_not(
    client: Any, members: None
) -> None:
    for address in (STAFF_ADDRESS, UNLISTED):
        answers = [ask_link(client, address).status_code for _ in range(6)]
        assert answers == [200] * 5 + [429]


def test_pages_need_a_session_and_send_no_store(client: Any, members: None) -> None:
    page = client.http.get("/console")
    assert page.status_code == 303
    assert page.headers["Location"] == "/console/signin"
    signin = client.http.get("/console/signin")
    assert signin.headers["Cache-Control"] == "no-store"
    assert "script-src" not in signin.headers["Content-Security-Policy"]
    assert "default-src 'none'" in signin.headers["Content-Security-Policy"]
    assert signin.headers["X-Content-Type-Options"] == "nosniff"


def test_an_idle_session_ends(
    client: Any, members: None, mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie, _ = sign_in(client, mailbox, STAFF_ADDRESS)
    later = runtime.now() + timedelta(minutes=31)
    monkeypatch.setattr(runtime, "now", lambda: later)
    page = client.http.get("/console", headers={"Cookie": cookie})
    assert page.status_code == 303
    assert page.headers["Location"] == "/console/signin?reason=idle"


def test_a_session_ends_after_its_absolute_lifetime_however_busy(
    client: Any, members: None, mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie, _ = sign_in(client, mailbox, STAFF_ADDRESS)
    start_at = runtime.now()
    for minutes in range(20, 8 * 60, 20):
        at = start_at + timedelta(minutes=minutes)
        monkeypatch.setattr(runtime, "now", lambda at=at: at)
        assert client.http.get("/console", headers={"Cookie": cookie}).status_code == 200
    at = start_at + timedelta(hours=8, minutes=1)
    monkeypatch.setattr(runtime, "now", lambda: at)
    page = client.http.get("/console", headers={"Cookie": cookie})
    assert page.headers["Location"] == "/console/signin?reason=expired"


def test_sign_out_ends_the_session(client: Any, members: None, mailbox: Any) -> None:
    cookie, csrf = sign_in(client, mailbox, STAFF_ADDRESS)
    done = post_form(client, "/console/signout", {"csrf": csrf}, cookie)
    assert done.status_code == 303
    assert client.http.get("/console", headers={"Cookie": cookie}).status_code == 303


def test_a_post_without_the_csrf_token_changes_nothing(
    client: Any, members: None, mailbox: Any
) -> None:
    cookie, _ = sign_in(client, mailbox, STAFF_ADDRESS)
    for fields in ({}, {"csrf": "x" * 43}):
        refused = post_form(client, "/console/signout", fields, cookie)
        assert refused.status_code == 403
        assert "何も変更されていません" in html(refused)
    # Still signed in: the refused sign-outs did nothing.
    assert client.http.get("/console", headers={"Cookie": cookie}).status_code == 200


def test_bearer_tokens_keep_working_beside_the_console(
    client: Any, members: None, mailbox: Any, admin_headers: dict[str, str]
) -> None:
    sign_in(client, mailbox, ADMIN_ADDRESS)
    assert client.http.get("/admin/me", headers=admin_headers).status_code == 200


def test_a_deactivated_member_is_signed_out(
    client: Any, members: None, mailbox: Any, admin_headers: dict[str, str]
) -> None:
    cookie, _ = sign_in(client, mailbox, STAFF_ADDRESS)
    done = client.http.post("/admin/staff/console-staff/deactivate", headers=admin_headers)
    assert done.status_code == 200
    assert client.http.get("/console", headers={"Cookie": cookie}).status_code == 303


def test_the_staff_api_stores_each_members_console_role(
    client: Any, members: None, admin_headers: dict[str, str]
) -> None:
    listed = client.http.get("/admin/staff", headers=admin_headers).json_body["staff"]
    assert {m["staff_id"]: m["role"] for m in listed} == {
        "console-admin": "admin",
        "console-staff": "staff",
    }


def test_cookies_are_secure_on_an_https_stage(
    client: Any, members: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://desk.example.jp/api")
    page = client.http.get("/console/signin")
    set_cookie = page.headers["Set-Cookie"]
    assert "Secure" in set_cookie and "Path=/api/console" in set_cookie
    # Links and the stylesheet follow the stage's path too.
    assert 'href="/api/console/static/console.css"' in html(page)


def test_a_post_from_another_origin_changes_nothing_even_with_the_token(
    client: Any, members: None, mailbox: Any
) -> None:
    from urllib.parse import urlencode

    cookie, csrf = sign_in(client, mailbox, STAFF_ADDRESS)
    refused = client.http.post(
        "/console/signout",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "Origin": "https://evil.example",
        },
        body=urlencode({"csrf": csrf}),
    )
    assert refused.status_code == 403
    assert client.http.get("/console", headers={"Cookie": cookie}).status_code == 200
