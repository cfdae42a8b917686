"""The admin console in a real browser: sign in by the mailed link, edit an expert, a CSV
with a bad row, fix and apply, both changes in the audit log; a staff session is refused
the edit; axe-core on every console page at 1280 and 375 px.

One live stack (`python -m infra.local.dev`, demo staff list: staff-a is an admin,
staff-b staff) and one Chromium serve the module (see conftest.py).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "Playwright for Python is not installed (pip install playwright)", allow_module_level=True
    )

from tests.browser.conftest import DESKTOP, LiveStack, OpenPage
from tests.browser.test_form_browser import assert_no_horizontal_scroll, run_axe, tab_to

if TYPE_CHECKING:
    from playwright.sync_api import Page

ADMIN = "staff-a@dx-desk.example.jp"  # 職員A, role admin (infra/local/demo_roster.py)
STAFF = "staff-b@dx-desk.example.jp"  # 職員B, role staff
PHONE = {"width": 375, "height": 800}
LINK = re.compile(r"http://127\.0\.0\.1:\d+/console/signin/[A-Za-z0-9_-]+")
MAIL_TIMEOUT = 20.0


def check_page(page: Page, step: str, axe_source: str) -> None:
    """axe (WCAG 2.1 A/AA) with no violation at 1280 px and at 375 px, and no sideways
    scrolling of the page at 375 px."""
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)  # type: ignore[arg-type]
        run_axe(page, axe_source, f"{step} at {viewport['width']} px")
    assert_no_horizontal_scroll(page, step)
    page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]


def mailed_link(stack: LiveStack, address: str, seen: set[str]) -> str:
    """The newest sign-in link mailed to `address` (read from the local mailbox)."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for mail in stack.sent_mail():
            if address in mail.destinations:
                for link in LINK.findall(mail.text):
                    if link not in seen:
                        seen.add(link)
                        return link
        time.sleep(0.25)
    pytest.fail(f"no sign-in link reached {address}")


def sign_in(page: Page, stack: LiveStack, address: str, axe_source: str | None) -> None:
    seen = set(LINK.findall("\n".join(m.text for m in stack.sent_mail())))
    page.goto(f"{stack.api}/console/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("サインイン")
    if axe_source:
        check_page(page, "sign-in", axe_source)
    page.get_by_label("メールアドレス").fill(address)
    page.get_by_role("button", name="リンクを送る").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("メールを確認してください")
    if axe_source:
        check_page(page, "link sent", axe_source)
    page.goto(mailed_link(stack, address, seen))
    if axe_source:
        check_page(page, "sign-in link", axe_source)
    page.get_by_role("button", name="サインインする").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("管理コンソール")


def downloaded_csv(page: Page) -> str:
    with page.expect_download() as info:
        page.get_by_role("link", name="名簿CSVをダウンロード").click()
    path = info.value.path()
    return Path(path).read_bytes().decode("utf-8-sig")


def with_cells(text: str, expert_id: str, **cells: str) -> tuple[str, int]:
    """The CSV with some cells of one expert's row replaced; and that row's Excel number."""
    lines = text.split("\r\n")
    header = lines[0].split(",")
    columns = {re.search(r"\[(\w+)\]", name).group(1): i for i, name in enumerate(header)}  # type: ignore[union-attr]
    for number, line in enumerate(lines, start=1):
        if line.startswith(f"{expert_id},"):
            values = line.split(",")
            for name, value in cells.items():
                values[columns[name]] = value
            lines[number - 1] = ",".join(values)
            return "\r\n".join(lines), number
    raise AssertionError(f"{expert_id} is not in the CSV")


def upload(page: Page, tmp_path: Path, name: str, data: bytes) -> None:
    file = tmp_path / name
    file.write_bytes(data)
    page.goto(page.url.split("/console")[0] + "/console/import")
    page.get_by_label("CSVファイル").set_input_files(str(file))
    page.get_by_role("button", name="確認する").click()


def test_sign_in_edit_csv_and_audit_as_one_person(
    live_stack: LiveStack, open_page: OpenPage, axe_source: str, tmp_path: Path
) -> None:
    page = open_page(viewport=DESKTOP)
    sign_in(page, live_stack, ADMIN, axe_source)
    check_page(page, "home", axe_source)

    # The roster, an expert, and an edit.
    page.get_by_role("navigation").get_by_role("link", name="専門家名簿").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("専門家名簿")
    check_page(page, "roster", axe_source)
    page.get_by_label("区分").select_option("partner")
    page.get_by_role("button", name="絞り込む").click()
    expect(page.get_by_role("link", name="アドバイザーA")).to_have_count(0)
    page.goto(f"{live_stack.api}/console/experts")
    page.get_by_role("link", name="アドバイザーA", exact=True).click()
    check_page(page, "expert", axe_source)
    page.get_by_role("link", name="編集する").click()
    check_page(page, "expert edit", axe_source)
    page.get_by_label("表示名").fill("アドバイザーA（セミナー担当）")
    page.get_by_label("同時に対応できる件数").fill("5")
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_role("status")).to_contain_text("保存しました")
    expect(page.get_by_role("heading", level=1)).to_contain_text("アドバイザーA（セミナー担当）")

    # An edit form with an error names the field (and axe passes on it).
    page.get_by_role("link", name="編集する").click()
    page.get_by_label("同時に対応できる件数").fill("0")
    page.get_by_role("button", name="保存する").click()
    expect(page.get_by_role("alert")).to_contain_text("同時対応件数")
    check_page(page, "expert edit with an error", axe_source)

    page.goto(f"{live_stack.api}/console/experts/new")
    check_page(page, "expert new", axe_source)

    # The CSV: download, a Shift_JIS file with one bad row, then the fixed file.
    page.goto(f"{live_stack.api}/console/import")
    check_page(page, "csv", axe_source)
    exported = downloaded_csv(page)
    assert "アドバイザーA（セミナー担当）" in exported
    bad, row = with_cells(
        exported, "advisor-c", display_name="アドバイザーC（改）", capacity="多数"
    )
    upload(page, tmp_path, "bad.csv", bad.encode("cp932"))
    errors = page.get_by_role("region", name=re.compile("誤りのある行"))
    expect(errors).to_contain_text(f"{row}行目")
    expect(errors).to_contain_text("同時対応件数")
    expect(page.get_by_role("button", name="この内容で反映する")).to_have_count(0)
    check_page(page, "csv errors", axe_source)

    fixed, _ = with_cells(exported, "advisor-c", display_name="アドバイザーC（改）", capacity="4")
    upload(page, tmp_path, "fixed.csv", ("\ufeff" + fixed).encode("utf-8"))
    planned = page.get_by_role("region", name=re.compile("予定している変更"))
    expect(planned).to_contain_text("advisor-c")
    check_page(page, "csv dry run", axe_source)
    page.get_by_role("button", name="この内容で反映する").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("取り込み結果")
    check_page(page, "csv applied", axe_source)

    page.goto(f"{live_stack.api}/console/experts/advisor-c")
    expect(page.get_by_role("heading", level=1)).to_contain_text("アドバイザーC（改）")

    # Both changes in the audit log, with the person's name.
    page.get_by_role("navigation").get_by_role("link", name="監査ログ").click()
    check_page(page, "audit log", axe_source)
    rows = page.get_by_role("row")
    edit = rows.filter(has_text="expert: advisor-a").filter(has_text="専門家の更新")
    expect(edit.first).to_contain_text("職員A")
    imported = rows.filter(has_text="expert: advisor-c").filter(has_text="専門家の更新")
    expect(imported.first).to_contain_text("職員A")
    expect(rows.filter(has_text="名簿CSVの取り込み").first).to_contain_text("職員A")

    # Sign out: the console asks to sign in again.
    page.get_by_role("button", name="サインアウト").click()
    expect(page.get_by_role("status")).to_contain_text("サインアウトしました")
    page.goto(f"{live_stack.api}/console/experts")
    expect(page.get_by_role("heading", level=1)).to_contain_text("サインイン")


def test_a_staff_session_is_refused_the_roster_edit(
    live_stack: LiveStack, open_page: OpenPage, axe_source: str
) -> None:
    # By keyboard only: Tab to each control, type, Enter.
    page = open_page(viewport=DESKTOP)
    seen = set(LINK.findall("\n".join(m.text for m in live_stack.sent_mail())))
    page.goto(f"{live_stack.api}/console/")
    tab_to(page, "email")
    page.keyboard.type(STAFF)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("メールを確認してください")
    page.goto(mailed_link(live_stack, STAFF, seen))
    tab_to(page, "signin-button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("管理コンソール")
    check_page(page, "staff home", axe_source)
    tab_to(page, "nav-experts")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("専門家名簿")
    page.goto(f"{live_stack.api}/console/experts/advisor-b")
    expect(page.get_by_role("link", name="編集する")).to_have_count(0)
    check_page(page, "expert (staff)", axe_source)
    answer = page.goto(f"{live_stack.api}/console/experts/advisor-b/edit")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", level=1)).to_contain_text("権限がありません")
    check_page(page, "refused", axe_source)
    assert page.goto(f"{live_stack.api}/console/import").status == 403  # type: ignore[union-attr]


def test_every_other_console_page_passes_axe_at_both_widths(
    live_stack: LiveStack, open_page: OpenPage, axe_source: str
) -> None:
    import json
    import uuid

    from tests.conftest import valid_payload
    from tests.livestack import http

    status, _, body = http(
        "POST",
        f"{live_stack.api}/consultations",
        json.dumps(valid_payload(message=f"画面確認用の相談です。{uuid.uuid4().hex}")).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 201, body
    receipt = json.loads(body)["receipt_number"]

    page = open_page(viewport=DESKTOP)
    sign_in(page, live_stack, ADMIN, None)
    for path, step in (
        ("/console/cases", "cases"),
        (f"/console/cases/{receipt}", "case"),
        ("/console/staff", "staff list"),
        ("/console/staff/new", "staff new"),
        ("/console/staff/staff-b/edit", "staff edit"),
        ("/console/taxonomy", "taxonomy"),
        ("/console/taxonomy/edit", "taxonomy edit"),
        ("/console/report", "report"),
        ("/console/privacy", "personal-data requests"),
    ):
        page.goto(f"{live_stack.api}{path}")
        check_page(page, step, axe_source)

    # A case action from its page, as the mail link would do it.
    page.goto(f"{live_stack.api}/console/cases/{receipt}")
    page.get_by_role("group", name="ヒアリングを開始する").get_by_label("メモ（任意）").fill(
        "電話で確認"
    )
    page.get_by_role("button", name="ヒアリングを開始する").click()
    expect(page.get_by_role("status")).to_contain_text("操作を実行しました")
    expect(page.get_by_role("region", name=re.compile("古い順"))).to_contain_text("電話で確認")
    check_page(page, "case after an action", axe_source)

    # Erasure asks first.
    page.goto(f"{live_stack.api}/console/privacy")
    page.get_by_label("受付番号").fill(receipt)
    page.get_by_role("button", name="消去の確認へ進む").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("消去の確認")
    check_page(page, "erase confirmation", axe_source)
    page.get_by_label("元に戻せないことを確認しました").check()
    page.get_by_role("button", name="消去する").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("消去しました")
    check_page(page, "erased", axe_source)
