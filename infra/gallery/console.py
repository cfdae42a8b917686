"""The admin console's pages, reached in Chromium as a staff member reaches them: the
sign-in by the mailed link (read from the stack's SES), then each page an admin uses.

Every step is checked to land where it should (HTTP status and the words the page
must show), as for the form's pages.
"""

from __future__ import annotations

import csv
import email
import io
import json
import re
import time
import urllib.request
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import TYPE_CHECKING

from infra.gallery.mails import GalleryError
from infra.gallery.pages import Capture, Shot, _expect, _goto, _press

if TYPE_CHECKING:
    from playwright.sync_api import FilePayload, Page

ADMIN = "staff-a@dx-desk.example.jp"  # the demo staff list's admin (infra/local/demo_roster.py)
LINK = re.compile(r"http://127\.0\.0\.1:\d+/console/signin/[A-Za-z0-9_-]+")
MAIL_SECONDS = 20.0
# A file with a header row only: its dry run shows the error table.
# (path, name, what the page shows, words it must show)
PAGES: tuple[tuple[str, str, str, str], ...] = (
    ("/console/experts", "experts", "専門家名簿（絞り込み）", "専門家名簿"),
    ("/console/experts/advisor-a", "expert", "専門家の詳細（対応状況・変更履歴）", "対応状況"),
    ("/console/experts/advisor-a/edit", "expert-edit", "専門家の編集", "専門家の編集"),
    ("/console/experts/new", "expert-new", "専門家の登録", "専門家の登録"),
    ("/console/import", "import", "名簿CSV（ダウンロードと取り込み）", "名簿CSV"),
    ("/console/audit", "audit", "監査ログ", "監査ログ"),
    ("/console/cases", "cases", "案件一覧", "案件一覧"),
    ("/console/staff", "staff", "職員名簿と役割", "職員名簿"),
    ("/console/staff/new", "staff-new", "職員の追加", "職員の追加"),
    ("/console/taxonomy", "taxonomy", "分野と支援の種類", "分野と支援の種類"),
    ("/console/taxonomy/edit", "taxonomy-edit", "分野と支援の種類の編集", "の編集"),
    ("/console/report", "report", "月次報告（表と案件一覧CSV）", "月次報告"),
    ("/console/privacy", "privacy", "個人データの開示・消去", "個人データの開示"),
)


def _sent_links(moto: str, address: str | None = None) -> set[str]:
    """The sign-in links in the mail the stack's SES accepted (to `address`, if given)."""
    with urllib.request.urlopen(f"{moto}/moto-api/data.json", timeout=10) as answer:
        raw = json.loads(answer.read()).get("ses", {}).get("RawMessage", [])
    found: set[str] = set()
    for mail in raw:
        if address is not None and address not in mail.get("destinations", []):
            continue
        message = email.message_from_string(mail.get("raw_data", ""), policy=default_policy)
        for part in message.walk():
            if part.get_content_maintype() == "text" and isinstance(part, EmailMessage):
                found.update(LINK.findall(str(part.get_content())))
    return found


def _mailed_link(moto: str, before: set[str]) -> str:
    deadline = time.monotonic() + MAIL_SECONDS
    while time.monotonic() < deadline:
        fresh = _sent_links(moto, ADMIN) - before
        if fresh:
            return fresh.pop()
        time.sleep(0.25)
    raise GalleryError("the console's sign-in mail did not arrive")


def console_pages(page: Page, api: str, moto: str, receipt: str, capture: Capture) -> list[Shot]:
    """Sign in as the demo admin, then every console page (Japanese; a case the form stored)."""
    shots: list[Shot] = []

    def shot(name: str, note: str, status: int) -> None:
        shots.append(capture(page, f"console-{name}", "ja", note, status))

    before = _sent_links(moto)
    status = _goto(page, f"{api}/console/")
    _expect(page, status, 200, "サインイン")
    shot("signin", "サインイン（メールアドレスの入力）", status)
    page.fill("#email", ADMIN)
    status = _press(page, "main form button[type=submit]")
    _expect(page, status, 200, "メールを確認してください")
    shot("signin-sent", "サインイン用リンクを送った（登録の有無にかかわらず同じ画面）", status)
    status = _goto(page, _mailed_link(moto, before))
    _expect(page, status, 200, "サインインの確認")
    shot("signin-link", "メールのリンクを開いた（ボタンを押すまで何もしない）", status)
    status = _press(page, "main form button[type=submit]")
    _expect(page, status, 200, "管理コンソール")
    shot("home", "ホーム（管理者）", status)

    for path, name, note, words in PAGES:
        status = _goto(page, f"{api}{path}")
        _expect(page, status, 200, words)
        shot(name, note, status)

    status = _goto(page, f"{api}/console/cases/{receipt}")
    _expect(page, status, 200, receipt, "経過")
    shot("case", "案件の詳細（経過と操作）", status)

    # The downloaded roster with one row mistyped, as an admin editing in Excel might.
    exported = page.request.get(f"{api}/console/experts.csv").body().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported, newline="")))
    rows[1][rows[0].index("同時対応件数 [capacity]")] = "たくさん"
    out = io.StringIO(newline="")
    csv.writer(out, dialect="excel").writerows(rows)
    edited = out.getvalue()
    status = _goto(page, f"{api}/console/import")
    upload: FilePayload = {
        "name": "roster.csv",
        "mimeType": "text/csv",
        "buffer": edited.encode("utf-8-sig"),
    }
    page.set_input_files("#f-file", files=upload)
    status = _press(page, "main form button[type=submit]")
    _expect(page, status, 422, "誤りのある行")
    shot("import-errors", "名簿CSVの確認：誤りのある行（Excelの行番号）", status)

    status = _goto(page, f"{api}/console/experts/advisor-a/edit")
    page.fill("#f-capacity", "0")
    status = _press(page, "main form button[type=submit]")
    _expect(page, status, 422, "入力内容を確認してください")
    shot("expert-edit-errors", "専門家の編集：入力の誤り", status)
    return shots
