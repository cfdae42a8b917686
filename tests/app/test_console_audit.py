"""The console's audit log: both the edit and the CSV import, named by the person."""

from __future__ import annotations

from typing import Any

from tests.app.console_helpers import EXPERT, html, post_form
from tests.app.test_console_roster import form_of


def test_the_audit_log_names_the_person_for_each_change(
    client: Any, admin: tuple[str, str], staff: tuple[str, str]
) -> None:
    cookie, csrf = admin
    edited = post_form(
        client, "/console/experts/advisor-t1", form_of(EXPERT, csrf, capacity=3), cookie
    )
    assert edited.status_code == 303
    client.http.get("/console/experts.csv", headers={"Cookie": cookie})
    page = client.http.get("/console/audit", headers={"Cookie": cookie})
    assert page.status_code == 200
    text = html(page)
    assert "専門家の更新" in text and "名簿CSVのダウンロード" in text
    assert text.count("管理者B") >= 2
    assert "console:console-admin" in text
    assert "advisor-t1@example.com" not in text  # names of fields, never values
    # Staff may not read it.
    staff_cookie, _ = staff
    assert client.http.get("/console/audit", headers={"Cookie": staff_cookie}).status_code == 403


def test_an_absurd_month_is_a_clear_error(client: Any, admin: tuple[str, str]) -> None:
    cookie, _ = admin
    page = client.http.get("/console/audit?month=9999-99", headers={"Cookie": cookie})
    assert page.status_code == 422
    assert "2026-12 のように" in html(page)
