"""The requester's own page: reached from the automatic reply, shows without changing anything,
adds information and withdraws once per press, refuses forged, foreign and expired links."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from chalicelib import runtime
from chalicelib.core import requesterlink
from chalicelib.core.actiontoken import link_for
from chalicelib.core.lifecycle import Action
from chalicelib.core.receipt import JST
from chalicelib.outbox.handler import sweep_once
from chalicelib.runtime import get_settings
from infra.local.demo_roster import ROSTER, seed
from tests.conftest import valid_payload

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REQUESTER = "requester-a@example.com"
STAFF_A = "staff-a@dx-desk.example.jp"


def submit(client: Any, **overrides: Any) -> str:
    response = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload(**overrides)),
    )
    assert response.status_code == 201
    return str(response.json_body["receipt_number"])


def text_of(mail: Any) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def mails(mailbox: Any, to: str, receipt: str) -> list[Any]:
    return [m for m in mailbox() if m["To"] == to and receipt in m["Subject"]]


def page_path(mailbox: Any, receipt: str, to: str = REQUESTER) -> str:
    """The path of the requester's page, read from the automatic reply they got."""
    (ack,) = mails(mailbox, to, receipt)
    found = re.findall(r"http://desk\.test(/my/\S+)", text_of(ack))
    assert found, text_of(ack)
    return found[0]


def case(receipt: str) -> dict[str, Any]:
    found = runtime.case_store().get_case(receipt)
    assert found is not None
    return found


def events(receipt: str) -> list[dict[str, Any]]:
    return [i for i in runtime.case_store().case_items(receipt) if i["kind"] == "event"]


def form_token(html: str, action: str) -> str:
    """The single-use token in the page's form for `action` (add / withdraw)."""
    form = re.search(rf'<form method="post" action="[^"]*/{action}"[^>]*>(.*?)</form>', html, re.S)
    assert form, html
    token = re.search(r'name="act" value="([^"]+)"', form.group(1))
    assert token
    return token.group(1)


def post(client: Any, path: str, **fields: str) -> Any:
    body = "&".join(f"{name}={quote(value)}" for name, value in fields.items())
    return client.http.post(path, headers=FORM, body=body)


@pytest.fixture
def opened(client: Any, mailbox: Any) -> tuple[str, str]:
    receipt = submit(client)
    sweep_once()
    return receipt, page_path(mailbox, receipt)


def test_the_automatic_reply_links_to_the_page_and_keeps_its_content(
    client: Any, mailbox: Any
) -> None:
    receipt = submit(client)
    sweep_once()
    (ack,) = mails(mailbox, REQUESTER, receipt)
    text = text_of(ack)
    # The mail's other content is still there, in both languages.
    for kept in (
        "受付番号：" + receipt,
        "これからの流れ",
        "ご入力いただいた内容",
        "Receipt number",
    ):
        assert kept in text
    assert text.count("http://desk.test/my/a1.") == 2  # the Japanese and the English part
    html = ack.get_body(("html",)).get_content()
    assert 'href="http://desk.test/my/a1.' in html


def test_opening_the_page_changes_nothing_and_shows_only_what_the_requester_may_see(
    client: Any, opened: tuple[str, str]
) -> None:
    receipt, path = opened
    before, timeline = case(receipt), events(receipt)
    for _ in range(3):
        page = client.http.get(path)
        assert page.status_code == 200
        assert client.http.head(path).status_code == 200
    assert case(receipt) == before and events(receipt) == timeline
    body = page.body.decode()
    assert receipt in body
    assert "いまの状況は「受付」です。" in body
    assert 'aria-current="step">1. 受付' in body
    assert "専門家へのご相談は3回までご利用いただけます（無料）。残りは3回です。" in body
    assert "電話 000-000-0000" in body  # the desk's contact
    assert "<script" not in body and "<form" in body  # nothing submits by itself
    assert STAFF_A not in body and "staff-b" not in body
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_page_speaks_english_and_plain_japanese(client: Any, opened: tuple[str, str]) -> None:
    _, path = opened
    english = client.http.get(path + "?lang=en").body.decode()
    assert '<html lang="en">' in english and "Your consultation is at: Received." in english
    easy = client.http.get(path + "?lang=easy").body.decode()
    assert "<ruby>受<rp>（</rp><rt>う</rt>" in easy
    assert "[" not in re.sub(r"<[^>]+>", "", easy).replace("[if", "")


def test_the_next_step_names_a_business_day(client: Any, opened: tuple[str, str]) -> None:
    receipt, path = opened
    from chalicelib.core.calendar import add_business_days, jst_date
    from chalicelib.core.timefmt import parse_iso

    due = add_business_days(jst_date(parse_iso(case(receipt)["created_at"])), 3)
    body = client.http.get(path).body.decode()
    assert f"{due.year}年{due.month}月{due.day}日" in body


def test_adding_information_is_the_requesters_event_and_mails_the_staff_once(
    client: Any, mailbox: Any, opened: tuple[str, str]
) -> None:
    receipt, path = opened
    before = case(receipt)
    act = form_token(client.http.get(path).body.decode(), "add")
    added = post(client, path + "/add", act=act, text="従業員は１２名です。\r\n紙の申請は月200件。")
    assert added.status_code == 200, added.body.decode()
    assert "追記を受け付けました" in added.body.decode()
    (event,) = [e for e in events(receipt) if e["type"] == "requester_addition"]
    assert (event["actor"], event["channel"]) == ("requester", "requester")
    assert (
        event["text"] == "従業員は１２名です。\n紙の申請は月200件。"
    )  # NFC and line ends, as the form
    # The case itself is as the desk left it (the staff's idle clock is not reset).
    assert case(receipt)["version"] == before["version"]
    assert case(receipt)["updated_at"] == before["updated_at"]

    again = post(client, path + "/add", act=act, text="二回目")
    assert again.status_code == 409
    assert "この操作はすでに受け付けています" in again.body.decode()
    assert len([e for e in events(receipt) if e["type"] == "requester_addition"]) == 1

    sweep_once()
    staff = [m for m in mails(mailbox, STAFF_A, receipt) if "追記" in m["Subject"]]
    assert len(staff) == 1
    assert "紙の申請は月200件。" in text_of(staff[0])
    root = f"<{receipt}@dx-desk.example.jp>"
    assert staff[0]["In-Reply-To"] == root and root in staff[0]["References"]
    # The page shows it back in the requester's history.
    assert "紙の申請は月200件。" in client.http.get(path).body.decode()


def test_an_empty_or_too_long_addition_is_refused_and_what_was_typed_is_kept(
    client: Any, opened: tuple[str, str]
) -> None:
    receipt, path = opened
    act = form_token(client.http.get(path).body.decode(), "add")
    empty = post(client, path + "/add", act=act, text="   ")
    assert empty.status_code == 422
    assert "「追記する内容」を入力してください。" in empty.body.decode()
    long = post(client, path + "/add", act=act, text="a" * 4001)
    assert long.status_code == 422
    body = long.body.decode()
    assert "4000文字以内" in body and "a" * 4001 in body
    # Beyond the body limit: said plainly, never "not from this page".
    huge = post(client, path + "/add", act=act, text="あ" * 15_000)  # ~135 KB encoded
    assert huge.status_code == 413 and "長すぎます" in huge.body.decode()
    assert [e for e in events(receipt) if e["type"] == "requester_addition"] == []
    # The token was not used up by a refusal, and the longest addition (4,000 Japanese
    # characters, ~36 KB percent-encoded) fits the body limit.
    assert post(client, path + "/add", act=act, text="あ" * 4000).status_code == 200


@pytest.fixture
def roster(aws: dict[str, Any]) -> dict[str, str]:
    seed(boto3.client("dynamodb"), aws["env"]["TABLE_NAME"])
    return {str(e.get("expert_id")): str(e.get("email")) for e in ROSTER}


def staff_press(client: Any, receipt: str, action: Action, expert_id: str | None = None) -> None:
    path = link_for(
        get_settings(),
        action=action,
        receipt_number=receipt,
        recipient=STAFF_A,
        now=runtime.now(),
        expert_id=expert_id,
    ).removeprefix("http://desk.test")
    response = client.http.post(path, headers=FORM, body="")
    assert response.status_code == 200, response.body.decode()


def test_withdrawing_confirms_first_then_moves_the_case_once_and_tells_everyone(
    client: Any, mailbox: Any, roster: dict[str, str]
) -> None:
    receipt = submit(client)
    sweep_once()
    path = page_path(mailbox, receipt)
    expert_id = next(iter(roster))
    staff_press(client, receipt, Action.START_HEARING)
    staff_press(client, receipt, Action.START_MATCHING)
    staff_press(client, receipt, Action.ASK_EXPERT, expert_id)
    sweep_once()
    page = client.http.get(path).body.decode()
    assert "いまの状況は「専門家のご紹介」です。" in page
    # The expert is not named before accepting.
    expert_name = next(str(e["label"]) for e in ROSTER if e["expert_id"] == expert_id)
    assert expert_name not in page and roster[expert_id] not in page

    before = case(receipt)
    confirm = client.http.get(path + "/withdraw")
    assert confirm.status_code == 200
    assert client.http.head(path + "/withdraw").status_code == 200
    assert case(receipt) == before  # the confirmation step changes nothing
    act = form_token(confirm.body.decode(), "withdraw")
    done = post(client, path + "/withdraw", act=act, reason="社内で解決しました")
    assert done.status_code == 200, done.body.decode()
    assert "取下げを受け付けました" in done.body.decode()
    after = case(receipt)
    assert after["status"] == "withdrawn" and after["version"] == before["version"] + 1
    (event,) = [e for e in events(receipt) if e.get("action") == "withdraw"]
    assert (event["actor"], event["channel"], event["note"]) == (
        "requester",
        "requester",
        "社内で解決しました",
    )

    again = post(client, path + "/withdraw", act=act, reason="")
    assert again.status_code == 409 and "すでに受け付けています" in again.body.decode()
    assert case(receipt)["version"] == after["version"]

    sweep_once()
    (staff,) = [m for m in mails(mailbox, STAFF_A, receipt) if "取下げ" in m["Subject"]]
    assert "社内で解決しました" in text_of(staff)
    (expert,) = [m for m in mails(mailbox, roster[expert_id], receipt) if "取下げ" in m["Subject"]]
    assert "社内で解決しました" not in text_of(expert) and "相談者A" not in text_of(expert)

    # A withdrawn case's page offers no action, and a POST to one answers honestly.
    shown = client.http.get(path).body.decode()
    assert "いまの状況は「取下げ」です。" in shown
    assert "<form" not in shown and "追記や取下げはできません" in shown
    refused = post(client, path + "/add", act=form_token(page, "add"), text="まだ?")
    assert refused.status_code == 409
    assert "このご相談はいま「取下げ」のため" in refused.body.decode()
    closed_confirm = client.http.get(path + "/withdraw")
    assert closed_confirm.status_code == 409 and "<form" not in closed_confirm.body.decode()
    # The asked expert's link no longer applies.
    month = after["month"]
    assert runtime.case_store().month_counters(month).get("outcome:withdrawn") == 1


def test_the_monthly_report_counts_the_withdrawal(
    client: Any, mailbox: Any, opened: tuple[str, str], admin_headers: dict[str, str]
) -> None:
    receipt, path = opened
    act = form_token(client.http.get(path + "/withdraw").body.decode(), "withdraw")
    assert post(client, path + "/withdraw", act=act).status_code == 200
    month = case(receipt)["month"]
    report = client.http.get(f"/admin/reports/monthly/{month}", headers=admin_headers)
    assert report.status_code == 200
    assert "withdrawn" in json.dumps(report.json_body)
    assert runtime.case_store().month_counters(month)["outcome:withdrawn"] == 1


def test_idle_reminders_skip_a_withdrawn_case(
    client: Any, mailbox: Any, opened: tuple[str, str]
) -> None:
    from chalicelib.scheduled import jobs

    withdrawn, path = opened
    still_open = submit(client, category="data")
    act = form_token(client.http.get(path + "/withdraw").body.decode(), "withdraw")
    assert post(client, path + "/withdraw", act=act).status_code == 200
    store = runtime.case_store()
    from chalicelib.core.calendar import is_business_day, jst_date

    later = runtime.now() + timedelta(days=21)
    while not is_business_day(jst_date(later)):
        later += timedelta(days=1)
    report = jobs.idle_reminders(store, runtime.desk().at(later))
    assert report.due and report.cases == 1
    reminders = [
        item
        for receipt in (withdrawn, still_open)
        for item in store.case_items(receipt)
        if item.get("template") == "idle_reminder"
    ]
    assert {r["receipt_number"] for r in reminders} == {still_open}


def test_forged_foreign_and_expired_links_are_refused_and_change_nothing(
    client: Any, mailbox: Any, opened: tuple[str, str]
) -> None:
    receipt, path = opened
    other = submit(client, email="requester-b@example.com", message="別の相談です。")
    sweep_once()
    other_path = page_path(mailbox, other, "requester-b@example.com")
    before = case(receipt)

    token = path.removeprefix("/my/")
    tampered = "/my/" + token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.http.get(tampered).status_code == 404
    assert client.http.get("/my/a1.nonsense").status_code == 404

    settings = get_settings()
    # Signed correctly, but for another address than the case's.
    foreign = requesterlink.page_link(
        settings,
        receipt_number=receipt,
        email="someone-else@example.com",
        expires_at=int(before["expires_at"]),
    ).removeprefix("http://desk.test")
    assert client.http.get(foreign).status_code == 404
    # Expired: the case's retention end is what a page link lives to.
    expired = requesterlink.page_link(
        settings,
        receipt_number=receipt,
        email=REQUESTER,
        expires_at=int(runtime.now().timestamp()) - 1,
    ).removeprefix("http://desk.test")
    gone = client.http.get(expired)
    assert gone.status_code == 410 and "有効期限" in gone.body.decode()

    # An action token of one case does nothing on another case's page.
    act_other = form_token(client.http.get(other_path).body.decode(), "add")
    crossed = post(client, path + "/add", act=act_other, text="混ざらない")
    assert crossed.status_code == 404
    # An add token does not withdraw; a staff link's token is no page token, nor the reverse.
    act_add = form_token(client.http.get(path).body.decode(), "add")
    assert post(client, path + "/withdraw", act=act_add).status_code == 404
    staff_token = link_for(
        settings, action=Action.TAKE, receipt_number=receipt, recipient=STAFF_A, now=runtime.now()
    ).rsplit("/", 1)[1]
    assert client.http.get(f"/my/{staff_token}").status_code == 404
    assert client.http.get(f"/actions/{token}").status_code == 404
    # A page opened too long ago: its action token has expired; nothing changes.
    stale = requesterlink.action_token(
        settings,
        receipt_number=receipt,
        email=REQUESTER,
        action=requesterlink.ADD,
        now=runtime.now() - timedelta(days=2),
    )
    late = post(client, path + "/add", act=stale, text="遅れて")
    assert late.status_code == 409 and "画面を開き直してください" in late.body.decode()

    assert case(receipt) == before
    assert [e for e in events(receipt) if e["actor"] == "requester"] == []


def test_a_post_from_another_site_is_refused(client: Any, opened: tuple[str, str]) -> None:
    receipt, path = opened
    act = form_token(client.http.get(path).body.decode(), "add")
    response = client.http.post(
        path + "/add",
        headers={**FORM, "Origin": "https://evil.example"},
        body=f"act={act}&text=x",
    )
    assert response.status_code == 403
    assert [e for e in events(receipt) if e["actor"] == "requester"] == []


def lookup(client: Any, receipt: str, email: str, **headers: str) -> Any:
    return client.http.post(
        "/my/lookup",
        headers={**FORM, **headers},
        body=f"receipt_number={quote(receipt)}&email={quote(email)}&lang=ja",
    )


def test_the_lookup_answers_the_same_bytes_whether_or_not_the_pair_matches(
    client: Any, mailbox: Any, opened: tuple[str, str]
) -> None:
    receipt, _ = opened
    form = client.http.get("/my/lookup")
    assert form.status_code == 200 and 'name="receipt_number"' in form.body.decode()
    sent_before = len(mailbox())

    # Typed as people type: full-width, lower case, an IME's long dash.
    typed = (
        receipt.lower()
        .replace("-", "ー")
        .translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    )
    matching = lookup(client, typed, "ＲＥＱＵＥＳＴＥＲ-A@example.com")
    wrong_address = lookup(client, receipt, "someone-else@example.com")
    unknown_case = lookup(client, "DX-261126-048215", REQUESTER)
    for answer in (wrong_address, unknown_case):
        assert (answer.status_code, answer.body) == (matching.status_code, matching.body)
        assert answer.headers == matching.headers
    assert matching.status_code == 200
    assert "一致するご相談があれば" in matching.body.decode()

    sweep_once()
    new = mailbox()[sent_before:]
    assert [m["To"] for m in new] == [REQUESTER]  # only the match was mailed, to the case's address
    path = re.findall(r"http://desk\.test(/my/\S+)", text_of(new[0]))[0]
    assert client.http.get(path).status_code == 200
    (sent,) = [e for e in events(receipt) if e["type"] == "requester_link_sent"]
    assert (sent["actor"], sent["channel"]) == ("requester", "requester")


def test_the_lookup_names_what_to_fix_without_saying_whether_anything_matched(
    client: Any,
) -> None:
    answer = lookup(client, "12345", "not-an-address")
    assert answer.status_code == 422
    body = answer.body.decode()
    assert "「受付番号」は DX-261126-048215 のような形で入力してください。" in body
    assert "「メールアドレス」は dx-taro@example.jp のような形で入力してください。" in body
    assert 'value="12345"' in body  # what was typed is kept


def test_the_lookup_is_rate_limited_and_says_to_call_the_desk(
    client: Any, mailbox: Any, opened: tuple[str, str]
) -> None:
    receipt, _ = opened
    limit = get_settings().lookup_limit_per_hour
    answers = [lookup(client, receipt, REQUESTER) for _ in range(limit + 1)]
    assert [a.status_code for a in answers[:limit]] == [200] * limit
    limited = answers[limit]
    assert limited.status_code == 429
    body = limited.body.decode()
    assert "1時間ほどたってから" in body and "電話 000-000-0000" in body
    # A different address from the same client is limited too (per client); nothing more is sent.
    assert lookup(client, "DX-261126-048215", "other@example.com").status_code == 429
    sweep_once()
    assert len([e for e in events(receipt) if e["type"] == "requester_link_sent"]) == limit


def test_no_link_is_mailed_for_a_case_kept_as_suspected_spam(client: Any, mailbox: Any) -> None:
    held = client.http.post(
        "/consultations",
        headers={"Content-Type": "application/json"},
        body=json.dumps(valid_payload(website="http://spam.example")),
    )
    assert held.status_code == 201 and held.json_body["status"] == "suspected_spam"
    receipt = str(held.json_body["receipt_number"])
    before = len(mailbox())
    assert lookup(client, receipt, REQUESTER).status_code == 200
    sweep_once()
    assert len(mailbox()) == before


def test_personal_data_requests_cover_the_requesters_additions_and_reason(
    client: Any, mailbox: Any, opened: tuple[str, str], admin_headers: dict[str, str]
) -> None:
    receipt, path = opened
    act = form_token(client.http.get(path).body.decode(), "add")
    assert post(client, path + "/add", act=act, text="担当は総務課の相談者Aです").status_code == 200
    act = form_token(client.http.get(path + "/withdraw").body.decode(), "withdraw")
    assert post(client, path + "/withdraw", act=act, reason="相談者Aの都合").status_code == 200
    counters = runtime.case_store().month_counters(case(receipt)["month"])

    exported = client.http.post(
        "/admin/requesters/export",
        headers=admin_headers,
        body=json.dumps({"email": REQUESTER}),
    ).json_body
    (entry,) = exported["cases"]
    timeline = json.dumps(entry["timeline"], ensure_ascii=False)
    assert "担当は総務課の相談者Aです" in timeline and "相談者Aの都合" in timeline

    erased = client.http.post(
        "/admin/requesters/erase",
        headers=admin_headers,
        body=json.dumps({"email": REQUESTER, "confirm": True}),
    )
    assert erased.status_code == 200, erased.body
    left = json.dumps(runtime.case_store().case_items(receipt), ensure_ascii=False, default=str)
    assert "総務課" not in left and "都合" not in left and REQUESTER not in left
    kinds = {e["type"] for e in events(receipt)}
    assert {"requester_addition", "action"} <= kinds  # what happened stays, without the words
    # The statistics stay; the page link opens nothing any more (no address to match).
    assert runtime.case_store().month_counters(case(receipt)["month"]) == counters
    assert client.http.get(path).status_code == 404
    assert lookup(client, receipt, REQUESTER).status_code == 200


KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def bare_kanji(html: str, *allowed: str) -> list[str]:
    """Kanji shown without a reading: the body outside <ruby>, minus the `allowed` texts
    (the desk's own name and contact, which are deployment settings)."""
    body = html.split("<body", 1)[1]
    body = re.sub(r"<ruby>.*?</ruby>", "", body, flags=re.S)
    body = re.sub(r"<[^>]+>", "", body)
    for text in allowed:
        body = body.replace(text, "")
    return KANJI.findall(body)


def test_plain_japanese_pages_give_a_reading_for_every_kanji(
    client: Any, opened: tuple[str, str]
) -> None:
    _, path = opened
    settings = get_settings()
    desk = (settings.desk_name, settings.desk_contact)
    pages = {
        "page": client.http.get(path + "?lang=easy"),
        "withdraw": client.http.get(path + "/withdraw?lang=easy"),
        "lookup": client.http.get("/my/lookup?lang=easy"),
    }
    act = form_token(pages["page"].body.decode(), "add")
    pages["error"] = post(client, path + "/add", act=act, text="", lang="easy")
    pages["added"] = post(client, path + "/add", act=act, text="OK", lang="easy")
    pages["again"] = post(client, path + "/add", act=act, text="OK", lang="easy")
    pages["lookup_error"] = client.http.post(
        "/my/lookup", headers=FORM, body="receipt_number=x&email=&lang=easy"
    )
    for name, page in pages.items():
        html = page.body.decode()
        assert "<ruby>" in html, name
        assert bare_kanji(html, *desk) == [], name
    # The check can fail: the Japanese page has kanji without readings.
    assert bare_kanji(client.http.get(path + "?lang=ja").body.decode(), *desk)


def test_every_link_and_form_on_the_pages_resolves_where_it_should(
    client: Any, opened: tuple[str, str]
) -> None:
    from urllib.parse import urljoin, urlsplit

    _, path = opened
    act = form_token(client.http.get(path).body.decode(), "add")
    answered = {
        path: client.http.get(path),
        path + "/withdraw": client.http.get(path + "/withdraw"),
        "/my/lookup": client.http.get("/my/lookup"),
        path + "/add": post(client, path + "/add", act=act, text=""),  # 422: the page again
        path + "/add ": post(client, path + "/add", act=act, text="OK"),  # the result page
    }
    for where, response in answered.items():
        html = response.body.decode()
        base = "http://desk.test" + where.strip()
        targets = re.findall(r'(?:href|action)="([^"#?]+)', html)
        assert targets, where
        for target in targets:
            resolved = urlsplit(urljoin(base, target)).path
            if resolved.endswith(".css"):
                assert resolved == "/form/static/form.css", (where, target)
                continue
            assert resolved.startswith("/my/"), (where, target)
            assert "/my/my/" not in resolved, (where, target)
            if resolved.endswith("/add"):
                continue  # POST only
            assert client.http.get(resolved).status_code in (200, 409), (where, target)


def test_the_requester_follows_their_case_from_the_form_to_completion(
    client: Any, mailbox: Any, roster: dict[str, str], staff_headers: dict[str, str]
) -> None:
    """Only the requester's page and the staff's and expert's own links move the case; the
    requester answers the survey the closing mail brings, once, and the report counts it."""
    receipt = submit(client)
    sweep_once()
    path = page_path(mailbox, receipt)

    def shown() -> str:
        return str(client.http.get(path).body.decode())

    assert "いまの状況は「受付」です。" in shown()
    act = form_token(shown(), "add")
    assert post(client, path + "/add", act=act, text="会議はオンライン希望です").status_code == 200
    staff_press(client, receipt, Action.START_HEARING)
    assert "いまの状況は「ご相談内容の確認」です。" in shown()
    staff_press(client, receipt, Action.START_MATCHING)
    expert_id = next(iter(roster))
    staff_press(client, receipt, Action.ASK_EXPERT, expert_id)
    assert "いまの状況は「専門家のご紹介」です。" in shown()
    accept = link_for(
        get_settings(),
        action=Action.EXPERT_ACCEPTED,
        receipt_number=receipt,
        recipient=roster[expert_id],
        now=runtime.now(),
        expert_id=expert_id,
    ).removeprefix("http://desk.test")
    assert client.http.post(accept, headers=FORM, body="").status_code == 200
    page = shown()
    expert_name = next(str(e["label"]) for e in ROSTER if e["expert_id"] == expert_id)
    assert "いまの状況は「ご相談中」です。" in page and expert_name in page
    assert roster[expert_id] not in page  # the address is in the introduction mail, not here
    session = link_for(
        get_settings(),
        action=Action.RECORD_SESSION,
        receipt_number=receipt,
        recipient=roster[expert_id],
        now=runtime.now(),
        expert_id=expert_id,
        serial=1,
    ).removeprefix("http://desk.test")
    today = runtime.now().date().isoformat()
    recorded = post(
        client, session, session_date=today, session_format="online", report="助言しました"
    )
    assert recorded.status_code == 200, recorded.body.decode()
    page = shown()
    assert "残りは2回です。" in page and "助言しました" not in page  # no expert's report
    staff_press(client, receipt, Action.CLOSE)
    page = shown()
    assert "いまの状況は「完了」です。" in page and "<form" not in page
    history = page.split("これまでの経過", 1)[1]
    for step in (
        "ご相談内容の確認",
        "専門家のご紹介",
        "ご相談中",
        "完了",
        "会議はオンライン希望です",
    ):
        assert step in history
    sweep_once()
    (told,) = [m for m in mails(mailbox, STAFF_A, receipt) if "追記" in m["Subject"]]
    assert "会議はオンライン希望です" in text_of(told)

    # The closing mail carries the survey; answered once, a second answer is refused politely.
    (closing,) = [
        m for m in mails(mailbox, REQUESTER, receipt) if "対応を終了しました" in m["Subject"]
    ]
    (survey,) = set(re.findall(r"http://desk\.test(/survey/\S+)", text_of(closing)))
    assert "<form" in client.http.get(survey).body.decode()
    answer = {"satisfaction": "4", "progress": "moved", "comment": "助かりました"}
    answered = post(client, survey, **answer, **{f"rating_{expert_id}": "5"})
    assert answered.status_code == 200, answered.body.decode()
    again = post(client, survey, satisfaction="2", progress="not")
    assert again.status_code == 409 and "すでにご回答" in again.body.decode()
    month = runtime.now().astimezone(JST).strftime("%Y-%m")
    report = client.http.get(f"/admin/reports/monthly/{month}", headers=staff_headers)
    figures = report.json_body["survey"]
    assert (figures["invited"], figures["responses"], figures["satisfaction_rate"]) == (1, 1, 1.0)
    csv = client.http.get(f"/admin/reports/monthly/{month}/survey.csv", headers=staff_headers)
    text = csv.body.decode("utf-8-sig")
    assert "total,,全体,1,1,1.000" in text and "助かりました" not in text and receipt not in text


def test_staff_see_the_requesters_addition_and_withdrawal_on_the_case_timeline(
    client: Any, opened: tuple[str, str], staff_headers: dict[str, str]
) -> None:
    receipt, path = opened
    act = form_token(client.http.get(path).body.decode(), "add")
    assert post(client, path + "/add", act=act, text="補足です").status_code == 200
    act = form_token(client.http.get(path + "/withdraw").body.decode(), "withdraw")
    assert post(client, path + "/withdraw", act=act, reason="不要です").status_code == 200
    view = client.http.get(f"/admin/cases/{receipt}", headers=staff_headers)
    assert view.status_code == 200, view.body
    timeline = view.json_body["timeline"]
    mine = [
        (e["type"], e.get("text") or e.get("note"))
        for e in timeline
        if e.get("actor") == "requester"
    ]
    assert mine == [("requester_addition", "補足です"), ("action", "不要です")]
