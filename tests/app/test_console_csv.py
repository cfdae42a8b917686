"""The roster CSV in the console: download, upload (Shift_JIS or UTF-8 with BOM), a dry run
naming each bad row by its Excel row number, then apply or cancel."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from chalicelib import runtime
from chalicelib.core.rostercsv import BOM, export_roster
from tests.app.console_helpers import STAFF_ADDRESS, html, post_form, sign_in


def multipart(cookie: str, fields: dict[str, str], name: str, data: bytes) -> dict[str, Any]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: text/csv\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return {
        "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": cookie},
        "body": body,
    }


def edited_csv(display_name: str, capacity: str) -> str:
    """The roster as exported, with advisor-t1's name and capacity changed."""
    text = export_roster(runtime.roster_store().list_all()).removeprefix(BOM)
    lines = text.split("\r\n")
    for index, line in enumerate(lines):
        if line.startswith("advisor-t1,"):
            cells = line.split(",")
            cells[2] = display_name
            cells[9] = capacity
            lines[index] = ",".join(cells)
    return "\r\n".join(lines)


def hidden_csv(page: str) -> str:
    import html as entities

    found = re.search(r'name="csv" value="([^"]*)"', page, flags=re.DOTALL)
    assert found
    return entities.unescape(found.group(1))


def test_download_is_the_roster_csv_and_is_audited(client: Any, admin: tuple[str, str]) -> None:
    cookie, _ = admin
    answer = client.http.get("/console/experts.csv", headers={"Cookie": cookie})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert html(answer).startswith(BOM)
    month = runtime.now().strftime("%Y-%m")
    records, _ = runtime.admin_store().audit_log(month, limit=50, start=None, now_epoch=0)
    assert any(r["action"] == "roster.export" and r["actor"] == "管理者B" for r in records)


def test_staff_may_not_download_or_upload(client: Any, roster: None, mailbox: Any) -> None:
    cookie, csrf = sign_in(client, mailbox, STAFF_ADDRESS)
    assert client.http.get("/console/experts.csv", headers={"Cookie": cookie}).status_code == 403
    upload = multipart(cookie, {"csrf": csrf}, "r.csv", edited_csv("X", "2").encode())
    assert client.http.post("/console/import", **upload).status_code == 403


def test_a_shift_jis_file_with_a_bad_row_names_the_row_and_changes_nothing(
    client: Any, admin: tuple[str, str]
) -> None:
    cookie, csrf = admin
    bad = edited_csv("アドバイザーＴ改", "many").encode("cp932")
    answer = client.http.post("/console/import", **multipart(cookie, {"csrf": csrf}, "r.csv", bad))
    assert answer.status_code == 422
    page = html(answer)
    row = next(
        i + 1
        for i, line in enumerate(edited_csv("x", "many").split("\r\n"))
        if "advisor-t1" in line
    )
    assert f"{row}行目" in page
    assert "同時対応件数" in page
    assert 'name="csv"' not in page  # no apply button
    assert runtime.roster_store().get("advisor-t1").capacity == 2  # type: ignore[union-attr]


def test_a_fixed_file_is_checked_first_then_applied_and_audited_as_the_person(
    client: Any, admin: tuple[str, str]
) -> None:
    cookie, csrf = admin
    good = (BOM + edited_csv("アドバイザーＴ改", "5")).encode("utf-8")
    dry = client.http.post("/console/import", **multipart(cookie, {"csrf": csrf}, "r.csv", good))
    assert dry.status_code == 200, html(dry)
    page = html(dry)
    assert "予定している変更" in page and "更新" in page
    assert runtime.roster_store().get("advisor-t1").capacity == 2  # type: ignore[union-attr]

    applied = post_form(
        client, "/console/import/apply", {"csrf": csrf, "csv": hidden_csv(page)}, cookie
    )
    assert applied.status_code == 200, html(applied)
    assert "反映しました" in html(applied)
    expert = runtime.roster_store().get("advisor-t1")
    assert expert is not None and expert.capacity == 5
    records = runtime.admin_store().audit_of("expert", "advisor-t1", 0)
    assert (records[-1]["action"], records[-1]["actor"]) == ("expert.update", "管理者B")


def test_apply_without_the_csrf_token_changes_nothing(client: Any, admin: tuple[str, str]) -> None:
    cookie, _ = admin
    text = edited_csv("アドバイザーＴ改", "5")
    refused = post_form(client, "/console/import/apply", {"csv": text}, cookie)
    assert refused.status_code == 403
    assert runtime.roster_store().get("advisor-t1").capacity == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("data", [b"\x82\xa0\xff\xfe\x80", b""])
def test_an_unreadable_or_missing_file_is_asked_for_again(
    client: Any, admin: tuple[str, str], data: bytes
) -> None:
    cookie, csrf = admin
    answer = client.http.post("/console/import", **multipart(cookie, {"csrf": csrf}, "r.csv", data))
    assert answer.status_code == 422
    assert "error-summary" in html(answer)


def test_uploads_reach_the_function_as_bytes_behind_api_gateway() -> None:
    """Without the binary media type API Gateway would pass the body as UTF-8 text, and a
    Shift_JIS file would arrive mangled."""
    from app import app

    assert "multipart/form-data" in app.api.binary_types
