"""Signing in to the console in app tests: the staff list, the mailed link, the cookies."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from chalicelib.outbox.handler import sweep_once

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ADMIN_ADDRESS = "console-admin@dx-desk.example.jp"
STAFF_ADDRESS = "console-staff@dx-desk.example.jp"
# Two experts as the admin API registers them (fictitious).
EXPERT: dict[str, Any] = {
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
PARTNER: dict[str, Any] = {
    **EXPERT,
    "expert_id": "partner-t2",
    "kind": "partner",
    "display_name": "パートナーT",
    "contact_emails": ["partner-t2@example.com"],
}
LINK = re.compile(r"http://desk\.test/console/signin/([A-Za-z0-9_-]+)")


def add_members(client: Any, admin_headers: dict[str, str]) -> None:
    """One console admin and one staff member on the stored staff list (through the API)."""
    for staff_id, name, address, role in (
        ("console-admin", "管理者B", ADMIN_ADDRESS, "admin"),
        ("console-staff", "職員C", STAFF_ADDRESS, "staff"),
    ):
        body = {"staff_id": staff_id, "display_name": name, "email": address, "role": role}
        response = client.http.post("/admin/staff", headers=admin_headers, body=json.dumps(body))
        assert response.status_code == 201, response.body


def add_experts(client: Any, admin_headers: dict[str, str]) -> None:
    for expert in (EXPERT, PARTNER):
        created = client.http.post("/admin/experts", headers=admin_headers, body=json.dumps(expert))
        assert created.status_code == 201, created.body


def cookie_of(response: Any, name: str) -> str | None:
    """The value a response sets for cookie `name` (None: not set)."""
    raw = response.headers.get("Set-Cookie") or response.headers.get("set-cookie")
    values = raw if isinstance(raw, list) else [raw] if raw else []
    for value in values:
        first = value.split(";")[0]
        key, _, cookie = first.partition("=")
        if key.strip() == name:
            return cookie
    return None


def html(response: Any) -> str:
    body = response.body
    return body.decode("utf-8") if isinstance(body, bytes) else str(body)


def hidden(page: str, name: str = "csrf") -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} field"
    return found.group(1)


def post_form(client: Any, path: str, fields: dict[str, Any], cookie: str = "") -> Any:
    headers = {**FORM, **({"Cookie": cookie} if cookie else {})}
    return client.http.post(path, headers=headers, body=urlencode(fields, doseq=True))


def start(client: Any) -> tuple[str, str]:
    """(the pre-sign-in cookie header, its form token) from the sign-in page."""
    page = client.http.get("/console/signin")
    assert page.status_code == 200
    pre = cookie_of(page, "dxd_console_pre")
    assert pre
    return f"dxd_console_pre={pre}", hidden(html(page))


def ask_link(client: Any, address: str) -> Any:
    cookie, token = start(client)
    return post_form(client, "/console/signin", {"email": address, "csrf": token}, cookie)


def mailed_links(mailbox: Any, address: str) -> list[str]:
    sweep_once()
    found = []
    for message in mailbox():
        if address in str(message["To"]):
            body = message.get_body(preferencelist=("plain",))
            found += LINK.findall(body.get_content() if body else "")
    return found


def use_link(client: Any, secret: str) -> Any:
    cookie, _ = start(client)
    page = client.http.get(f"/console/signin/{secret}", headers={"Cookie": cookie})
    token = hidden(html(page)) if page.status_code == 200 else cookie.split("=", 1)[1]
    return post_form(client, f"/console/signin/{secret}", {"csrf": token}, cookie)


def sign_in(client: Any, mailbox: Any, address: str) -> tuple[str, str]:
    """(the session cookie header, the session's CSRF token) of a signed-in person."""
    assert ask_link(client, address).status_code == 200
    secret = mailed_links(mailbox, address)[-1]
    done = use_link(client, secret)
    assert done.status_code == 303, html(done)
    session = cookie_of(done, "dxd_console")
    assert session
    cookie = f"dxd_console={session}"
    home = client.http.get("/console", headers={"Cookie": cookie})
    assert home.status_code == 200
    return cookie, hidden(html(home))
